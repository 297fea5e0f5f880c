//! The metric publisher: ALB metrics written to the emulator's CloudWatch in proportion to the live
//! weights, with a fault profile per color.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

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
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
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
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let stack = stack.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
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
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Publisher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Publisher {
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
