//! Waiting for promotion with the gates on: after a canary's bake (CodeDeploy's "reroute traffic",
//! Argo's `pause`), or after a gradual step marked `25:pause`, the run keeps polling the gates and
//! re-reads the route's record until one of:
//!
//! - a promotion is asked (`albflip promote` from anywhere writes [`PROMOTE_TAG`]): the run goes on;
//! - the deployment was rolled back elsewhere (the record is no longer this run's wait): the run stops
//!   and moves no traffic;
//! - a gate fails: traffic back on the stable color, as at any step;
//! - the wait times out: [`OnTimeout`] says whether to roll back or go on;
//! - the run is interrupted.
//!
//! While it waits, the record says `awaiting-promotion` and [`WAITING_TAG`] says until when and how
//! often it is read, so `status` shows the wait and `promote` knows a run will take its request
//! ([`Engine::request_promotion`]), and otherwise promotes itself.

use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::events::Event;
use crate::plan::decide::Failure;
use crate::plan::Step;
use crate::ports::{CapacityPool, Clock, MetricSource, Provider, Routes};
use crate::state::{
    self, promotion_requested, DeploymentRecord, Phase, Waiting, PROMOTE_TAG, WAITING_TAG,
};

use super::bake::Baked;
use super::context::Run;
use super::lifecycle::{OnTimeout, PromotionWait};
use super::{Engine, Outcome};

/// The least time between two reads of the record while waiting.
pub const MIN_WAIT_POLL: Duration = Duration::from_secs(1);

/// How a wait for promotion ended.
pub(super) enum Waited {
    /// Go on: promoted by someone (or by the timeout with `--on-timeout promote`).
    Promoted,
    /// Out of the run with this result.
    Out(Result<Outcome, Error>),
}

/// What the record watcher saw.
enum Seen {
    Promoted(String),
    Elsewhere(String),
    TimedOut,
}

