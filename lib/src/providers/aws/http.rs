//! The smoke check's HTTP client on AWS: GETs through the SDK's own connector (hyper, rustls on ring), so
//! https works and no second HTTP stack is built in. No proxy from the environment is used: the check is
//! meant to reach the load balancer directly. The same connector POSTs a deployment's notifications
//! ([`SdkHttp::post_json`]).

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

use crate::ports::{HttpProbe, ProbeError, TestHeader};

/// The SDK's HTTP connector as an [`HttpProbe`].
#[derive(Debug)]
pub struct SdkHttp {
    connector: Connector,
}

impl SdkHttp {
    /// A connector speaking http and https (rustls on ring).
    pub fn new() -> SdkHttp {
        SdkHttp {
            connector: Connector::builder()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build(),
        }
    }
}

impl Default for SdkHttp {
    fn default() -> Self {
        SdkHttp::new()
    }
}

impl HttpProbe for SdkHttp {
    async fn get(&self, url: &str) -> Result<u16, ProbeError> {
        let request = HttpRequest::get(url).map_err(|e| ProbeError::InvalidUrl(e.to_string()))?;
        self.send(request).await
    }

    async fn get_with_header(&self, url: &str, header: &TestHeader) -> Result<u16, ProbeError> {
        let mut request =
            HttpRequest::get(url).map_err(|e| ProbeError::InvalidUrl(e.to_string()))?;
        request
            .headers_mut()
            .try_insert(header.name.clone(), header.value.clone())
            .map_err(|e| ProbeError::Failed(format!("the test header {header}: {e}")))?;
        self.send(request).await
    }
}

impl SdkHttp {
    async fn send(&self, request: HttpRequest) -> Result<u16, ProbeError> {
        match self.connector.call(request).await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => Err(ProbeError::Failed(error_chain(&e))),
        }
    }
}

impl SdkHttp {
    /// POSTs `body` as JSON to `url` within `timeout`; the answer's status. A failure's text never
    /// holds the URL (a webhook URL is a secret).
    pub async fn post_json(
        &self,
        url: &str,
        body: &str,
        timeout: std::time::Duration,
    ) -> Result<u16, ProbeError> {
        let mut request = HttpRequest::new(aws_smithy_types::body::SdkBody::from(body));
        request
            .set_uri(url)
            .map_err(|_| ProbeError::InvalidUrl("not a URL".into()))?;
        request
            .set_method("POST")
            .map_err(|e| ProbeError::InvalidUrl(e.to_string()))?;
        request
            .headers_mut()
            .insert("content-type", "application/json");
        match tokio::time::timeout(timeout, self.connector.call(request)).await {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(e)) => Err(ProbeError::Failed(error_chain(&e).replace(url, "<url>"))),
            Err(_) => Err(ProbeError::Failed(format!(
                "no answer within {}",
                crate::duration::human(timeout)
            ))),
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}
