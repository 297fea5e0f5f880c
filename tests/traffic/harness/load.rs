//! A real client load: concurrent workers sending GETs through HAProxy for as long as the test runs,
//! every response recorded with its time, status and the color that answered (HAProxy's
//! `x-served-by` server name, so HAProxy's own 503 for a dead server is attributed too). A failed
//! request is a 5xx or no answer at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Which color answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    Blue,
    Green,
    /// Nobody known (a connection error, a response without the header).
    Unknown,
}

/// One request's outcome.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    pub at: SystemTime,
    pub color: Answered,
    /// The status, or `None` when the request got no answer.
    pub status: Option<u16>,
    /// Whether it was sent a second time because the proxy closed the idle keep-alive connection it
    /// went out on (as browsers and RFC 9110 9.2.2 allow for a GET; nginx does this when a reload
    /// retires its old workers).
    pub retried: bool,
}

impl Record {
    pub fn failed(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }
}

/// Counts over a stretch of the load.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub blue: u64,
    pub green: u64,
    pub unknown: u64,
    pub failed_blue: u64,
    pub failed_green: u64,
    pub failed_unknown: u64,
    /// Requests sent again after the proxy closed their idle keep-alive connection.
    pub retried: u64,
    /// The first and last failure.
    pub first_failure: Option<SystemTime>,
    pub last_failure: Option<SystemTime>,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.blue + self.green + self.unknown
    }
    pub fn failed(&self) -> u64 {
        self.failed_blue + self.failed_green + self.failed_unknown
    }
    /// Green's share of the answered requests, in percent.
    pub fn green_percent(&self) -> f64 {
        let answered = self.blue + self.green;
        if answered == 0 {
            return 0.0;
        }
        100.0 * self.green as f64 / answered as f64
    }
    /// How long the failures lasted, first to last.
    pub fn failure_span(&self) -> Duration {
        match (self.first_failure, self.last_failure) {
            (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
            _ => Duration::ZERO,
        }
    }
}

/// A running load.
pub struct Load {
    records: Arc<Mutex<Vec<Record>>>,
    stop: Arc<AtomicBool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Load {
    /// Starts `workers` concurrent clients of `url`, each pausing `pause` between requests.
    pub fn start(url: &str, workers: usize, pause: Duration) -> Load {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("load runtime");
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build_http::<Empty<Bytes>>()
        };
        for _ in 0..workers {
            let (client, records, stop) = (client.clone(), records.clone(), stop.clone());
            let uri: hyper::Uri = url.parse().expect("url");
            runtime.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let record = request(&client, uri.clone()).await;
                    records.lock().expect("records").push(record);
                    tokio::time::sleep(pause).await;
                }
            });
        }
        Load {
            records,
            stop,
            runtime: Some(runtime),
        }
    }

    /// Every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().expect("records").clone()
    }

    /// The counts of the records from `since` to `until`.
    pub fn tally(&self, since: SystemTime, until: SystemTime) -> Tally {
        tally(
            self.records()
                .iter()
                .filter(|r| r.at >= since && r.at < until),
        )
    }

    /// The counts of every record so far.
    pub fn total(&self) -> Tally {
        tally(self.records().iter())
    }

    /// Stops the workers (the requests in flight finish).
    pub fn stop(&mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
        self.total()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Counts `records`.
pub fn tally<'a>(records: impl Iterator<Item = &'a Record>) -> Tally {
    let mut t = Tally::default();
    for r in records {
        let failed = r.failed();
        t.retried += u64::from(r.retried);
        match (r.color, failed) {
            (Answered::Blue, f) => {
                t.blue += 1;
                t.failed_blue += u64::from(f);
            }
            (Answered::Green, f) => {
                t.green += 1;
                t.failed_green += u64::from(f);
            }
            (Answered::Unknown, f) => {
                t.unknown += 1;
                t.failed_unknown += u64::from(f);
            }
        }
        if failed {
            t.first_failure = Some(t.first_failure.map_or(r.at, |f| f.min(r.at)));
            t.last_failure = Some(t.last_failure.map_or(r.at, |l| l.max(r.at)));
        }
    }
    t
}

async fn request(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    uri: hyper::Uri,
) -> Record {
    let sent = SystemTime::now();
    let mut retried = false;
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(5), async {
            let response = client.get(uri.clone()).await?;
            let status = response.status().as_u16();
            let server = response
                .headers()
                .get("x-served-by")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            response.into_body().collect().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, server))
        })
        .await;
        return match answer {
            Ok(Ok((status, server))) => Record {
                at: sent,
                color: color_of(&server),
                status: Some(status),
                retried,
            },
            Ok(Err(e)) if !retried && idle_connection_closed(e.as_ref()) => {
                retried = true;
                continue;
            }
            _ => Record {
                at: sent,
                color: Answered::Unknown,
                status: None,
                retried,
            },
        };
    }
}

/// Whether the request failed because the proxy closed the kept-alive connection as it went out
/// (no response started): the one failure an HTTP client may retry a GET on.
fn idle_connection_closed(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(client) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
        if client.is_connect() {
            return false;
        }
    }
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return true;
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionReset {
                return true;
            }
        }
        source = err.source();
    }
    false
}

/// The color of a server by its name (`blue1`, `green2`).
fn color_of(server: &str) -> Answered {
    if server.starts_with("blue") {
        Answered::Blue
    } else if server.starts_with("green") {
        Answered::Green
    } else {
        Answered::Unknown
    }
}
