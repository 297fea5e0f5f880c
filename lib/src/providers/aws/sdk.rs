//! The one place where the AWS SDK is configured: credentials chain, region, profile, endpoint, timeouts,
//! retries and the HTTP client.

use crate::input::Input;
use crate::text;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::retry::ErrorKind;

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

/// The HTTP client every albflip SDK client shares (built once per [`load_config`] and carried by the
/// `SdkConfig` into each client): hyper, with rustls on ring (no aws-lc, no cmake) for https.
///
/// The TLS side, and with it the system's root certificates, is built on the first request to an
/// `https://` URI, not when a client is constructed: the SDK's own https client reads the whole CA store
/// (about 150 files) each time it becomes a client's HTTP client, which an `http://` endpoint (an
/// emulator) never needs and which delayed every command's first request (issue 20).
pub fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(ByScheme {
        plain: aws_smithy_http_client::Builder::new().build_http(),
        tls: aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    })
}

/// Plain HTTP for `http://` URIs; TLS, set up on first use, for the rest.
#[derive(Debug)]
struct ByScheme {
    plain: SharedHttpClient,
    tls: SharedHttpClient,
}

impl HttpClient for ByScheme {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BySchemeConnector {
            plain: self.plain.http_connector(settings, components),
            tls: self.tls.clone(),
            settings: settings.clone(),
            components: components.clone(),
        })
    }

    // No `validate_base_client_config`: the default does nothing, where the https client's loads the
    // root certificates.

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.plain.connector_metadata()
    }
}

/// One request's connector: the plain one, or the TLS one (the https client caches it per settings, so
/// the roots are read once per process).
#[derive(Debug)]
struct BySchemeConnector {
    plain: SharedHttpConnector,
    tls: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

impl HttpConnector for BySchemeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if request.uri().starts_with("http://") {
            self.plain.call(request)
        } else {
            self.tls
                .http_connector(&self.settings, &self.components)
                .call(request)
        }
    }
}

/// The per-call configuration of an ELB write (`ModifyListener`, `ModifyRule`, `AddTags`): a throttled
/// attempt comes back to albflip instead of being retried inside the SDK, so that every attempt of a
/// write under the write quota takes its turn in the process's write queue ([`super::throttle`]) and
/// widens its gap. The SDK's standard retry still covers everything else (dropped connections, 5xx,
/// timeouts). Issue 20: 499 of a fleet's 712 throttled writes had been retried by the SDK, outside the
/// queue.
pub fn queued_write() -> aws_sdk_elasticloadbalancingv2::config::Builder {
    aws_sdk_elasticloadbalancingv2::config::Builder::default().retry_classifier(ThrottlingToQueue)
}

/// Turns the SDK's verdict "retry: throttling" into "do not retry"; any other verdict stands.
#[derive(Debug)]
struct ThrottlingToQueue;

impl ClassifyRetry for ThrottlingToQueue {
    fn classify_retry(&self, _ctx: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, _ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        match previous {
            RetryAction::RetryIndicated(RetryReason::RetryableError {
                kind: ErrorKind::ThrottlingError,
                ..
            }) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "albflip: throttled writes go back to the write queue"
    }

    /// After every classifier the SDK has (the transient-error one runs last of those), so that it
    /// sees their verdict.
    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
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
        // Before anything else: the SDK would take the environment's keys over a missing profile.
        super::profiles::check_exists(profile).await?;
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        check_endpoint(url)?;
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    tracing::debug!(
        region = ?config.region().map(|r| r.to_string()),
        profile = ?settings.profile,
        endpoint = ?settings.endpoint_url,
        "AWS SDK configured"
    );
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
