//! The smoke check: HTTP GETs through the test route, each expected to answer 2xx within a timeout. The
//! requests go through the provider's HTTP client ([`HttpProbe`]; on AWS the SDK's own connector,
//! [`crate::providers::aws::http::SdkHttp`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), albflip::smoke::SmokeError> {
//! let http = albflip::aws::http::SdkHttp::new();
//! let report = albflip::smoke::check(&http, "http://shop-alb.example.com:8080/health", 3, std::time::Duration::from_secs(5)).await?;
//! assert_eq!(report.attempts.len(), 3);
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ports::{HttpProbe, ProbeError};

/// One successful request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmokeAttempt {
    /// The HTTP status (2xx).
    pub status: u16,
    /// How long the answer took, in milliseconds.
    pub millis: u64,
}

/// A passed smoke check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmokeReport {
    /// The URL checked.
    pub url: String,
    /// Every request, in order.
    pub attempts: Vec<SmokeAttempt>,
}

/// Why the smoke check failed; `attempt` is 1-based, `of` the number of requests asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmokeError {
    /// The URL is not an http:// or https:// URL.
    #[error("{}", self.text())]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An answer that is not 2xx.
    #[error("smoke check {attempt} of {of}: GET {url} answered HTTP {status}, expected 2xx")]
    Status {
        /// The URL.
        url: String,
        /// Which request.
        attempt: u32,
        /// Requests asked for.
        of: u32,
        /// The status.
        status: u16,
    },
    /// No answer in time.
    #[error("{}", self.text())]
    Timeout {
        /// The URL.
        url: String,
        /// Which request.
        attempt: u32,
        /// Requests asked for.
        of: u32,
        /// The time allowed.
        timeout: Duration,
    },
    /// The request failed (connection refused, TLS, DNS...).
    #[error("smoke check {attempt} of {of}: GET {url} failed: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Which request.
        attempt: u32,
        /// Requests asked for.
        of: u32,
        /// What went wrong.
        reason: String,
    },
}

impl SmokeError {
    /// The message, naming the smoke check's settings as references.
    pub fn text(&self) -> crate::input::Text {
        use crate::input::Input;
        match self {
            SmokeError::InvalidUrl { url, reason } => crate::text!(
                {given Input::SmokeUrl},
                format!(" {url:?} is not usable: {reason}. Pass a URL such as http://my-alb.example.com:8080/health")
            ),
            SmokeError::Timeout {
                url,
                attempt,
                of,
                timeout,
            } => crate::text!(
                format!("smoke check {attempt} of {of}: GET {url} did not answer within {}. Check the test listener and the new color's targets, or raise ", humantime::format_duration(*timeout)),
                {input Input::SmokeTimeout}
            ),
            other => crate::text!(other.to_string()),
        }
    }
}

/// GETs `url` through `http` `count` times (at least once) one after another; each must answer 2xx
/// within `timeout`. Stops at the first failure.
pub async fn check<H: HttpProbe>(
    http: &H,
    url: &str,
    count: u32,
    timeout: Duration,
) -> Result<SmokeReport, SmokeError> {
    check_url(url)?;
    let of = count.max(1);
    let mut attempts = Vec::new();
    for attempt in 1..=of {
        attempts.push(get(http, url, Try { attempt, of }, timeout).await?);
    }
    Ok(SmokeReport {
        url: url.to_string(),
        attempts,
    })
}

#[derive(Debug, Clone, Copy)]
struct Try {
    attempt: u32,
    of: u32,
}

async fn get<H: HttpProbe>(
    http: &H,
    url: &str,
    t: Try,
    timeout: Duration,
) -> Result<SmokeAttempt, SmokeError> {
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, http.get(url)).await;
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (url, attempt, of) = (url.to_string(), t.attempt, t.of);
    match answer {
        Err(_) => Err(SmokeError::Timeout {
            url,
            attempt,
            of,
            timeout,
        }),
        Ok(Err(ProbeError::InvalidUrl(reason))) => Err(SmokeError::InvalidUrl { url, reason }),
        Ok(Err(ProbeError::Failed(reason))) => Err(SmokeError::Request {
            url,
            attempt,
            of,
            reason,
        }),
        Ok(Ok(status)) => {
            if (200..300).contains(&status) {
                Ok(SmokeAttempt { status, millis })
            } else {
                Err(SmokeError::Status {
                    url,
                    attempt,
                    of,
                    status,
                })
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), SmokeError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let reason = match rest {
        None => "it does not start with http:// or https://",
        Some(r) if r.is_empty() || r.starts_with('/') => "it names no host",
        Some(_) if url.contains(char::is_whitespace) => "it contains whitespace",
        Some(_) => return Ok(()),
    };
    Err(SmokeError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests;
