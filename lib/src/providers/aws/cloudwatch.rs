//! The CloudWatch adapter: one `GetMetricData` per poll for every metric of both colors, plus
//! `DescribeAlarms` when alarms are gated on. Rates are computed by albflip from sums, never with metric
//! math (which the emulator does not serve and which hides the sample size). A query CloudWatch could not
//! answer in full is an error, never zero.

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, MessageData, Metric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use aws_sdk_cloudwatch::Client;

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::plan::{
    ColorMetrics, LatencyStatistic, LoadBalancerCounts, Observation, Period, PeriodCounts,
};
use crate::ports::{ApiError, ApiErrorKind, Labels, MetricQuery, MetricSource};
use crate::providers::aws::calls::CallCounter;
use crate::providers::aws::errors::classify;

/// The metrics fetched for each color: (query id suffix, metric name, statistic or `None` for the
/// configured latency statistic). A color's errors are every failure its target group caused: the 5XX its
/// targets returned (`HTTPCode_Target_5XX_Count` leaves out what the load balancer generates) plus the
/// connections to its targets that failed outright or in the TLS handshake (see [`fold`]).
const METRICS: &[(&str, &str, Option<&str>)] = &[
    ("req", "RequestCount", Some("Sum")),
    ("err", "HTTPCode_Target_5XX_Count", Some("Sum")),
    ("cerr", "TargetConnectionErrorCount", Some("Sum")),
    ("tls", "TargetTLSNegotiationErrorCount", Some("Sum")),
    // A Lambda target group's failures: the function's own errors and the load balancer's or Lambda's
    // failures to invoke it. Absent (zero) for instance and IP target groups.
    ("lue", "LambdaUserError", Some("Sum")),
    ("lie", "LambdaInternalError", Some("Sum")),
    ("lat", "TargetResponseTime", None),
    ("hh", "HealthyHostCount", Some("Minimum")),
    ("uh", "UnHealthyHostCount", Some("Maximum")),
];

/// The load balancer's own metrics, per load balancer (only the `LoadBalancer` dimension): every
/// request it received and the 5XX it generated itself (`HTTPCode_ELB_5XX_Count`: the 502, 503 and 504
/// it answers when a target refuses, fails or times out), which no target group's metrics hold.
const LOAD_BALANCER_METRICS: &[(&str, &str)] =
    &[("req", "RequestCount"), ("elb5", "HTTPCode_ELB_5XX_Count")];

/// The dimension that names an ALB in a [`crate::ports::Backend`] scope: `app/NAME/ID`.
pub const LOAD_BALANCER_DIMENSION: &str = "LoadBalancer";
/// The dimension that names a target group in a [`crate::ports::Backend`] scope: `targetgroup/NAME/ID`.
pub const TARGET_GROUP_DIMENSION: &str = "TargetGroup";

/// CloudWatch as a [`MetricSource`].
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: Client,
    calls: CallCounter,
}

impl CloudWatch {
    /// An adapter over a client built from `config`, counting calls in `calls`.
    pub fn new(config: &SdkConfig, calls: CallCounter) -> CloudWatch {
        CloudWatch {
            client: Client::new(config),
            calls,
        }
    }
}

/// The `GetMetricData` queries for a poll: ids `n_*` for the new color and `s_*` for the stable one in
/// their first scope (the named route's load balancer), `n1_*`, `s1_*`... in the others (the other load
/// balancers in lockstep). Each scope's labels are the metrics' dimensions.
pub fn metric_queries(q: &MetricQuery) -> Vec<MetricDataQuery> {
    let mut out = Vec::new();
    for (prefix, backend) in [("n", &q.new), ("s", &q.stable)] {
        for (i, scope) in backend.scopes.iter().enumerate() {
            let suffix = if i == 0 { String::new() } else { i.to_string() };
            out.push((i, queries_in(q, scope, &format!("{prefix}{suffix}"))));
        }
    }
    // Grouped by scope, the new color's first, as one request per poll has always listed them.
    out.sort_by_key(|(i, _)| *i);
    let mut all: Vec<MetricDataQuery> = out.into_iter().flat_map(|(_, qs)| qs).collect();
    all.extend(load_balancer_queries(q));
    all
}

