//! What happens around the steps of a deployment: the Auto Scaling groups of both colors, lifecycle
//! hooks, and the test listener with its smoke check. These are the settings; the engine acts on them.

use std::time::Duration;

use crate::input::Input;

use serde::Serialize;

use crate::hooks::Hook;
use crate::model::Color;

/// The default wait for the new color's healthy targets.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(600);
/// The default time a hook may run.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(300);
/// The default time a smoke GET may take.
pub const DEFAULT_SMOKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything around the steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lifecycle {
    /// The colors' Auto Scaling groups and what to do with them.
    pub capacity: CapacityPolicy,
    /// Commands run at lifecycle stages.
    pub hooks: Vec<Hook>,
    /// How long a hook may run before it is killed and counted as failed.
    #[serde(with = "crate::plan::strategy::secs")]
    pub hook_timeout: Duration,
    /// The test listener, pointed at the new color before production traffic moves.
    pub test_traffic: Option<TestTraffic>,
    /// How a canary (and a gradual deployment's pauses, `25:pause`) waits for promotion with the gates
    /// on; `None`: a canary stops awaiting promotion, and a pause is refused.
    pub promotion_wait: Option<PromotionWait>,
}

/// The wait for promotion: up to `timeout`, then `on_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PromotionWait {
    /// The longest wait.
    #[serde(with = "crate::plan::strategy::secs")]
    pub timeout: Duration,
    /// What happens when nobody promotes or rolls back in time.
    pub on_timeout: OnTimeout,
}

impl PromotionWait {
    /// A wait of `timeout` (not zero: it would time out at once), then `on_timeout`.
    pub fn new(timeout: Duration, on_timeout: OnTimeout) -> Result<PromotionWait, crate::Error> {
        if timeout.is_zero() {
            return Err(crate::Error::invalid(
                Input::WaitForPromotion,
                crate::text!({given Input::WaitForPromotion}, " 0s"),
                "a wait of nothing times out at once",
                "Give how long it may wait, e.g. 2h",
            ));
        }
        Ok(PromotionWait {
            timeout,
            on_timeout,
        })
    }
}

/// What a wait for promotion does when it times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// Traffic back on the stable color (the default).
    #[default]
    Rollback,
    /// Go on as if promoted.
    Promote,
}

impl std::str::FromStr for OnTimeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rollback" => Ok(OnTimeout::Rollback),
            "promote" => Ok(OnTimeout::Promote),
            other => Err(format!("{other:?} is not rollback or promote")),
        }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            capacity: CapacityPolicy::default(),
            hooks: Vec::new(),
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            test_traffic: None,
            promotion_wait: None,
        }
    }
}

/// The Auto Scaling groups of blue and green, and what albflip does with them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPolicy {
    /// Blue's group, when named.
    pub blue_asg: Option<String>,
    /// Green's group, when named.
    pub green_asg: Option<String>,
    /// The ECS cluster whose services are the colors' capacity, instead of Auto Scaling groups.
    pub ecs_cluster: Option<String>,
    /// Blue's ECS service, when named (with `ecs_cluster`).
    pub blue_service: Option<String>,
    /// Green's ECS service, when named (with `ecs_cluster`).
    pub green_service: Option<String>,
    /// Look up a color's group by its target group when it is not named.
    pub discover: bool,
    /// Raise the new color to the stable one's capacity before the first step; `None`: when both
    /// groups are known.
    pub match_capacity: Option<bool>,
    /// How long to wait for the new color's healthy targets.
    #[serde(with = "crate::plan::strategy::secs")]
    pub ready_timeout: Duration,
    /// How often to read the new color's health while waiting.
    #[serde(with = "crate::plan::strategy::secs")]
    pub ready_poll: Duration,
    /// Scale the old color to zero this long after a completed deployment; `None`: never (see
    /// `albflip cleanup`).
    pub scale_down_delay: Option<Duration>,
}

impl Default for CapacityPolicy {
    fn default() -> Self {
        CapacityPolicy {
            blue_asg: None,
            green_asg: None,
            ecs_cluster: None,
            blue_service: None,
            green_service: None,
            discover: true,
            match_capacity: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            ready_poll: crate::capacity::Wait::DEFAULT_POLL,
            scale_down_delay: None,
        }
    }
}

