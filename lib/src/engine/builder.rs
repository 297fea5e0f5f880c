//! Building a [`DeploySpec`] in code ([`DeploySpec::builder`]) or from the `[strategy]` and `[gates]`
//! sections of `albflip.toml`, the configuration the CLI reads ([`DeploySpec::from_config`]).

use std::time::Duration;

use crate::config::{GatesSection, StrategySection};
use crate::engine::options::{DeployOptions, StrategyKind};
use crate::engine::spec::{DeploySpec, MetricWindow};
use crate::error::Error;
use crate::model::Color;
use crate::plan::{LatencyStatistic, NoDataPolicy, Strategy};

impl DeploySpec {
    /// A deployment to `target` as the `[strategy]` and `[gates]` sections of `albflip.toml` describe
    /// it, with the library's defaults for everything they leave out: what `albflip deploy --target
    /// TARGET` runs with that file and no flags.
    ///
    /// ```
    /// use albflip::config::FileConfig;
    /// use albflip::engine::DeploySpec;
    /// use albflip::model::Color;
    ///
    /// # fn main() -> Result<(), albflip::Error> {
    /// let text = "[strategy]\nsteps = [20, 50, 100]\nbake = \"5m\"\n[gates]\nmax-error-rate = 0.5\n";
    /// let file = FileConfig::parse(text, "albflip.toml".as_ref())?;
    /// let spec = DeploySpec::from_config(Color::Green, &file.strategy, &file.gates)?;
    /// assert_eq!(spec.plan.steps.len(), 3);
    /// assert_eq!(spec.plan.minimum_duration().as_secs(), 15 * 60);
    /// assert_eq!(spec.gates.max_error_rate, 0.005);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_config(
        target: Color,
        strategy: &StrategySection,
        gates: &GatesSection,
    ) -> Result<DeploySpec, Error> {
        DeployOptions::default().deploy_spec(target, strategy, gates)
    }

    /// A spec built in code, optionally over a configuration file's sections.
    ///
    /// ```
    /// use std::time::Duration;
    /// use albflip::engine::DeploySpec;
    /// use albflip::model::Color;
    /// use albflip::plan::{Steps, Strategy};
    ///
    /// # fn main() -> Result<(), albflip::Error> {
    /// let spec = DeploySpec::builder(Color::Green)
    ///     .strategy(Strategy::Gradual { steps: Steps::new(&[25, 50, 100])? })
    ///     .bake(Duration::from_secs(120))
    ///     .max_error_rate(0.5)
    ///     .alarm("shop-p99-latency")
    ///     .build()?;
    /// assert_eq!(spec.strategy, "gradual 25→50→100");
    /// assert_eq!(spec.gates.alarms, ["shop-p99-latency"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(target: Color) -> DeploySpecBuilder {
        DeploySpecBuilder {
            target,
            options: DeployOptions::default(),
            strategy_file: StrategySection::default(),
            gates_file: GatesSection::default(),
            lifecycle: super::lifecycle::Lifecycle::default(),
        }
    }
}

/// Builds a [`DeploySpec`] in code (see [`DeploySpec::builder`]). Setters not offered here are
/// reachable through [`DeploySpecBuilder::with`].
#[derive(Debug, Clone)]
pub struct DeploySpecBuilder {
    target: Color,
    options: DeployOptions,
    strategy_file: StrategySection,
    gates_file: GatesSection,
    lifecycle: super::lifecycle::Lifecycle,
}

