//! `albflip check`: the pre-flight checks and the gates evaluated once now; changes nothing. Exit 0
//! when all pass, 1 when one fails.

use albflip::aws::{AwsPools, CloudWatch};
use albflip::engine::Engine;
use albflip::ports::TokioClock;
use albflip::Error;

use super::common::{emit, Session};
use crate::args::{DeployArgs, GlobalArgs, OutputFormat};
use crate::settings::Settings;
use crate::{exit, render, spec};

/// Validates the spec, runs the checks and prints the verdicts.
pub async fn run(a: &DeployArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let spec = spec::deploy(a, &settings.file.strategy, &settings.file.gates)?;
    let session = Session::open(Some(&a.lifecycle), &settings, g).await?;
    let spec = session.with_lifecycle(spec);
    let metrics = CloudWatch::new(&session.config, session.calls.clone());
    let clock = TokioClock::new();
    let scaler = AwsPools::new(
        &session.config,
        session.calls.clone(),
        &session.lifecycle.capacity,
    );
    let engine =
        Engine::new(&session.alb, &metrics, &clock, &albflip::events::Ignore).with_scaler(&scaler);
    let report = engine.check(&settings.target, &spec).await?;
    let text = match g.output {
        OutputFormat::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            crate::naming::json::check(&mut v, &report.checks);
            // The verdict at the top, as the exit code says it: a pipeline reads one field.
            if let Some(obj) = v.as_object_mut() {
                let passed = report.passed();
                obj.insert("passed".into(), passed.into());
                obj.insert(
                    "verdict".into(),
                    if passed { "ready" } else { "not_ready" }.into(),
                );
            }
            format!("{v}\n")
        }
        OutputFormat::Text => render::check_text(&report, crate::paint::Paint::stdout(g.output)),
    };
    emit(&text, g);
    Ok(exit::for_check(report.passed()))
}
