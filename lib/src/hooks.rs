//! Lifecycle hooks: shell commands run at fixed stages of a deployment (`--hook STAGE=COMMAND`). A hook
//! runs as `sh -c COMMAND` with variables describing the deployment ([`HookContext::env`]) added to the
//! environment, stdout and stderr captured together (the last [`OUTPUT_LIMIT`] bytes), and a timeout
//! after which it is killed with everything it started. A non-zero exit or a timeout is a
//! [`HookError`]; before or during a step the engine treats it like a failed gate.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use albflip::hooks::{self, Hook};
//! let hook: Hook = "before-step=./check-db.sh".parse()?;
//! let done = hooks::run(&hook, &[("ALBFLIP_PERCENT".into(), "10".into())], std::time::Duration::from_secs(60)).await?;
//! println!("{}", done.output);
//! # Ok(()) }
//! ```

use std::fmt;
use std::process::Stdio;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// How much of a hook's output is kept: the last 4 KiB.
pub const OUTPUT_LIMIT: usize = 4096;

/// The stages of a deployment at which hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Before anything is changed.
    BeforeDeploy,
    /// After the new color answered on the test listener.
    AfterTestTraffic,
    /// Before each step's weights are written.
    BeforeStep,
    /// After each step's weights are written and verified.
    AfterStep,
    /// After the deployment completed.
    AfterDeploy,
    /// After traffic went back to the stable color.
    AfterRollback,
}

impl Stage {
    /// Every stage, in the order a deployment reaches them.
    pub const ALL: [Stage; 6] = [
        Stage::BeforeDeploy,
        Stage::AfterTestTraffic,
        Stage::BeforeStep,
        Stage::AfterStep,
        Stage::AfterDeploy,
        Stage::AfterRollback,
    ];

    /// The kebab-case name used on the command line and in `albflip.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::BeforeDeploy => "before-deploy",
            Stage::AfterTestTraffic => "after-test-traffic",
            Stage::BeforeStep => "before-step",
            Stage::AfterStep => "after-step",
            Stage::AfterDeploy => "after-deploy",
            Stage::AfterRollback => "after-rollback",
        }
    }

    fn valid_names() -> String {
        Stage::ALL.map(Stage::as_str).join(", ")
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = HookParseError;

    fn from_str(s: &str) -> Result<Stage, HookParseError> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s.trim())
            .ok_or_else(|| HookParseError::UnknownStage {
                given: s.to_string(),
                valid: Stage::valid_names(),
            })
    }
}

/// A hook: a shell command for a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    /// When it runs.
    pub stage: Stage,
    /// What runs (with `sh -c`).
    pub command: String,
}

impl FromStr for Hook {
    type Err = HookParseError;

    /// Parses `STAGE=COMMAND`, e.g. `after-step=curl -fsS http://localhost/health`.
    fn from_str(s: &str) -> Result<Hook, HookParseError> {
        let (stage, command) = s.split_once('=').ok_or_else(|| HookParseError::Shape {
            given: s.to_string(),
            valid: Stage::valid_names(),
        })?;
        let stage = stage.parse()?;
        if command.trim().is_empty() {
            return Err(HookParseError::EmptyCommand { stage });
        }
        Ok(Hook {
            stage,
            command: command.to_string(),
        })
    }
}

/// Why a hook specification could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HookParseError {
    /// It is not `STAGE=COMMAND`.
    #[error("hook {given:?} is not STAGE=COMMAND. Write it as e.g. before-step=./check.sh; the stages are {valid}")]
    Shape {
        /// What was given.
        given: String,
        /// The valid stages.
        valid: String,
    },
    /// The stage is not one albflip knows.
    #[error("unknown hook stage {given:?}. Use one of {valid}")]
    UnknownStage {
        /// What was given.
        given: String,
        /// The valid stages.
        valid: String,
    },
    /// Nothing follows the `=`.
    #[error("the {stage} hook has an empty command. Write the command after the '='")]
    EmptyCommand {
        /// The stage.
        stage: Stage,
    },
}

/// What the deployment looks like when a hook runs; [`HookContext::env`] turns it into `ALBFLIP_*`
/// variables. Unknown values are left out of the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookContext {
    /// The stage (`ALBFLIP_STAGE`).
    pub stage: Option<Stage>,
    /// The new color (`ALBFLIP_TARGET`).
    pub target: Option<crate::model::Color>,
    /// The stable color (`ALBFLIP_STABLE`).
    pub stable: Option<crate::model::Color>,
    /// The new color's share at this step (`ALBFLIP_PERCENT`).
    pub percent: Option<u8>,
    /// The 1-based step (`ALBFLIP_STEP`).
    pub step: Option<usize>,
    /// Steps in the run (`ALBFLIP_STEPS`).
    pub steps: Option<usize>,
    /// The listener (`ALBFLIP_LISTENER_ARN`).
    pub listener_arn: Option<String>,
    /// The route: the listener or the rule (`ALBFLIP_ROUTE_ARN`).
    pub route_arn: Option<String>,
    /// The deployment id (`ALBFLIP_DEPLOYMENT_ID`).
    pub deployment_id: Option<String>,
}

