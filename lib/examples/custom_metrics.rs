//! Your own metric source instead of CloudWatch (Prometheus, Datadog, a log pipeline…): implement
//! [`MetricSource`] and hand it to the [`Engine`]. Here the source reads request and 5XX counts per
//! target group from a JSON file that a toy traffic generator rewrites from the live weights.
//!
//! It needs no AWS: the load balancer is the in-memory one of the `testing` feature, and the run is in
//! simulated time (`start_paused`), so its 2-minute bakes take milliseconds.
//!
//! ```text
//! cargo run -p albflip --features testing --example custom_metrics              # completes on green
//! cargo run -p albflip --features testing --example custom_metrics -- --error-rate 5   # rolled back
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use albflip::aws::resolve::{RouteSpec, Target};
use albflip::engine::{DeploySpec, Engine, Outcome};
use albflip::events::{Event, Observer};
use albflip::model::Color;
use albflip::plan::{ColorMetrics, Observation, Steps, Strategy};
use albflip::ports::{ApiError, ApiErrorKind, MetricQuery, MetricSource, TokioClock};
use albflip::testing::InMemoryAlb;
use serde::{Deserialize, Serialize};

/// One target group's numbers over the metrics window, as the file holds them.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct Counts {
    /// Requests served.
    pub requests: f64,
    /// Of which answered 5XX.
    pub errors: f64,
    /// Mean latency in seconds.
    pub latency_seconds: f64,
    /// Healthy hosts.
    pub healthy_hosts: f64,
}

/// A [`MetricSource`] over a JSON file mapping target group names to [`Counts`]:
/// `{"shop-green-tg": {"requests": 1200, "errors": 3, "latency_seconds": 0.08, "healthy_hosts": 2}}`.
pub struct CountsFile {
    path: PathBuf,
}

impl CountsFile {
    /// A source reading `path` at every poll.
    pub fn new(path: impl Into<PathBuf>) -> CountsFile {
        CountsFile { path: path.into() }
    }

    fn read(&self) -> Result<BTreeMap<String, Counts>, ApiError> {
        let failed = |e: String| ApiError::new("file:Read", ApiErrorKind::Other, e);
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| failed(format!("{}: {e}", self.path.display())))?;
        serde_json::from_str(&text).map_err(|e| failed(e.to_string()))
    }
}

impl From<Counts> for ColorMetrics {
    fn from(c: Counts) -> ColorMetrics {
        ColorMetrics {
            requests: c.requests,
            errors: c.errors,
            latency_seconds: Some(c.latency_seconds),
            healthy_hosts: Some(c.healthy_hosts),
            unhealthy_hosts: Some(0.0),
        }
    }
}

impl MetricSource for CountsFile {
    /// A group missing from the file has had no traffic: zero requests, which the gates treat as "no
    /// data yet", not as an error. An unreadable file is an error; three in a row fail the step.
    async fn observe(&self, query: &MetricQuery) -> Result<Observation, ApiError> {
        let counts = self.read()?;
        // The backend's name is its target group's name on the ALB.
        let of = |name: &str| {
            counts
                .get(name)
                .map(|c| ColorMetrics::from(*c))
                .unwrap_or_default()
        };
        Ok(Observation::totals(
            of(&query.new.name),
            of(&query.stable.name),
            query.start,
            query.end,
        ))
    }
}

/// Toy traffic: 2000 requests per window split by the live weights, `error_rate` of green's failing.
fn write_traffic(alb: &InMemoryAlb, path: &Path, error_rate: f64) -> std::io::Result<()> {
    let split = alb.split();
    let counts = |color: Color, rate: f64| {
        let requests = 20.0 * f64::from(split.percent_of(color).get());
        Counts {
            requests,
            errors: (requests * rate).round(),
            latency_seconds: 0.08,
            healthy_hosts: 2.0,
        }
    };
    let file = BTreeMap::from([
        (
            alb.groups().blue.name().to_string(),
            counts(Color::Blue, 0.0),
        ),
        (
            alb.groups().green.name().to_string(),
            counts(Color::Green, error_rate),
        ),
    ]);
    std::fs::write(path, serde_json::to_string_pretty(&file)?)
}

/// Prints one line per event.
struct Print;

impl Observer for Print {
    fn on_event(&self, _at: SystemTime, event: &Event) {
        println!("{}", serde_json::to_string(event).unwrap_or_default());
    }
}

/// Deploys green on the in-memory load balancer, gated on the counts file. (Public so that a test can
/// run this example too.)
pub async fn deploy(error_rate: f64) -> Result<Outcome, albflip::Error> {
    let alb = Arc::new(InMemoryAlb::new());
    let path = std::env::temp_dir().join(format!(
        "albflip-counts-{}-{}.json",
        std::process::id(),
        (error_rate * 1e6) as u64
    ));
    let traffic = {
        let (alb, path) = (alb.clone(), path.clone());
        tokio::spawn(async move {
            while write_traffic(&alb, &path, error_rate).is_ok() {
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1)).await; // the first file is written
    let spec = DeploySpec::builder(Color::Green)
        .strategy(Strategy::Gradual {
            steps: Steps::new(&[10, 50, 100])?,
        })
        .bake(Duration::from_secs(120))
        .max_error_rate(1.0)
        .build()?;
    let target = Target::new(RouteSpec::Listener(alb.listener_arn()));
    let metrics = CountsFile::new(&path);
    let clock = TokioClock::new();
    let outcome = Engine::new(&*alb, &metrics, &clock, &Print)
        .deploy(&target, &spec)
        .await;
    traffic.abort();
    let _ = std::fs::remove_file(&path);
    outcome
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let error_rate = match (
        argv.next().as_deref(),
        argv.next().map(|p| p.parse::<f64>()),
    ) {
        (None, _) => 0.002,
        (Some("--error-rate"), Some(Ok(percent))) => percent / 100.0,
        _ => {
            eprintln!("usage: custom_metrics [--error-rate PERCENT]");
            return ExitCode::from(2);
        }
    };
    match deploy(error_rate).await {
        Ok(outcome) => {
            println!("{}", serde_json::json!({ "outcome": outcome }));
            ExitCode::from(match outcome {
                Outcome::Completed { .. } => 0,
                Outcome::RolledBack { .. } => 3,
                _ => 1,
            })
        }
        Err(e) => {
            eprintln!("custom_metrics: {e}");
            ExitCode::from(1)
        }
    }
}
