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
    /// The write of a new split failed. The route may or may not have changed; `albflip status` tells.
    #[error("writing the {route} failed: {source}. The weights may be unchanged or changed: run `albflip status` to see the live split")]
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
    #[error("traffic is now {split} (verified), but tagging {resource} with albflip:stable={color} failed: {source}")]
    TagFailed {
        /// The split now live.
        split: String,
        /// The resource that was to be tagged.
        resource: String,
        /// The stable color that was to be recorded.
        color: Color,
        /// The error.
        #[source]
        source: ApiError,
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
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } | Error::NotFound { .. } => ErrorKind::InvalidInput,
            Error::UnsupportedRoute { .. } | Error::Read(_) | Error::NoHealthyTargets { .. } => {
                ErrorKind::Runtime
            }
            Error::WriteFailed { .. }
            | Error::VerificationFailed { .. }
            | Error::TagFailed { .. } => ErrorKind::WriteFailed,
        }
    }

    /// Whether albflip may have changed something in AWS before failing.
    pub fn may_have_changed_aws(&self) -> bool {
        self.kind() == ErrorKind::WriteFailed
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
