//! The entry a run adds to the route's history when it ends (the lock table on AWS, the state
//! directory's history file on HAProxy and nginx), from the run's events and its outcome.

use std::time::SystemTime;

use albflip::engine::Outcome;
use albflip::events::Event;
use albflip::history::{HistoryEntry, HistoryStore};
use albflip::Error;

/// The entry of a run that ended with `result`, from its events; `None` when no deployment started
/// (nothing was recorded on the route, or a gated shift, which records no deployment).
pub fn entry(
    events: &[(SystemTime, Event)],
    result: &Result<Outcome, Error>,
    now: SystemTime,
) -> Option<HistoryEntry> {
    let (at, id, who, route, strategy, target) = events.iter().find_map(|(at, e)| match e {
        Event::DeploymentStarted {
            deployment_id: Some(id),
            started_by,
            route,
            strategy,
            target,
            ..
        } => Some((*at, id, started_by, route, strategy, target)),
        _ => None,
    })?;
    let (outcome, reason) = match result {
        Ok(Outcome::Completed { .. }) => ("completed", String::new()),
        Ok(Outcome::AwaitingPromotion { .. }) => ("awaiting_promotion", String::new()),
        Ok(Outcome::RolledBack { failure, .. }) => ("rolled_back", crate::naming::failure(failure)),
        Ok(Outcome::Interrupted { rolled_back, .. }) => (
            "interrupted",
            if *rolled_back {
                "interrupted; traffic put back on the stable color".to_string()
            } else {
                "interrupted; traffic held where it was".to_string()
            },
        ),
        // A gated shift records no deployment; a promotion handed to the waiting run is recorded by
        // that run; an outcome this version does not know is not guessed at.
        Ok(_) => return None,
        Err(e) => ("failed", crate::naming::render(e)),
    };
    Some(HistoryEntry {
        id: id.clone(),
        route: route.clone(),
        started_by: who.clone().unwrap_or_default(),
        started: albflip::state::timestamp(at),
        ended: albflip::state::timestamp(now),
        strategy: strategy.clone(),
        target: target.to_string(),
        outcome: outcome.into(),
        reason,
        seconds: now.duration_since(at).unwrap_or_default().as_secs_f64(),
    })
}

/// Adds the run's entry to the history; a failure is a warning (the deployment's outcome stands).
pub async fn record(
    store: &impl HistoryStore,
    events: &[(SystemTime, Event)],
    result: &Result<Outcome, Error>,
) {
    let Some(entry) = entry(events, result, SystemTime::now()) else {
        return;
    };
    if let Err(e) = store.append(&entry).await {
        eprintln!("albflip: warning: could not add the deployment to the history ({e})");
    }
}
