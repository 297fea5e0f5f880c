//! `albflip unlock`: who holds the route's deployment lock (holder, since when, expiry), or that nobody
//! does; with `--force`, break a stale one (after confirmation). Shared with the routers on this host.

use albflip::aws::DynamoLock;
use albflip::ports::{LeaseHolder, Lock};
use albflip::Error;
use serde_json::json;

use super::common::{emit, Session};
use crate::args::{GlobalArgs, OutputFormat, UnlockArgs};
use crate::settings::Settings;
use crate::{exit, locking};

/// Shows the lock's holder, or breaks the lock with `--force`.
pub async fn run(a: &UnlockArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let session = Session::open(None, &settings, g).await?;
    let Some(table) = locking::lock_table(&session.alb, &session.config, &settings).await else {
        return Err(Error::InvalidInput {
            what: "unlock".into(),
            why: "no lock table is configured".into(),
            fix: "Pass --lock-table NAME (or ALBFLIP_LOCK_TABLE, or [lock] table in albflip.toml)"
                .into(),
        });
    };
    let key = locking::lock_key(&session.alb, &settings).await?;
    let lock = DynamoLock::new(&session.config, &table, session.calls.clone());
    show_or_break(&lock, &key, a, g)
        .await
        .map_err(|e| locking::missing_table(e, &table))
}

/// The whole of `unlock` over any lock (the ALB's DynamoDB table, a local router's lock file): shows
/// the holder, or with `--force` breaks the lease shown, after confirmation, and only that lease (a
/// renewal or a new run's lease taken while the prompt waited is a conflict, exit 4).
pub async fn show_or_break<L: Lock>(
    lock: &L,
    key: &str,
    a: &UnlockArgs,
    g: &GlobalArgs,
) -> Result<u8, Error> {
    let current = albflip::lock::holder(lock, key).await?;
    let (Some(current), true) = (&current, a.force) else {
        emit(&shown(key, current.as_ref(), g.output), g);
        return Ok(exit::SUCCESS);
    };
    confirmed(a, key, &holder_text(current), confirm)?;
    if albflip::lock::force_release(lock, key, current).await? {
        emit(&broken(key, current, g.output), g);
    } else {
        emit(&shown(key, None, g.output), g);
    }
    Ok(exit::SUCCESS)
}

/// The holder in words: `HOLDER since SINCE (expires EXPIRES)`.
fn holder_text(h: &LeaseHolder) -> String {
    format!("{} since {} (expires {})", h.holder, h.since, h.expires)
}

/// Who holds the lock on `key`, or that nobody does, in the output format.
fn shown(key: &str, current: Option<&LeaseHolder>, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => format!(
            "{}\n",
            json!({"command": "unlock", "lock": key, "held": current.is_some(), "holder": current, "broken": false})
        ),
        OutputFormat::Text => match current {
            None => format!("No lock is held on {key}.\n"),
            Some(h) => format!(
                "The lock on {key} is held by {}\n  since   {}\n  expires {} (unless its run renews it)\nIf that run is dead, `albflip unlock --force` breaks the lock.\n",
                h.holder, h.since, h.expires
            ),
        },
    }
}

/// A lock broken by `--force`, in the output format.
fn broken(key: &str, was: &LeaseHolder, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => format!(
            "{}\n",
            json!({"command": "unlock", "lock": key, "held": false, "holder": was, "broken": true})
        ),
        OutputFormat::Text => format!("Broke the lock on {key} held by {}.\n", holder_text(was)),
    }
}

/// Breaking the lock needs `--yes` or a `y` at the prompt `ask` puts (false: no terminal, or not `y`).
fn confirmed(
    a: &UnlockArgs,
    key: &str,
    who: &str,
    ask: impl FnOnce(&str) -> bool,
) -> Result<(), Error> {
    if !a.yes && !ask(&format!("Break the lock on {key} held by {who}? [y/N] ")) {
        return Err(Error::InvalidInput {
            what: "unlock --force".into(),
            why: format!("not confirmed: the lock on {key} is held by {who}"),
            fix: "If that run is dead, answer y at the prompt, or pass --yes in a non-interactive run"
                .into(),
        });
    }
    Ok(())
}

/// Asks on the terminal; false when stdin is not a terminal.
fn confirm(question: &str) -> bool {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> LeaseHolder {
        LeaseHolder {
            holder: "jenkins@ci (pid 42)".into(),
            since: "2026-11-29T20:00:00Z".into(),
            expires: "2026-11-29T20:02:00Z".into(),
            expires_at: None,
            version: 3,
        }
    }

    fn force(yes: bool) -> UnlockArgs {
        UnlockArgs { force: true, yes }
    }

    /// Review of issue 21: the one confirmation both the ALB and the local routers use: `--yes`
    /// skips the prompt; without it, a `y` at the prompt breaks the lock, and anything else (or no
    /// terminal, where the prompt answers false) refuses naming the holder, the prompt and `--yes`.
    #[test]
    fn breaking_the_lock_needs_yes_or_a_y_at_the_prompt() {
        let never = |_: &str| -> bool { panic!("--yes asks nothing") };
        assert!(confirmed(&force(true), "L", "ci (pid 1)", never).is_ok());
        let mut asked = String::new();
        assert!(confirmed(&force(false), "L", "ci (pid 1)", |q| {
            asked = q.to_string();
            true
        })
        .is_ok());
        assert_eq!(asked, "Break the lock on L held by ci (pid 1)? [y/N] ");
        let e = confirmed(&force(false), "L", "ci (pid 1)", |_| false).unwrap_err();
        assert_eq!(e.kind(), albflip::ErrorKind::InvalidInput, "{e}");
        let text = e.to_string();
        for part in [
            "unlock --force",
            "not confirmed",
            "held by ci (pid 1)",
            "--yes",
            "answer y",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }

    #[test]
    fn the_holder_since_and_expiry_are_shown_in_text_and_json() {
        let h = holder();
        let text = shown("L", Some(&h), OutputFormat::Text);
        for part in [
            "held by jenkins@ci (pid 42)",
            "since   2026-11-29T20:00:00Z",
            "expires 2026-11-29T20:02:00Z",
            "--force",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert_eq!(
            shown("L", None, OutputFormat::Text),
            "No lock is held on L.\n"
        );
        let v: serde_json::Value =
            serde_json::from_str(&shown("L", Some(&h), OutputFormat::Json)).unwrap();
        assert_eq!(v["held"], true);
        assert_eq!(v["holder"]["holder"], "jenkins@ci (pid 42)");
        assert_eq!(v["holder"]["expires"], "2026-11-29T20:02:00Z");
        let v: serde_json::Value =
            serde_json::from_str(&broken("L", &h, OutputFormat::Json)).unwrap();
        assert_eq!(v["broken"], true);
    }
}
