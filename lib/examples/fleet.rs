//! A fleet deployment through the library: one process, one SDK configuration, one pair of adapters
//! shared by every deployment, and one deployment per listener, all running concurrently.
//!
//! ```text
//! cargo run --release -p albflip --example fleet -- --listeners FILE [--target green] [--steps 50,100]
//!     [--concurrency N]
//! cargo run --release -p albflip --example fleet -- --micro [N]
//! ```
//!
//! `FILE` holds one listener ARN per line. AWS access comes from the standard chain (and
//! `AWS_ENDPOINT_URL` for the emulator). Deployments have no bake (no metric queries): this measures how
//! the library moves traffic on many routes at once, under the ELB API's write quota. Prints one JSON
//! object: wall time, outcomes, failures, API calls per operation, per-deployment durations.
//!
//! `--micro [N]` times the pure hot paths instead (no AWS): building N deployment plans and evaluating
//! the gates on N observations, with `std::time::Instant` (no benchmark crate).
//!
//! Used by `bench/run` (see BENCHMARKS.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use albflip::aws::arn::ListenerArn;
use albflip::aws::resolve::{RouteSpec, Target};
use albflip::aws::{load_config, AwsSettings, CallCounter, CloudWatch, ElbV2};
use albflip::engine::{DeploySpec, Engine, MetricWindow, Outcome};
use albflip::events::Ignore;
use albflip::model::Color;
use albflip::plan::gates::evaluate as evaluate_gates;
use albflip::plan::{BakePolicy, ColorMetrics, GateThresholds, Observation, Plan, Steps, Strategy};
use albflip::ports::TokioClock;

struct Args {
    listeners: Option<String>,
    target: Color,
    steps: String,
    concurrency: usize,
    micro: Option<usize>,
}

fn usage(message: &str) -> ! {
    eprintln!("fleet: {message}");
    eprintln!(
        "usage: fleet --listeners FILE [--target blue|green] [--steps 50,100] [--concurrency N]\n       fleet --micro [N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        listeners: None,
        target: Color::Green,
        steps: "50,100".into(),
        concurrency: usize::MAX,
        micro: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match a.as_str() {
            "--listeners" => args.listeners = Some(value("--listeners")),
            "--target" => {
                args.target = value("--target")
                    .parse()
                    .unwrap_or_else(|_| usage("--target is blue or green"))
            }
            "--steps" => args.steps = value("--steps"),
            "--concurrency" => {
                args.concurrency = value("--concurrency")
                    .parse()
                    .unwrap_or_else(|_| usage("--concurrency is a number"))
            }
            "--micro" => {
                let n = match it.peek() {
                    Some(v) if !v.starts_with("--") => {
                        let v = it.next().unwrap_or_default();
                        v.parse()
                            .unwrap_or_else(|_| usage("--micro N: N is a number"))
                    }
                    _ => 10_000,
                };
                args.micro = Some(n);
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    args
}

fn spec(target: Color, steps: &str) -> Result<DeploySpec, String> {
    let steps = Steps::parse(steps).map_err(|e| format!("--steps: {e}"))?;
    let strategy = Strategy::Gradual { steps };
    let plan = Plan::new(&strategy, target, Duration::ZERO);
    Ok(DeploySpec {
        plan,
        strategy: strategy.to_string(),
        policy: BakePolicy {
            bake: Duration::ZERO,
            ..BakePolicy::default()
        },
        gates: GateThresholds::default(),
        window: MetricWindow::default(),
        force: false,
        adopt_drift: false,
        // No bake and no metrics: deliberately ungated (a zero bake is refused otherwise).
        ungated: true,
        take_over: false,
        min_healthy_hosts: 1,
        lifecycle: Default::default(),
    })
}

struct Done {
    listener: String,
    result: Result<String, String>,
    seconds: f64,
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    if let Some(n) = args.micro {
        micro(n);
        return;
    }
    let file = args
        .listeners
        .clone()
        .unwrap_or_else(|| usage("--listeners FILE is required"));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| usage(&format!("cannot read {file}: {e}")));
    let mut targets = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let arn = ListenerArn::parse(line).unwrap_or_else(|e| usage(&e.to_string()));
        targets.push((line.to_string(), {
            // Each listener of the fleet is its own service: no lockstep discovery (it would read
            // every listener's rules of the shared load balancer once per service).
            let mut target = Target::new(RouteSpec::Listener(arn));
            target.lockstep.single_route = true;
            target
        }));
    }
    let spec = Arc::new(spec(args.target, &args.steps).unwrap_or_else(|e| usage(&e)));

    let config = match load_config(&AwsSettings::default()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fleet: {e}");
            std::process::exit(1)
        }
    };
    let calls = CallCounter::default();
    let alb = Arc::new(ElbV2::new(&config, calls.clone()));
    let metrics = Arc::new(CloudWatch::new(&config, calls.clone()));
    let clock = Arc::new(TokioClock::new());
    let limit = Arc::new(tokio::sync::Semaphore::new(
        args.concurrency.min(tokio::sync::Semaphore::MAX_PERMITS),
    ));

    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (listener, target) in targets {
        let (alb, metrics, clock, spec, limit) = (
            alb.clone(),
            metrics.clone(),
            clock.clone(),
            spec.clone(),
            limit.clone(),
        );
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let t0 = Instant::now();
            let engine = Engine::new(&*alb, &*metrics, &*clock, &Ignore);
            let result = match engine.deploy(&target, &spec).await {
                Ok(Outcome::Completed { stable }) => Ok(format!("completed ({stable} stable)")),
                Ok(other) => Err(format!("{other:?}")),
                Err(e) => Err(e.to_string()),
            };
            Done {
                listener,
                result,
                seconds: t0.elapsed().as_secs_f64(),
            }
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(d) => done.push(d),
            Err(e) => done.push(Done {
                listener: "?".into(),
                result: Err(format!("task panicked: {e}")),
                seconds: 0.0,
            }),
        }
    }
    let wall = started.elapsed().as_secs_f64();

    let failures: Vec<serde_json::Value> = done
        .iter()
        .filter_map(|d| {
            d.result.as_ref().err().map(
                |e| serde_json::json!({"listener": d.listener, "error": e, "seconds": d.seconds}),
            )
        })
        .collect();
    let mut durations: Vec<f64> = done.iter().map(|d| d.seconds).collect();
    durations.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if durations.is_empty() {
            return 0.0;
        }
        let i = ((durations.len() - 1) as f64 * p).round() as usize;
        durations[i]
    };
    let by_op: BTreeMap<String, u64> = calls.snapshot();
    let writes: u64 = by_op
        .iter()
        .filter(|(op, _)| {
            ["ModifyListener", "ModifyRule", "AddTags", "RemoveTags"]
                .iter()
                .any(|w| op.ends_with(&format!(":{w}")))
        })
        .map(|(_, n)| n)
        .sum();
    let out = serde_json::json!({
        "deployments": done.len(),
        "completed": done.len() - failures.len(),
        "failed": failures.len(),
        "failures": failures,
        "steps": args.steps,
        "target": args.target.as_str(),
        "concurrency": if args.concurrency == usize::MAX { done.len() } else { args.concurrency },
        "wall_seconds": wall,
        "deployment_seconds": {"min": pct(0.0), "median": pct(0.5), "p90": pct(0.9), "max": pct(1.0)},
        "api_calls": calls.per_service(),
        "api_calls_by_operation": by_op,
        "api_calls_total": calls.total(),
        "write_attempts": writes,
    });
    println!("{out}");
    if !failures_empty(&out) {
        std::process::exit(1);
    }
}

