//! AWS adapters: they translate between the [`crate::ports`] traits and the AWS SDK, and decide nothing.
//!
//! - [`autoscaling`]: reading and resizing Auto Scaling groups ([`AutoScaling`]).
//! - [`sdk`]: one place where region, profile, endpoint, timeouts, retries and the HTTP client are set.
//! - [`cloudwatch`]: gate observations from CloudWatch ([`CloudWatch`]).
//! - [`dynamodb`]: the deployment lock ([`DynamoLock`]).
//! - [`elbv2`]: the ALB router and inventory ([`ElbV2`]).
//! - [`errors`]: SDK errors classified into [`crate::ports::ApiError`].
//! - [`throttle`]: longer retries for throttled writes.
//! - [`calls`]: counts API calls per operation, for the summary and the benchmarks.

pub mod autoscaling;
pub mod calls;
pub mod cloudwatch;
pub mod dynamodb;
pub mod elbv2;
pub mod errors;
pub mod sdk;
pub mod throttle;

pub use autoscaling::AutoScaling;
pub use aws_config::SdkConfig;
pub use calls::CallCounter;
pub use cloudwatch::CloudWatch;
pub use dynamodb::DynamoLock;
pub use elbv2::ElbV2;
pub use sdk::{load_config, AwsSettings};