/// The load balancers the new color is served on, once each, in the order of its scopes.
fn load_balancers(q: &MetricQuery) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for scope in &q.new.scopes {
        if let Some(lb) = scope.get(LOAD_BALANCER_DIMENSION) {
            if !out.contains(&lb.as_str()) {
                out.push(lb);
            }
        }
    }
    out
}

/// Ids `lb_req`, `lb_elb5` for the first load balancer, `lb1_*`... for the others.
fn load_balancer_queries(q: &MetricQuery) -> Vec<MetricDataQuery> {
    let period = i32::try_from(q.period.as_secs().max(1)).unwrap_or(60);
    let mut out = Vec::new();
    for (i, lb) in load_balancers(q).into_iter().enumerate() {
        let suffix = if i == 0 { String::new() } else { i.to_string() };
        for (id, name) in LOAD_BALANCER_METRICS {
            let metric = Metric::builder()
                .namespace("AWS/ApplicationELB")
                .metric_name(*name)
                .dimensions(
                    Dimension::builder()
                        .name(LOAD_BALANCER_DIMENSION)
                        .value(lb)
                        .build(),
                )
                .build();
            let stat = MetricStat::builder()
                .metric(metric)
                .period(period)
                .stat("Sum")
                .build();
            out.push(
                MetricDataQuery::builder()
                    .id(format!("lb{suffix}_{id}"))
                    .metric_stat(stat)
                    .return_data(true)
                    .build(),
            );
        }
    }
    out
}

fn queries_in(q: &MetricQuery, scope: &Labels, id_prefix: &str) -> Vec<MetricDataQuery> {
    let latency = q.latency_statistic.to_string();
    let period = i32::try_from(q.period.as_secs().max(1)).unwrap_or(60);
    let mut out = Vec::new();
    for (id, name, stat) in METRICS {
        // LoadBalancer before TargetGroup, as CloudWatch lists the ALB's dimensions.
        let dimensions = [LOAD_BALANCER_DIMENSION, TARGET_GROUP_DIMENSION]
            .into_iter()
            .filter_map(|key| scope.get(key).map(|value| (key, value)))
            .chain(
                scope
                    .iter()
                    .map(|(k, v)| (k.as_str(), v))
                    .filter(|(k, _)| *k != LOAD_BALANCER_DIMENSION && *k != TARGET_GROUP_DIMENSION),
            )
            .map(|(key, value)| Dimension::builder().name(key).value(value).build());
        let metric = Metric::builder()
            .namespace("AWS/ApplicationELB")
            .metric_name(*name)
            .set_dimensions(Some(dimensions.collect()))
            .build();
        let stat = MetricStat::builder()
            .metric(metric)
            .period(period)
            .stat(stat.map(str::to_string).unwrap_or_else(|| latency.clone()))
            .build();
        out.push(
            MetricDataQuery::builder()
                .id(format!("{id_prefix}_{id}"))
                .metric_stat(stat)
                .return_data(true)
                .build(),
        );
    }
    out
}

/// Folds the datapoints of one query id into a color's metrics. Called once per id, page and load
/// balancer: counts add up, latency and unhealthy hosts take the worst, healthy hosts the fewest.
fn fold(metrics: &mut ColorMetrics, id: &str, values: &[f64]) {
    let either = |a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64| match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (x, y) => x.or(y),
    };
    let max = values.iter().copied().reduce(f64::max);
    let min = values.iter().copied().reduce(f64::min);
    // Folds from +0.0: `Iterator::sum` of no floats is -0.0, which would print as "-0".
    let sum = values.iter().fold(0.0, |a, b| a + b);
    match id {
        "req" => metrics.requests += sum,
        error if ERRORS.contains(&error) => metrics.errors += sum,
        "lat" => metrics.latency_seconds = either(metrics.latency_seconds, max, f64::max),
        "hh" => metrics.healthy_hosts = either(metrics.healthy_hosts, min, f64::min),
        "uh" => metrics.unhealthy_hosts = either(metrics.unhealthy_hosts, max, f64::max),
        _ => {}
    }
}

