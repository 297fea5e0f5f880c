//! `albflip config`: the resolved configuration and where each value came from. Reads no AWS.

use std::path::Path;

use albflip::config::FileConfig;
use albflip::Error;
use serde_json::json;

use crate::args::{Cli, ConfigArgs, OutputFormat};
use crate::origins::Origins;
use crate::settings::Settings;
use crate::{exit, spec};

/// Prints the resolved configuration of the current directory.
pub fn run(cli: &Cli, args: &ConfigArgs, origins: &Origins) -> Result<u8, Error> {
    let cwd = std::env::current_dir().unwrap_or_default();
    print!("{}", show(cli, args, origins, &cwd)?);
    Ok(exit::SUCCESS)
}

/// One resolved setting.
struct Entry {
    key: &'static str,
    value: String,
    source: String,
}

fn describe_route(route: &albflip::aws::resolve::RouteSpec) -> String {
    route.to_string()
}

fn entry(origins: &Origins, key: &'static str, value: String, long: &str, in_file: bool) -> Entry {
    Entry {
        key,
        value,
        source: origins.source(long, in_file),
    }
}

/// The settings around the steps: Auto Scaling, hooks, the test listener.
fn lifecycle_entries(
    cli: &Cli,
    args: &ConfigArgs,
    origins: &Origins,
    file: &FileConfig,
) -> Result<Vec<Entry>, Error> {
    let l = crate::lifecycle::lifecycle(Some(&args.lifecycle), &cli.global, file)?;
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let (c, a, h) = (&l.capacity, &file.autoscaling, &file.hooks);
    let test = l.test_traffic.as_ref();
    let t = &file.test_traffic;
    let asg = |name: Option<&str>| {
        name.map_or(
            "the group registered with its target group".into(),
            str::to_string,
        )
    };
    let rows: [(&'static str, String, &str, bool); 9] = [
        (
            "blue-asg",
            asg(c.blue_asg.as_deref()),
            "blue-asg",
            a.blue_asg.is_some(),
        ),
        (
            "green-asg",
            asg(c.green_asg.as_deref()),
            "green-asg",
            a.green_asg.is_some(),
        ),
        (
            "match-capacity",
            c.match_capacity
                .map_or("when both groups are known".into(), |m| m.to_string()),
            "match-capacity",
            a.match_capacity.is_some(),
        ),
        (
            "ready-timeout",
            human(c.ready_timeout),
            "ready-timeout",
            a.ready_timeout.is_some(),
        ),
        (
            "scale-down-delay",
            c.scale_down_delay
                .map_or("never (albflip cleanup)".into(), human),
            "scale-down-delay",
            a.scale_down_delay.is_some(),
        ),
        (
            "hooks",
            if l.hooks.is_empty() {
                "none".into()
            } else {
                l.hooks
                    .iter()
                    .map(|h| format!("{}={}", h.stage, h.command))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            "hook",
            h.run.is_some(),
        ),
        (
            "hook-timeout",
            human(l.hook_timeout),
            "hook-timeout",
            h.timeout.is_some(),
        ),
        (
            "test-listener",
            test.map_or("none".into(), |t| {
                format!("{:?}", t.listener).to_lowercase()
            }),
            if t.listener_arn.is_some() || args.lifecycle.test_listener_arn.is_some() {
                "test-listener-arn"
            } else {
                "test-listener-port"
            },
            t.listener_port.is_some() || t.listener_arn.is_some(),
        ),
        (
            "smoke-url",
            test.and_then(|t| t.smoke_url.clone())
                .unwrap_or_else(|| "none".into()),
            "smoke-url",
            t.smoke_url.is_some(),
        ),
    ];
    Ok(rows
        .into_iter()
        .map(|(key, value, long, in_file)| entry(origins, key, value, long, in_file))
        .collect())
}

/// Renders the resolved configuration.
fn show(cli: &Cli, args: &ConfigArgs, origins: &Origins, cwd: &Path) -> Result<String, Error> {
    let (file, path) = FileConfig::load(cli.global.config.as_deref(), cwd)?;
    let settings = match Settings::resolve(&cli.global, &cli.target, cwd) {
        Ok(s) => Some(s),
        Err(Error::InvalidInput { why, .. }) if why == "no route named" => None,
        Err(e) => return Err(e),
    };
    let options = spec::options(
        Some((&args.strategy, &file.strategy)),
        &args.bake,
        &args.gates,
    )?;
    let spec = options.deploy_spec(albflip::model::Color::Green, &file.strategy, &file.gates)?;
    let (strategy, bake) = (&spec.strategy, spec.policy.bake);
    let (gates, policy, window) = (&spec.gates, &spec.policy, &spec.window);
    let (t, a, st, g, l) = (
        &file.target,
        &file.aws,
        &file.strategy,
        &file.gates,
        &file.lock,
    );
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let mut entries = Vec::new();
    let route = settings
        .as_ref()
        .map(|s| describe_route(&s.target.route))
        .unwrap_or_else(|| "(not set)".into());
    let route_long = ["listener-arn", "rule-arn", "load-balancer", "environment"]
        .into_iter()
        .find(|l| origins.source(l, false) != "default")
        .unwrap_or("listener-arn");
    let route_in_file = t.listener_arn.is_some()
        || t.rule_arn.is_some()
        || t.load_balancer.is_some()
        || t.environment.is_some();
    entries.push(entry(origins, "route", route, route_long, route_in_file));
    let group = |c: Option<&albflip::aws::resolve::GroupRef>| {
        c.map(|g| g.to_string())
            .unwrap_or_else(|| "detected from the forward action".into())
    };
    let convention = origins.source("environment", t.environment.is_some()) != "default";
    for (key, group_ref, in_file) in [
        (
            "blue",
            settings.as_ref().and_then(|s| s.target.blue.as_ref()),
            t.blue.is_some(),
        ),
        (
            "green",
            settings.as_ref().and_then(|s| s.target.green.as_ref()),
            t.green.is_some(),
        ),
    ] {
        let mut source = origins.source(key, in_file);
        if source == "default" && convention && group_ref.is_some() {
            source = "naming convention of --environment/--application".into();
        }
        entries.push(Entry {
            key,
            value: group(group_ref),
            source,
        });
    }
    let aws = settings.as_ref().map(|s| s.aws.clone()).unwrap_or_default();
    entries.push(entry(
        origins,
        "region",
        aws.region
            .unwrap_or_else(|| "from the SDK chain (AWS_REGION, profile)".into()),
        "region",
        a.region.is_some(),
    ));
    entries.push(entry(
        origins,
        "profile",
        aws.profile.unwrap_or_else(|| "from the SDK chain".into()),
        "profile",
        a.profile.is_some(),
    ));
    entries.push(entry(
        origins,
        "endpoint-url",
        aws.endpoint_url
            .unwrap_or_else(|| "AWS (or AWS_ENDPOINT_URL)".into()),
        "endpoint-url",
        a.endpoint_url.is_some(),
    ));
    let lock_table = settings
        .as_ref()
        .and_then(|s| s.lock_table.clone())
        .or(l.table.clone());
    entries.push(entry(
        origins,
        "lock-table",
        lock_table.unwrap_or_else(|| "none (runs are not locked)".into()),
        "lock-table",
        l.table.is_some(),
    ));
    entries.push(entry(
        origins,
        "strategy",
        strategy.to_string(),
        "strategy",
        st.strategy.is_some() || st.steps.is_some(),
    ));
    entries.push(entry(
        origins,
        "bake",
        human(bake),
        "bake",
        st.bake.is_some(),
    ));
    entries.push(entry(
        origins,
        "max-error-rate",
        format!("{}%", gates.max_error_rate * 100.0),
        "max-error-rate",
        g.max_error_rate.is_some(),
    ));
    entries.push(entry(
        origins,
        "min-requests",
        gates.min_requests.to_string(),
        "min-requests",
        g.min_requests.is_some(),
    ));
    entries.push(entry(
        origins,
        "latency-statistic",
        gates.latency_statistic.to_string(),
        "latency-statistic",
        g.latency_statistic.is_some(),
    ));
    entries.push(entry(
        origins,
        "max-latency",
        human(gates.max_latency),
        "max-latency",
        g.max_latency.is_some(),
    ));
    entries.push(entry(
        origins,
        "min-healthy-hosts",
        gates.min_healthy_hosts.to_string(),
        "min-healthy-hosts",
        g.min_healthy_hosts.is_some(),
    ));
    entries.push(entry(
        origins,
        "max-unhealthy-hosts",
        gates.max_unhealthy_hosts.to_string(),
        "max-unhealthy-hosts",
        g.max_unhealthy_hosts.is_some(),
    ));
    entries.push(entry(
        origins,
        "alarms",
        if gates.alarms.is_empty() {
            "none".into()
        } else {
            gates.alarms.join(", ")
        },
        "alarm",
        g.alarms.is_some(),
    ));
    entries.push(entry(
        origins,
        "max-error-rate-increase",
        format!("{} pp", gates.max_error_rate_increase * 100.0),
        "max-error-rate-increase",
        g.max_error_rate_increase.is_some(),
    ));
    entries.push(entry(
        origins,
        "max-latency-increase",
        gates
            .max_latency_increase
            .map_or("off".into(), |r| format!("{r}x")),
        "max-latency-increase",
        g.max_latency_increase.is_some(),
    ));
    entries.push(entry(
        origins,
        "judge",
        gates.judge.to_string(),
        "judge",
        g.judge.is_some(),
    ));
    entries.push(entry(
        origins,
        "confidence",
        format!("{}%", gates.confidence),
        "confidence",
        g.confidence.is_some(),
    ));
    entries.push(entry(
        origins,
        "on-no-data",
        format!("{:?}", policy.on_no_data).to_lowercase(),
        "on-no-data",
        g.on_no_data.is_some(),
    ));
    entries.push(entry(
        origins,
        "max-bake-extension",
        human(policy.max_bake_extension),
        "max-bake-extension",
        g.max_bake_extension.is_some(),
    ));
    entries.push(entry(
        origins,
        "poll-interval",
        human(policy.poll_interval),
        "poll-interval",
        g.poll_interval.is_some(),
    ));
    entries.push(entry(
        origins,
        "metric-window",
        human(window.window),
        "metric-window",
        g.metric_window.is_some(),
    ));
    entries.push(entry(
        origins,
        "metric-lag",
        human(window.lag),
        "metric-lag",
        g.metric_lag.is_some(),
    ));
    entries.push(entry(
        origins,
        "metric-period",
        human(window.period),
        "metric-period",
        g.metric_period.is_some(),
    ));
    entries.push(entry(
        origins,
        "failure-threshold",
        policy.failure_threshold.to_string(),
        "failure-threshold",
        g.failure_threshold.is_some(),
    ));
    entries.extend(lifecycle_entries(cli, args, origins, &file)?);
    let file_line = match &path {
        Some(p) => format!("config file: {}", p.display()),
        None => "config file: none (no albflip.toml here, no --config)".into(),
    };
    Ok(match cli.global.output {
        OutputFormat::Json => {
            let values: serde_json::Map<String, serde_json::Value> = entries
                .iter()
                .map(|e| {
                    (
                        e.key.to_string(),
                        json!({"value": e.value, "source": e.source}),
                    )
                })
                .collect();
            format!(
                "{}\n",
                json!({"config_file": path.map(|p| p.display().to_string()), "settings": values})
            )
        }
        OutputFormat::Text => {
            let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
            let mut out = format!("{file_line}\n");
            for e in &entries {
                out.push_str(&format!("{:<width$}  {}  ({})\n", e.key, e.value, e.source));
            }
            out
        }
    })
}
