//! A fault-injecting HTTP proxy between albflip and the emulator, on a free loopback port.
//!
//! Each request is forwarded to the emulator (method, path and query, headers, body) and its answer
//! returned, unless the proxy decides (with a seeded, deterministic RNG) to inject a fault instead:
//! a 503, an AWS `Throttling` error, a slow answer, or a dropped connection. Faults that answer for the
//! emulator are decided *before* forwarding, so the emulator never sees the request and a fault never
//! half-applies a write. The one exception is [`Fault::DroppedAfterWrite`]: a write (ModifyListener,
//! ModifyRule, AddTags, RemoveTags) is forwarded and applied, and then its answer is replaced by a dropped
//! connection — the realistic "applied but no answer" case.
//!
//! The proxy runs on its own tokio runtime (the tests are synchronous); dropping it stops it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The kinds of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 503 "Service Unavailable"; the emulator never sees the request.
    Unavailable,
    /// HTTP 400 with the AWS query-protocol `Throttling` / `Rate exceeded` error; not forwarded.
    Throttled,
    /// Forwarded after a 1–2 s pause.
    Slow,
    /// The connection is closed without an answer; not forwarded.
    Dropped,
    /// Writes only: forwarded (and applied), then the connection is closed without the answer.
    DroppedAfterWrite,
    /// HTTP 400 `ValidationError`: refused, not forwarded, not retried.
    Rejected,
}

/// The query-protocol body of a refused request.
pub const REJECTED_BODY: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>injected refusal</Message></Error><RequestId>x</RequestId></ErrorResponse>";

/// The throttling error body of the AWS query protocol (ELBv2 and CloudWatch speak it).
pub const THROTTLING_BODY: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>x</RequestId></ErrorResponse>";

/// Which calls get faults, how often and which.
#[derive(Debug, Clone)]
pub struct Config {
    /// Share of (eligible) requests that get a fault, 0.0..=1.0.
    pub rate: f64,
    /// The fault kinds with their relative weights; a kind is chosen among these for each faulted
    /// request ([`Fault::DroppedAfterWrite`] only for writes).
    pub kinds: Vec<(Fault, u32)>,
    /// The RNG seed.
    pub seed: u64,
    /// When set, only requests whose `Action` is in this list are eligible for faults.
    pub only_actions: Option<Vec<String>>,
    /// The first this many eligible requests pass untouched (to fault, say, only the second AddTags).
    pub pass_first: u64,
    /// At most this many faults in all (then everything passes).
    pub max_faults: Option<u64>,
    /// A pause before forwarding every request, as a far-away API adds (for counting round trips).
    pub delay: Option<Duration>,
}

impl Config {
    /// Every kind equally likely, and "applied but no answer" at half that weight (writes only).
    pub fn mixed(rate: f64, seed: u64) -> Config {
        Config {
            rate,
            kinds: vec![
                (Fault::Unavailable, 2),
                (Fault::Throttled, 2),
                (Fault::Slow, 2),
                (Fault::Dropped, 2),
                (Fault::DroppedAfterWrite, 1),
            ],
            seed,
            only_actions: None,
            pass_first: 0,
            max_faults: None,
            delay: None,
        }
    }

    /// No faults; every request is held for `delay` before it is forwarded.
    pub fn delaying(delay: Duration) -> Config {
        Config {
            delay: Some(delay),
            ..Config::only(Fault::Rejected, 0.0)
        }
    }

    /// Only `fault`, on `rate` of the requests.
    pub fn only(fault: Fault, rate: f64) -> Config {
        Config {
            rate,
            kinds: vec![(fault, 1)],
            seed: 1,
            only_actions: None,
            pass_first: 0,
            max_faults: None,
            delay: None,
        }
    }
}

/// How many requests went which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Forwarded untouched.
    pub passed: u64,
    pub unavailable: u64,
    pub throttled: u64,
    pub slow: u64,
    pub dropped: u64,
    pub dropped_after_write: u64,
    pub rejected: u64,
    /// TCP connections accepted from clients (fewer than requests when keep-alive works).
    pub connections: u64,
}

