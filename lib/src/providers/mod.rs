//! Providers: each folder implements the [`crate::ports`] for one platform and keeps everything that is
//! specific to it (identifiers, units, API calls, validity rules) inside.
//!
//! - [`aws`]: the Application Load Balancer (routes, weights 0..=999, tags as the state store),
//!   CloudWatch, Auto Scaling and the DynamoDB lease.
//! - [`haproxy`]: HAProxy through its runtime API (server weights 0..=256, `show stat` counters).
//! - [`nginx`]: nginx through the upstream file albflip owns (weights and `down`, test, reload), the
//!   access log as counters.
//! - [`local`]: what the routers on the host share (HAProxy, nginx): the state file, the file lock and
//!   metrics from cumulative counters.

pub mod aws;
pub mod haproxy;
pub mod local;
pub mod nginx;
