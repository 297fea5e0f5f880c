//! Inputs and next steps as typed values, so messages name them without assuming a CLI.
//!
//! A library error refers to the setting it concerns as an [`Input`] and to an operation the person can
//! run next as a [`Next`]. A message made of such references is a [`Text`]; its `Display` is neutral
//! ("the blue target group"), and [`Text::render`] lets a caller name them its own way through a
//! [`Namer`] (the albflip CLI names `Input::BlueTargetGroup` `--blue`, or `ALBFLIP_BLUE` when the value
//! came from there).

use std::fmt;

/// A setting the library validates or refers to in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input {
    /// The color to deploy.
    TargetColor,
    /// The blue target group.
    BlueTargetGroup,
    /// The green target group.
    GreenTargetGroup,
    /// The load balancer whose listener is shifted.
    LoadBalancer,
    /// The listener port.
    Port,
    /// The environment of the naming convention.
    Environment,
    /// The application of the naming convention.
    Application,
    /// The listener ARN.
    ListenerArn,
    /// The listener rule ARN.
    RuleArn,
    /// An extra route to move in lockstep.
    IncludeRoute,
    /// Another load balancer's blue/green pair that moves with the route.
    Pair,
    /// Limiting albflip to the named route.
    SingleRoute,
    /// The AWS region.
    Region,
    /// The AWS profile.
    Profile,
    /// The AWS endpoint URL.
    EndpointUrl,
    /// The configuration file.
    ConfigFile,
    /// The deployment strategy.
    Strategy,
    /// The traffic steps.
    Steps,
    /// The canary percentage.
    CanaryPercentage,
    /// How often the gates are polled.
    PollInterval,
    /// The metric window.
    MetricWindow,
    /// The metric period.
    MetricPeriod,
    /// The maximum error rate.
    MaxErrorRate,
    /// The maximum increase of the error rate over the stable color.
    MaxErrorRateIncrease,
    /// The most the latency may be as a multiple of the stable color's.
    MaxLatencyIncrease,
    /// Which judge decides a step.
    Judge,
    /// The sequential judge's confidence.
    Confidence,
    /// What a gate does without data.
    OnNoData,
    /// The CloudWatch alarms to watch.
    Alarm,
    /// The minimum of healthy targets.
    MinHealthyHosts,
    /// The blue Auto Scaling group.
    BlueAsg,
    /// The green Auto Scaling group.
    GreenAsg,
    /// How long a canary (or a pause) waits for promotion.
    WaitForPromotion,
    /// What a wait for promotion does on its timeout.
    OnTimeout,
    /// The ECS cluster whose services are the colors' capacity.
    EcsCluster,
    /// The blue ECS service.
    BlueService,
    /// The green ECS service.
    GreenService,
    /// Matching the new color's capacity to the old one's.
    MatchCapacity,
    /// Not matching capacity.
    NoMatchCapacity,
    /// How long to wait for the new color's targets.
    ReadyTimeout,
    /// The delay before the old color is scaled down.
    ScaleDownDelay,
    /// The test listener port.
    TestListenerPort,
    /// The test listener ARN.
    TestListenerArn,
    /// The header that marks test traffic on the production listener.
    TestHeader,
    /// The smoke check URL.
    SmokeUrl,
    /// The smoke check timeout.
    SmokeTimeout,
    /// The lifecycle hooks.
    Hook,
    /// The hook timeout.
    HookTimeout,
    /// Shifting without the health check.
    Force,
    /// Continuing a recorded deployment instead of starting one.
    Resume,
    /// Continuing from a live split someone else changed.
    AdoptDrift,
    /// How long each step bakes under the gates.
    Bake,
    /// A deliberately ungated deployment.
    NoGates,
    /// A manual shift taking the route over from a deployment in flight.
    TakeOver,
    /// Consecutive failing periods that fail a step.
    FailureThreshold,
    /// The id of one deployment (a rollback limited to it).
    DeploymentId,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Input::*;
        f.write_str(match self {
            TargetColor => "the target color",
            BlueTargetGroup => "the blue target group",
            GreenTargetGroup => "the green target group",
            LoadBalancer => "the load balancer",
            Port => "the listener port",
            Environment => "the environment",
            Application => "the application",
            ListenerArn => "the listener ARN",
            RuleArn => "the rule ARN",
            IncludeRoute => "the included routes",
            Pair => "the load balancer pairs",
            SingleRoute => "the single-route option",
            Region => "the AWS region",
            Profile => "the AWS profile",
            EndpointUrl => "the endpoint URL",
            ConfigFile => "the configuration file",
            Strategy => "the strategy",
            Steps => "the steps",
            CanaryPercentage => "the canary percentage",
            PollInterval => "the poll interval",
            MetricWindow => "the metric window",
            MetricPeriod => "the metric period",
            MaxErrorRate => "the maximum error rate",
            MaxErrorRateIncrease => "the maximum error rate increase",
            MaxLatencyIncrease => "the maximum latency increase",
            Judge => "the judge",
            Confidence => "the confidence",
            OnNoData => "the no-data policy",
            Alarm => "the alarms",
            MinHealthyHosts => "the minimum of healthy hosts",
            BlueAsg => "the blue Auto Scaling group",
            GreenAsg => "the green Auto Scaling group",
            WaitForPromotion => "the wait for promotion",
            OnTimeout => "what the wait does on its timeout",
            EcsCluster => "the ECS cluster",
            BlueService => "the blue ECS service",
            GreenService => "the green ECS service",
            MatchCapacity => "capacity matching",
            NoMatchCapacity => "turning capacity matching off",
            ReadyTimeout => "the ready timeout",
            ScaleDownDelay => "the scale-down delay",
            TestListenerPort => "the test listener port",
            TestListenerArn => "the test listener ARN",
            TestHeader => "the test header",
            SmokeUrl => "the smoke check URL",
            SmokeTimeout => "the smoke check timeout",
            Hook => "the hook",
            HookTimeout => "the hook timeout",
            Force => "the force option",
            Resume => "resuming",
            AdoptDrift => "adopting the drift",
            Bake => "the bake",
            NoGates => "turning the gates off",
            TakeOver => "taking over",
            FailureThreshold => "the failure threshold",
            DeploymentId => "the deployment id",
        })
    }
}

