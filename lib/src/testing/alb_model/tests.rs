use super::*;

const MIN: Duration = Duration::from_secs(60);
const P99: LatencyStatistic = LatencyStatistic::Percentile(99.0);

fn t0() -> SystemTime {
    UNIX_EPOCH + 29_000_000 * MIN
}

fn green(share: f64) -> Shares {
    Shares::to(Color::Green, share)
}

#[test]
fn a_period_is_a_function_of_the_seed_its_start_and_the_shares() {
    let model = AlbModel::new(11, 100.0);
    let later = model.period(t0() + MIN, green(0.5));
    let first = model.period(t0(), green(0.5));
    assert_eq!(
        model.period(t0() + MIN, green(0.5)),
        later,
        "order does not matter"
    );
    assert_eq!(model.period(t0(), green(0.5)), first);
    assert_ne!(first, later, "another period, another draw");
    assert_ne!(AlbModel::new(12, 100.0).period(t0(), green(0.5)), first);
    let total = first.blue.requests + first.green.requests;
    assert!(
        (5400..=6600).contains(&total),
        "about 100/s for 60 s: {total}"
    );
    assert_eq!(first.load_balancer.requests, total);
    let none = model.period(t0(), green(0.0));
    assert_eq!(none.green.requests, 0);
    assert_eq!(
        none.green.latency(P99),
        None,
        "no datapoint without a request"
    );
    assert!(!none
        .green
        .datapoints(P99)
        .iter()
        .any(|(id, _)| *id == "req" || *id == "lat"));
}

#[test]
fn refused_connections_are_requests_connection_errors_and_load_balancer_502s_only() {
    let refusing = Behaviour::healthy().with_refused(0.3);
    let model = AlbModel::new(1, 100.0).with_course(Color::Green, Course::steady(refusing));
    let p = model.period(t0(), green(0.5));
    let g = &p.green;
    assert!((700..=1100).contains(&g.connection_errors), "{g:?}");
    assert_eq!(g.target_5xx, 0);
    assert_eq!(
        g.served() + g.connection_errors,
        g.requests,
        "RequestCount holds them"
    );
    assert_eq!(p.load_balancer.elb_502, g.connection_errors);
    assert_eq!(p.load_balancer.elb_5xx(), g.connection_errors);
    let ids: Vec<&str> = g.datapoints(P99).iter().map(|d| d.0).collect();
    assert_eq!(
        ids,
        ["req", "cerr", "lat", "hh", "uh"],
        "no 5XX datapoint at zero"
    );
    let blue: Vec<&str> = p.blue.datapoints(P99).iter().map(|d| d.0).collect();
    assert_eq!(blue, ["req", "lat", "hh", "uh"]);
}

#[test]
fn timeouts_show_only_as_load_balancer_504s_and_outside_the_latency() {
    let slow = Behaviour::healthy()
        .with_timeouts(0.2)
        .with_median_latency(Duration::from_millis(10));
    let model = AlbModel::new(2, 100.0).with_course(Color::Green, Course::steady(slow));
    let p = model.period(t0(), green(1.0));
    let g = &p.green;
    assert!(g.timeouts > 900, "{g:?}");
    assert_eq!((g.target_5xx, g.connection_errors), (0, 0));
    assert_eq!(p.load_balancer.elb_504, g.timeouts);
    assert_eq!(p.load_balancer.elb_5xx(), g.timeouts);
    assert!(
        g.latency(LatencyStatistic::Maximum).unwrap() < 0.2,
        "served requests only"
    );
    let o = fold(
        std::slice::from_ref(&p),
        Color::Green,
        P99,
        t0(),
        t0() + MIN,
    );
    assert_eq!(o.new.errors, 0.0, "no target metric counts a timeout");
    let lb = o.load_balancer.unwrap();
    assert_eq!(lb.errors, g.timeouts as f64);
}

#[test]
fn latency_statistics_follow_the_log_normal_of_the_served_requests() {
    let model = AlbModel::new(3, 200.0);
    let g = model.period(t0(), green(1.0)).green;
    // median 50 ms, sigma 0.5: p99 = 0.05 * e^(0.5 * 2.326) = 0.160 s, mean 0.05 * e^(0.125) = 0.0567 s.
    let p99 = g.latency(P99).unwrap();
    assert!((p99 / 0.160 - 1.0).abs() < 0.15, "p99 {p99}");
    let p50 = g.latency(LatencyStatistic::Percentile(50.0)).unwrap();
    assert!((p50 / 0.05 - 1.0).abs() < 0.08, "p50 {p50}");
    let avg = g.latency(LatencyStatistic::Average).unwrap();
    assert!((avg / 0.0567 - 1.0).abs() < 0.08, "average {avg}");
    assert!(g.latency(LatencyStatistic::Maximum).unwrap() > p99);
}

