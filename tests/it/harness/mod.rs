//! The test harness, one job per file:
//!
//! - `emulator.rs`: the emulator process (moto_server on a free port, once per run), repository paths,
//!   the tokio runtime for the tests' own SDK calls.
//! - `stacks.rs`: copies of the reference stack, and the odd shapes tests build on them (extra target
//!   groups and listeners, default actions set directly, deregistered targets).
//! - `cli.rs`: the `albflip` binary run hermetically, its [`Run`], argument helpers, and starting,
//!   signalling and interrupting a running deployment.
//! - `readers.rs`: SDK clients on the emulator and what tests read through them (forward action,
//!   weights, tags, fingerprints).
//! - `metrics.rs`: the CloudWatch metric [`Publisher`] and its [`Faults`].
//! - `iam.rs`: the second, IAM-enforcing emulator ([`IamEmulator`]).
//!
//! Tests use it all through `use crate::harness::*`.

mod cli;
mod emulator;
mod iam;
mod metrics;
mod readers;
mod schema;
mod stacks;
mod webhook;

pub use cli::*;
pub use emulator::*;
pub use iam::*;
pub use metrics::*;
pub use readers::*;
pub use schema::*;
pub use stacks::*;
pub use webhook::*;