fn failures_empty(out: &serde_json::Value) -> bool {
    out["failed"].as_u64() == Some(0)
}

/// Times the pure hot paths: planning `n` routes' deployments and evaluating the gates `n` times.
fn micro(n: usize) {
    let n = n.max(1);
    // Planning: parse the steps and build the plan of one route, n times (a fleet of n routes).
    let t = Instant::now();
    let mut total_steps = 0usize;
    for i in 0..n {
        let target = if i % 2 == 0 {
            Color::Green
        } else {
            Color::Blue
        };
        let spec = spec(target, "10,25,50,75,100").expect("valid steps");
        total_steps += std::hint::black_box(&spec).plan.steps.len();
    }
    let plan = t.elapsed();

    // Gate evaluation on one observation: what every poll does after the single GetMetricData call.
    let gates = GateThresholds::default();
    let now = SystemTime::now();
    let new = ColorMetrics {
        requests: 12_000.0,
        errors: 30.0,
        latency_seconds: Some(0.21),
        healthy_hosts: Some(2.0),
        unhealthy_hosts: Some(0.0),
    };
    let stable = ColorMetrics {
        errors: 20.0,
        ..new
    };
    let observation = Observation::totals(new, stable, now - Duration::from_secs(3600), now);
    let t = Instant::now();
    let mut failing = 0usize;
    for _ in 0..n {
        let report = evaluate_gates(&gates, std::hint::black_box(&observation), Color::Green);
        failing += usize::from(report.first_failure().is_some());
    }
    let gate = t.elapsed();
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    println!(
        "{}",
        serde_json::json!({
            "n": n,
            "plan_total_ms": plan.as_secs_f64() * 1e3,
            "plan_ns_per_route": per(plan),
            "gate_total_ms": gate.as_secs_f64() * 1e3,
            "gate_ns_per_evaluation": per(gate),
            "checksum": total_steps + failing,
        })
    );
}