#[test]
fn a_behaviour_changes_at_its_time_or_over_a_ramp() {
    let bad = Behaviour::healthy().with_target_5xx(0.4);
    let course = Course::steady(Behaviour::healthy()).then(t0(), bad);
    assert_eq!(course.at(t0() - Duration::from_secs(1)).target_5xx, 0.0);
    assert_eq!(course.at(t0()).target_5xx, 0.4);
    let leak = Course::steady(Behaviour::healthy()).ramp(t0(), 10 * MIN, bad);
    assert!((leak.at(t0() + 5 * MIN).target_5xx - 0.2).abs() < 1e-9);
    assert_eq!(leak.at(t0() + 20 * MIN).target_5xx, 0.4);
    // A period that straddles the change holds both halves.
    let model = AlbModel::new(4, 100.0).with_course(Color::Green, course);
    let straddling = model.period(t0() - MIN / 2, green(1.0)).green;
    let rate = straddling.target_5xx as f64 / straddling.requests as f64;
    assert!((rate - 0.2).abs() < 0.05, "{rate}");
}

#[test]
fn per_node_host_counts_lag_behind_the_targets_health() {
    let raised = Behaviour::healthy().with_targets(2, 0);
    let course = Course::steady(Behaviour::healthy().with_targets(0, 0)).then(t0(), raised);
    let model = AlbModel::new(5, 100.0).with_course(Color::Green, course);
    assert_eq!(model.health(Color::Green, t0()), TargetHealth::of(2, 2));
    assert_eq!(
        model.period(t0(), green(0.1)).green.healthy_min,
        0,
        "a node has not seen them"
    );
    assert_eq!(model.period(t0() + MIN, green(0.1)).green.healthy_min, 0);
    assert_eq!(
        model.period(t0() + 2 * MIN, green(0.1)).green.healthy_min,
        2
    );
    let failing = Course::steady(Behaviour::healthy().with_targets(1, 1));
    let model = model.with_course(Color::Green, failing);
    let p = model.period(t0(), green(0.1)).green;
    assert_eq!((p.healthy_min, p.unhealthy_max), (1, 1));
    let h = model.health(Color::Green, t0());
    assert_eq!((h.healthy, h.unhealthy, h.total), (1, 1, 2));
}

#[test]
fn a_color_without_targets_gets_503s_from_the_load_balancer_and_no_request_count() {
    let empty = Course::steady(Behaviour::healthy().with_targets(0, 0));
    let model = AlbModel::new(6, 100.0).with_course(Color::Green, empty);
    let p = model.period(t0(), green(0.1));
    assert_eq!(p.green.requests, 0);
    assert!(p.green.no_target > 300, "{:?}", p.green);
    assert_eq!(p.load_balancer.elb_503, p.green.no_target);
}

#[test]
fn periods_are_published_within_the_lag_after_they_end() {
    let model = AlbModel::new(8, 10.0);
    let lags: Vec<Duration> = (0..200)
        .map(|i| t0() + MIN * i)
        .map(|p| model.published_at(p).duration_since(p + MIN).unwrap())
        .collect();
    assert!(lags
        .iter()
        .all(|l| *l >= MIN && *l <= Duration::from_secs(150)));
    let spread = lags.iter().max().unwrap().as_secs() - lags.iter().min().unwrap().as_secs();
    assert!(spread > 60, "the lag varies: {spread}");
}

#[test]
fn shares_are_time_weighted_over_the_weight_history() {
    let mut h = WeightHistory::starting(t0(), Split::all_to(Color::Blue));
    let ten = crate::model::Percent::new(10).unwrap();
    h.record(t0() + MIN + MIN / 2, Split::to(Color::Green, ten));
    assert_eq!(
        h.shares(t0() - MIN, t0()),
        green(0.0),
        "before the first entry: the first split"
    );
    assert_eq!(h.shares(t0(), t0() + MIN), green(0.0));
    let half = h.shares(t0() + MIN, t0() + 2 * MIN);
    assert!(
        (half.green - 0.05).abs() < 1e-9 && (half.blue - 0.95).abs() < 1e-9,
        "{half:?}"
    );
    assert!((h.shares(t0() + 2 * MIN, t0() + 3 * MIN).green - 0.1).abs() < 1e-9);
    assert_eq!(h.split_at(t0() + 5 * MIN), Split::to(Color::Green, ten));
}

#[test]
fn folded_as_cloudwatch_is_read_errors_are_5xx_and_refusals() {
    let b = Behaviour::healthy().with_target_5xx(0.1).with_refused(0.1);
    let model = AlbModel::new(9, 100.0).with_course(Color::Green, Course::steady(b));
    let periods: Vec<PeriodData> = (0..3)
        .map(|i| model.period(t0() + MIN * i, green(0.5)))
        .collect();
    let o = fold(&periods, Color::Green, P99, t0(), t0() + 3 * MIN);
    let sum = |f: fn(&ColorPeriod) -> u64| periods.iter().map(|p| f(&p.green)).sum::<u64>() as f64;
    assert_eq!(o.new.requests, sum(|g| g.requests));
    assert_eq!(o.new.errors, sum(|g| g.target_5xx + g.connection_errors));
    assert_eq!(o.stable.errors, 0.0);
    assert_eq!(o.periods.len(), 3);
    assert_eq!(o.periods[1].start, t0() + MIN);
    assert_eq!(
        o.periods[1].new.latency_seconds,
        periods[1].green.latency(P99)
    );
    assert_eq!(o.window_start, t0());
    assert_eq!(o.new.healthy_hosts, Some(2.0));
}
