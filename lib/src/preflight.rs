//! Pre-flight: everything albflip checks before it writes, as a list of verdicts a person can read
//! (`albflip check`). A provider runs its checks ([`crate::ports::Routes::preflight`]; the ALB's are in
//! `providers/aws/preflight.rs`) and reports them as [`Check`]s. The mutating commands check the same things where they apply (the routes'
//! agreement, the new color's health after its capacity is matched, the stickiness conversion, the
//! deployment state) and stop at the first failure, nothing written; that the target groups sit on no
//! other load balancer is `check`'s own, advisory verdict.

use serde::Serialize;

use crate::error::Error;

/// One pre-flight check and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `green health`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found, or why it failed and how to fix it.
    pub detail: crate::input::Text,
}

impl Check {
    /// A verdict: passed with what was found, or failed with the error.
    pub fn new(name: impl Into<String>, result: Result<String, Error>) -> Check {
        match result {
            Ok(detail) => Check {
                name: name.into(),
                passed: true,
                detail: detail.into(),
            },
            Err(e) => Check {
                name: name.into(),
                passed: false,
                detail: e.text(),
            },
        }
    }
}
