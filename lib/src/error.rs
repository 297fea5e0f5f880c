//! The library's error type: every failure names the thing it is about and, where there is one, the fix.

use crate::model::{Color, Percent};
use crate::ports::ApiError;
use crate::providers::aws::route::{RouteId, RouteProblem};

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
    /// Something the caller named does not exist.
    #[error("{what} not found. {fix}")]
    NotFound {
        /// What was looked for.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// The route exists but albflip will not shift it as it is.
    #[error("cannot shift the {route}: {problem}. {fix}")]
    UnsupportedRoute {
        /// The route.
        route: RouteId,
        /// What is wrong with it.
        problem: RouteProblem,
        /// What to do about it.
        fix: String,
    },
    /// A read failed; nothing was written.
    #[error("{0}")]
    Read(#[source] ApiError),
    /// The write of a new split failed. Unless AWS refused it outright, the route may or may not have
    /// changed; `albflip status` tells.
    #[error("writing the {route} failed: {source}{}", if source.refused() { "" } else { ". The weights may be unchanged or changed: run `albflip status` to see the live split" })]
    WriteFailed {
        /// The route being written.
        route: RouteId,
        /// The error.
        #[source]
        source: ApiError,
    },
    /// After a write, the live route is not what was written.
    #[error("the {route} does not show what albflip wrote: wrote {expected}, found {found}. Run `albflip status` and check for another writer")]
    VerificationFailed {
        /// The route.
        route: RouteId,
        /// What was written.
        expected: String,
        /// What was found.
        found: String,
    },
    /// Traffic was moved and verified, but recording the stable color failed.
    #[error("traffic is now {split} (verified), but recording albflip's tags (stable color {color}, deployment state) on {resource} failed: {source}. `albflip status` shows what is recorded")]
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
    #[error("{what}. {fix}")]
    Conflict {
        /// What is in the way.
        what: String,
        /// What to do.
        fix: String,
    },
    /// The live split is not what albflip last wrote: someone else changed the route.
    #[error("drift on the {route}: albflip expected {expected} but the live split is {found}; someone else changed it. albflip stopped without writing. Check who changed it; then `albflip deploy --resume` continues from the live split, or `albflip rollback` returns traffic to the stable color")]
    Drift {
        /// The route.
        route: RouteId,
        /// What albflip expected.
        expected: String,
        /// What is live.
        found: String,
    },
    /// The routes that move in lockstep do not all carry the same split.
    #[error("the routes that forward to blue and green do not carry the same split ({routes}). albflip moves them in lockstep and stopped without writing. `albflip rollback` puts every route on the stable color; --single-route limits albflip to the named route")]
    RoutesDisagree {
        /// Each route with its split.
        routes: String,
    },
    /// A write or verification failed part-way through the routes of a step; the routes already
    /// written were put back.
    #[error("{cause}. {}{}", restored_text(.restored), not_restored_text(.not_restored))]
    LockstepFailed {
        /// The failure, naming the route.
        cause: Box<Error>,
        /// The routes put back to where they were.
        restored: Vec<String>,
        /// The routes that could not be put back, with why.
        not_restored: Vec<String>,
    },
    /// Some routes could not be written (the rollback goes on past a failed route).
    #[error("{split} was written on {} of {} routes; failed: {}. Run `albflip rollback` again, or `albflip status` to see each route", written.len(), written.len() + failed.len(), failed.join("; "))]
    RoutesFailed {
        /// The split written.
        split: String,
        /// The routes written.
        written: Vec<String>,
        /// The failures, each naming its route.
        failed: Vec<String>,
    },
    /// The route is not in a state the command applies to (e.g. `promote` without a canary).
    #[error("{what}. {fix}")]
    State {
        /// What is wrong.
        what: String,
        /// What to do.
        fix: String,
    },
    /// A deployment stopped on an unexpected error after moving traffic; traffic was returned to the
    /// stable color.
    #[error("the deployment stopped: {cause}. Traffic was returned to {stable} and verified")]
    Aborted {
        /// What went wrong.
        cause: Box<Error>,
        /// The color traffic was returned to.
        stable: Color,
    },
    /// Putting traffic back on the stable color failed: a human must act.
    #[error("ROLLBACK FAILED: {rollback}; it was started because: {cause}")]
    RollbackFailed {
        /// Why the rollback was started.
        cause: String,
        /// Why it failed.
        rollback: Box<Error>,
    },
    /// A color that would receive more traffic has fewer healthy targets than required (none, by
    /// default).
    #[error("refusing to send {percent} to {color} ({target_group}): it has {healthy} healthy of {total} registered targets{}. Bring its targets up, or pass --force to shift anyway", if *.needed > 1 { format!(", fewer than the {needed} --min-healthy-hosts asks for") } else { String::new() })]
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
    #[error("the {asg} Auto Scaling group is not ready: its target group {target_group} has {healthy} of {wanted} healthy targets after {waited}; no traffic was moved{}. Check its instances (launch failures, failing health checks) or raise --ready-timeout", if *.raised { format!(" (its desired capacity was raised to {wanted} and stays there)") } else { String::new() })]
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
    #[error("refusing to scale the {asg} Auto Scaling group down: the {route} still gives its target group {target_group} weight {weight}. Run `albflip status`; scale down only once the color has weight 0 on every route")]
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
    #[error("recording the capacity of the {asg} Auto Scaling group ({record}) on {resource} failed: {source}. The group was not scaled down: without the record `albflip rollback` could not scale it back up")]
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
    /// A lifecycle hook failed (non-zero exit, timeout, or it could not be started).
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The smoke check failed.
    #[error(transparent)]
    Smoke(#[from] crate::smoke::SmokeError),
}

fn restored_text(restored: &[String]) -> String {
    if restored.is_empty() {
        "No other route had been changed".into()
    } else {
        format!("Put back as they were: {}", restored.join("; "))
    }
}

fn not_restored_text(not_restored: &[String]) -> String {
    if not_restored.is_empty() {
        String::new()
    } else {
        format!(
            ". COULD NOT PUT BACK: {}; run `albflip rollback`",
            not_restored.join("; ")
        )
    }
}

impl From<crate::plan::strategy::InvalidSteps> for Error {
    /// Invalid steps given in code, e.g. `Steps::new(&[50, 25, 100])?`.
    fn from(e: crate::plan::strategy::InvalidSteps) -> Self {
        Error::invalid(
            "steps",
            e.to_string(),
            "Give strictly increasing percentages from 1 to 100 ending at 100",
        )
    }
}

impl Error {
    pub(crate) fn conflict(what: impl Into<String>, fix: impl Into<String>) -> Self {
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
            Error::InvalidInput { .. } | Error::NotFound { .. } => ErrorKind::InvalidInput,
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
            | Error::Drift { .. }
            | Error::RoutesDisagree { .. }
            | Error::ScaleDownRefused { .. } => ErrorKind::Conflict,
            Error::LockstepFailed { cause, .. } => cause.kind(),
            Error::RollbackFailed { .. } => ErrorKind::RollbackFailed,
            Error::WriteFailed { .. }
            | Error::VerificationFailed { .. }
            | Error::TagFailed { .. }
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
            Error::TagFailed { source, .. } => Some(source),
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
            Error::Aborted { .. } | Error::Drift { .. } => true,
            other => other.kind() == ErrorKind::WriteFailed,
        }
    }

    pub(crate) fn invalid(
        what: impl Into<String>,
        why: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            what: what.into(),
            why: why.into(),
            fix: fix.into(),
        }
    }
}