impl Counts {
    /// All injected faults.
    pub fn faults(&self) -> u64 {
        self.unavailable
            + self.throttled
            + self.slow
            + self.dropped
            + self.dropped_after_write
            + self.rejected
    }

    /// All requests seen.
    pub fn total(&self) -> u64 {
        self.passed + self.faults()
    }
}

#[derive(Default)]
struct Counters {
    passed: AtomicU64,
    unavailable: AtomicU64,
    throttled: AtomicU64,
    slow: AtomicU64,
    dropped: AtomicU64,
    dropped_after_write: AtomicU64,
    rejected: AtomicU64,
    connections: AtomicU64,
}

impl Counters {
    fn of(&self, fault: Option<Fault>) -> &AtomicU64 {
        match fault {
            None => &self.passed,
            Some(Fault::Unavailable) => &self.unavailable,
            Some(Fault::Throttled) => &self.throttled,
            Some(Fault::Slow) => &self.slow,
            Some(Fault::Dropped) => &self.dropped,
            Some(Fault::DroppedAfterWrite) => &self.dropped_after_write,
            Some(Fault::Rejected) => &self.rejected,
        }
    }
}

/// xorshift64*: tiny, deterministic, good enough to pick faults.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Never zero (xorshift would stay at zero forever).
        XorShift(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One request as the proxy saw it: its `Action`, when it arrived and when its answer was ready.
#[derive(Debug, Clone)]
pub struct Seen {
    pub action: String,
    start: std::time::Instant,
    end: std::time::Instant,
}

/// The longest chain of requests each sent only after the one before it was answered: the sequential
/// round trips (requests that overlap count once). Independent of how long each took.
pub fn round_trips(seen: &[Seen]) -> usize {
    let mut sorted: Vec<&Seen> = seen.iter().collect();
    sorted.sort_by_key(|s| s.start);
    let mut depth: Vec<usize> = Vec::new();
    for (j, s) in sorted.iter().enumerate() {
        let before = (0..j)
            .filter(|&i| sorted[i].end <= s.start)
            .map(|i| depth[i])
            .max()
            .unwrap_or(0);
        depth.push(before + 1);
    }
    depth.into_iter().max().unwrap_or(0)
}

struct Shared {
    config: Config,
    seen: Mutex<Vec<Seen>>,
    rng: Mutex<XorShift>,
    /// Eligible requests seen so far (for `pass_first`).
    eligible_seen: AtomicU64,
    counters: Counters,
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What the proxy does with one request, decided before anything is forwarded.
struct Decision {
    fault: Option<Fault>,
    /// The pause of a slow answer.
    delay: Duration,
}

const WRITES: &[&str] = &["ModifyListener", "ModifyRule", "AddTags", "RemoveTags"];

impl Shared {
    fn decide(&self, action: &str) -> Decision {
        let mut eligible = self
            .config
            .only_actions
            .as_ref()
            .is_none_or(|only| only.iter().any(|a| a == action));
        let is_write = WRITES.contains(&action);
        let kinds: Vec<(Fault, u32)> = self
            .config
            .kinds
            .iter()
            .copied()
            .filter(|(k, w)| *w > 0 && (is_write || *k != Fault::DroppedAfterWrite))
            .collect();
        let total: u32 = kinds.iter().map(|(_, w)| w).sum();
        let mut rng = self.rng.lock().unwrap();
        // Always draw the same numbers per request, so the sequence does not depend on eligibility.
        let roll = rng.unit();
        let pick = rng.next_u64();
        let delay = Duration::from_millis(1000 + rng.next_u64() % 1000);
        if eligible && self.eligible_seen.fetch_add(1, Ordering::SeqCst) < self.config.pass_first {
            eligible = false;
        }
        drop(rng);
        let spent = self.config.max_faults.is_some_and(|max| {
            self.counters.unavailable.load(Ordering::SeqCst)
                + self.counters.throttled.load(Ordering::SeqCst)
                + self.counters.slow.load(Ordering::SeqCst)
                + self.counters.dropped.load(Ordering::SeqCst)
                + self.counters.dropped_after_write.load(Ordering::SeqCst)
                + self.counters.rejected.load(Ordering::SeqCst)
                >= max
        });
        let fault = if eligible && !spent && total > 0 && roll < self.config.rate {
            let mut n = (pick % u64::from(total)) as u32;
            kinds.iter().find_map(|(k, w)| {
                if n < *w {
                    Some(*k)
                } else {
                    n -= w;
                    None
                }
            })
        } else {
            None
        };
        Decision { fault, delay }
    }
}

/// The AWS query-protocol `Action` of a request (form body, or query string).
fn action_of(query: Option<&str>, body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    [body.as_ref(), query.unwrap_or_default()]
        .iter()
        .flat_map(|s| s.split('&'))
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}

/// Why a request got no answer: an injected drop, or a failure to reach the emulator. Either way hyper
/// closes the connection without answering when the service fails.
#[derive(Debug)]
struct NoAnswer(String);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoAnswer {}

fn no_answer(e: impl std::fmt::Display) -> NoAnswer {
    NoAnswer(format!("proxy: {e}"))
}

const INJECTED_DROP: &str = "injected fault: connection dropped";

fn plain(status: StatusCode, body: &'static str, content_type: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, content_type.parse().unwrap());
    r
}

/// Headers that belong to one hop, not to the request or answer.
fn hop_by_hop(name: &hyper::header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    let start = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(no_answer)?.to_bytes();
    let action = action_of(parts.uri.query(), &body);
    if let Some(delay) = shared.config.delay {
        tokio::time::sleep(delay).await;
    }
    let answer = forward_or_fault(&shared, parts, body, &action).await;
    shared.seen.lock().unwrap().push(Seen {
        action,
        start,
        end: std::time::Instant::now(),
    });
    answer
}

async fn forward_or_fault(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
    action: &str,
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    let decision = shared.decide(action);
    shared
        .counters
        .of(decision.fault)
        .fetch_add(1, Ordering::SeqCst);
    match decision.fault {
        Some(Fault::Unavailable) => {
            return Ok(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "text/plain",
            ))
        }
        Some(Fault::Throttled) => {
            return Ok(plain(StatusCode::BAD_REQUEST, THROTTLING_BODY, "text/xml"))
        }
        Some(Fault::Dropped) => return Err(no_answer(INJECTED_DROP)),
        Some(Fault::Rejected) => {
            return Ok(plain(StatusCode::BAD_REQUEST, REJECTED_BODY, "text/xml"))
        }
        Some(Fault::Slow) => tokio::time::sleep(decision.delay).await,
        Some(Fault::DroppedAfterWrite) | None => {}
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri: hyper::Uri = format!("{}{path}", shared.upstream)
        .parse()
        .map_err(no_answer)?;
    let mut forward = Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            forward = forward.header(name, value);
        }
    }
    let request = forward.body(Full::new(body)).map_err(no_answer)?;
    let answer = shared.client.request(request).await.map_err(no_answer)?;
    let (aparts, abody) = answer.into_parts();
    let abody = abody.collect().await.map_err(no_answer)?.to_bytes();
    if decision.fault == Some(Fault::DroppedAfterWrite) {
        return Err(no_answer(INJECTED_DROP));
    }
    let mut response = Response::new(Full::new(abody));
    *response.status_mut() = aparts.status;
    for (name, value) in &aparts.headers {
        if !hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}

/// A running proxy.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, for `--endpoint-url`.
    pub endpoint: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// Starts a proxy in front of the test run's emulator.
    pub fn start(config: Config) -> Proxy {
        Proxy::start_for(&crate::harness::emulator().endpoint, config)
    }

    /// Starts a proxy in front of `upstream` (`http://host:port`).
    pub fn start_for(upstream: &str, config: Config) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr: SocketAddr = listener.local_addr().expect("proxy address");
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(5))
                .build_http()
        };
        let shared = Arc::new(Shared {
            rng: Mutex::new(XorShift::new(config.seed)),
            seen: Mutex::new(Vec::new()),
            eligible_seen: AtomicU64::new(0),
            config,
            counters: Counters::default(),
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
        });
        let accept = shared.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = accept.clone();
                shared.counters.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { handle(shared, req).await }
                    });
                    // An error here is usually an injected drop: the connection just closes.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            endpoint: format!("http://{addr}"),
            shared,
            runtime: Some(runtime),
        }
    }

    /// Every request seen so far, in the order answered.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The sequential round trips of the requests seen so far (see [`round_trips`]).
    pub fn round_trips(&self) -> usize {
        round_trips(&self.seen())
    }

    /// How many requests went which way so far.
    pub fn counts(&self) -> Counts {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Counts {
            passed: get(&c.passed),
            unavailable: get(&c.unavailable),
            throttled: get(&c.throttled),
            slow: get(&c.slow),
            dropped: get(&c.dropped),
            dropped_after_write: get(&c.dropped_after_write),
            rejected: get(&c.rejected),
            connections: get(&c.connections),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The proxy's own tests: the RNG, pass-through, and faults reaching albflip.
mod tests {
    use super::*;
    use crate::harness::*;

    /// albflip through `proxy`.
    fn via(proxy: &Proxy, route: &[String], tail: &[&str]) -> Run {
        let endpoint = vec!["--endpoint-url".to_string(), proxy.endpoint.clone()];
        run(&args(&[&endpoint, route], tail))
    }

    #[test]
    fn proxy_rng_is_deterministic_and_spread() {
        let mut a = XorShift::new(7);
        let mut b = XorShift::new(7);
        let xs: Vec<f64> = (0..1000).map(|_| a.unit()).collect();
        let ys: Vec<f64> = (0..1000).map(|_| b.unit()).collect();
        assert_eq!(xs, ys);
        let low = xs.iter().filter(|x| **x < 0.2).count();
        assert!((150..250).contains(&low), "{low}");
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert_eq!(
            action_of(None, b"Action=ModifyListener&Version=2015-12-01"),
            "ModifyListener"
        );
        assert_eq!(action_of(Some("Version=1&Action=AddTags"), b""), "AddTags");
    }

    #[test]
    fn proxy_with_no_faults_passes_everything_through_on_kept_alive_connections() {
        let s = stack(Some(300));
        let proxy = Proxy::start(Config::mixed(0.0, 1));
        let direct = run(&args(&[&s.by_arn()], &["status", "--output", "json"])).ok();
        let proxied = via(&proxy, &s.by_arn(), &["status", "--output", "json"]).ok();
        assert_eq!(proxied.json(), direct.json());
        // A write through the proxy lands, and its read-back comes through it too.
        let r = via(
            &proxy,
            &s.by_arn(),
            &["shift", "--target", "green", "--percentage", "30"],
        )
        .ok();
        assert!(r.stdout.contains("verified by read-back"), "{}", r.stdout);
        assert_eq!(weights(&s), (Some(70), Some(30)));
        let c = proxy.counts();
        assert_eq!(c.faults(), 0, "{c:?}");
        assert!(c.passed >= 6, "{c:?}");
        assert!(
            c.connections < c.passed,
            "keep-alive: {} connections for {} requests",
            c.connections,
            c.passed
        );
    }

    #[test]
    fn proxy_503s_on_every_call_fail_status_with_exit_1_naming_the_operation() {
        let s = stack(None);
        let proxy = Proxy::start(Config::only(Fault::Unavailable, 1.0));
        let r = via(&proxy, &s.by_arn(), &["status"]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains("elasticloadbalancing:Describe") && r.stderr.contains("failed"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("Nothing was changed"), "{}", r.stderr);
        let c = proxy.counts();
        assert_eq!(c.passed, 0, "{c:?}");
        // The SDK's standard retry: 4 attempts per call.
        assert!(c.unavailable >= 4, "{c:?}");
    }

    #[test]
    fn proxy_dropped_connections_and_throttling_are_retried_then_reported() {
        let s = stack(None);
        let proxy = Proxy::start(Config::only(Fault::Dropped, 1.0));
        let r = via(&proxy, &s.by_arn(), &["status"]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains("elasticloadbalancing:Describe"),
            "{}",
            r.stderr
        );
        assert!(proxy.counts().dropped >= 4, "{:?}", proxy.counts());
        let proxy = Proxy::start(Config::only(Fault::Throttled, 1.0));
        let r = via(&proxy, &s.by_arn(), &["status"]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("throttled"), "{}", r.stderr);
        assert!(proxy.counts().throttled >= 4, "{:?}", proxy.counts());
    }

    #[test]
    fn proxy_applied_but_unanswered_rollback_write_is_exit_5_and_really_applied() {
        let s = stack(Some(300));
        run(&args(
            &[&s.by_arn()],
            &["shift", "--target", "green", "--percentage", "40"],
        ))
        .ok();
        let proxy = Proxy::start(Config {
            only_actions: Some(vec!["ModifyListener".into()]),
            ..Config::only(Fault::DroppedAfterWrite, 1.0)
        });
        let r = via(&proxy, &s.by_arn(), &["rollback"]);
        assert_eq!(r.code, 5, "{r:?}");
        assert!(
            r.stderr.contains("elasticloadbalancing:ModifyListener")
                && r.stderr.contains("run `albflip status`"),
            "{}",
            r.stderr
        );
        let c = proxy.counts();
        assert!(c.dropped_after_write >= 1 && c.passed >= 2, "{c:?}");
        // The write was applied although no answer came back, group stickiness released in it (issue 17).
        assert_eq!(weights(&s), (Some(100), Some(0)));
        assert_eq!(forward(&s.listener_arn).1.map(|s| s.0), Some(false));
    }

    /// The library's ELB adapter through `proxy`, with the test credentials: the SDK configured as
    /// albflip configures it (`load_config`: standard retry, 4 attempts).
    fn elb_via(proxy: &Proxy, rt: &tokio::runtime::Runtime) -> albflip::aws::ElbV2 {
        use albflip::aws::{load_config, AwsSettings, CallCounter, ElbV2};
        rt.block_on(async {
            let settings = AwsSettings {
                region: Some(REGION.to_string()),
                profile: None,
                endpoint_url: Some(proxy.endpoint.clone()),
            };
            let config = load_config(&settings)
                .await
                .expect("SDK config")
                .into_builder()
                .credentials_provider(
                    aws_sdk_elasticloadbalancingv2::config::SharedCredentialsProvider::new(
                        aws_sdk_elasticloadbalancingv2::config::Credentials::new(
                            "testing", "testing", None, None, "tests",
                        ),
                    ),
                )
                .build();
            ElbV2::new(&config, CallCounter::default())
        })
    }

    /// Issue 20: under throttling, every attempt of an ELB write goes through the process's write queue
    /// (`retry_throttled`, which counts one call per turn), none is retried inside the SDK: the proxy
    /// sees exactly as many write requests as the queue handed out turns. Before the fix the SDK made up
    /// to 4 attempts per turn (3 requests for 1 turn here).
    #[test]
    fn proxy_every_throttled_write_attempt_takes_a_turn_in_the_write_queue() {
        use albflip::aws::api::{AlbInventory, TrafficRouter};
        use albflip::aws::arn::ListenerArn;
        use albflip::aws::route::RouteId;

        let s = stack(None);
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        for action in ["ModifyListener", "AddTags"] {
            let proxy = Proxy::start(Config {
                only_actions: Some(vec![action.to_string()]),
                max_faults: Some(2),
                ..Config::only(Fault::Throttled, 1.0)
            });
            let elb = elb_via(&proxy, &rt);
            rt.block_on(async {
                if action == "ModifyListener" {
                    let route =
                        RouteId::Listener(ListenerArn::parse(&s.listener_arn).expect("ARN"));
                    let current = elb.read(&route).await.expect("read");
                    let forward = current.forward.clone().expect("a forward action");
                    elb.write(&current, &forward)
                        .await
                        .expect("the write, in the end");
                } else {
                    elb.set_tags(&s.listener_arn, &[("albflip:test", "queued")])
                        .await
                        .expect("the tags, in the end");
                }
            });
            let sent = proxy.seen().iter().filter(|r| r.action == action).count() as u64;
            let turns = elb
                .calls()
                .snapshot()
                .get(&format!("elasticloadbalancing:{action}"))
                .copied()
                .unwrap_or(0);
            assert_eq!(
                proxy.counts().throttled,
                2,
                "{action}: {:?}",
                proxy.counts()
            );
            assert_eq!(
                sent, turns,
                "{action}: {sent} requests sent for {turns} turns in the write queue"
            );
        }
    }
}