/// The datapoints of one poll's queries folded into both colors' totals, their periods and the load
/// balancer's own counts. The CloudWatch adapter feeds it `GetMetricData` results; the realistic metrics
/// model of the `testing` feature feeds it the series it publishes, so both read the same way.
#[derive(Debug, Clone, Default)]
pub struct SeriesFold {
    new: ColorMetrics,
    stable: ColorMetrics,
    periods: BTreeMap<SystemTime, (PeriodCounts, PeriodCounts)>,
    load_balancer: Option<LoadBalancerCounts>,
}

impl SeriesFold {
    /// Adds the datapoints of query `id` (`n_err`, `s1_req`, `lb_elb5`...; see [`metric_queries`]):
    /// `values[i]` is the datapoint of the period starting at `timestamps[i]`. A missing count datapoint
    /// is zero, as CloudWatch leaves out the 5XX metrics of a period without any.
    pub fn add(&mut self, id: &str, timestamps: &[SystemTime], values: &[f64]) {
        let (scope, metric) = id.split_once('_').unwrap_or(("", ""));
        if scope.starts_with("lb") {
            let lb = self.load_balancer.get_or_insert_with(Default::default);
            let sum = values.iter().fold(0.0, |a, b| a + b);
            match metric {
                "req" => lb.requests += sum,
                "elb5" => lb.errors += sum,
                _ => {}
            }
            return;
        }
        let is_new = scope.starts_with('n');
        fold(
            if is_new {
                &mut self.new
            } else {
                &mut self.stable
            },
            metric,
            values,
        );
        for (t, v) in timestamps.iter().zip(values) {
            let pair = self.periods.entry(*t).or_default();
            fold_period(if is_new { &mut pair.0 } else { &mut pair.1 }, metric, *v);
        }
    }

    /// The observation of `start..end`: connection errors are counted per connection, so requests are
    /// never fewer than errors, in total and in every period.
    pub fn finish(self, start: SystemTime, end: SystemTime) -> Observation {
        let (mut new, mut stable) = (self.new, self.stable);
        for m in [&mut new, &mut stable] {
            m.requests = m.requests.max(m.errors);
        }
        let periods = self
            .periods
            .into_iter()
            .map(|(start, (mut new, mut stable))| {
                for c in [&mut new, &mut stable] {
                    c.requests = c.requests.max(c.errors);
                }
                Period { start, new, stable }
            })
            .collect();
        let mut observation = Observation::totals(new, stable, start, end);
        observation.periods = periods;
        observation.by_period = true;
        observation.load_balancer = self.load_balancer.map(|mut lb| {
            lb.requests = lb.requests.max(lb.errors);
            lb
        });
        observation
    }
}

/// The query ids whose counts are errors of the color: its targets' 5XX, and the requests whose
/// connection (or TLS handshake) to a target failed, which no `HTTPCode_Target_5XX_Count` counts; a
/// Lambda group's user and internal errors. A failed connection is already a request: `RequestCount`
/// counts every request for which the load balancer chose a target, and the connection fails after
/// that choice. Adding it again would shrink the rate; [`SeriesFold::finish`] only makes sure the
/// requests are never fewer than the errors.
const ERRORS: [&str; 5] = ["err", "cerr", "tls", "lue", "lie"];

/// Adds one datapoint of `metric` to a color's counts in one period (the totals' rules, per period).
fn fold_period(counts: &mut PeriodCounts, metric: &str, value: f64) {
    match metric {
        "req" => counts.requests += value,
        error if ERRORS.contains(&error) => counts.errors += value,
        "lat" => {
            counts.latency_seconds = Some(counts.latency_seconds.map_or(value, |l| l.max(value)))
        }
        _ => {}
    }
}

