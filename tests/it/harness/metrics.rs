//! The metric publishers: ALB metrics written to the emulator's CloudWatch in proportion to the live
//! weights, with a fault profile per color ([`Publisher`], every 500 ms, stamped now), or drawn from the
//! realistic ALB metrics model per period and published late, as AWS does ([`ModelPublisher`]).

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use albflip::model::{Color, Percent, Split};
use albflip::plan::window::align_down;
use albflip::plan::LatencyStatistic;
use albflip::testing::alb_model::{metric_name, AlbModel, ModelConfig, PeriodData, WeightHistory};

use super::emulator::{emulator, rt, REGION};
use super::readers::weights;
use super::stacks::Stack;

/// A CloudWatch client on the emulator.
pub fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    static CLIENT: OnceLock<aws_sdk_cloudwatch::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            use aws_sdk_cloudwatch::config;
            let conf = config::Builder::new()
                .behavior_version(config::BehaviorVersion::latest())
                .region(config::Region::new(REGION))
                .endpoint_url(&emulator().endpoint)
                .credentials_provider(config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .http_client(albflip::aws::sdk::http_client())
                .build();
            aws_sdk_cloudwatch::Client::from_conf(conf)
        })
        .clone()
}

/// How the publisher makes each color behave: the share of requests that fail with a 5XX.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub blue: f64,
    pub green: f64,
}

/// Publishes ALB metrics for both target groups in proportion to the live weights, every 500 ms, until
/// dropped: RequestCount (2 per weight point per tick), 5XX per the fault profile, average latency,
/// host counts.
pub struct Publisher {
    /// Publishing until dropped.
    _running: Repeating,
}

impl Publisher {
    pub fn start(stack: &Stack, faults: Faults) -> Publisher {
        Publisher::with_connection_errors(stack, faults, 0.0)
    }

    /// As [`Publisher::start`], and the share `green_connection_errors` of green's requests also fails
    /// to connect to a target (`TargetConnectionErrorCount`, which no 5XX count includes).
    pub fn with_connection_errors(
        stack: &Stack,
        faults: Faults,
        green_connection_errors: f64,
    ) -> Publisher {
        Publisher::with_timeouts(stack, faults, green_connection_errors, 0.0)
    }

    /// As [`Publisher::with_connection_errors`], and the share `green_timeouts` of green's requests
    /// times out: the load balancer answers them 504 itself, so they appear only in its own
    /// `HTTPCode_ELB_5XX_Count` (with the `LoadBalancer` dimension alone, next to its `RequestCount`),
    /// never in green's target group metrics.
    pub fn with_timeouts(
        stack: &Stack,
        faults: Faults,
        green_connection_errors: f64,
        green_timeouts: f64,
    ) -> Publisher {
        let stack = stack.clone();
        Publisher {
            _running: Repeating::every(Duration::from_millis(500), move || {
                let (blue, green) = weights(&stack);
                // A single-group forward (no weights yet) sends everything to blue.
                let (blue, green) = match (blue, green) {
                    (None, None) => (100, 0),
                    (b, g) => (b.unwrap_or(0), g.unwrap_or(0)),
                };
                publish(&stack, &stack.blue_tg, blue, faults.blue, 0.0);
                publish(
                    &stack,
                    &stack.green_tg,
                    green,
                    faults.green,
                    green_connection_errors,
                );
                publish_load_balancer(&stack, blue + green, green, green_timeouts);
            }),
        }
    }
}

/// A closure run on a thread every `period` until dropped (the publishers' loop).
struct Repeating {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Repeating {
    fn every(period: Duration, mut tick: impl FnMut() + Send + 'static) -> Repeating {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                tick();
                std::thread::sleep(period);
            }
        });
        Repeating {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Repeating {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The load balancer's `LoadBalancer` dimension value (`app/NAME/ID`).
fn load_balancer_dimension(stack: &Stack) -> String {
    stack
        .load_balancer_arn
        .rsplit_once(":loadbalancer/")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default()
}

/// The load balancer's own metrics: every request (2 per weight point, as the target groups) and the
/// 504s it answered for green's timed-out share, published only when non-zero as ALB does.
fn publish_load_balancer(stack: &Stack, total_weight: i32, green_weight: i32, timeouts: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let lb = load_balancer_dimension(stack);
    let now = aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
    let datum = |name: &str, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("LoadBalancer").value(&lb).build())
            .timestamp(now)
            .value(value)
            .unit(StandardUnit::Count)
            .build()
    };
    let mut data = vec![datum("RequestCount", f64::from(total_weight.max(0)) * 2.0)];
    let elb_5xx = (f64::from(green_weight.max(0)) * 2.0 * timeouts).round();
    if elb_5xx > 0.0 {
        data.push(datum("HTTPCode_ELB_5XX_Count", elb_5xx));
    }
    let _ = rt().block_on(
        cloudwatch()
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(data))
            .send(),
    );
}

