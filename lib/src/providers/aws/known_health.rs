//! What a rollback reads ahead, in the same round trip as the route's discovery: the target health of
//! the colors and how the route's stickiness is released, so that the checks before the write need no
//! round trip of their own.

use crate::ports::{ApiError, TargetHealth};
use crate::providers::aws::api::Alb;
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::sticky::{self, Release};

/// Target health read ahead of [`crate::providers::aws::checks::check_health`] (a rollback reads it alongside the route's discovery, see
/// [`crate::providers::aws::resolve`]), by target group: the answer or the error, as a fresh read gives.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHealth {
    health: Vec<(TargetGroupArn, Result<TargetHealth, ApiError>)>,
    /// How a rollback releases stickiness, when read ahead with the health.
    release: Option<Release>,
}

impl KnownHealth {
    /// Reads the health of each of `groups`, all at once.
    pub(crate) async fn read<A: Alb>(alb: &A, groups: &[&TargetGroupArn]) -> KnownHealth {
        let answers = futures_util::future::join_all(groups.iter().map(|g| alb.health(g))).await;
        KnownHealth {
            health: groups.iter().map(|g| (*g).clone()).zip(answers).collect(),
            release: None,
        }
    }

    /// [`KnownHealth::read`] and, at the same time, how a rollback releases the stickiness of a route
    /// between `blue` and `green` ([`sticky::target_groups_release`]), so that a rollback spends no
    /// round trip of its own on it.
    pub(crate) async fn read_for_rollback<A: Alb>(
        alb: &A,
        groups: &[&TargetGroupArn],
        blue: &TargetGroupArn,
        green: &TargetGroupArn,
    ) -> KnownHealth {
        let (mut known, release) = tokio::join!(
            KnownHealth::read(alb, groups),
            sticky::target_groups_release(alb, blue, green)
        );
        known.release = Some(release);
        known
    }

    /// How a rollback releases stickiness, if it was read ahead.
    pub(crate) fn release(&self) -> Option<Release> {
        self.release
    }

    /// Whether the health of `group` is known.
    pub(crate) fn has(&self, group: &TargetGroupArn) -> bool {
        self.health.iter().any(|(g, _)| g == group)
    }

    /// Both sets of answers.
    pub(crate) fn merge(mut self, other: KnownHealth) -> KnownHealth {
        self.health.extend(other.health);
        self.release = self.release.or(other.release);
        self
    }

    /// The health of `group`: as known, or read now.
    pub(crate) async fn of<A: Alb>(
        &self,
        alb: &A,
        group: &TargetGroupArn,
    ) -> Result<TargetHealth, ApiError> {
        match self.health.iter().find(|(g, _)| g == group) {
            Some((_, answer)) => answer.clone(),
            None => alb.health(group).await,
        }
    }
}
