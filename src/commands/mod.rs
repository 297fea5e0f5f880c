//! One file per subcommand, each with a `run` that `main.rs` calls:
//!
//! - `status.rs`: `albflip status`, the route and its split.
//! - `shift.rs`: `albflip shift`, a plain shift, or a gated one (`--bake`) through the engine.
//! - `rollback.rs`: `albflip rollback`, scaling a cleaned-up color back up first.
//! - `cleanup.rs`: `albflip cleanup`, the old color's Auto Scaling group to zero.
//! - `deploy.rs`: `albflip deploy`, and `--resume`, `--dry-run` (the plan).
//! - `promote.rs`: `albflip promote`, a canary to 100 %.
//! - `plan.rs`: `albflip plan`, also the dry runs of `deploy` and `promote`.
//! - `check.rs`: `albflip check`, the pre-flight and the gates once.
//! - `config.rs`: `albflip config`, the resolved settings and their origins (no AWS).
//! - `unlock.rs`: `albflip unlock`, the lock's holder, or breaking it.
//! - `history.rs`: `albflip history`, the route's last deployments (and the entry a run adds).
//! - `watch.rs`: `albflip watch`, a deployment run elsewhere followed read-only.
//! - `iam_policy.rs`: `albflip iam-policy`, the least-privilege policy.
//! - `completions.rs`, `man.rs`: shell integration (no AWS).
//!
//! `common.rs` holds what they share: the AWS session, printing a result, and the engine runner of
//! `deploy`, `promote` and a gated `shift`.

pub mod check;
pub mod cleanup;
pub mod common;
pub mod completions;
pub mod config;
pub mod deploy;
pub mod history;
pub mod iam_policy;
pub mod man;
pub mod plan;
pub mod promote;
pub mod rollback;
pub mod shift;
pub mod status;
pub mod unlock;
pub mod watch;
