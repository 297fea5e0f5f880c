//! The library's error type: every failure names the thing it is about and, where there is one, the fix.

use crate::model::{Color, Percent};
use crate::ports::ApiError;
use crate::route::{RouteId, RouteProblem};

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
    /// A color that would receive more traffic has no healthy targets.
    #[error("refusing to send {percent} to {color} ({target_group}): it has {healthy} healthy of {total} registered targets. Bring its targets up, or pass --force to shift anyway")]
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
    },
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
            | Error::State { .. }
            | Error::Aborted { .. } => ErrorKind::Runtime,
            Error::Conflict { .. } | Error::Drift { .. } => ErrorKind::Conflict,
            Error::RollbackFailed { .. } => ErrorKind::RollbackFailed,
            Error::WriteFailed { .. }
            | Error::VerificationFailed { .. }
            | Error::TagFailed { .. } => ErrorKind::WriteFailed,
        }
    }

    /// The API error behind this error, if there is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Read(e) | Error::WriteFailed { source: e, .. } => Some(e),
            Error::TagFailed { source, .. } => Some(source),
            Error::Aborted { cause, .. } => cause.api_error(),
            Error::RollbackFailed { rollback, .. } => rollback.api_error(),
            _ => None,
        }
    }

    /// Whether albflip may have changed something in AWS before failing.
    pub fn may_have_changed_aws(&self) -> bool {
        match self {
            // A write the backend refused (403, validation) changed nothing.
            Error::WriteFailed { source, .. } => !source.refused(),
            Error::RollbackFailed { rollback, .. } => rollback.may_have_changed_aws(),
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
