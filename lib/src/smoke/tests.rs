//! The smoke check against tiny HTTP servers on the loopback interface.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::providers::aws::http::SdkHttp;

const SECOND: Duration = Duration::from_secs(1);

/// A server answering every request with `status`, or never answering when `status` is `None`; it
/// counts the requests it read.
async fn server(status: Option<u16>) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut held = Vec::new();
                // One request per connection is enough: answer, then close.
                while !held.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => held.extend_from_slice(&buf[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let Some(code) = status else {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                };
                let answer = format!(
                    "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn every_request_answering_2xx_passes() {
    let (url, seen) = server(Some(200)).await;
    let report = check(&SdkHttp::new(), &url, 3, 5 * SECOND).await.unwrap();
    assert_eq!(report.attempts.len(), 3);
    assert!(report.attempts.iter().all(|a| a.status == 200));
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_500_fails_naming_the_status() {
    let (url, seen) = server(Some(500)).await;
    let e = check(&SdkHttp::new(), &url, 3, 5 * SECOND)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SmokeError::Status {
                status: 500,
                attempt: 1,
                of: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("HTTP 500"), "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "stops at the first failure");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (url, _) = server(None).await;
    let started = std::time::Instant::now();
    let e = check(&SdkHttp::new(), &url, 1, SECOND / 2)
        .await
        .unwrap_err();
    assert!(matches!(e, SmokeError::Timeout { .. }), "{e:?}");
    assert!(started.elapsed() < 5 * SECOND);
    assert!(e.to_string().contains("did not answer within 500ms"), "{e}");
}

#[tokio::test]
async fn a_closed_port_is_a_failed_request() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let e = check(&SdkHttp::new(), &url, 1, 5 * SECOND)
        .await
        .unwrap_err();
    assert!(matches!(e, SmokeError::Request { .. }), "{e:?}");
}

#[tokio::test]
async fn urls_that_are_not_http_are_refused_before_any_request() {
    for url in [
        "ftp://x/",
        "http://",
        "https:///path",
        "http://a b/",
        "shop.example.com",
    ] {
        let e = check(&SdkHttp::new(), url, 1, SECOND).await.unwrap_err();
        assert!(matches!(e, SmokeError::InvalidUrl { .. }), "{url}: {e:?}");
    }
}