/// Folds one `GetMetricData` page into `folded` and returns the token of the next page, if any. A
/// result that is not `Complete` (or `PartialData` with a next page to fetch the rest from) is an error
/// naming the query id and status: a query CloudWatch failed or refused must not read as zero.
fn fold_page(
    out: &GetMetricDataOutput,
    folded: &mut SeriesFold,
) -> Result<Option<String>, ApiError> {
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    for r in out.metric_data_results() {
        let id = r.id().unwrap_or_default();
        match r.status_code() {
            Some(StatusCode::Complete) => {}
            Some(StatusCode::PartialData) if next.is_some() => {}
            status => {
                let status = status.map_or("no status", StatusCode::as_str);
                let status = if status == StatusCode::PartialData.as_str() {
                    "PartialData without a next page"
                } else {
                    status
                };
                return Err(ApiError::new(
                    "cloudwatch:GetMetricData",
                    ApiErrorKind::Other,
                    format!(
                        "query {id} returned {status}{}",
                        messages(r.messages().iter().chain(out.messages()))
                    ),
                ));
            }
        }
        let timestamps: Vec<SystemTime> = r
            .timestamps()
            .iter()
            .filter_map(|t| SystemTime::try_from(*t).ok())
            .collect();
        folded.add(id, &timestamps, r.values());
    }
    Ok(next)
}

/// CloudWatch's messages about a result, as `: code: text; ...`, or nothing.
fn messages<'a>(messages: impl Iterator<Item = &'a MessageData>) -> String {
    let text: Vec<String> = messages
        .map(|m| match (m.code(), m.value()) {
            (Some(c), Some(v)) => format!("{c}: {v}"),
            (c, v) => c.or(v).unwrap_or_default().to_string(),
        })
        .filter(|m| !m.is_empty())
        .collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", text.join("; "))
    }
}

/// A server error on a query with a percentile statistic: the endpoint could not compute it. Real
/// CloudWatch computes percentiles of `TargetResponseTime`; an emulator (moto) answers them with an
/// HTML 500. Said so, with the way out, instead of a bare server error.
fn unsupported_statistic(e: ApiError, q: &MetricQuery) -> ApiError {
    let percentile = matches!(q.latency_statistic, LatencyStatistic::Percentile(_));
    if !percentile || e.kind != ApiErrorKind::Other || !e.message.contains("HTTP 5") {
        return e;
    }
    ApiError {
        message: format!(
            "the {} latency statistic is not supported by this endpoint ({}); use the Average or Maximum statistic there",
            q.latency_statistic, e.message
        ),
        ..e
    }
}

impl MetricSource for CloudWatch {
    async fn observe(&self, q: &MetricQuery) -> Result<Observation, ApiError> {
        let op = "cloudwatch:GetMetricData";
        let mut folded = SeriesFold::default();
        let mut token: Option<String> = None;
        loop {
            self.calls.record(op);
            let out = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(metric_queries(q)))
                .start_time(DateTime::from(q.start))
                .end_time(DateTime::from(q.end))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| unsupported_statistic(classify(op, e), q))?;
            match fold_page(&out, &mut folded)? {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(folded.finish(q.start, q.end))
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<(String, String)>, ApiError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.describe_alarms(names).await
    }
}

impl CloudWatch {
    /// Metric and composite alarms by name, following `NextToken`: one `DescribeAlarms` per page.
    async fn describe_alarms(&self, names: &[String]) -> Result<Vec<(String, String)>, ApiError> {
        let op = "cloudwatch:DescribeAlarms";
        let mut states = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.calls.record(op);
            let out = describe_alarms_request(&self.client, names, token.clone())
                .send()
                .await
                .map_err(|e| classify(op, e))?;
            let (page, next) = alarm_page(&out);
            states.extend(page);
            // A token handed back unchanged would loop forever: stop at it.
            match next {
                Some(t) if token.as_deref() != Some(t.as_str()) => token = Some(t),
                _ => break,
            }
        }
        Ok(states)
    }
}

/// A `DescribeAlarms` of `names` from page `token`. Both alarm types are asked for: without
/// `AlarmTypes`, CloudWatch returns metric alarms only, and a composite alarm would read as not found.
fn describe_alarms_request(
    client: &Client,
    names: &[String],
    token: Option<String>,
) -> DescribeAlarmsFluentBuilder {
    client
        .describe_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .set_next_token(token)
}

