//! HAProxy as a router: a backend whose blue and green servers share its traffic by weight, moved
//! through the runtime API (the stats socket at level `admin`). albflip changes nothing but those
//! servers' weights (`set server BACKEND/SERVER weight N`, 0..=256), verifies every write by reading
//! the weights back, and reads HAProxy's own counters and checks for the gates.
//!
//! - [`runtime`]: the runtime API client (a unix socket or `tcp:HOST:PORT`).
//! - [`stat`]: `show stat` and `show servers state`, parsed (pure).
//! - [`weights`]: percent to per-server weights and back, a color's share spread over its servers (pure).
//! - [`router`]: [`HaproxyRouter`], the [`crate::ports::Router`] over one HAProxy.
//! - [`routes`]: [`Haproxy`], the [`crate::ports::Provider`], and [`HaproxyRoutes`], the backend as the
//!   engine drives it, with its records in the state file.
//! - [`counters`]: HAProxy's per-server counters as a [`crate::providers::local::CounterSource`], for
//!   [`crate::providers::local::CounterMetrics`].
//!
//! State, locking and metrics are the local routers' shared pieces ([`crate::providers::local`]).

pub mod counters;
pub mod router;
pub mod routes;
pub mod runtime;
pub mod stat;
pub mod weights;

pub use counters::HaproxyCounters;
pub use router::{HaproxyRoute, HaproxyRouter, ServerColors};
pub use routes::{Haproxy, HaproxyRoutes, HaproxyTarget};
pub use runtime::{RuntimeApi, Socket};
