//! # albflip
//!
//! Move live traffic between a blue and a green target group on an AWS Application Load Balancer, step
//! by step, and put it back on the stable color when the new one misbehaves.
//!
//! ## The model
//! A *route* ([`route::RouteId`]) is a listener's default action or one listener rule. Its forward action
//! names the blue and the green target group with ALB weights ([`model::Weights`], each 0..=999, never
//! both zero). albflip speaks in a [`model::Split`]: whole percent on each color, adding up to 100, and
//! writes it as weights while keeping everything else of the action (stickiness, other actions, the
//! order of the target groups) as it found it. After every write it verifies the live action.
//!
//! ## Layout
//! - [`model`]: colors, percentages, weights, splits, stickiness, ARNs; invalid values unrepresentable.
//! - [`route`]: pure logic over a route's forward action: checks, live split, the action for a new split.
//! - [`resolve`]: from what the user named (ARNs, names, a naming convention) to a live route with colors.
//! - [`lockstep`]: every route that forwards to blue and green, found and moved together.
//! - [`preflight`]: the checks run before any write, as verdicts (`albflip check`).
//! - [`traffic`]: the operations `status`, `shift`, `rollback`: resolve, decide, write once, verify.
//! - [`state`]: the deployment record kept in tags on the route (id, target, step, phase, who, when).
//! - [`engine`]: the step engine: observe, decide, act, verify; rollback; cancellation.
//! - [`events`]: what the engine reports as it goes.
//! - [`capacity`]: Auto Scaling around a deployment: match the new color's capacity and wait for healthy
//!   targets, scale the old color down once no route sends it traffic, restore it on rollback.
//! - [`cleanup`]: after a deployment: `cleanup` scales the old color to zero (its capacity recorded in a
//!   tag first); the capacity-aware `rollback` scales a cleaned-up color back up before moving traffic.
//! - [`hooks`]: lifecycle hooks (`--hook STAGE=COMMAND`): shell commands with a timeout and `ALBFLIP_*`
//!   variables.
//! - [`smoke`]: the smoke check: HTTP GETs through the test listener, 2xx expected.
//! - [`iam`]: the least-privilege IAM policy for a route.
//! - [`lock`]: one deployment per route: a lease taken, renewed and released around a run.
//! - [`ports`]: the traits the operations need ([`ports::TrafficRouter`], [`ports::AlbInventory`],
//!   [`ports::Scaler`]).
//! - [`aws`]: adapters from those traits to the AWS SDK, and the one place the SDK is configured.
//! - [`config`]: the `albflip.toml` file.
//! - [`error`]: [`Error`] and its [`ErrorKind`].
//!
//! ## Example
//! ```no_run
//! use albflip::{aws, resolve::Target, traffic, model::{Color, Percent}};
//!
//! # async fn run() -> Result<(), albflip::Error> {
//! let config = aws::load_config(&aws::AwsSettings::default()).await?;
//! let alb = aws::ElbV2::new(&config, aws::CallCounter::default());
//! let target = Target::from_convention("prod", "shop", 80);
//! let outcome = traffic::shift(&alb, &target, Color::Green, Percent::new(10).unwrap(), Default::default()).await?;
//! println!("{} -> {}", outcome.before, outcome.after);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod aws;
pub mod capacity;
pub mod cleanup;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod hooks;
pub mod iam;
pub mod lock;
pub mod lockstep;
pub mod model;
pub mod plan;
pub mod ports;
pub mod preflight;
pub mod resolve;
pub mod route;
pub mod smoke;
pub mod state;
// Also built for the library's own unit tests, which run against the same fakes.
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod traffic;

pub use error::{Error, ErrorKind};