/// The (name, state) of the alarms of one `DescribeAlarms` page, and the next page's token if any.
fn alarm_page(out: &DescribeAlarmsOutput) -> (Vec<(String, String)>, Option<String>) {
    let metric = out.metric_alarms().iter().map(|a| {
        (
            a.alarm_name(),
            a.state_value().map(|s| s.as_str().to_string()),
        )
    });
    let composite = out.composite_alarms().iter().map(|a| {
        (
            a.alarm_name(),
            a.state_value().map(|s| s.as_str().to_string()),
        )
    });
    let states = metric
        .chain(composite)
        .filter_map(|(n, s)| Some((n?.to_string(), s.unwrap_or_default())))
        .collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    (states, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Color;
    use crate::plan::LatencyStatistic;
    use crate::ports::Backend;
    use aws_sdk_cloudwatch::types::{CompositeAlarm, MetricAlarm, MetricDataResult, StateValue};
    use std::time::{Duration, SystemTime};

    fn backend(color: Color, group: &str, load_balancers: &[&str]) -> Backend {
        let scopes = load_balancers
            .iter()
            .map(|lb| {
                Labels::from([
                    (LOAD_BALANCER_DIMENSION.to_string(), lb.to_string()),
                    (TARGET_GROUP_DIMENSION.to_string(), group.to_string()),
                ])
            })
            .collect();
        Backend {
            color,
            name: group.to_string(),
            id: group.to_string(),
            scopes,
        }
    }

    fn query_on(stat: LatencyStatistic, load_balancers: &[&str]) -> MetricQuery {
        MetricQuery {
            new: backend(
                Color::Green,
                "targetgroup/prod-shop-green-tg/73e2d6bc24d8a067",
                load_balancers,
            ),
            stable: backend(
                Color::Blue,
                "targetgroup/prod-shop-blue-tg/943f017f100becff",
                load_balancers,
            ),
            start: SystemTime::UNIX_EPOCH,
            end: SystemTime::UNIX_EPOCH + Duration::from_secs(300),
            period: Duration::from_secs(60),
            latency_statistic: stat,
        }
    }

    fn query(stat: LatencyStatistic) -> MetricQuery {
        query_on(stat, &["app/prod-shop-alb/50dc6c495c0c9188"])
    }

    #[test]
    fn one_request_holds_every_metric_of_both_colors_with_the_right_statistics_and_dimensions() {
        let qs = metric_queries(&query(LatencyStatistic::Percentile(99.0)));
        assert_eq!(qs.len(), 20);
        let ids: Vec<&str> = qs.iter().filter_map(|q| q.id()).collect();
        assert_eq!(
            ids,
            [
                "n_req", "n_err", "n_cerr", "n_tls", "n_lue", "n_lie", "n_lat", "n_hh", "n_uh",
                "s_req", "s_err", "s_cerr", "s_tls", "s_lue", "s_lie", "s_lat", "s_hh", "s_uh",
                "lb_req", "lb_elb5"
            ]
        );
        let shape: Vec<(String, String, i32, String)> = qs[..18]
            .iter()
            .map(|q| {
                let s = q.metric_stat().unwrap();
                let m = s.metric().unwrap();
                let tg = m
                    .dimensions()
                    .iter()
                    .find(|d| d.name() == Some("TargetGroup"))
                    .and_then(|d| d.value())
                    .unwrap();
                (
                    m.metric_name().unwrap().to_string(),
                    s.stat().unwrap().to_string(),
                    s.period().unwrap(),
                    tg.to_string(),
                )
            })
            .collect();
        assert_eq!(
            shape[0],
            (
                "RequestCount".into(),
                "Sum".into(),
                60,
                "targetgroup/prod-shop-green-tg/73e2d6bc24d8a067".into()
            )
        );
        assert_eq!(
            shape[1],
            (
                "HTTPCode_Target_5XX_Count".into(),
                "Sum".into(),
                60,
                "targetgroup/prod-shop-green-tg/73e2d6bc24d8a067".into()
            )
        );
        let sum = |name: &str| (name.into(), "Sum".into(), 60, shape[0].3.clone());
        assert_eq!(shape[2], sum("TargetConnectionErrorCount"));
        assert_eq!(shape[3], sum("TargetTLSNegotiationErrorCount"));
        assert_eq!(shape[4], sum("LambdaUserError"));
        assert_eq!(shape[5], sum("LambdaInternalError"));
        assert_eq!(shape[6].0, "TargetResponseTime");
        assert_eq!(shape[6].1, "p99");
        assert_eq!(shape[7].1, "Minimum");
        assert_eq!(shape[8].1, "Maximum");
        assert_eq!(shape[9].3, "targetgroup/prod-shop-blue-tg/943f017f100becff");
        assert_eq!(shape[11].0, "TargetConnectionErrorCount");
        for q in &qs[18..] {
            let m = q.metric_stat().unwrap().metric().unwrap();
            let names: Vec<_> = m.dimensions().iter().filter_map(|d| d.name()).collect();
            assert_eq!(
                names,
                ["LoadBalancer"],
                "the load balancer's own metrics have no TargetGroup"
            );
            assert_eq!(q.metric_stat().unwrap().stat(), Some("Sum"));
        }
        assert_eq!(
            qs[19]
                .metric_stat()
                .unwrap()
                .metric()
                .unwrap()
                .metric_name(),
            Some("HTTPCode_ELB_5XX_Count")
        );
        for q in &qs {
            let m = q.metric_stat().unwrap().metric().unwrap();
            assert_eq!(m.namespace(), Some("AWS/ApplicationELB"));
            let lb = m
                .dimensions()
                .iter()
                .find(|d| d.name() == Some("LoadBalancer"))
                .and_then(|d| d.value());
            assert_eq!(lb, Some("app/prod-shop-alb/50dc6c495c0c9188"));
            assert!(q.expression().is_none(), "no metric math");
            assert_eq!(q.return_data(), Some(true));
        }
        let avg = metric_queries(&query(LatencyStatistic::Average));
        assert_eq!(avg[6].metric_stat().unwrap().stat(), Some("Average"));
    }

    #[test]
    fn datapoints_fold_into_sums_and_worst_values() {
        let mut m = ColorMetrics::default();
        fold(&mut m, "req", &[100.0, 50.0]);
        fold(&mut m, "err", &[]);
        fold(&mut m, "lat", &[0.2, 0.9, 0.1]);
        fold(&mut m, "hh", &[2.0, 1.0]);
        fold(&mut m, "uh", &[0.0, 3.0]);
        assert_eq!(m.requests, 150.0);
        assert_eq!(m.errors, 0.0, "missing 5XX datapoints mean zero errors");
        assert!(m.errors.is_sign_positive(), "no datapoints is +0, not -0");
        assert_eq!(m.latency_seconds, Some(0.9));
        assert_eq!(m.healthy_hosts, Some(1.0));
        assert_eq!(m.unhealthy_hosts, Some(3.0));
    }

    #[test]
    fn load_balancers_in_lockstep_are_queried_in_the_same_request_and_add_up() {
        let q = query_on(
            LatencyStatistic::Average,
            &[
                "app/prod-shop-alb/50dc6c495c0c9188",
                "app/internal-shop-alb/0000000000000001",
            ],
        );
        let qs = metric_queries(&q);
        assert_eq!(
            qs.len(),
            40,
            "18 per color and load balancer, 2 per load balancer"
        );
        let second: Vec<(&str, Option<&str>)> = qs[18..36]
            .iter()
            .map(|q| {
                let lb = q.metric_stat().unwrap().metric().unwrap().dimensions()[0].value();
                (q.id().unwrap(), lb)
            })
            .collect();
        assert_eq!(
            second[0],
            ("n1_req", Some("app/internal-shop-alb/0000000000000001"))
        );
        assert_eq!(second[9].0, "s1_req");
        let lb_ids: Vec<&str> = qs[36..].iter().filter_map(|q| q.id()).collect();
        assert_eq!(lb_ids, ["lb_req", "lb_elb5", "lb1_req", "lb1_elb5"]);
        let mut m = ColorMetrics::default();
        fold(&mut m, "req", &[100.0]);
        fold(&mut m, "req", &[40.0]);
        fold(&mut m, "err", &[3.0]);
        fold(&mut m, "err", &[2.0]);
        fold(&mut m, "lat", &[0.2]);
        fold(&mut m, "lat", &[0.7]);
        fold(&mut m, "hh", &[3.0]);
        fold(&mut m, "hh", &[2.0]);
        assert_eq!((m.requests, m.errors), (140.0, 5.0));
        assert_eq!(m.latency_seconds, Some(0.7));
        assert_eq!(m.healthy_hosts, Some(2.0));
    }

    #[test]
    fn connection_and_tls_errors_are_errors_of_requests_already_counted() {
        let mut m = ColorMetrics::default();
        fold(&mut m, "req", &[90.0]);
        fold(&mut m, "err", &[2.0]);
        fold(&mut m, "cerr", &[6.0, 2.0]);
        fold(&mut m, "tls", &[0.0]);
        assert_eq!(
            (m.requests, m.errors),
            (90.0, 10.0),
            "RequestCount already holds the requests whose connection failed"
        );
    }

    fn result(id: &str, status: StatusCode, values: &[f64]) -> MetricDataResult {
        let timestamps = (0..values.len())
            .map(|i| DateTime::from_secs(60 * i as i64))
            .collect();
        MetricDataResult::builder()
            .id(id)
            .status_code(status)
            .set_timestamps(Some(timestamps))
            .set_values(Some(values.to_vec()))
            .build()
    }

    #[test]
    fn series_fold_by_period_and_the_load_balancers_own_5xx_apart() {
        let at = |m: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(60 * m);
        let mut f = SeriesFold::default();
        f.add("n_req", &[at(0), at(1)], &[100.0, 200.0]);
        f.add("n_err", &[at(1)], &[4.0]);
        f.add("n_cerr", &[at(0)], &[1.0]);
        f.add("n_lie", &[at(1)], &[2.0]);
        f.add("n1_req", &[at(1)], &[10.0]);
        f.add("s_req", &[at(0), at(1)], &[900.0, 800.0]);
        f.add("n_lat", &[at(0), at(1)], &[0.2, 0.4]);
        f.add("n1_lat", &[at(1)], &[0.5]);
        f.add("lb_req", &[at(0), at(1)], &[1000.0, 1000.0]);
        f.add("lb_elb5", &[at(1)], &[30.0]);
        f.add("lb1_elb5", &[at(1)], &[2.0]);
        let o = f.finish(at(0), at(2));
        assert_eq!((o.new.requests, o.new.errors), (310.0, 7.0));
        assert_eq!(o.stable.requests, 1700.0);
        assert_eq!(o.periods.len(), 2);
        assert_eq!(o.periods[0].start, at(0));
        assert_eq!(
            (o.periods[0].new.requests, o.periods[0].new.errors),
            (100.0, 1.0)
        );
        assert_eq!(
            (o.periods[1].new.requests, o.periods[1].new.errors),
            (210.0, 6.0)
        );
        assert_eq!(o.periods[1].new.latency_seconds, Some(0.5));
        assert_eq!(o.periods[1].stable.requests, 800.0);
        assert_eq!(
            o.load_balancer,
            Some(LoadBalancerCounts {
                requests: 2000.0,
                errors: 32.0
            }),
            "the load balancer's 5XX are in no color's errors"
        );
        let none = SeriesFold::default().finish(at(0), at(1));
        assert_eq!(
            none.load_balancer, None,
            "a source without them reports none"
        );
    }

    fn page(results: Vec<MetricDataResult>, next: Option<&str>) -> GetMetricDataOutput {
        GetMetricDataOutput::builder()
            .set_metric_data_results(Some(results))
            .set_next_token(next.map(str::to_string))
            .build()
    }

    #[test]
    fn a_query_cloudwatch_did_not_answer_in_full_is_an_error_not_zero() {
        let mut folded = SeriesFold::default();
        let ok = page(
            vec![
                result("n_req", StatusCode::Complete, &[100.0]),
                result("s_err", StatusCode::Complete, &[1.0]),
            ],
            None,
        );
        assert_eq!(fold_page(&ok, &mut folded), Ok(None));
        assert_eq!((folded.new.requests, folded.stable.errors), (100.0, 1.0));

        let partial_then_more = page(
            vec![result("n_err", StatusCode::PartialData, &[3.0])],
            Some("page-2"),
        );
        assert_eq!(
            fold_page(&partial_then_more, &mut folded),
            Ok(Some("page-2".to_string())),
            "PartialData with a next page: the rest comes on that page"
        );
        assert_eq!(folded.new.errors, 3.0);

        for (status, said) in [
            (StatusCode::InternalError, "InternalError"),
            (StatusCode::Forbidden, "Forbidden"),
            (StatusCode::PartialData, "PartialData without a next page"),
            (StatusCode::from("SomethingNew"), "SomethingNew"),
        ] {
            let failed = GetMetricDataOutput::builder()
                .metric_data_results(result("n_err", StatusCode::Complete, &[]))
                .metric_data_results(
                    MetricDataResult::builder()
                        .id("n_cerr")
                        .status_code(status)
                        .messages(
                            MessageData::builder()
                                .code("InternalError")
                                .value("try again")
                                .build(),
                        )
                        .build(),
                )
                .build();
            let e = fold_page(&failed, &mut folded).unwrap_err();
            assert_eq!(e.operation, "cloudwatch:GetMetricData");
            assert_eq!(e.kind, ApiErrorKind::Other);
            assert!(
                e.message.contains("n_cerr") && e.message.contains(said),
                "{said}: {}",
                e.message
            );
            assert!(e.message.contains("try again"), "{}", e.message);
        }
        let no_status = page(vec![MetricDataResult::builder().id("s_req").build()], None);
        let e = fold_page(&no_status, &mut folded).unwrap_err();
        assert!(e.message.contains("s_req"), "{}", e.message);
    }

    fn client() -> Client {
        use aws_sdk_cloudwatch::config::{BehaviorVersion, Builder, Region};
        Client::from_conf(
            Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-1"))
                .build(),
        )
    }

    #[test]
    fn alarms_are_asked_for_of_both_types_page_by_page() {
        let names = vec!["shop-errors".to_string(), "shop-composite".to_string()];
        let first = describe_alarms_request(&client(), &names, None);
        let input = first.as_input();
        assert_eq!(input.get_alarm_names().as_deref(), Some(&names[..]));
        assert_eq!(
            input.get_alarm_types().as_deref(),
            Some(&[AlarmType::MetricAlarm, AlarmType::CompositeAlarm][..]),
            "without AlarmTypes, DescribeAlarms returns metric alarms only"
        );
        assert_eq!(input.get_next_token(), &None);
        let second = describe_alarms_request(&client(), &names, Some("p2".into()));
        assert_eq!(second.as_input().get_next_token().as_deref(), Some("p2"));

        let out = DescribeAlarmsOutput::builder()
            .metric_alarms(
                MetricAlarm::builder()
                    .alarm_name("shop-errors")
                    .state_value(StateValue::Ok)
                    .build(),
            )
            .composite_alarms(
                CompositeAlarm::builder()
                    .alarm_name("shop-composite")
                    .state_value(StateValue::Alarm)
                    .build(),
            )
            .next_token("p2")
            .build();
        assert_eq!(
            alarm_page(&out),
            (
                vec![
                    ("shop-errors".to_string(), "OK".to_string()),
                    ("shop-composite".to_string(), "ALARM".to_string()),
                ],
                Some("p2".to_string())
            )
        );
        let last = DescribeAlarmsOutput::builder().next_token("").build();
        assert_eq!(alarm_page(&last), (Vec::new(), None));
    }
}
