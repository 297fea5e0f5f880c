//! Flags over `albflip.toml`'s `[autoscaling]`, `[ecs]`, `[hooks]` and `[test-traffic]`, then the library builds
//! the deployment's `Lifecycle` from the merged sections.

use albflip::config::{
    AutoscalingSection, EcsSection, FileConfig, HooksSection, TestTrafficSection,
};
use albflip::engine::lifecycle::{Lifecycle, PromotionWait};
use albflip::Error;

use crate::args::{GlobalArgs, LifecycleArgs};

/// The lifecycle of a deployment: flags (and `ALBFLIP_*`) first, then the file. Flag names appear in
/// errors as the library names the keys (`ready-timeout`, `hook`...), which are the flags' names too.
pub fn lifecycle(
    flags: Option<&LifecycleArgs>,
    global: &GlobalArgs,
    file: &FileConfig,
) -> Result<Lifecycle, Error> {
    let none = LifecycleArgs::default();
    let f = flags.unwrap_or(&none);
    let autoscaling = AutoscalingSection {
        blue_asg: global
            .blue_asg
            .clone()
            .or(file.autoscaling.blue_asg.clone()),
        green_asg: global
            .green_asg
            .clone()
            .or(file.autoscaling.green_asg.clone()),
        match_capacity: f.match_capacity.or(file.autoscaling.match_capacity),
        ready_timeout: f
            .ready_timeout
            .clone()
            .or(file.autoscaling.ready_timeout.clone()),
        scale_down_delay: f
            .scale_down_delay
            .clone()
            .or(file.autoscaling.scale_down_delay.clone()),
    };
    let hooks = HooksSection {
        // Flags add to the file's hooks: a pipeline stage can add a check to the team's defaults.
        run: Some(
            file.hooks
                .run
                .iter()
                .flatten()
                .chain(&f.hooks)
                .cloned()
                .collect(),
        ),
        timeout: f.hook_timeout.clone().or(file.hooks.timeout.clone()),
    };
    let port_flag = f.test_listener_port.is_some() || f.test_listener_arn.is_some();
    // A test header given as a flag replaces the file's test listener, as a listener flag replaces it.
    let header_flag = f.test_header.is_some();
    let t = &file.test_traffic;
    let test = TestTrafficSection {
        listener_port: if port_flag || header_flag {
            f.test_listener_port
        } else {
            t.listener_port
        },
        listener_arn: if port_flag || header_flag {
            f.test_listener_arn.clone()
        } else {
            t.listener_arn.clone()
        },
        header: if port_flag {
            None
        } else {
            f.test_header.clone().or(t.header.clone())
        },
        smoke_url: f.smoke_url.clone().or(t.smoke_url.clone()),
        smoke_count: f.smoke_count.or(t.smoke_count),
        smoke_timeout: f.smoke_timeout.clone().or(t.smoke_timeout.clone()),
    };
    // Its errors name their settings as typed inputs: the CLI names them after where they came from.
    let mut lifecycle = Lifecycle::from_config(&autoscaling, &hooks, &test)?;
    let ecs = EcsSection {
        cluster: global.ecs_cluster.clone().or(file.ecs.cluster.clone()),
        blue_service: global
            .blue_service
            .clone()
            .or(file.ecs.blue_service.clone()),
        green_service: global
            .green_service
            .clone()
            .or(file.ecs.green_service.clone()),
    };
    lifecycle.capacity = lifecycle.capacity.with_ecs(&ecs)?;
    lifecycle.promotion_wait = promotion_wait(f)?;
    // How often to read health while waiting for capacity (10s; 1s in emulator tests and the demo).
    if let Ok(v) = std::env::var("ALBFLIP_READY_POLL") {
        lifecycle.capacity.ready_poll =
            humantime::parse_duration(v.trim()).map_err(|e| Error::InvalidInput {
                what: format!("ALBFLIP_READY_POLL={v:?}"),
                why: e.to_string(),
                fix: "Use a duration such as \"10s\" (at least 1s is used)".to_string(),
            })?;
    }
    Ok(lifecycle)
}

/// `--wait-for-promotion` and `--on-timeout`.
fn promotion_wait(f: &LifecycleArgs) -> Result<Option<PromotionWait>, Error> {
    let Some(timeout) = f.wait_for_promotion else {
        return Ok(None);
    };
    PromotionWait::new(timeout, f.on_timeout.unwrap_or_default()).map(Some)
}
