//! The one place where the AWS SDK is configured: credentials chain, region, profile, endpoint, timeouts,
//! retries and the HTTP client.

use crate::input::Input;
use crate::text;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::error::Error;

/// Where and as whom to talk to AWS. Empty fields fall back to the SDK's own chain (environment,
/// shared config files, instance metadata...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url` (the SDK also reads `AWS_ENDPOINT_URL` itself).
    pub endpoint_url: Option<String>,
}

/// How long to wait for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one attempt of an API call may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an API call may take with all its retries.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(40);
/// Attempts per API call (the SDK's standard retry mode, exponential backoff with jitter).
pub const MAX_ATTEMPTS: u32 = 4;

/// The HTTP client every albflip SDK client uses: hyper with rustls on ring (no aws-lc, no cmake).
pub fn http_client() -> aws_sdk_elasticloadbalancingv2::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads the SDK configuration for `settings`.
pub async fn load_config(settings: &AwsSettings) -> Result<SdkConfig, Error> {
    let http = http_client();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        // Standard, not adaptive: the adaptive mode's rate limiter is shared by reads and writes, so a
        // throttled write quota starved the reads of a fleet until they timed out (measured with
        // bench/run). Writes are paced separately, see `throttle`.
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        check_endpoint(url)?;
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(Error::invalid(
            Input::Region,
            "AWS region",
            "none is configured",
            text!(
                "Pass ",
                {input Input::Region},
                ", set AWS_REGION, or set a region in your AWS profile"
            ),
        ));
    }
    Ok(config)
}

fn check_endpoint(url: &str) -> Result<(), Error> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && !url.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            Input::EndpointUrl,
            text!({given Input::EndpointUrl}, format!(" {url:?}")),
            "not an http:// or https:// URL",
            "Pass a URL such as http://127.0.0.1:4566",
        ))
    }
}
