//! nginx as a router: an `upstream` block whose blue and green servers share its traffic by weight, in
//! an upstream file albflip owns and the user's nginx.conf includes. albflip rewrites that file (the
//! colors' `weight=`, a color at 0 % marked `down`), tests nginx's configuration, reloads nginx, checks
//! that nginx started new workers, and reads the file back; a refused test or reload puts the previous
//! file back. Metrics come from the access log (a JSON `log_format`), health from each server's health
//! URL (open-source nginx has no active checks).
//!
//! - [`upstream`]: the upstream file parsed and rendered, a split as weights (pure).
//! - [`control`]: the test and reload commands and the check that nginx answered a reload.
//! - [`router`]: [`NginxRouter`], the [`crate::ports::Router`] over the upstream file.
//! - [`routes`]: [`Nginx`], the [`crate::ports::Provider`], and [`NginxRoutes`], the upstream as the
//!   engine drives it, with its records in the state file.
//! - [`counters`]: [`AccessLog`], the access log read incrementally as a
//!   [`crate::providers::local::CounterSource`].
//!
//! State, locking and the counters' periods are the local routers' shared pieces
//! ([`crate::providers::local`]); per-server weights come from HAProxy's pure
//! [`crate::providers::haproxy::weights`] (the same 1..=256 range suits nginx).

pub mod control;
pub mod counters;
pub mod router;
pub mod routes;
pub mod upstream;

pub use control::Control;
pub use counters::AccessLog;
pub use router::{NginxRoute, NginxRouter};
pub use routes::{Nginx, NginxRoutes, NginxTarget};