impl<P: Provider, M: MetricSource, C: Clock, S: CapacityPool> Engine<'_, P, M, C, S> {
    /// Waits after step `n` (`step`) for promotion, as `wait` says (see the module docs).
    pub(super) async fn wait_for_promotion<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        step: &Step,
        n: usize,
        wait: PromotionWait,
    ) -> Waited {
        let poll = run.spec.policy.poll_interval.max(MIN_WAIT_POLL);
        let until = self.clock.now() + wait.timeout;
        let id = run
            .record
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let waiting = Waiting { until, poll, id };
        if let Err(e) = self.start_waiting(run, &waiting).await {
            return Waited::Out(Err(e));
        }
        let (target, percent) = (run.new_color(), step.percent.get());
        self.emit(Event::AwaitingPromotion { target, percent });
        let gated = Step {
            percent: step.percent,
            bake: wait.timeout,
        };
        let seen = {
            let run: &Run<'_, R> = run;
            let watch = self.watch_record(run.routes, &waiting, n, percent, wait.on_timeout);
            let gates = async {
                if run.spec.ungated {
                    std::future::pending::<Result<Baked, Error>>().await
                } else {
                    self.bake(run, &gated, n).await
                }
            };
            tokio::select! {
                seen = watch => Ok(seen),
                baked = gates => Err(baked),
                _ = self.cancel.cancelled() => Err(Ok(Baked::Cancelled)),
            }
        };
        let seen = match seen {
            Ok(seen) => seen,
            // The gates' bake lasts the whole wait: passing it is the timeout.
            Err(Ok(Baked::Passed)) => Ok(Seen::TimedOut),
            Err(Ok(Baked::Failed(failure))) => {
                return Waited::Out(self.fail_at(run, n, step, failure).await)
            }
            Err(Ok(Baked::Cancelled)) => return Waited::Out(self.interrupted(run, n).await),
            Err(Err(e)) => return Waited::Out(Err(self.abort_run(run, e).await)),
        };
        match seen {
            Ok(Seen::Promoted(by)) => self.go_on(run, by).await,
            Ok(Seen::TimedOut) if wait.on_timeout == OnTimeout::Promote => {
                self.go_on(run, "timeout".to_string()).await
            }
            Ok(Seen::TimedOut) => {
                let failure = Failure::Wait {
                    message: format!(
                        "nobody promoted it within {} (on timeout: rollback)",
                        crate::duration::human(wait.timeout)
                    )
                    .into(),
                };
                Waited::Out(self.fail_at(run, n, step, failure).await)
            }
            Ok(Seen::Elsewhere(what)) => {
                // Someone else decided: this run moves no traffic (only its test header rule, if any, is removed).
                let failure = Failure::Wait {
                    message: what.into(),
                };
                self.emit(Event::Warning {
                    message: failure.text().lit("; this run stops and moves no traffic"),
                });
                Waited::Out(Ok(Outcome::RolledBack {
                    failure,
                    to: run.stable(),
                    step: n,
                    percent,
                }))
            }
            Err(e) => Waited::Out(Err(self.abort_run(run, e).await)),
        }
    }

    /// Records the wait: the phase, until when, and no promotion asked yet (one write).
    async fn start_waiting<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        waiting: &Waiting,
    ) -> Result<(), Error> {
        let value = waiting.to_tag();
        let extra = [(WAITING_TAG, value.as_str()), (PROMOTE_TAG, "")];
        self.record_final(run, Phase::AwaitingPromotion, &extra)
            .await
    }

    /// Promoted: the record says the run goes on (the acknowledgement `promote` watches for), then on.
    async fn go_on<R: Routes>(&self, run: &mut Run<'_, R>, by: String) -> Waited {
        let extra = [(WAITING_TAG, ""), (PROMOTE_TAG, "")];
        if let Err(e) = self.record_final(run, Phase::InProgress, &extra).await {
            return Waited::Out(Err(e));
        }
        self.emit(Event::Promoted { by });
        Waited::Promoted
    }

    /// Reads the record every `waiting.poll` until a promotion is asked, the deployment `id` is no
    /// longer waiting (rolled back or taken over elsewhere), or `waiting.until` passes.
    async fn watch_record<R: Routes>(
        &self,
        routes: &R,
        waiting: &Waiting,
        n: usize,
        percent: u8,
        on_timeout: OnTimeout,
    ) -> Result<Seen, Error> {
        loop {
            let left = left(waiting.until, self.clock.now());
            self.emit(Event::WaitingForPromotion {
                step: n,
                percent,
                until: state::timestamp(waiting.until),
                seconds_left: left.as_secs(),
                on_timeout: match on_timeout {
                    OnTimeout::Rollback => "rollback",
                    OnTimeout::Promote => "promote",
                }
                .to_string(),
            });
            if left.is_zero() {
                return Ok(Seen::TimedOut);
            }
            self.clock.sleep(waiting.poll.min(left)).await;
            let tags = routes.load_records().await.map_err(Error::Read)?;
            let record = DeploymentRecord::from_tags(&tags);
            match record {
                Some(r) if r.id == waiting.id && r.phase == Phase::AwaitingPromotion => {
                    if let Some(by) = promotion_requested(&tags) {
                        return Ok(Seen::Promoted(by.to_string()));
                    }
                }
                Some(r) if r.id == waiting.id => {
                    return Ok(Seen::Elsewhere(format!(
                        "the deployment was recorded as {} from elsewhere while it waited for promotion",
                        r.phase.as_str()
                    )))
                }
                _ => {
                    return Ok(Seen::Elsewhere(
                        "another deployment's record replaced this one's while it waited for promotion"
                            .to_string(),
                    ))
                }
            }
        }
    }

    /// Step `n` failed while waiting: the usual way out of a failed step.
    async fn fail_at<R: Routes>(
        &self,
        run: &mut Run<'_, R>,
        n: usize,
        step: &Step,
        failure: Failure,
    ) -> Result<Outcome, Error> {
        let failed = super::Failed {
            step: n,
            percent: step.percent.get(),
            failure,
        };
        self.fail(run, failed).await
    }

    /// Asks the run that waits for promotion on the route `target` names to go on: writes
    /// [`PROMOTE_TAG`] and watches the record for its acknowledgement for three of its record reads (at
    /// least ten seconds). `Ok(Some(_))` when the waiting run took it; `Ok(None)` when no run waits
    /// (nothing written), or when none answered in time (the request is withdrawn): then the caller
    /// promotes itself.
    pub async fn request_promotion(&self, target: &P::Target) -> Result<Option<Outcome>, Error> {
        let routes = self.provider.resolve(target).await?;
        let tags = routes.records();
        let (Some(record), Some(waiting)) =
            (DeploymentRecord::from_tags(tags), Waiting::from_tags(tags))
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        // A wait left by an earlier deployment, or one that is over, has no run to take the request.
        if record.phase != Phase::AwaitingPromotion
            || waiting.id != record.id
            || waiting.until <= now
        {
            return Ok(None);
        }
        let asked = format!("{} at {}", self.identity, state::timestamp(now));
        routes
            .save(&[(PROMOTE_TAG, asked.as_str())])
            .await
            .map_err(Error::Read)?;
        let patience = (waiting.poll * 3).max(Duration::from_secs(10));
        let deadline = now + patience;
        loop {
            self.clock.sleep(MIN_WAIT_POLL).await;
            let tags = routes.load_records().await.map_err(Error::Read)?;
            let now_record = DeploymentRecord::from_tags(&tags);
            let taken = now_record
                .as_ref()
                .is_some_and(|r| r.id == record.id && r.phase != Phase::AwaitingPromotion);
            if taken {
                return Ok(Some(Outcome::PromotionHandedOver {
                    target: record.target,
                    waiting_run: record.started_by,
                }));
            }
            if self.clock.now() >= deadline {
                // Nobody took it (the waiting run died): withdraw the request and promote here.
                routes
                    .save(&[(PROMOTE_TAG, "")])
                    .await
                    .map_err(Error::Read)?;
                return Ok(None);
            }
        }
    }
}

/// Time left until `until`.
fn left(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or_default()
}