impl HookContext {
    /// The environment variables for a hook.
    pub fn env(&self) -> Vec<(String, String)> {
        let fields: [(&str, Option<String>); 9] = [
            ("ALBFLIP_STAGE", self.stage.map(|s| s.to_string())),
            ("ALBFLIP_TARGET", self.target.map(|c| c.to_string())),
            ("ALBFLIP_STABLE", self.stable.map(|c| c.to_string())),
            ("ALBFLIP_PERCENT", self.percent.map(|p| p.to_string())),
            ("ALBFLIP_STEP", self.step.map(|s| s.to_string())),
            ("ALBFLIP_STEPS", self.steps.map(|s| s.to_string())),
            ("ALBFLIP_LISTENER_ARN", self.listener_arn.clone()),
            ("ALBFLIP_ROUTE_ARN", self.route_arn.clone()),
            ("ALBFLIP_DEPLOYMENT_ID", self.deployment_id.clone()),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect()
    }
}

/// A hook that ran to the end with exit status 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRun {
    /// The hook.
    pub hook: Hook,
    /// Its exit code (`None` when a signal ended it).
    pub exit_code: Option<i32>,
    /// The last [`OUTPUT_LIMIT`] bytes of stdout and stderr together, as text.
    pub output: String,
    /// Whether earlier output was dropped.
    pub truncated: bool,
    /// How long it ran.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Why a hook failed. Each variant keeps what the hook printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// `sh` could not be started.
    #[error(
        "the {stage} hook `{command}` could not be started: {reason}. Check that `sh` is on PATH"
    )]
    Spawn {
        /// The stage.
        stage: Stage,
        /// The command.
        command: String,
        /// The operating system's words.
        reason: String,
    },
    /// It ended with a non-zero status or was killed by a signal.
    #[error("the {} hook `{}` failed ({}){}", .0.hook.stage, .0.hook.command, exit_text(.0.exit_code), output_text(&.0.output))]
    Failed(Box<HookRun>),
    /// It did not finish in time and was killed.
    #[error("the {} hook `{}` did not finish within {} and was killed{}. Make it faster or raise its timeout", .0.hook.stage, .0.hook.command, crate::duration::human(.0.elapsed), output_text(&.0.output))]
    TimedOut(Box<HookRun>),
    /// The run was interrupted while it ran, and it was killed.
    #[error("the {} hook `{}` was stopped after {} because the run was interrupted{}", .0.hook.stage, .0.hook.command, crate::duration::human(.0.elapsed), output_text(&.0.output))]
    Interrupted(Box<HookRun>),
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or_else(
        || "killed by a signal".to_string(),
        |c| format!("exit status {c}"),
    )
}

fn output_text(output: &str) -> String {
    let output = output.trim_end();
    if output.is_empty() {
        String::new()
    } else {
        format!("; its output:\n{output}\n")
    }
}

/// Runs `hook` with `sh -c`, the variables `env` added to albflip's environment, and at most `timeout`.
/// Exit status 0 is `Ok`; anything else is a [`HookError`] holding the output. On timeout the hook's
/// whole process group is killed.
pub async fn run(
    hook: &Hook,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<HookRun, HookError> {
    run_until(
        hook,
        env,
        timeout,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
}

/// How a hook's process ended.
enum End {
    Exited(Option<i32>),
    TimedOut,
    Cancelled,
}

/// [`run`], and also stopped (its whole process group killed) as soon as `cancel` is cancelled: a
/// deployment interrupted by a signal does not wait for a hook to finish.
pub async fn run_until(
    hook: &Hook,
    env: &[(String, String)],
    timeout: Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<HookRun, HookError> {
    let started = Instant::now();
    let mut child = spawn(hook, env)?;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let reader = child
        .stdout
        .take()
        .map(|out| tokio::spawn(read_into(out, Arc::clone(&tail))));
    let end = tokio::select! {
        status = child.wait() => End::Exited(status.ok().and_then(|s| s.code())),
        _ = tokio::time::sleep(timeout) => End::TimedOut,
        _ = cancel.cancelled() => End::Cancelled,
    };
    if !matches!(end, End::Exited(_)) {
        kill_group(&mut child).await;
    }
    if let Some(reader) = reader {
        // Output still held open by a process that left the group must not hold albflip up.
        let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
    }
    let (output, truncated) = tail.lock().map(|t| t.text()).unwrap_or_default();
    let done = HookRun {
        hook: hook.clone(),
        exit_code: match end {
            End::Exited(code) => code,
            _ => None,
        },
        output,
        truncated,
        elapsed: started.elapsed(),
    };
    match end {
        End::TimedOut => Err(HookError::TimedOut(Box::new(done))),
        End::Cancelled => Err(HookError::Interrupted(Box::new(done))),
        End::Exited(Some(0)) => Ok(done),
        End::Exited(_) => Err(HookError::Failed(Box::new(done))),
    }
}

fn spawn(hook: &Hook, env: &[(String, String)]) -> Result<Child, HookError> {
    // `exec 2>&1` first: stderr joins stdout in one pipe, so the output keeps its order.
    Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1\n{}", hook.command))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| HookError::Spawn {
            stage: hook.stage,
            command: hook.command.clone(),
            reason: e.to_string(),
        })
}

/// Kills the hook and everything it started (its process group), then reaps it.
async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals a process group and touches no memory. The group
        // is the hook's own: it was spawned with `process_group(0)` and is not yet reaped.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill().await;
}

/// The last [`OUTPUT_LIMIT`] bytes seen.
#[derive(Debug, Default)]
struct Tail {
    bytes: Vec<u8>,
    dropped: bool,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > OUTPUT_LIMIT {
            let cut = self.bytes.len() - OUTPUT_LIMIT;
            self.bytes.drain(..cut);
            self.dropped = true;
        }
    }

    fn text(&self) -> (String, bool) {
        (
            String::from_utf8_lossy(&self.bytes).into_owned(),
            self.dropped,
        )
    }
}

async fn read_into(mut out: tokio::process::ChildStdout, tail: Arc<Mutex<Tail>>) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = out.read(&mut buf).await {
        if n == 0 {
            return;
        }
        if let Ok(mut t) = tail.lock() {
            t.push(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests;