impl CapacityPolicy {
    /// The pool named for `color`: its ECS service when the colors run on ECS, else its Auto Scaling
    /// group.
    pub fn named(&self, color: Color) -> Option<&str> {
        match (self.ecs_cluster.is_some(), color) {
            (true, Color::Blue) => self.blue_service.as_deref(),
            (true, Color::Green) => self.green_service.as_deref(),
            (false, Color::Blue) => self.blue_asg.as_deref(),
            (false, Color::Green) => self.green_asg.as_deref(),
        }
    }

    /// Makes the colors' capacity the ECS services of `ecs` (the `[ecs]` section, flags laid over it)
    /// when it names a cluster. Services named without a cluster, or ECS and Auto Scaling groups named
    /// together, are refused.
    pub fn with_ecs(mut self, ecs: &crate::config::EcsSection) -> Result<Self, crate::Error> {
        let service = ecs
            .blue_service
            .as_ref()
            .map(|_| Input::BlueService)
            .or(ecs.green_service.as_ref().map(|_| Input::GreenService));
        let Some(cluster) = &ecs.cluster else {
            return match service {
                Some(input) => Err(crate::Error::invalid(
                    input,
                    crate::text!({given input}),
                    "a service is looked up in an ECS cluster, and none is named",
                    crate::text!("Name the cluster with ", {input Input::EcsCluster}),
                )),
                None => Ok(self),
            };
        };
        if let Some(asg) = [
            (Input::BlueAsg, &self.blue_asg),
            (Input::GreenAsg, &self.green_asg),
        ]
        .into_iter()
        .find_map(|(input, name)| name.as_ref().map(|_| input))
        {
            return Err(crate::Error::invalid(
                asg,
                crate::text!({given asg}, " and ", {given Input::EcsCluster}),
                "a color's capacity is either an Auto Scaling group or an ECS service",
                "Name one kind of capacity only",
            ));
        }
        if cluster.trim().is_empty() {
            return Err(crate::Error::invalid(
                Input::EcsCluster,
                crate::text!({given Input::EcsCluster}),
                "it is empty",
                "Name the cluster by its name or ARN",
            ));
        }
        self.ecs_cluster = Some(cluster.trim().to_string());
        self.blue_service = ecs.blue_service.clone();
        self.green_service = ecs.green_service.clone();
        Ok(self)
    }

    /// What a color's pool is: an ECS service or an Auto Scaling group.
    pub fn pool_kind(&self) -> crate::ports::PoolKind {
        if self.ecs_cluster.is_some() {
            crate::ports::PoolKind::EcsService
        } else {
            crate::ports::PoolKind::AutoScalingGroup
        }
    }
}

/// The test listener and the smoke check run through it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestTraffic {
    /// Which listener.
    pub listener: TestListener,
    /// GET this URL (through the test listener) and expect 2xx.
    pub smoke_url: Option<String>,
    /// How many GETs must pass.
    pub smoke_count: u32,
    /// How long each GET may take.
    #[serde(with = "crate::plan::strategy::secs")]
    pub smoke_timeout: Duration,
}

pub use crate::ports::{TestHeader, TestListener};

/// A duration from the file, named by its setting in errors.
fn duration(value: Option<&str>, key: Input) -> Result<Option<Duration>, crate::Error> {
    value
        .map(|v| {
            humantime::parse_duration(v.trim()).map_err(|e| {
                crate::Error::invalid(
                    key,
                    crate::text!({given key}, format!(" {v:?}")),
                    e.to_string(),
                    "Use a duration such as \"30s\", \"10m\" or \"1h\"",
                )
            })
        })
        .transpose()
}