impl DeploySpecBuilder {
    /// The strategy with its parameters (default gradual 10, 25, 50, 75, 100).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        let o = &mut self.options;
        match strategy {
            Strategy::Gradual { steps } => {
                o.strategy = Some(StrategyKind::Gradual);
                o.steps = Some(steps);
            }
            Strategy::Immediate => o.strategy = Some(StrategyKind::Immediate),
            Strategy::Canary {
                percentage,
                auto_promote,
            } => {
                o.strategy = Some(StrategyKind::Canary);
                o.canary_percentage = Some(percentage);
                o.auto_promote = Some(auto_promote);
            }
        }
        self
    }

    /// How long each step bakes (default 3 minutes; zero is refused unless [`Self::no_gates`]).
    pub fn bake(mut self, bake: Duration) -> Self {
        self.options.bake = Some(bake);
        self
    }

    /// Highest error rate (5XX and failed target connections) of the new color, in percent (default 1).
    pub fn max_error_rate(mut self, percent: f64) -> Self {
        self.options.max_error_rate = Some(percent);
        self
    }

    /// Requests the window must hold before the error rate is judged (default 50).
    pub fn min_requests(mut self, requests: u64) -> Self {
        self.options.min_requests = Some(requests);
        self
    }

    /// The latency gate: `statistic` of `TargetResponseTime` at most `max` (default p99 ≤ 1 s).
    pub fn max_latency(mut self, statistic: LatencyStatistic, max: Duration) -> Self {
        self.options.latency_statistic = Some(statistic);
        self.options.max_latency = Some(max);
        self
    }

    /// The most the new color's latency statistic may be as a multiple of the stable color's over the
    /// same window, a ratio above 1 (default 2: at most twice as slow).
    pub fn max_latency_increase(mut self, ratio: f64) -> Self {
        self.options.max_latency_increase = Some(ratio);
        self
    }

    /// A CloudWatch alarm that must not be in ALARM (repeatable).
    pub fn alarm(mut self, name: impl Into<String>) -> Self {
        self.options
            .alarms
            .get_or_insert_with(Vec::new)
            .push(name.into());
        self
    }

    /// What a poll without enough requests means (default wait).
    pub fn on_no_data(mut self, policy: NoDataPolicy) -> Self {
        self.options.on_no_data = Some(policy);
        self
    }

    /// How often the gates are polled (default 30 s).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.options.poll_interval = Some(every);
        self
    }

    /// The metrics window (default: the last 5 minutes ending 60 s ago, in 60 s periods).
    pub fn metric_window(mut self, window: MetricWindow) -> Self {
        self.options.metric_window = Some(window.window);
        self.options.metric_lag = Some(window.lag);
        self.options.metric_period = Some(window.period);
        self
    }

    /// A deliberately ungated deployment: no step bakes and no gate is read; the run says so and its
    /// record carries it.
    pub fn no_gates(mut self, no_gates: bool) -> Self {
        self.options.no_gates = no_gates;
        self
    }

    /// Start even when the new color has no healthy targets.
    pub fn force(mut self, force: bool) -> Self {
        self.options.force = force;
        self
    }

    /// Changes any of the [`DeployOptions`] in place.
    pub fn with(mut self, change: impl FnOnce(&mut DeployOptions)) -> Self {
        change(&mut self.options);
        self
    }

    /// Puts a configuration file's sections underneath: what the builder leaves unset comes from them.
    pub fn config(mut self, strategy: &StrategySection, gates: &GatesSection) -> Self {
        self.strategy_file = strategy.clone();
        self.gates_file = gates.clone();
        self
    }

    /// Auto Scaling, hooks and the test listener around the steps (see
    /// [`Lifecycle::from_config`](super::lifecycle::Lifecycle::from_config) to read them from the file).
    pub fn lifecycle(mut self, lifecycle: super::lifecycle::Lifecycle) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// The spec, or the first invalid value.
    pub fn build(&self) -> Result<DeploySpec, Error> {
        let spec = self
            .options
            .deploy_spec(self.target, &self.strategy_file, &self.gates_file)?;
        Ok(DeploySpec {
            lifecycle: self.lifecycle.clone(),
            ..spec
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Percent;

    fn sections(strategy: &str, gates: &str) -> (StrategySection, GatesSection) {
        let text = format!("[strategy]\n{strategy}\n[gates]\n{gates}\n");
        let file = crate::config::FileConfig::parse(&text, "albflip.toml".as_ref()).unwrap();
        (file.strategy, file.gates)
    }

    #[test]
    fn bad_values_are_named_where_they_came_from() {
        let (s, g) = sections("", "poll-interval = \"0s\"");
        let err = DeploySpec::from_config(Color::Green, &s, &g).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("albflip.toml [gates] poll-interval: must be above zero"),
            "{err}"
        );
        let err = DeploySpec::builder(Color::Green)
            .poll_interval(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(
            err.input(),
            Some(crate::input::Input::PollInterval),
            "{err}"
        );
        let (s, g) = sections("strategy = \"bluegreen\"", "");
        let err = DeploySpec::from_config(Color::Green, &s, &g).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(
            err.to_string()
                .contains("[strategy] strategy = \"bluegreen\""),
            "{err}"
        );
        let err = DeploySpec::builder(Color::Green)
            .max_error_rate(150.0)
            .build()
            .unwrap_err();
        assert_eq!(
            err.input(),
            Some(crate::input::Input::MaxErrorRate),
            "{err}"
        );
        assert!(err.to_string().contains(": 150"), "{err}");
    }

    #[test]
    fn a_zero_bake_is_refused_unless_the_gates_are_turned_off_deliberately() {
        let err = DeploySpec::builder(Color::Green)
            .bake(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(err.input(), Some(crate::input::Input::Bake), "{err}");
        assert!(err.to_string().contains("gates would be off"), "{err}");
        let (s, g) = sections("bake = \"0s\"", "");
        let err = DeploySpec::from_config(Color::Green, &s, &g).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("albflip.toml [strategy] bake 0s"),
            "{err}"
        );
        let spec = DeploySpec::builder(Color::Green)
            .no_gates(true)
            .build()
            .unwrap();
        assert!(spec.ungated && spec.plan.steps.iter().all(|s| s.bake.is_zero()));
        spec.check_judged().unwrap();
        let gated = DeploySpec {
            ungated: false,
            ..spec
        };
        assert!(
            gated.check_judged().is_err(),
            "a hand-made spec is checked too"
        );
    }

    #[test]
    fn a_canary_is_neither_0_nor_100_percent() {
        let canary = |p: u8| Strategy::Canary {
            percentage: Percent::new(p).unwrap(),
            auto_promote: false,
        };
        assert!(DeploySpec::builder(Color::Green)
            .strategy(canary(100))
            .build()
            .is_err());
        let spec = DeploySpec::builder(Color::Green)
            .strategy(canary(30))
            .build()
            .unwrap();
        assert_eq!(spec.plan.steps[0].percent.get(), 30);
    }
}
