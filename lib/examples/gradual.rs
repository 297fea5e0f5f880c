//! A gradual deployment through the library, against AWS or the local emulator: the spec from
//! `albflip.toml` (the file the CLI reads) with the steps from the command line on top, every event
//! printed as one JSON line, and Ctrl-C cancelling the run, which puts traffic back on the stable color
//! as `albflip deploy` does on SIGINT.
//!
//! ```text
//! ./demo.sh    # or: localstack/start && localstack/create-stack --environment demo --application shop
//! AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
//! ALBFLIP_ENDPOINT_URL=http://127.0.0.1:4566 \
//!   cargo run -p albflip --example gradual -- --environment demo --application shop \
//!     [--listener-arn ARN] [--target green] [--steps 25,50,100] [--config albflip.toml] [--endpoint-url URL]
//! ```
//!
//! Without `--config`, `./albflip.toml` is read when present; without a file, the library's defaults
//! apply (gradual 10→25→50→75→100, 3-minute bakes, CloudWatch gates). The route comes from
//! `--listener-arn`, `--environment`/`--application`, or the file's `[target]`. Exit status: 0 completed,
//! 3 rolled back by a gate, 130 interrupted, 1 any error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use albflip::aws::arn::ListenerArn;
use albflip::aws::resolve::{RouteSpec, Target};
use albflip::aws::{self, AwsSettings, CallCounter, CloudWatch, ElbV2, SdkConfig};
use albflip::config::FileConfig;
use albflip::engine::{CancellationToken, DeploySpec, Engine, OnInterrupt, Outcome};
use albflip::events::{Event, Observer};
use albflip::model::Color;
use albflip::plan::{Steps, Strategy};
use albflip::ports::TokioClock;
use albflip::Error;

/// Prints every event as one JSON line: `{"at": "2025-…Z", "event": "step_started", …}`.
pub struct PrintEvents;

impl Observer for PrintEvents {
    fn on_event(&self, at: SystemTime, event: &Event) {
        let mut line = serde_json::to_value(event).unwrap_or_default();
        line["at"] = humantime::format_rfc3339_seconds(at).to_string().into();
        println!("{line}");
    }
}

/// The spec: the file's `[strategy]` and `[gates]` (or the defaults), with `steps` (e.g. `25,50,100`)
/// on top when given.
pub fn spec(to: Color, steps: Option<&str>, file: &FileConfig) -> Result<DeploySpec, Error> {
    let mut builder = DeploySpec::builder(to).config(&file.strategy, &file.gates);
    if let Some(list) = steps {
        let steps = Steps::parse(list)?;
        builder = builder.strategy(Strategy::Gradual { steps });
    }
    builder.build()
}

/// Runs the deployment of `spec` on `target` with the AWS adapters of `config`, reporting to
/// `observer`. Cancelling `cancel` (from any task) stops the run at the next poll or step boundary and
/// puts traffic back on the stable color (verified); the outcome is then [`Outcome::Interrupted`].
pub async fn run(
    config: &SdkConfig,
    target: &Target,
    spec: &DeploySpec,
    cancel: CancellationToken,
    observer: &dyn Observer,
) -> Result<Outcome, Error> {
    let calls = CallCounter::default();
    let alb = ElbV2::new(config, calls.clone());
    let metrics = CloudWatch::new(config, calls);
    let clock = TokioClock::new();
    Engine::new(&alb, &metrics, &clock, observer)
        .with_cancellation(cancel, OnInterrupt::Rollback)
        .with_identity("gradual-example")
        .deploy(target, spec)
        .await
}

/// The command line.
#[derive(Debug, Default)]
struct Args {
    listener_arn: Option<String>,
    convention: (Option<String>, Option<String>),
    target: Option<String>,
    steps: Option<String>,
    config: Option<PathBuf>,
    endpoint_url: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listener-arn" => args.listener_arn = Some(value),
            "--environment" => args.convention.0 = Some(value),
            "--application" => args.convention.1 = Some(value),
            "--target" => args.target = Some(value),
            "--steps" => args.steps = Some(value),
            "--config" => args.config = Some(value.into()),
            "--endpoint-url" => args.endpoint_url = Some(value),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// The route: `--listener-arn`, else `--environment`/`--application`, else the file's `[target]`.
fn route(args: &Args, file: &FileConfig) -> Result<Target, Error> {
    match (&args.listener_arn, &args.convention) {
        (Some(arn), _) => Ok(Target::new(RouteSpec::Listener(
            ListenerArn::parse(arn).map_err(|e| Error::InvalidInput {
                what: "--listener-arn".into(),
                why: e.to_string(),
                fix: "Pass a listener ARN".into(),
            })?,
        ))),
        (None, (Some(e), Some(a))) => Ok(Target::from_convention(e, a, 80)),
        _ => file.target.target(),
    }
}

/// Everything `main` needs before it can run: AWS, the route and the spec.
async fn prepare(args: &Args) -> Result<(SdkConfig, Target, DeploySpec), Error> {
    let (file, _) = FileConfig::load(args.config.as_deref(), Path::new("."))?;
    let to: Color = args.target.as_deref().unwrap_or("green").parse().map_err(
        |e: albflip::model::UnknownColor| Error::InvalidInput {
            what: "--target".into(),
            why: e.to_string(),
            fix: "Pass blue or green".into(),
        },
    )?;
    let spec = spec(to, args.steps.as_deref(), &file)?;
    let target = route(args, &file)?;
    let endpoint_url = args
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("ALBFLIP_ENDPOINT_URL").ok())
        .or(file.aws.endpoint_url.clone());
    let settings = AwsSettings {
        endpoint_url,
        ..file.aws.settings()
    };
    Ok((aws::load_config(&settings).await?, target, spec))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("gradual: {e}");
            return ExitCode::from(2);
        }
    };
    let (config, target, spec) = match prepare(&args).await {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("gradual: {e}");
            return ExitCode::from(2);
        }
    };
    // Ctrl-C cancels the run from another task; the engine then puts traffic back on the stable color.
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    match run(&config, &target, &spec, cancel, &PrintEvents).await {
        Ok(outcome) => {
            println!("{}", serde_json::json!({ "outcome": outcome }));
            ExitCode::from(match outcome {
                Outcome::Completed { .. } => 0,
                Outcome::RolledBack { .. } => 3,
                Outcome::Interrupted { .. } => 130,
                _ => 1,
            })
        }
        Err(e) => {
            eprintln!("gradual: {e}");
            ExitCode::from(1)
        }
    }
}
