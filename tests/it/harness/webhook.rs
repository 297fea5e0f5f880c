//! A real HTTP server on a free loopback port that receives webhook POSTs (`--notify`): it keeps each
//! JSON body and answers with the status it was given. Dropping it stops it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A running webhook receiver.
pub struct Webhook {
    /// `http://127.0.0.1:PORT/hooks/T000/B000/secret-token`.
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Webhook {
    /// A receiver that answers every POST with `status`.
    pub fn start(status: u16) -> Webhook {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("webhook runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the webhook");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("webhook address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let kept = kept.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let kept = kept.clone();
                            async move {
                                let json = req.headers().get("content-type").cloned();
                                let body = req.into_body().collect().await.map(|b| b.to_bytes());
                                if let (Ok(body), Some(_)) = (body, json) {
                                    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                        kept.lock().unwrap().push(v);
                                    }
                                }
                                let mut answer = Response::new(Full::new(Bytes::new()));
                                *answer.status_mut() = StatusCode::from_u16(status).unwrap();
                                Ok::<_, Infallible>(answer)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Webhook {
            url: format!("http://{addr}/hooks/T000/B000/secret-token"),
            received,
            _runtime: runtime,
        }
    }

    /// The JSON bodies received so far, in order.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

/// A URL on a loopback port nobody listens on.
pub fn closed_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("http://127.0.0.1:{port}/hooks/closed-secret")
}