/// An operation the person can run next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Next {
    /// Read the live split and the recorded state.
    Status,
    /// Put traffic back on the stable color.
    Rollback,
    /// Resume the recorded deployment.
    Resume,
    /// Start a new deployment.
    Deploy,
    /// Start a canary deployment.
    DeployCanary,
    /// Deploy to the given color.
    DeployTo(crate::model::Color),
    /// Promote the canary.
    Promote,
    /// Scale the old color down.
    Cleanup,
    /// Release the lock by force.
    ForceUnlock,
    /// Shift traffic by hand.
    Shift,
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Next::DeployTo(color) = self {
            return write!(f, "a deployment to {color}");
        }
        f.write_str(match self {
            Next::Status => "a status read",
            Next::Rollback => "a rollback",
            Next::Resume => "a resumed deployment",
            Next::Deploy => "a deployment",
            Next::DeployCanary => "a canary deployment",
            Next::DeployTo(_) => "a deployment",
            Next::Promote => "a promotion",
            Next::Cleanup => "a cleanup",
            Next::ForceUnlock => "a forced unlock",
            Next::Shift => "a shift",
        })
    }
}

/// A piece of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment {
    /// Plain words.
    Literal(String),
    /// A setting, named as the place to set it (in advice: "name them with ...").
    Input(Input),
    /// A setting, named as where the person gave its value (the subject of an error).
    Given(Input),
    /// An operation to run next.
    Next(Next),
}

/// Names inputs and next steps for a caller; `None` keeps the neutral name.
pub trait Namer {
    /// The name of an input as the place to set it.
    fn input(&self, input: &Input) -> Option<String> {
        let _ = input;
        None
    }
    /// The name of an input as where its value was given; by default as [`Namer::input`].
    fn given(&self, input: &Input) -> Option<String> {
        self.input(input)
    }
    /// The name of a next step.
    fn next(&self, next: &Next) -> Option<String> {
        let _ = next;
        None
    }
}

