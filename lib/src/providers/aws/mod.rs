//! The AWS provider: everything that is specific to the Application Load Balancer and its neighbours.
//!
//! ALB specifics:
//! - [`api`]: the ALB and Auto Scaling calls the provider needs underneath (its own seam, not a port).
//! - [`arn`]: ARNs, validated, and the names and CloudWatch dimensions read from them.
//! - [`weights`]: ALB weights (0..=999, never all zero) and their conversion to and from a split.
//! - [`route`]: a route's forward action and the ALB's validity rules over it (pure).
//! - [`resolve`]: from what the user named (ARNs, names, a naming convention) to a live route with colors.
//! - [`lockstep`]: every route that forwards to blue and green, found together.
//! - [`routes`]: the resolved route as the engine's [`crate::ports::Routes`] ([`routes::AlbRoutes`]);
//!   every ALB API is a [`crate::ports::Provider`].
//! - [`router`]: one route as a [`crate::ports::Router`] ([`router::AlbRouter`]), its tags as a
//!   [`crate::ports::StateStore`] ([`router::AlbState`]), and every Auto Scaling API as a
//!   [`crate::ports::CapacityPool`].
//! - [`mod@write`]: the one write path: desired split -> write -> verify -> put back on failure.
//! - [`unsupported`]: the error for a route the ALB will not shift, with its fix.
//! - [`sticky`]: group stickiness released by a rollback, recorded, and written back by the next shift.
//! - [`checks`]: the checks around a write (healthy targets, the stickiness conversion) and the stable mark.
//! - [`preflight`]: the ALB's pre-flight checks (`albflip check`).
//! - [`iam`]: the least-privilege IAM policy for a route.
//! - [`test_header`]: test traffic on the production listener: a temporary rule for a request header.
//!
//! Adapters from the [`crate::ports`] traits to the AWS SDK (they decide nothing):
//! - [`autoscaling`]: reading and resizing Auto Scaling groups ([`AutoScaling`]).
//! - [`ecs`]: reading and resizing ECS services, their Application Auto Scaling minimum held
//!   ([`EcsServices`]).
//! - [`pools`]: the colors' capacity, Auto Scaling or ECS, as one [`crate::ports::CapacityPool`]
//!   ([`AwsPools`]).
//! - [`sdk`]: one place where region, profile, endpoint, timeouts, retries and the HTTP client are set.
//! - [`profiles`]: the AWS profile albflip is told to use exists (the SDK's own parser).
//! - [`cloudwatch`]: gate observations from CloudWatch ([`CloudWatch`]).
//! - [`dynamodb`]: the deployment lock ([`DynamoLock`]).
//! - [`elbv2`]: the ALB router and inventory ([`ElbV2`]).
//! - [`errors`]: SDK errors classified into [`crate::ports::ApiError`].
//! - [`http`]: the smoke check's HTTP client, the SDK's own connector ([`http::SdkHttp`]).
//! - [`throttle`]: the process's one fair queue for ELB writes, and longer retries for throttled calls.
//! - [`calls`]: counts API calls per operation, for the summary and the benchmarks.

pub mod api;
pub mod arn;
pub mod autoscaling;
pub mod calls;
pub mod checks;
pub mod cloudwatch;
pub mod dynamodb;
pub mod ecs;
pub mod elbv2;
pub mod errors;
pub mod http;
pub mod iam;
pub mod known_health;
pub mod lockstep;
pub mod pools;
pub mod preflight;
pub mod profiles;
pub mod resolve;
pub mod route;
pub mod router;
pub mod routes;
pub mod sdk;
pub mod sticky;
pub mod test_header;
pub mod throttle;
pub mod unsupported;
pub mod weights;
pub mod write;

pub use autoscaling::AutoScaling;
pub use aws_config::SdkConfig;
pub use calls::CallCounter;
pub use cloudwatch::{CloudWatch, SeriesFold};
pub use dynamodb::DynamoLock;
pub use ecs::EcsServices;
pub use elbv2::ElbV2;
pub use pools::AwsPools;
pub use sdk::{load_config, AwsSettings};
