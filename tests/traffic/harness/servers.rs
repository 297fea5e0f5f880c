//! Real blue and green HTTP servers on free loopback ports, each on its own tokio runtime: every answer
//! names its color (`x-color`), `/health` answers 200 for HAProxy's checks, and a test can make a server
//! answer 500 to a share of its requests or kill it (its listener and every connection closed: the
//! port refuses connections from then on).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One color's HTTP server.
pub struct ColorServer {
    /// Its address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

#[derive(Default)]
struct Shared {
    /// Share of requests answered 500, in percent.
    fail_percent: AtomicU32,
    /// Requests answered (health checks aside).
    served: AtomicU64,
    /// Of those, answered 500.
    failed: AtomicU64,
}

impl ColorServer {
    /// Starts a server for `color` on a free port.
    pub fn start(color: &'static str) -> ColorServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(Shared::default());
        let accept = shared.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = accept.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, hyper::Error>(answer(color, &shared, &req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ColorServer {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on, answers 500 to `percent` % of requests (spread evenly: of every 100 requests,
    /// exactly `percent`).
    pub fn fail_percent(&self, percent: u32) {
        self.shared.fail_percent.store(percent, Ordering::SeqCst);
    }

    /// Requests answered and, of those, answered 500 (health checks aside).
    pub fn served(&self) -> (u64, u64) {
        (
            self.shared.served.load(Ordering::SeqCst),
            self.shared.failed.load(Ordering::SeqCst),
        )
    }

    /// Kills the server: its listener and every open connection close at once; the port then refuses
    /// connections.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for ColorServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn answer(
    color: &str,
    shared: &Shared,
    req: &Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    if req.uri().path() == "/health" {
        return Response::new(Full::new(Bytes::from_static(b"ok")));
    }
    let n = shared.served.fetch_add(1, Ordering::SeqCst);
    let percent = u64::from(shared.fail_percent.load(Ordering::SeqCst));
    // Bresenham: request n fails when it crosses the next whole failure of `percent` per 100.
    let fail = (n + 1) * percent / 100 > n * percent / 100;
    let status = if fail {
        shared.failed.fetch_add(1, Ordering::SeqCst);
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    Response::builder()
        .status(status)
        .header("x-color", color)
        .body(Full::new(Bytes::from(format!("{color}\n"))))
        .expect("a response")
}
