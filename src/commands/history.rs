//! `albflip history`: the route's last deployments, from the lock table (HAProxy and nginx: the state
//! directory's history file, `routers/local.rs`). The entry a run adds when it ends is `history_entry.rs`.

use albflip::aws::DynamoLock;
use albflip::history::{HistoryEntry, HistoryStore};
use albflip::Error;

use super::common::{emit, Session};
use crate::args::{GlobalArgs, HistoryArgs, OutputFormat};
use crate::settings::Settings;
use crate::{exit, locking};

/// Prints the route's last deployments.
pub async fn run(a: &HistoryArgs, settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let session = Session::open(None, &settings, g).await?;
    let Some(table) = locking::lock_table(&session.alb, &session.config, &settings).await else {
        return Err(Error::NotFound {
            what: "a lock table to read the history from".into(),
            fix: "albflip keeps the history in the lock table's DynamoDB table: name it with --lock-table (ALBFLIP_LOCK_TABLE, albflip.toml [lock] table)".into(),
        });
    };
    let key = locking::lock_key(&session.alb, &settings).await?;
    let store = DynamoLock::new(&session.config, &table, session.calls.clone());
    let entries = store
        .recent(&key, a.limit)
        .await
        .map_err(|e| locking::missing_table(Error::Read(e), &table))?;
    emit(&render(&key, &entries, g.output), g);
    Ok(exit::SUCCESS)
}

/// The history of `route` as the output format wants it (the same on every router).
pub fn render(route: &str, entries: &[HistoryEntry], output: OutputFormat) -> String {
    match output {
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::json!({"route": route, "deployments": entries})
        ),
        OutputFormat::Text => text(route, entries),
    }
}

/// The history as aligned columns.
fn text(route: &str, entries: &[HistoryEntry]) -> String {
    if entries.is_empty() {
        return format!("No deployment recorded for {route} yet.\n");
    }
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.started.clone(),
                e.started_by.clone(),
                format!("{} to {}", e.strategy, e.target),
                e.outcome.replace('_', " "),
                albflip::duration::human(e.duration()).to_string(),
                e.reason.clone(),
            ]
        })
        .collect();
    let header = [
        "ID", "STARTED", "BY", "STRATEGY", "OUTCOME", "TOOK", "REASON",
    ]
    .map(String::from);
    let mut widths = [0usize; 7];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("Deployments of {route}, newest first:\n");
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::from(" ");
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == row.len() - 1 {
                line.push_str(&format!(" {cell}"));
            } else {
                line.push_str(&format!(" {cell:<w$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