fn publish(stack: &Stack, tg_arn: &str, weight: i32, fault: f64, connection_fault: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let lb = load_balancer_dimension(stack);
    let tg = tg_arn
        .rsplit_once(':')
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    let requests = f64::from(weight.max(0)) * 2.0;
    let now = aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
    let datum = |name: &str, value: f64, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("LoadBalancer").value(&lb).build())
            .dimensions(Dimension::builder().name("TargetGroup").value(&tg).build())
            .timestamp(now)
            .value(value)
            .unit(unit)
            .build()
    };
    let mut data = vec![
        datum("RequestCount", requests, StandardUnit::Count),
        datum("HealthyHostCount", 2.0, StandardUnit::Count),
        datum("UnHealthyHostCount", 0.0, StandardUnit::Count),
    ];
    if requests > 0.0 {
        data.push(datum("TargetResponseTime", 0.05, StandardUnit::Seconds));
    }
    let errors = (requests * fault).round();
    if errors > 0.0 {
        // ALB publishes 5XX only when non-zero.
        data.push(datum(
            "HTTPCode_Target_5XX_Count",
            errors,
            StandardUnit::Count,
        ));
    }
    let connection_errors = (requests * connection_fault).round();
    if connection_errors > 0.0 {
        data.push(datum(
            "TargetConnectionErrorCount",
            connection_errors,
            StandardUnit::Count,
        ));
    }
    let _ = rt().block_on(
        cloudwatch()
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(data))
            .send(),
    );
}

/// The realistic ALB metrics model (`albflip::testing::alb_model`) at the emulator tests' scale: 1 s
/// periods, published 1 to 3 s after they end, the load balancer's nodes up to 1 s apart.
pub fn emulator_model(seed: u64, requests_per_second: f64) -> AlbModel {
    AlbModel::new(seed, requests_per_second).with_config(ModelConfig {
        period: Duration::from_secs(1),
        lag_min: Duration::from_secs(1),
        lag_max: Duration::from_secs(3),
        node_lag: Duration::from_secs(1),
        ..ModelConfig::default()
    })
}

/// The `--metric-lag` that covers [`emulator_model`]'s publication lag.
pub const MODEL_LAG: &str = "3s";

/// Publishes the model's periods as AWS does, until dropped: each period once it is published (its end
/// plus the model's lag), every datapoint timestamped at the period's start, drawn with the shares the
/// listener's weights had during the period (read every 100 ms). The periods of the last 10 s before it
/// starts are published at once, so a deployment has data from before its first step.
pub struct ModelPublisher {
    /// Publishing until dropped.
    _running: Repeating,
}

impl ModelPublisher {
    pub fn start(stack: &Stack, model: AlbModel) -> ModelPublisher {
        let stack = stack.clone();
        let period = model.period_length();
        let now = SystemTime::now();
        let mut history = WeightHistory::starting(now - 10 * period, live_split(&stack));
        let mut next = align_down(now, period) - 10 * period;
        let mut pending = Vec::new();
        ModelPublisher {
            _running: Repeating::every(Duration::from_millis(100), move || {
                let now = SystemTime::now();
                let split = live_split(&stack);
                if history.split_at(now) != split {
                    history.record(now, split);
                }
                while next + period <= now {
                    pending.push(next);
                    next += period;
                }
                pending.retain(|p: &SystemTime| {
                    let due = model.published_at(*p) <= now;
                    if due {
                        let shares = history.shares(*p, *p + period);
                        publish_period(&stack, &model.period(*p, shares));
                    }
                    !due
                });
            }),
        }
    }
}

/// The listener's split now (a single-group forward sends everything to blue).
fn live_split(stack: &Stack) -> Split {
    let (blue, green) = weights(stack);
    let (blue, green) = (blue.unwrap_or(0).max(0), green.unwrap_or(0).max(0));
    let percent = if blue + green == 0 {
        0
    } else {
        (f64::from(green) * 100.0 / f64::from(blue + green)).round() as u8
    };
    Percent::new(percent).map_or(Split::all_to(Color::Blue), |p| Split::to(Color::Green, p))
}

/// One period's datapoints of both target groups and the load balancer, in one `PutMetricData`.
fn publish_period(stack: &Stack, period: &PeriodData) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let lb = load_balancer_dimension(stack);
    let at = aws_sdk_cloudwatch::primitives::DateTime::from(period.start);
    let datum = |suffix: &str, value: f64, tg: Option<&str>| {
        let mut d = MetricDatum::builder()
            .metric_name(metric_name(suffix).unwrap_or(suffix))
            .dimensions(Dimension::builder().name("LoadBalancer").value(&lb).build())
            .timestamp(at)
            .value(value);
        if let Some(tg) = tg {
            d = d.dimensions(Dimension::builder().name("TargetGroup").value(tg).build());
        }
        d.build()
    };
    let mut data = Vec::new();
    for (color, arn) in [
        (Color::Blue, &stack.blue_tg),
        (Color::Green, &stack.green_tg),
    ] {
        let tg = arn.rsplit_once(':').map(|(_, r)| r).unwrap_or_default();
        for (suffix, value) in period.of(color).datapoints(LatencyStatistic::Average) {
            data.push(datum(suffix, value, Some(tg)));
        }
    }
    for (suffix, value) in period.load_balancer.datapoints() {
        data.push(datum(suffix, value, None));
    }
    let _ = rt().block_on(
        cloudwatch()
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(data))
            .send(),
    );
}
