//! `albflip watch`: follows the deployment the route records, read-only, until it ends; exits with its
//! outcome. Each look is printed: lines for people, or one JSON object per look.

use std::time::SystemTime;

use albflip::aws::CloudWatch;
use albflip::engine::{Engine, WatchReport};
use albflip::error::Text;
use albflip::input::Next;
use albflip::ports::TokioClock;
use albflip::Error;

use super::common::{emit, Session};
use crate::args::{GlobalArgs, OutputFormat, WatchArgs};
use crate::settings::Settings;
use crate::{exit, render, spec};

/// Looks every poll interval until the recorded deployment ends (or once, with `--once`).
pub async fn run(a: &WatchArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let spec = spec::watch(a, &settings.file.strategy, &settings.file.gates)?;
    let session = Session::open(None, &settings, g).await?;
    let metrics = CloudWatch::new(&session.config, session.calls.clone());
    let clock = TokioClock::new();
    let engine = Engine::new(&session.alb, &metrics, &clock, &albflip::events::Ignore);
    loop {
        let report = engine.watch(&settings.target, &spec).await?;
        let followed = following(&report, a.deployment_id.as_deref())?;
        if followed {
            emit(&look(&report, g.output), g);
        }
        if let (true, Some(phase)) = (followed, report.ended()) {
            return Ok(exit::for_phase(phase));
        }
        if a.once {
            return Ok(exit::SUCCESS);
        }
        tokio::time::sleep(spec.policy.poll_interval).await;
    }
}

/// Whether the report shows the deployment to follow: any recorded one, or the one named by
/// `--deployment-id` (not yet recorded: wait; replaced by another: exit 4).
fn following(report: &WatchReport, id: Option<&str>) -> Result<bool, Error> {
    let Some(record) = &report.record else {
        return match id {
            Some(_) => Ok(false),
            None => Err(Error::State {
                what: format!("no deployment is recorded on the {}", report.route).into(),
                fix: albflip::text!("Nothing to watch; ", {next Next::Status}, " shows the route"),
            }),
        };
    };
    match id {
        None => Ok(true),
        Some(id) if record.id == id => Ok(true),
        // A record written before the named deployment started (it is still starting): wait.
        Some(id) if record.id.as_str() < id => Ok(false),
        Some(id) => Err(Error::Conflict {
            what: format!(
                "the {} records deployment {}, started after {id}",
                report.route, record.id
            ),
            fix: Text::from("The deployment named has been replaced on the route; watch the new one without an id"),
        }),
    }
}

/// One look as the output format wants it.
fn look(report: &WatchReport, output: OutputFormat) -> String {
    match output {
        OutputFormat::Json => {
            let mut v = serde_json::to_value(report).unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                obj.insert(
                    "ts".into(),
                    humantime::format_rfc3339_millis(SystemTime::now())
                        .to_string()
                        .into(),
                );
                if let Some(phase) = report.ended() {
                    obj.insert("exit_code".into(), exit::for_phase(phase).into());
                }
            }
            format!("{v}\n")
        }
        OutputFormat::Text => render::watch_text(report, SystemTime::now()),
    }
}
