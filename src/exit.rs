//! Exit codes (documented in the README and in `--help`), which outcome and which error maps to which,
//! and how a failed run is reported.

use albflip::engine::Outcome;
use albflip::ports::ApiErrorKind;
use albflip::{Error, ErrorKind};

use crate::args::OutputFormat;

pub const SUCCESS: u8 = 0;
pub const RUNTIME: u8 = 1;
pub const USAGE: u8 = 2;
pub const GATE_ROLLED_BACK: u8 = 3;
pub const CONFLICT: u8 = 4;
pub const INTERRUPTED: u8 = 130;
pub const ROLLBACK_FAILED: u8 = 5;

/// A failed run, with the endpoint it talked to (for the hint on an unreachable endpoint).
pub struct Failed {
    pub error: Box<Error>,
    pub endpoint: Option<String>,
    /// The region albflip searched, when known: a resource not found is named with it.
    pub region: Option<String>,
    /// What to check when the router was unreachable, for a router that is not AWS.
    pub hint: Option<String>,
}

impl Failed {
    /// A failure while talking to `endpoint` (when one was configured).
    pub fn at(error: Error, endpoint: Option<String>) -> Failed {
        Failed {
            error: Box::new(error),
            endpoint,
            region: None,
            hint: None,
        }
    }

    /// A failure on a router that is not AWS, with what to check when it was unreachable.
    pub fn on_router(error: Error, hint: Option<String>) -> Failed {
        Failed {
            error: Box::new(error),
            endpoint: None,
            region: None,
            hint,
        }
    }

    /// The same failure, in `region`.
    pub fn in_region(self, region: Option<String>) -> Failed {
        Failed { region, ..self }
    }
}

/// A resource not found, said with the region searched: the most common cause is another region.
fn with_region(message: String, e: &Error, region: Option<&str>) -> String {
    let not_found = matches!(e, Error::NotFound { .. })
        || e.api_error()
            .is_some_and(|a| a.kind == ApiErrorKind::NotFound);
    match region.filter(|_| not_found) {
        Some(r) => format!("{message} (searched in region {r})"),
        None => message,
    }
}

impl From<Error> for Failed {
    fn from(error: Error) -> Failed {
        Failed::at(error, None)
    }
}

/// The exit code of an error; a failed write during `rollback` is a failed rollback.
pub fn for_error(e: &Error, is_rollback: bool) -> u8 {
    match e.kind() {
        ErrorKind::InvalidInput => USAGE,
        ErrorKind::WriteFailed if is_rollback => ROLLBACK_FAILED,
        ErrorKind::RollbackFailed => ROLLBACK_FAILED,
        ErrorKind::Conflict => CONFLICT,
        _ => RUNTIME,
    }
}

/// The exit code of a run the engine finished.
pub fn for_outcome(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::RolledBack { .. } => GATE_ROLLED_BACK,
        Outcome::Interrupted { .. } => INTERRUPTED,
        _ => SUCCESS,
    }
}

/// The exit code of a deployment that ended in `phase`, as its own run exited (`albflip watch`).
pub fn for_phase(phase: albflip::state::Phase) -> u8 {
    use albflip::state::Phase;
    match phase {
        Phase::RolledBack => GATE_ROLLED_BACK,
        Phase::Interrupted => INTERRUPTED,
        _ => SUCCESS,
    }
}

/// The exit code of `albflip check`: 0 when every check passed, 1 when one failed.
pub fn for_check(passed: bool) -> u8 {
    if passed {
        SUCCESS
    } else {
        RUNTIME
    }
}

/// Reports an error on stderr (with a hint when AWS was unreachable), and as one JSON object on stdout
/// with `--output json`.
pub fn report(
    e: &Error,
    code: u8,
    output: OutputFormat,
    endpoint: Option<&str>,
    region: Option<&str>,
    hint: Option<&str>,
) {
    let changed = if e.may_have_changed_aws() {
        ""
    } else {
        " Nothing was changed."
    };
    let message = with_region(crate::naming::render(e), e, region);
    eprintln!("albflip: error: {message}.{changed}");
    let unreachable = e
        .api_error()
        .is_some_and(|a| matches!(a.kind, ApiErrorKind::Unreachable | ApiErrorKind::Timeout));
    if unreachable && hint.is_some() {
        eprintln!("albflip: hint: {}", hint.unwrap_or_default());
    } else if unreachable {
        match endpoint {
            Some(url) => eprintln!("albflip: hint: check that {url} is up and reachable; the endpoint comes from --endpoint-url, ALBFLIP_ENDPOINT_URL, AWS_ENDPOINT_URL or albflip.toml [aws] endpoint-url"),
            None => eprintln!("albflip: hint: check the network path to AWS (proxy, VPC endpoint, DNS) and the region (--region, AWS_REGION)"),
        }
    }
    if code == ROLLBACK_FAILED {
        eprintln!("albflip: THE ROLLBACK DID NOT COMPLETE. A human must act: check `albflip status` and fix the listener by hand.");
    }
    if output == OutputFormat::Json {
        let v = serde_json::json!({"error": {"message": message, "exit_code": code, "may_have_changed_aws": e.may_have_changed_aws()}});
        println!("{v}");
    }
}
