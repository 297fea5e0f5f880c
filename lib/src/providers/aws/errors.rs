//! Classifies SDK errors into [`ApiError`]s a person can act on.

use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};

use crate::ports::{ApiError, ApiErrorKind};

/// Error codes that mean "the thing you named does not exist".
const NOT_FOUND_CODES: &[&str] = &[
    "ListenerNotFound",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "RuleNotFound",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "ServiceNotFoundException",
    "ClusterNotFoundException",
];

/// Error codes (or texts) that mean "these credentials are not valid", not "not allowed".
const INVALID_CREDENTIAL_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
];

/// Turns an SDK error of `operation` (`service:Operation`, e.g. `elasticloadbalancing:ModifyListener`)
/// into an [`ApiError`].
pub fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: RawResponse + std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) => {
            ApiError::new(operation, ApiErrorKind::Timeout, "no response in time")
        }
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                ApiErrorKind::Timeout
            } else {
                ApiErrorKind::Unreachable
            };
            let msg = d
                .as_connector_error()
                .map(|c| source_chain(c))
                .unwrap_or_else(|| "could not send the request".to_string());
            // The SDK reports a failed credentials chain as a dispatch failure: say what it is.
            let kind = if msg.contains("loading credentials") || msg.contains("no credentials") {
                ApiErrorKind::NoCredentials
            } else {
                kind
            };
            ApiError::new(operation, kind, msg)
        }
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status_code();
            from_parts(
                operation,
                e.code(),
                e.message(),
                status,
                service.raw().body_text(),
            )
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status_code();
            from_parts(operation, None, None, status, r.raw().body_text())
        }
        _ => ApiError::new(operation, ApiErrorKind::Other, source_chain(&err)),
    }
}

/// Whether an error body is an HTML page (a proxy's or an emulator's error page), not an API error.
pub fn is_html(body: &str) -> bool {
    let start: String = body.trim_start().chars().take(15).collect();
    let start = start.to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

fn from_parts(
    operation: &str,
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
    body: String,
) -> ApiError {
    // An HTML error page is never shown: it says nothing a person can act on, and fills a log.
    if is_html(&body) {
        let kind = if status == 403 {
            ApiErrorKind::AccessDenied {
                action: operation.to_string(),
            }
        } else {
            ApiErrorKind::Other
        };
        return ApiError::new(
            operation,
            kind,
            format!(
                "the endpoint answered HTTP {status} with an HTML page instead of an API error"
            ),
        );
    }
    let message = message
        .map(str::to_string)
        .unwrap_or_else(|| first_line(&body));
    let code = code.unwrap_or_default();
    let text = format!("{code} {message} {body}");
    let kind = if NOT_FOUND_CODES.contains(&code) {
        ApiErrorKind::NotFound
    } else if INVALID_CREDENTIAL_CODES.contains(&code)
        || text.contains("security token included in the request is invalid")
        || text.contains("InvalidClientTokenId")
    {
        ApiErrorKind::InvalidCredentials
    } else if code.contains("Throttl") || text.contains("Rate exceeded") {
        ApiErrorKind::Throttled
    } else if status == 403 || code.contains("AccessDenied") || code == "UnauthorizedOperation" {
        ApiErrorKind::AccessDenied {
            action: operation.to_string(),
        }
    } else if code.is_empty() {
        ApiErrorKind::Other
    } else {
        ApiErrorKind::Rejected {
            code: code.to_string(),
        }
    };
    let message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    ApiError::new(operation, kind, message)
}

fn first_line(body: &str) -> String {
    let text = body.trim();
    // Pull a <Message> out of an XML error body when there is one.
    if let (Some(start), Some(end)) = (text.find("<Message>"), text.find("</Message>")) {
        if start < end {
            return text[start + 9..end].trim().to_string();
        }
    }
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// What albflip needs of a raw HTTP response.
pub trait RawResponse {
    /// The HTTP status code.
    fn status_code(&self) -> u16;
    /// The body as text, when it is in memory.
    fn body_text(&self) -> String;
}

impl RawResponse for aws_sdk_elasticloadbalancingv2::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }

    fn body_text(&self) -> String {
        self.body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_without_a_code_names_the_refused_action() {
        let e = from_parts(
            "elasticloadbalancing:ModifyListener",
            None,
            None,
            403,
            "<ErrorResponse><Error><Message>User is not authorized</Message></Error></ErrorResponse>".into(),
        );
        assert_eq!(
            e.kind,
            ApiErrorKind::AccessDenied {
                action: "elasticloadbalancing:ModifyListener".into()
            }
        );
        assert_eq!(e.message, "User is not authorized");
    }

    /// Issue 21: the emulator's HTML error page is never shown.
    #[test]
    fn an_html_error_page_is_named_not_shown() {
        let e = from_parts(
            "cloudwatch:GetMetricData",
            None,
            Some("<!doctype html>"),
            500,
            "<!doctype html>\n<html lang=en><title>500 Internal Server Error</title>".into(),
        );
        assert!(!e.message.contains('<'), "{}", e.message);
        assert!(e.message.contains("HTTP 500"), "{}", e.message);
    }

    #[test]
    fn invalid_keys_are_not_a_missing_permission() {
        let e = from_parts(
            "elasticloadbalancing:DescribeListeners",
            None,
            None,
            403,
            "<ErrorResponse><Error><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>".into(),
        );
        assert_eq!(e.kind, ApiErrorKind::InvalidCredentials);
    }

    #[test]
    fn codes_are_classified() {
        let nf = from_parts(
            "x:DescribeListeners",
            Some("ListenerNotFound"),
            Some("gone"),
            400,
            String::new(),
        );
        assert_eq!(nf.kind, ApiErrorKind::NotFound);
        let th = from_parts(
            "x:ModifyListener",
            Some("Throttling"),
            Some("Rate exceeded"),
            400,
            String::new(),
        );
        assert_eq!(th.kind, ApiErrorKind::Throttled);
        let bad = from_parts(
            "x:ModifyListener",
            Some("InvalidLoadBalancerAction"),
            Some("no"),
            400,
            String::new(),
        );
        assert_eq!(
            bad.kind,
            ApiErrorKind::Rejected {
                code: "InvalidLoadBalancerAction".into()
            }
        );
    }
}
