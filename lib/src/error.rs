//! The library's error type: every failure names the thing it is about and, where there is one, the fix.

pub use crate::input::{Input, Namer, Neutral, Next, Segment, Text};
use crate::model::{Color, Percent};
use crate::ports::ApiError;
use crate::providers::aws::route::{RouteId, RouteProblem};
use crate::text;

/// Everything that can go wrong in an albflip operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's input is invalid; nothing was read or written.
    #[error("{what}: {why}. {fix}")]
    InvalidInput {
        /// The input at fault (a flag, a config key, a value).
        what: String,
        /// What is wrong with it.
        why: String,
        /// How to fix it.
        fix: String,
    },
    /// A setting the library validates is invalid; nothing was read or written.
    #[error("{}", self.text())]
    Invalid {
        /// The setting at fault.
        input: Input,
        /// The value at fault, naming the setting (e.g. "the steps 10,5").
        what: Text,
        /// What is wrong with it.
        why: String,
        /// How to fix it.
        fix: Text,
    },
    /// Something the caller named does not exist.
    #[error("{}", self.text())]
    NotFound {
        /// What was looked for.
        what: Text,
        /// How to fix it.
        fix: Text,
    },
    /// The route exists but albflip will not shift it as it is.
    #[error("{}", self.text())]
    UnsupportedRoute {
        /// The route.
        route: RouteId,
        /// What is wrong with it.
        problem: RouteProblem,
        /// What to do about it.
        fix: Text,
    },
    /// A read failed; nothing was written.
    #[error("{0}")]
    Read(#[source] ApiError),
    /// The write of a new split failed. Unless AWS refused it outright, the route may or may not have
    /// changed; `albflip status` tells.
    #[error("{}", self.text())]
    WriteFailed {
        /// The route being written.
        route: String,
        /// The error.
        #[source]
        source: ApiError,
    },
    /// After a write, the live route is not what was written.
    #[error("{}", self.text())]
    VerificationFailed {
        /// The route.
        route: String,
        /// What was written.
        expected: String,
        /// What was found.
        found: String,
    },
    /// Traffic was moved and verified, but recording the stable color failed.
    #[error("{}", self.text())]
    TagFailed {
        /// The split now live.
        split: String,
        /// The resource that was to be tagged.
        resource: String,
        /// The stable color that was to be recorded.
        color: Color,
        /// The error.
        #[source]
        source: Box<ApiError>,
    },
    /// Another deployment or writer is in the way (a canary awaiting promotion, a deployment in progress).
    #[error("{}", self.text())]
    Conflict {
        /// What is in the way.
        what: String,
        /// What to do.
        fix: Text,
    },
    /// The run lost its deployment lease (taken over, or not renewable before it expired) after it had
    /// moved traffic: it held traffic where it was and wrote nothing more.
    #[error("{}", self.text())]
    LeaseLost {
        /// The step the run was at.
        step: usize,
        /// The split it left on the routes.
        split: String,
    },
    /// The live split is not what albflip last wrote: someone else changed the route.
    #[error("{}", self.text())]
    Drift {
        /// The route.
        route: String,
        /// What albflip expected.
        expected: String,
        /// What is live.
        found: String,
    },
    /// The routes that move in lockstep do not all carry the same split.
    #[error("{}", self.text())]
    RoutesDisagree {
        /// Each route with its split.
        routes: String,
    },
    /// A write or verification failed part-way through the routes of a step; the routes already
    /// written were put back.
    #[error("{}", self.text())]
    LockstepFailed {
        /// The failure, naming the route.
        cause: Box<Error>,
        /// The routes put back to where they were.
        restored: Vec<String>,
        /// The routes that could not be put back, with why.
        not_restored: Vec<String>,
    },
    /// Some routes could not be written (the rollback goes on past a failed route).
    #[error("{}", self.text())]
    RoutesFailed {
        /// The split written.
        split: String,
        /// The routes written.
        written: Vec<String>,
        /// The failures, each naming its route.
        failed: Vec<Text>,
    },
    /// The route is not in a state the command applies to (e.g. `promote` without a canary).
    #[error("{}", self.text())]
    State {
        /// What is wrong.
        what: Text,
        /// What to do.
        fix: Text,
    },
    /// A deployment stopped on an unexpected error after moving traffic; traffic was returned to the
    /// stable color.
    #[error("{}", self.text())]
    Aborted {
        /// What went wrong.
        cause: Box<Error>,
        /// The color traffic was returned to.
        stable: Color,
    },
    /// Putting traffic back on the stable color failed: a human must act.
    #[error("{}", self.text())]
    RollbackFailed {
        /// Why the rollback was started.
        cause: Text,
        /// Why it failed.
        rollback: Box<Error>,
    },
    /// A color that would receive more traffic has fewer healthy targets than required (none, by
    /// default).
    #[error("{}", self.text())]
    NoHealthyTargets {
        /// The color.
        color: Color,
        /// Its target group.
        target_group: String,
        /// The share it would get.
        percent: Percent,
        /// Healthy targets (0).
        healthy: u32,
        /// All registered targets.
        total: u32,
        /// Healthy targets required (`--min-healthy-hosts`, at least 1).
        needed: u32,
    },
    /// The new color's targets did not become healthy in time; no traffic was moved.
    #[error("{}", self.text())]
    NotReady {
        /// The Auto Scaling group.
        asg: String,
        /// The target group that was watched.
        target_group: String,
        /// Healthy targets at the last look.
        healthy: u32,
        /// Healthy targets wanted.
        wanted: u32,
        /// How long albflip waited, for people (e.g. `10m`).
        waited: String,
        /// Whether albflip raised the group's capacity before waiting.
        raised: bool,
    },
    /// Resizing an Auto Scaling group failed.
    #[error("resizing the {asg} Auto Scaling group to {capacity} failed: {source}")]
    ScalingFailed {
        /// The Auto Scaling group.
        asg: String,
        /// The sizes that were to be written, for people.
        capacity: String,
        /// The error.
        #[source]
        source: Box<ApiError>,
    },
    /// A color was to be scaled down but a route still sends it traffic.
    #[error("{}", self.text())]
    ScaleDownRefused {
        /// The Auto Scaling group.
        asg: String,
        /// Its target group.
        target_group: String,
        /// The route that still sends it traffic.
        route: RouteId,
        /// The target group's weight there (`None`: the only group, unweighted).
        weight: String,
    },
    /// Recording a group's capacity (the tag `albflip rollback` scales it back up from) failed, so the
    /// group was not scaled down.
    #[error("{}", self.text())]
    CapacityRecordFailed {
        /// The Auto Scaling group.
        asg: String,
        /// The tag that was to be written, `KEY=VALUE`.
        record: String,
        /// The listener or rule that was to carry it.
        resource: String,
        /// The error.
        #[source]
        source: Box<ApiError>,
    },
    /// Traffic was rolled back with group stickiness released, but recording the setting it had (so the
    /// next shift or deployment writes it back) failed.
    #[error("{}", self.text())]
    StickinessRecordFailed {
        /// The route whose setting was released.
        route: RouteId,
        /// The setting it had.
        setting: crate::model::Stickiness,
        /// The error.
        #[source]
        source: Box<ApiError>,
    },
    /// A lifecycle hook failed (non-zero exit, timeout, or it could not be started).
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The smoke check failed.
    #[error(transparent)]
    Smoke(#[from] crate::smoke::SmokeError),
}

impl Error {
    /// The message, with its inputs and next steps as references; `Display` shows it neutrally.
    pub fn text(&self) -> Text {
        use Input as I;
        use Next as N;
        match self {
            Error::InvalidInput { what, why, fix } => text!(format!("{what}: {why}. {fix}")),
            Error::Invalid { what, why, fix, .. } => what
                .clone()
                .then(text!(format!(": {why}. ")))
                .then(fix.clone()),
            Error::NotFound { what, fix } => what.clone().lit(" not found. ").then(fix.clone()),
            Error::UnsupportedRoute {
                route,
                problem,
                fix,
            } => text!(format!("cannot shift the {route}: {problem}. ")).then(fix.clone()),
            Error::Conflict { what, fix } => text!(format!("{what}. ")).then(fix.clone()),
            Error::LeaseLost { step, split } => text!(
                format!("the deployment lock was lost at step {step} (taken over by another run, or not renewable before it expired): traffic is held at {split} and albflip wrote nothing more, since another run may own the route now. Run "),
                {next N::Status},
                " to see the live split and the recorded deployment; if this deployment's traffic must go, run ",
                {next N::Rollback}
            ),
            Error::State { what, fix } => what.clone().lit(". ").then(fix.clone()),
            Error::WriteFailed { route, source } => {
                let t = text!(format!("writing the {route} failed: {source}"));
                if source.refused() {
                    t
                } else {
                    t.then(text!(
                        ". The weights may be unchanged or changed: run ",
                        {next N::Status},
                        " to see the live split"
                    ))
                }
            }
            Error::VerificationFailed {
                route,
                expected,
                found,
            } => text!(
                format!("the {route} does not show what albflip wrote: wrote {expected}, found {found}. Run "),
                {next N::Status},
                " and check for another writer"
            ),
            Error::TagFailed {
                split,
                resource,
                color,
                source,
            } => text!(
                format!("traffic is now {split} (verified), but recording albflip's tags (stable color {color}, deployment state) on {resource} failed: {source}. "),
                {next N::Status},
                " shows what is recorded"
            ),
            Error::Drift {
                route,
                expected,
                found,
            } => text!(
                format!("drift on the {route}: albflip expected {expected} but the live split is {found}; someone else changed it. albflip stopped without writing (weights and records as they were). Check who changed it; then "),
                {next N::Rollback},
                " returns traffic to the stable color and records the deployment as rolled back, or ",
                {next N::Resume},
                " with ",
                {input I::AdoptDrift},
                " continues from the live split"
            ),
            Error::RoutesDisagree { routes } => text!(
                format!("the routes that forward to blue and green do not carry the same split ({routes}). albflip moves them in lockstep and stopped without writing. "),
                {next N::Rollback},
                " puts every route on the stable color; ",
                {input I::SingleRoute},
                " limits albflip to the named route"
            ),
            Error::LockstepFailed {
                cause,
                restored,
                not_restored,
            } => {
                let t = cause.text().then(text!(". ", restored_text(restored)));
                if not_restored.is_empty() {
                    t
                } else {
                    t.then(text!(
                        format!(". COULD NOT PUT BACK: {}; run ", not_restored.join("; ")),
                        {next N::Rollback}
                    ))
                }
            }
            Error::RoutesFailed {
                split,
                written,
                failed,
            } => text!(format!(
                "{split} was written on {} of {} routes; failed: ",
                written.len(),
                written.len() + failed.len()
            ))
            .then(Text::join(failed, "; "))
            .then(text!(
                ". Run ",
                {next N::Rollback},
                " again, or ",
                {next N::Status},
                " to see each route"
            )),
            Error::Aborted { cause, stable } => text!("the deployment stopped: ")
                .then(cause.text())
                .then(text!(format!(
                    ". Traffic was returned to {stable} and verified"
                ))),
            Error::RollbackFailed { cause, rollback } => text!("ROLLBACK FAILED: ")
                .then(rollback.text())
                .then(text!("; it was started because: "))
                .then(cause.clone()),
            Error::NoHealthyTargets {
                color,
                target_group,
                percent,
                healthy,
                total,
                needed,
            } => {
                let mut t = text!(format!("refusing to send {percent} to {color} ({target_group}): it has {healthy} healthy of {total} registered targets"));
                if *needed > 1 {
                    t = t.then(text!(format!(", fewer than the {needed} "), {input I::MinHealthyHosts}, " asks for"));
                }
                t.then(
                    text!(". Bring its targets up, or pass ", {input I::Force}, " to shift anyway"),
                )
            }
            Error::NotReady {
                asg,
                target_group,
                healthy,
                wanted,
                waited,
                raised,
            } => {
                let mut t = text!(format!("the {asg} Auto Scaling group is not ready: its target group {target_group} has {healthy} of {wanted} healthy targets after {waited}; no traffic was moved"));
                if *raised {
                    t = t.lit(format!(
                        " (its desired capacity was raised to {wanted} and stays there)"
                    ));
                }
                t.then(text!(". Check its instances (launch failures, failing health checks) or raise ", {input I::ReadyTimeout}))
            }
            Error::ScaleDownRefused {
                asg,
                target_group,
                route,
                weight,
            } => text!(
                format!("refusing to scale the {asg} Auto Scaling group down: the {route} still gives its target group {target_group} weight {weight}. Run "),
                {next N::Status},
                "; scale down only once the color has weight 0 on every route"
            ),
            Error::CapacityRecordFailed {
                asg,
                record,
                resource,
                source,
            } => text!(
                format!("recording the capacity of the {asg} Auto Scaling group ({record}) on {resource} failed: {source}. The group was not scaled down: without the record "),
                {next N::Rollback},
                " could not scale it back up"
            ),
            Error::StickinessRecordFailed {
                route,
                setting,
                source,
            } => text!(
                format!("traffic was rolled back with the group stickiness of the {route} turned off so that sticky clients leave the old color, but recording the setting it had ({setting}) failed: {source}. Turn it back on by hand when the route is healthy again (`aws elbv2 modify-listener` or `modify-rule` with TargetGroupStickinessConfig Enabled=true,DurationSeconds={})", setting.duration_seconds.unwrap_or(1)),
            ),
            Error::Smoke(e) => e.text(),
            other => text!(other.to_string()),
        }
    }

    /// The message with the caller's names for inputs and next steps.
    pub fn render(&self, namer: &dyn Namer) -> String {
        self.text().render(namer)
    }

    /// The setting an invalid-input error concerns.
    pub fn input(&self) -> Option<Input> {
        match self {
            Error::Invalid { input, .. } => Some(*input),
            _ => None,
        }
    }
}

fn restored_text(restored: &[String]) -> String {
    if restored.is_empty() {
        "No other route had been changed".into()
    } else {
        format!("Put back as they were: {}", restored.join("; "))
    }
}

impl From<crate::plan::strategy::InvalidSteps> for Error {
    /// Invalid steps given in code, e.g. `Steps::new(&[50, 25, 100])?`.
    fn from(e: crate::plan::strategy::InvalidSteps) -> Self {
        Error::invalid(
            Input::Steps,
            text!({given Input::Steps}),
            e.to_string(),
            "Give strictly increasing percentages from 1 to 100 ending at 100",
        )
    }
}

impl Error {
    pub(crate) fn conflict(what: impl Into<String>, fix: impl Into<Text>) -> Self {
        Error::Conflict {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// The classes of [`Error`], which the CLI maps to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input; nothing changed.
    InvalidInput,
    /// A runtime failure (AWS, state) before anything was written; nothing changed.
    Runtime,
    /// A write or its verification failed: the live state may differ from what was intended.
    WriteFailed,
    /// Another deployment, or a change by someone else, is in the way; nothing was written.
    Conflict,
    /// Traffic could not be put back on the stable color: a human must act.
    RollbackFailed,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } | Error::Invalid { .. } | Error::NotFound { .. } => {
                ErrorKind::InvalidInput
            }
            Error::UnsupportedRoute { .. }
            | Error::Read(_)
            | Error::NoHealthyTargets { .. }
            | Error::NotReady { .. }
            | Error::ScalingFailed { .. }
            | Error::CapacityRecordFailed { .. }
            | Error::Hook(_)
            | Error::Smoke(_)
            | Error::State { .. }
            | Error::Aborted { .. } => ErrorKind::Runtime,
            Error::Conflict { .. }
            | Error::LeaseLost { .. }
            | Error::Drift { .. }
            | Error::RoutesDisagree { .. }
            | Error::ScaleDownRefused { .. } => ErrorKind::Conflict,
            Error::LockstepFailed { cause, .. } => cause.kind(),
            Error::RollbackFailed { .. } => ErrorKind::RollbackFailed,
            Error::WriteFailed { .. }
            | Error::VerificationFailed { .. }
            | Error::TagFailed { .. }
            | Error::StickinessRecordFailed { .. }
            | Error::RoutesFailed { .. } => ErrorKind::WriteFailed,
        }
    }

    /// The API error behind this error, if there is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Read(e) | Error::WriteFailed { source: e, .. } => Some(e),
            Error::ScalingFailed { source, .. } | Error::CapacityRecordFailed { source, .. } => {
                Some(source)
            }
            Error::TagFailed { source, .. } | Error::StickinessRecordFailed { source, .. } => {
                Some(source)
            }
            Error::Aborted { cause, .. } | Error::LockstepFailed { cause, .. } => cause.api_error(),
            Error::RollbackFailed { rollback, .. } => rollback.api_error(),
            _ => None,
        }
    }

    /// Whether albflip may have changed something in AWS before failing.
    pub fn may_have_changed_aws(&self) -> bool {
        match self {
            // A write the backend refused (403, validation) changed nothing.
            Error::WriteFailed { source, .. } => !source.refused(),
            Error::ScalingFailed { source, .. } => !source.refused(),
            Error::NotReady { raised, .. } => *raised,
            // A rollback is only ever started after traffic moved.
            Error::RollbackFailed { .. } => true,
            // Every route written was read back as it was before, or put back.
            Error::LockstepFailed { not_restored, .. } => !not_restored.is_empty(),
            Error::Aborted { .. } | Error::Drift { .. } | Error::LeaseLost { .. } => true,
            other => other.kind() == ErrorKind::WriteFailed,
        }
    }

    /// An invalid value of a setting: `what` names the value (usually `{given input}` and the value).
    pub(crate) fn invalid(
        input: Input,
        what: impl Into<Text>,
        why: impl Into<String>,
        fix: impl Into<Text>,
    ) -> Self {
        Error::Invalid {
            input,
            what: what.into(),
            why: why.into(),
            fix: fix.into(),
        }
    }

    /// An invalid input named in words (a config file key, a value), with no setting to point at.
    pub(crate) fn invalid_text(
        what: impl Into<String>,
        why: impl Into<String>,
        fix: impl Into<Text>,
    ) -> Self {
        Error::InvalidInput {
            what: what.into(),
            why: why.into(),
            fix: fix.into().to_string(),
        }
    }
}
