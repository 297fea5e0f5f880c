//! `--notify URL` (repeatable; `ALBFLIP_NOTIFY`, `albflip.toml` `[notify] urls`): a JSON POST to each
//! URL when a deployment starts, passes a step, rolls back, completes or awaits promotion. Its `text`
//! field is a sentence for people, so a Slack incoming webhook takes it as it is; the other fields are
//! for machines. A notification that fails is a warning, never a failure of the run, and no URL is ever
//! printed (a webhook URL is a secret).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use albflip::aws::http::SdkHttp;
use albflip::events::{Event, Observer};
use albflip::Error;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The URLs to notify: the flags' (or `ALBFLIP_NOTIFY`'s), else the file's; each must be http(s).
pub fn urls(flags: &[String], file: Option<&Vec<String>>) -> Result<Vec<String>, Error> {
    let (urls, origin) = if flags.is_empty() {
        (
            file.cloned().unwrap_or_default(),
            "albflip.toml [notify] urls",
        )
    } else {
        (flags.to_vec(), "--notify")
    };
    for (i, url) in urls.iter().enumerate() {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let host = url.split_once("://").map_or("", |(_, rest)| rest);
        if !matches!(scheme.as_deref(), Some("http" | "https")) || host.is_empty() {
            return Err(Error::InvalidInput {
                what: format!("{origin} (URL number {})", i + 1),
                why:
                    "is not an http:// or https:// URL (not shown: a webhook URL may hold a token)"
                        .into(),
                fix: "Give the webhook's full URL, e.g. https://hooks.slack.com/services/…".into(),
            });
        }
    }
    Ok(urls)
}

/// Sends the notifications of one run.
pub struct Notifier {
    urls: Vec<String>,
    http: std::sync::Arc<SdkHttp>,
    sent: Mutex<Vec<JoinHandle<()>>>,
    /// The deployment's id and the last failure's reason, for the messages that follow.
    state: Mutex<(Option<String>, Option<String>)>,
}

impl Notifier {
    /// A notifier for `urls`; `None` when there are none.
    pub fn new(urls: Vec<String>) -> Option<Notifier> {
        (!urls.is_empty()).then(|| Notifier {
            urls,
            http: std::sync::Arc::new(SdkHttp::new()),
            sent: Mutex::new(Vec::new()),
            state: Mutex::new((None, None)),
        })
    }

    /// Waits for the notifications still under way (each has its own timeout).
    pub async fn finish(&self) {
        let sent = self.sent.lock().map(|mut s| std::mem::take(&mut *s));
        for task in sent.unwrap_or_default() {
            let _ = task.await;
        }
    }

    fn send(&self, body: Value, kind: &'static str) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let body = body.to_string();
        for (i, url) in self.urls.iter().enumerate() {
            let (http, url, body) = (self.http.clone(), url.clone(), body.clone());
            let task = handle.spawn(async move {
                let failed = match http.post_json(&url, &body, TIMEOUT).await {
                    Ok(status) if (200..300).contains(&status) => return,
                    Ok(status) => format!("it answered HTTP {status}"),
                    Err(albflip::ports::ProbeError::InvalidUrl(e)) => redact(&e, &url),
                    Err(albflip::ports::ProbeError::Failed(e)) => redact(&e, &url),
                };
                eprintln!(
                    "albflip: warning: notification {} ({kind}) was not delivered: {failed}; the deployment goes on",
                    i + 1
                );
            });
            if let Ok(mut sent) = self.sent.lock() {
                sent.push(task);
            }
        }
    }
}

/// `message` without `url` or its host (a webhook URL is a secret, and so may be its host's path).
fn redact(message: &str, url: &str) -> String {
    let host = url
        .split_once("://")
        .map_or("", |(_, rest)| rest.split(['/', '?']).next().unwrap_or(""));
    let mut out = message.replace(url, "<url>");
    if !host.is_empty() {
        out = out.replace(host, "<host>");
    }
    out
}

/// The notification of an event: its kind and its sentence; `None` for events nobody is told of.
fn message(
    event: &Event,
    id: Option<&str>,
    reason: Option<&str>,
) -> Option<(&'static str, String)> {
    let id = id.map(|i| format!(" {i}")).unwrap_or_default();
    Some(match event {
        Event::DeploymentStarted {
            route,
            target,
            stable,
            strategy,
            started_by,
            ..
        } => {
            let who = started_by
                .as_ref()
                .map(|w| format!(" by {w}"))
                .unwrap_or_default();
            (
                "started",
                format!(
                    "albflip: deployment{id} started{who}: {target} ({strategy}) on the {}; stable {stable}",
                    route_name(route)
                ),
            )
        }
        Event::StepPassed { step, percent } => (
            "step_passed",
            format!("albflip: deployment{id}: step {step} passed at {percent}%"),
        ),
        Event::RolledBack { to, .. } => (
            "rolled_back",
            format!(
                "albflip: deployment{id} ROLLED BACK: all traffic on {to} (verified){}",
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            ),
        ),
        Event::Completed { stable } => (
            "completed",
            format!("albflip: deployment{id} completed: {stable} is now stable"),
        ),
        Event::AwaitingPromotion { target, percent } => (
            "awaiting_promotion",
            format!(
                "albflip: deployment{id}: the canary passed; {target} at {percent}% awaits promotion (`albflip promote`, or `albflip rollback`)"
            ),
        ),
        Event::Interrupted { rolled_back, .. } => (
            "interrupted",
            format!(
                "albflip: deployment{id} interrupted; {}",
                if *rolled_back {
                    "traffic put back on the stable color"
                } else {
                    "traffic held where it was"
                }
            ),
        ),
        _ => return None,
    })
}

/// A route ARN as people read it.
fn route_name(route: &str) -> String {
    albflip::aws::route::RouteId::parse(route)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| route.to_string())
}

impl Observer for Notifier {
    fn on_event(&self, at: SystemTime, event: &Event) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match event {
            Event::DeploymentStarted {
                deployment_id: Some(id),
                ..
            } => state.0 = Some(id.clone()),
            Event::RollingBack { failure } => state.1 = Some(crate::naming::failure(failure)),
            _ => {}
        }
        let Some((kind, text)) = message(event, state.0.as_deref(), state.1.as_deref()) else {
            return;
        };
        let mut body = json!({
            "text": text,
            "event": kind,
            "deployment_id": state.0,
            "ts": humantime::format_rfc3339_millis(at).to_string(),
        });
        drop(state);
        if let (Some(obj), Value::Object(details)) =
            (body.as_object_mut(), crate::progress::json(at, event, None))
        {
            obj.insert("details".into(), Value::Object(details));
        }
        self.send(body, kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_taken_and_a_bad_one_is_not_printed() {
        assert!(urls(&["https://hooks.example/T/B/secret".into()], None).is_ok());
        let e = urls(&["hooks.example/T/B/secret".into()], None).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(e.to_string().contains("--notify"), "{e}");
        let file = vec!["ftp://x".to_string()];
        let e = urls(&[], Some(&file)).unwrap_err();
        assert!(e.to_string().contains("[notify]"), "{e}");
    }

    #[test]
    fn a_failure_never_shows_the_url_or_its_host() {
        let url = "http://127.0.0.1:9/T/B/secret";
        let m = redact(
            "error trying to connect to 127.0.0.1:9 for http://127.0.0.1:9/T/B/secret",
            url,
        );
        assert!(!m.contains("secret") && !m.contains("127.0.0.1:9"), "{m}");
    }
}