/// The neutral namer: every name as its `Display`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neutral;

impl Namer for Neutral {}

/// A message that refers to inputs and next steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Vec<Segment>);

impl Text {
    /// An empty text.
    pub fn new() -> Text {
        Text(Vec::new())
    }
    /// Appends words.
    pub fn lit(mut self, s: impl Into<String>) -> Text {
        self.0.push(Segment::Literal(s.into()));
        self
    }
    /// Appends an input, named as the place to set it.
    pub fn input(mut self, i: Input) -> Text {
        self.0.push(Segment::Input(i));
        self
    }
    /// Appends an input, named as where its value was given.
    pub fn given(mut self, i: Input) -> Text {
        self.0.push(Segment::Given(i));
        self
    }
    /// Appends a next step.
    pub fn next(mut self, n: Next) -> Text {
        self.0.push(Segment::Next(n));
        self
    }
    /// Appends another text.
    pub fn then(mut self, t: Text) -> Text {
        self.0.extend(t.0);
        self
    }
    /// The texts one after another, `separator` between them.
    pub fn join(texts: &[Text], separator: &str) -> Text {
        let mut out = Text::new();
        for (i, t) in texts.iter().enumerate() {
            if i > 0 {
                out = out.lit(separator);
            }
            out = out.then(t.clone());
        }
        out
    }
    /// The inputs this text refers to.
    pub fn inputs(&self) -> impl Iterator<Item = &Input> {
        self.0.iter().filter_map(|s| match s {
            Segment::Input(i) | Segment::Given(i) => Some(i),
            _ => None,
        })
    }
    /// The text with the caller's names.
    pub fn render(&self, namer: &dyn Namer) -> String {
        // Each segment named by the caller, else neutrally.
        let mut out = String::new();
        for s in &self.0 {
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Input(i) => out.push_str(&namer.input(i).unwrap_or_else(|| i.to_string())),
                Segment::Given(i) => out.push_str(&namer.given(i).unwrap_or_else(|| i.to_string())),
                Segment::Next(n) => out.push_str(&namer.next(n).unwrap_or_else(|| n.to_string())),
            }
        }
        out
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Neutral))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new().lit(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::new().lit(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::new().lit(s.clone())
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Builds a [`Text`]: string literals and expressions as words, `{input X}` / `{given X}` / `{next X}`
/// as references, e.g. `text!("Name them with ", {input Input::BlueAsg}, " and ", {input Input::GreenAsg})`.
#[macro_export]
macro_rules! text {
    (@acc $t:expr $(,)?) => { $t };
    (@acc $t:expr, {input $i:expr} $(, $($rest:tt)*)?) => { $crate::text!(@acc $t.input($i) $(, $($rest)*)?) };
    (@acc $t:expr, {given $i:expr} $(, $($rest:tt)*)?) => { $crate::text!(@acc $t.given($i) $(, $($rest)*)?) };
    (@acc $t:expr, {next $n:expr} $(, $($rest:tt)*)?) => { $crate::text!(@acc $t.next($n) $(, $($rest)*)?) };
    (@acc $t:expr, $l:expr $(, $($rest:tt)*)?) => { $crate::text!(@acc $t.lit($l) $(, $($rest)*)?) };
    ($($rest:tt)*) => { $crate::text!(@acc $crate::input::Text::new(), $($rest)*) };
}

impl Input {
    /// The target group of a color.
    pub fn target_group(color: crate::model::Color) -> Input {
        match color {
            crate::model::Color::Blue => Input::BlueTargetGroup,
            crate::model::Color::Green => Input::GreenTargetGroup,
        }
    }
    /// The Auto Scaling group of a color.
    pub fn asg(color: crate::model::Color) -> Input {
        match color {
            crate::model::Color::Blue => Input::BlueAsg,
            crate::model::Color::Green => Input::GreenAsg,
        }
    }
}
