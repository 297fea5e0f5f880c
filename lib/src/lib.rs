//! # albflip
//!
//! Move live traffic between a blue and a green backend, step by step, and put it back on the stable
//! color when the new one misbehaves. Its home is the AWS Application Load Balancer; the engine itself
//! knows no provider.
//!
//! ## The model
//! A *route* splits traffic between two backends, blue and green. On the ALB
//! ([`aws::route::RouteId`]) it is a listener's default action or one listener rule, whose forward
//! action names the blue and the green target group with ALB weights ([`aws::weights::Weights`], each
//! 0..=999, never both zero). albflip speaks in a [`model::Split`]: whole percent on each color, adding
//! up to 100; each provider writes it in its own units while keeping everything else of the route as it
//! found it, and verifies the live route after every write.
//!
//! The *stable* color is the one recorded in the route's `albflip:stable` tag (blue when there is none).
//! A *deployment* moves traffic to the other, new color in steps ([`plan::Plan`], from a
//! [`plan::Strategy`]); each step *bakes* while the gates ([`plan::GateThresholds`]) are polled, and
//! the first failing verdict puts all traffic back on the stable color, traffic first, then the record.
//! Everything a deployment needs besides the route is a [`engine::DeploySpec`]: build it in code
//! ([`engine::DeploySpec::builder`]), from the `[strategy]`/`[gates]` sections of the `albflip.toml`
//! the CLI reads ([`engine::DeploySpec::from_config`]), or take route, AWS settings and spec from that
//! file at once ([`config::load_deployment`]).
//!
//! The [`engine::Engine`] runs it over *ports*, traits for the outside world that name no provider: a
//! [`ports::Provider`] that resolves what the user named into [`ports::Routes`] (the routes one run
//! moves), a [`ports::MetricSource`], a [`ports::Clock`], optionally a [`ports::CapacityPool`] and,
//! around runs, a [`ports::Lock`]. [`aws`] implements them for the ALB, CloudWatch, Auto Scaling and
//! DynamoDB; implement [`ports::MetricSource`] to gate on Prometheus or Datadog, [`ports::Clock`] to
//! simulate time, [`ports::Lock`] for your own lease store. A new router implements
//! [`ports::Provider`] + [`ports::Routes`] and proves itself with the conformance suite over
//! [`ports::Router`] and [`ports::StateStore`]. With the `testing` feature, [`testing`] adds an
//! in-memory load balancer, scripted metrics and the smallest router. The engine reports [`events::Event`]s to an
//! [`events::Observer`] as it goes and ends with an [`engine::Outcome`] (completed, rolled back,
//! awaiting promotion, interrupted) or an [`Error`] whose [`ErrorKind`] says what it means for the
//! route. A [`engine::CancellationToken`] cancelled from any task stops a run at the next poll or step
//! boundary and puts traffic back on the stable color ([`engine::OnInterrupt`]), exactly as the CLI
//! does on SIGINT.
//!
//! `status`, `shift` and `rollback` are plain functions in [`traffic`]; `promote` and `resume` are
//! [`engine::Engine`] methods like `deploy`.
//!
//! ## Layout
//! - [`model`]: colors, percentages, splits, stickiness; invalid values unrepresentable.
//! - [`plan`]: the pure decision core: strategies and plans, gates and verdicts, the bake decision.
//! - [`ports`]: the provider-neutral ports ([`ports::Provider`], [`ports::Routes`],
//!   [`ports::Router`], [`ports::StateStore`], [`ports::MetricSource`], [`ports::CapacityPool`],
//!   [`ports::Lock`], [`ports::Clock`]).
//! - [`switch`]: the neutral write path over any [`ports::Router`]: verified writes, a group put back.
//! - [`providers`]: one folder per provider; [`aws`] (also at [`providers::aws`]) holds the ALB's ARNs,
//!   weights, forward actions, route resolution, lockstep discovery, write path and IAM policy, and the
//!   SDK adapters.
//! - [`haproxy`] (also at [`providers::haproxy`]): HAProxy as a router through its runtime API (server
//!   weights 0..=256, `show stat` counters and checks).
//! - [`nginx`] (also at [`providers::nginx`]): nginx as a router through the upstream file albflip
//!   owns (weights and `down`, configuration test, reload, read back), the access log as counters.
//! - [`local`] (also at [`providers::local`]): what the routers on the host share: the state file, the
//!   file lock and metrics from cumulative counters.
//! - [`preflight`]: the checks run before any write, as verdicts (`albflip check`).
//! - [`traffic`]: the ALB operations `status`, `shift`, `rollback`: resolve, decide, write once, verify;
//!   [`traffic::neutral`] has them over any [`ports::Provider`].
//! - [`engine`]: the step engine (observe, decide, act, verify; rollback; cancellation), the
//!   [`engine::DeploySpec`] it runs and how to build one, the [`engine::Outcome`].
//! - [`events`]: what the engine reports as it goes.
//! - [`history`]: the deployments a route has seen ([`history::HistoryEntry`]), kept in a
//!   [`history::HistoryStore`] (the lock table on AWS).
//! - [`capacity`]: Auto Scaling around a deployment: match the new color's capacity and wait for healthy
//!   targets, scale the old color down once no route sends it traffic, restore it on rollback.
//! - [`cleanup`]: after a deployment: `cleanup` scales the old color to zero (its capacity recorded in a
//!   tag first); the capacity-aware `rollback` scales a cleaned-up color back up before moving traffic.
//! - [`hooks`]: lifecycle hooks (`--hook STAGE=COMMAND`): shell commands with a timeout and `ALBFLIP_*`
//!   variables.
//! - [`smoke`]: the smoke check: HTTP GETs through the test listener, 2xx expected.
//! - [`state`]: the deployment record's codec (id, target, step, phase, who, when) and when a
//!   deployment may start.
//! - [`lock`]: one deployment per route: a lease taken, renewed and released around a run.
//! - [`input`]: the inputs and next steps library errors refer to, typed; a caller names them its way.
//! - [`config`]: the `albflip.toml` file, and a whole deployment from it.
//! - [`suggest`]: "did you mean": the known names closest to a misspelt one.
//! - [`duration`]: durations for people (a measured time rounded: `40s`, not `40s 685ms 900us`).
//! - [`testing`] (feature `testing`): in-memory load balancer, Auto Scaling and lock, scripted metrics,
//!   and [`testing::InMemoryRouter`], the smallest provider.
//! - [`error`]: [`Error`] and its [`ErrorKind`].
//!
//! The examples in `lib/examples/` are complete programs: `gradual.rs` runs a gradual deployment
//! against AWS or the local emulator with events and Ctrl-C cancellation; `custom_metrics.rs` plugs in
//! its own metric source (no AWS needed); `fleet.rs` deploys many listeners at once.
//!
//! ## Example: a gated deployment on AWS
//! ```no_run
//! use albflip::aws::{self, CallCounter, CloudWatch, ElbV2};
//! use albflip::engine::{CancellationToken, Engine, OnInterrupt, Outcome};
//! use albflip::events::{Event, Observer};
//! use albflip::model::Color;
//! use albflip::ports::TokioClock;
//!
//! /// Prints what the engine reports.
//! struct Print;
//! impl Observer for Print {
//!     fn on_event(&self, _at: std::time::SystemTime, event: &Event) {
//!         println!("{event:?}");
//!     }
//! }
//!
//! # async fn deploy() -> Result<(), albflip::Error> {
//! // Route, AWS settings and spec from the albflip.toml the CLI reads.
//! let deployment = albflip::config::load_deployment("albflip.toml".as_ref(), Color::Green)?;
//! let config = aws::load_config(&deployment.aws).await?;
//! let calls = CallCounter::default();
//! let (alb, metrics) = (ElbV2::new(&config, calls.clone()), CloudWatch::new(&config, calls));
//! let clock = TokioClock::new();
//!
//! // Ctrl-C (or any other task) cancels: traffic goes back to the stable color, as in the CLI.
//! let cancel = CancellationToken::new();
//! let on_ctrl_c = cancel.clone();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     on_ctrl_c.cancel();
//! });
//!
//! let engine = Engine::new(&alb, &metrics, &clock, &Print)
//!     .with_cancellation(cancel, OnInterrupt::Rollback);
//! match engine.deploy(&deployment.target, &deployment.spec).await? {
//!     Outcome::Completed { stable } => println!("{stable} is stable"),
//!     Outcome::RolledBack { failure, to, .. } => println!("rolled back to {to}: {}", failure.message()),
//!     other => println!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Example: the same engine in memory (feature `testing`)
//! A whole deployment in simulated time: the in-memory load balancer, metrics from a script, tokio's
//! paused clock. This is how to test an integration without AWS.
//! ```
//! # #[cfg(feature = "testing")]
//! # {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use albflip::engine::{DeploySpec, Engine, Outcome};
//! use albflip::events::Collect;
//! use albflip::model::{Color, Split};
//! use albflip::plan::{Steps, Strategy};
//! use albflip::ports::TokioClock;
//! use albflip::aws::resolve::{RouteSpec, Target};
//! use albflip::testing::{traffic, InMemoryAlb, ScriptedMetrics};
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
//! # runtime.block_on(async {
//! let alb = Arc::new(InMemoryAlb::new());
//! // 1000 requests in every window, 2 of green's failing: well within the 1 % gate.
//! let metrics = ScriptedMetrics::new(alb.clone(), Color::Green, |_| (traffic(1000.0, 2.0), traffic(1000.0, 0.0)).into());
//! let spec = DeploySpec::builder(Color::Green)
//!     .strategy(Strategy::Gradual { steps: Steps::new(&[25, 100])? })
//!     .bake(Duration::from_secs(60))
//!     .build()?;
//! let target = Target::new(RouteSpec::Listener(alb.listener_arn()));
//! let events = Collect::default();
//! let clock = TokioClock::new();
//! let outcome = Engine::new(&*alb, &metrics, &clock, &events).deploy(&target, &spec).await?;
//!
//! assert_eq!(outcome, Outcome::Completed { stable: Color::Green });
//! assert_eq!(alb.split(), Split::all_to(Color::Green));
//! assert_eq!(alb.tag("albflip:stable").as_deref(), Some("green"));
//! # Ok::<(), albflip::Error>(())
//! # }).unwrap();
//! # }
//! ```
//!
//! ## Stability
//! The modules above are the public API and follow semver (see the README's "Semver" section); the
//! `testing` feature's fakes may change in minor releases.
#![deny(missing_docs)]

pub mod capacity;
pub mod cleanup;
pub mod config;
pub mod duration;
pub mod engine;
pub mod error;
pub mod events;
pub mod history;
pub mod hooks;
pub mod input;
pub mod lock;
pub mod model;
pub mod plan;
pub mod ports;
pub mod preflight;
pub mod providers;
pub mod smoke;
pub mod state;
pub mod suggest;
pub mod switch;
// Also built for the library's own unit tests, which run against the same fakes, and for the docs.
#[cfg(any(test, feature = "testing", doc))]
pub mod testing;
pub mod traffic;

/// The AWS provider, where 0.1 had it.
pub use providers::aws;
pub use providers::haproxy;
pub use providers::local;
pub use providers::nginx;

pub use error::{Error, ErrorKind};
