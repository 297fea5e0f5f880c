//! Integration tests: the real `albflip` binary against a real AWS API emulator (moto) over HTTP.
//!
//! One emulator per test run on a free loopback port; every test creates its own copy of the reference
//! stack (a unique environment/application) so tests run in parallel without seeing each other.

mod bad_input;
mod capacity;
mod catalogue;
mod cleanup;
mod conformance;
mod deploy;
mod ecs;
mod embed;
mod faults;
mod harness;
mod history;
mod iam;
mod lifecycle;
mod lock;
mod lockstep;
mod notify;
mod operator;
mod pipeline;
mod preflight;
mod promotion_wait;
mod proxy;
mod report;
mod rollback;
mod shift;
mod status;
mod test_header;
mod watch;