impl Lifecycle {
    /// Builds the lifecycle from the `[autoscaling]`, `[hooks]` and `[test-traffic]` sections of
    /// `albflip.toml` (the CLI first lays its flags over them, so both read the same way). Keys are named
    /// as `section.key` in errors.
    pub fn from_config(
        autoscaling: &crate::config::AutoscalingSection,
        hooks: &crate::config::HooksSection,
        test: &crate::config::TestTrafficSection,
    ) -> Result<Lifecycle, crate::Error> {
        let capacity = CapacityPolicy {
            blue_asg: autoscaling.blue_asg.clone(),
            green_asg: autoscaling.green_asg.clone(),
            ecs_cluster: None,
            blue_service: None,
            green_service: None,
            discover: true,
            match_capacity: autoscaling.match_capacity,
            ready_timeout: duration(autoscaling.ready_timeout.as_deref(), Input::ReadyTimeout)?
                .unwrap_or(DEFAULT_READY_TIMEOUT),
            ready_poll: crate::capacity::Wait::DEFAULT_POLL,
            scale_down_delay: duration(
                autoscaling.scale_down_delay.as_deref(),
                Input::ScaleDownDelay,
            )?,
        };
        let parsed = hooks
            .run
            .iter()
            .flatten()
            .map(|h| {
                h.parse::<Hook>().map_err(|e| {
                    crate::Error::invalid(
                        Input::Hook,
                        crate::text!({given Input::Hook}, format!(" {h:?}")),
                        e.to_string(),
                        "Write hooks as STAGE=COMMAND",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hook_timeout =
            duration(hooks.timeout.as_deref(), Input::HookTimeout)?.unwrap_or(DEFAULT_HOOK_TIMEOUT);
        Ok(Lifecycle {
            capacity,
            hooks: parsed,
            hook_timeout,
            test_traffic: test_traffic(test)?,
            promotion_wait: None,
        })
    }

    /// The hooks of `stage`, in the order given.
    pub fn hooks_at(&self, stage: crate::hooks::Stage) -> impl Iterator<Item = &Hook> {
        self.hooks.iter().filter(move |h| h.stage == stage)
    }
}

fn test_traffic(
    test: &crate::config::TestTrafficSection,
) -> Result<Option<TestTraffic>, crate::Error> {
    if let Some(header) = &test.header {
        let listener = if test.listener_arn.is_some() {
            Some(Input::TestListenerArn)
        } else {
            test.listener_port.map(|_| Input::TestListenerPort)
        };
        if let Some(listener) = listener {
            return Err(crate::Error::invalid(
                Input::TestHeader,
                crate::text!({given Input::TestHeader}, " and ", {given listener}),
                "test traffic goes either to a test listener or, by a header, through the production listener",
                "Name one of them only",
            ));
        }
        let parsed = TestHeader::parse(header).map_err(|why| {
            crate::Error::invalid(
                Input::TestHeader,
                crate::text!({given Input::TestHeader}, format!(" {header:?}")),
                why,
                "Write it as NAME=VALUE, e.g. X-Albflip-Test=1",
            )
        })?;
        return Ok(Some(TestTraffic {
            listener: TestListener::Header(parsed),
            smoke_url: test.smoke_url.clone(),
            smoke_count: test.smoke_count.unwrap_or(1).max(1),
            smoke_timeout: duration(test.smoke_timeout.as_deref(), Input::SmokeTimeout)?
                .unwrap_or(DEFAULT_SMOKE_TIMEOUT),
        }));
    }
    let listener = match (&test.listener_arn, test.listener_port) {
        (Some(_), Some(_)) => {
            return Err(crate::Error::invalid(
                Input::TestListenerPort,
                crate::text!({given Input::TestListenerPort}, " and ", {given Input::TestListenerArn}),
                "both are set",
                "Name the test listener one way only",
            ))
        }
        (Some(arn), None) => TestListener::Arn(crate::config::checked_listener_arn(arn)?),
        (None, Some(port)) => TestListener::Port(port),
        (None, None) if test.smoke_url.is_some() => {
            return Err(crate::Error::invalid(
                Input::SmokeUrl,
                crate::text!({given Input::SmokeUrl}),
                "a smoke check runs through the test listener, and none is named",
                crate::text!(
                    "Name it with ",
                    {input Input::TestListenerPort},
                    " N or ",
                    {input Input::TestListenerArn},
                    " ARN"
                ),
            ))
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(TestTraffic {
        listener,
        smoke_url: test.smoke_url.clone(),
        smoke_count: test.smoke_count.unwrap_or(1).max(1),
        smoke_timeout: duration(test.smoke_timeout.as_deref(), Input::SmokeTimeout)?
            .unwrap_or(DEFAULT_SMOKE_TIMEOUT),
    }))
}
