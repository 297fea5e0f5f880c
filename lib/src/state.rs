//! Durable deployment state, recorded in tags on the route's resource (the listener or the rule), so
//! that any machine can see and pick up a deployment: nothing is kept only on a local disk.
//!
//! Tag values may hold only letters, digits, spaces and `_ . : / = + - @`, so lists use `/`.

use crate::input::{Input, Next};
use crate::text;
use std::time::SystemTime;

use serde::Serialize;

use crate::model::{Color, Split};
use crate::ports::Tags;

/// The stable color.
pub const STABLE_TAG: &str = "albflip:stable";
/// The deployment's phase.
pub const STATE_TAG: &str = "albflip:state";
/// The deployment's new color.
pub const TARGET_TAG: &str = "albflip:target";
/// The deployment's id.
pub const ID_TAG: &str = "albflip:deployment-id";
/// The strategy and its steps, e.g. `gradual/10/25/50/75/100` or `canary/10`.
pub const STRATEGY_TAG: &str = "albflip:strategy";
/// The step running or last run (1-based).
pub const STEP_TAG: &str = "albflip:step";
/// Who started the deployment.
pub const STARTED_BY_TAG: &str = "albflip:started-by";
/// When the record last changed (RFC 3339, UTC).
pub const UPDATED_TAG: &str = "albflip:updated";

/// While a run waits for promotion: until when, how often it reads the record and which deployment
/// waits, as `RFC3339/SECONDS/ID` (empty once the wait is over).
pub const WAITING_TAG: &str = "albflip:waiting";
/// A promotion asked of the run that waits for it (`albflip promote` from anywhere): who and when (empty
/// when none is asked).
pub const PROMOTE_TAG: &str = "albflip:promote-requested";

/// A wait for promotion as recorded in [`WAITING_TAG`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// When the wait times out.
    pub until: SystemTime,
    /// How often the waiting run reads the record.
    pub poll: std::time::Duration,
    /// The deployment that waits (a wait left by an earlier deployment is not this one's).
    pub id: String,
}

impl Waiting {
    /// The tag value.
    pub fn to_tag(&self) -> String {
        format!(
            "{}/{}/{}",
            timestamp(self.until),
            self.poll.as_secs().max(1),
            self.id
        )
    }

    /// The wait recorded in `tags`, if a run waits (or waited and died: compare `until` with now).
    pub fn from_tags(tags: &Tags) -> Option<Waiting> {
        let mut parts = tags.get(WAITING_TAG)?.splitn(3, '/');
        Some(Waiting {
            until: humantime::parse_rfc3339(parts.next()?).ok()?,
            poll: std::time::Duration::from_secs(parts.next()?.parse().ok()?),
            id: parts.next()?.to_string(),
        })
    }
}

/// Who asked for a promotion of the waiting run, if anyone did.
pub fn promotion_requested(tags: &Tags) -> Option<&str> {
    tags.get(PROMOTE_TAG)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// AWS's most tags on one listener or rule.
pub const MAX_TAGS: usize = 50;
/// AWS's longest tag value, in characters.
pub const MAX_TAG_VALUE: usize = 256;
/// Every tag a deployment writes on its named route: the record and the stable color.
pub const DEPLOYMENT_TAGS: [&str; 8] = [
    ID_TAG,
    TARGET_TAG,
    STRATEGY_TAG,
    STEP_TAG,
    STATE_TAG,
    STARTED_BY_TAG,
    UPDATED_TAG,
    STABLE_TAG,
];

/// The phases a deployment goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Phase {
    /// Steps are running.
    InProgress,
    /// A canary waits for `promote`.
    AwaitingPromotion,
    /// The new color is stable.
    Complete,
    /// A gate failed, or an operator rolled back.
    RolledBack,
    /// The run was cancelled.
    Interrupted,
}

impl Phase {
    /// Whether a deployment in this phase did not finish (in progress, awaiting promotion or
    /// interrupted): a rollback records it as rolled back and ends what it left behind.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            Phase::InProgress | Phase::AwaitingPromotion | Phase::Interrupted
        )
    }

    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::InProgress => "in-progress",
            Phase::AwaitingPromotion => "awaiting-promotion",
            Phase::Complete => "complete",
            Phase::RolledBack => "rolled-back",
            Phase::Interrupted => "interrupted",
        }
    }

    /// Parses a tag value.
    pub fn parse(value: &str) -> Option<Phase> {
        [
            Phase::InProgress,
            Phase::AwaitingPromotion,
            Phase::Complete,
            Phase::RolledBack,
            Phase::Interrupted,
        ]
        .into_iter()
        .find(|p| p.as_str() == value)
    }
}

/// A deployment as recorded on the route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentRecord {
    /// Its id.
    pub id: String,
    /// The new color.
    pub target: Color,
    /// The strategy name (`gradual`, `immediate`, `canary`, `shift`).
    pub strategy: String,
    /// The new color's share at each step.
    pub steps: Vec<u8>,
    /// The step running or last run (1-based; 0 before the first).
    pub step: usize,
    /// The phase.
    pub phase: Phase,
    /// Who started it (`$BUILD_TAG`, else user@host).
    pub started_by: String,
    /// When the record last changed.
    pub updated: String,
    /// Whether its steps are judged by the gates (false for a deliberately ungated deployment, recorded
    /// as an `ungated` segment of the strategy tag, e.g. `gradual/10/100/ungated`).
    pub gated: bool,
}

impl DeploymentRecord {
    /// Reads the record from a route's tags; `None` when there is none (or it is incomplete).
    pub fn from_tags(tags: &Tags) -> Option<DeploymentRecord> {
        let phase = Phase::parse(tags.get(STATE_TAG)?)?;
        let target = tags.get(TARGET_TAG)?.parse::<Color>().ok()?;
        let strategy_tag = tags.get(STRATEGY_TAG).map(String::as_str).unwrap_or("");
        let (strategy, steps) = parse_strategy(strategy_tag);
        Some(DeploymentRecord {
            id: tags.get(ID_TAG).cloned().unwrap_or_default(),
            target,
            strategy,
            steps,
            step: tags.get(STEP_TAG).and_then(|s| s.parse().ok()).unwrap_or(0),
            phase,
            started_by: tags.get(STARTED_BY_TAG).cloned().unwrap_or_default(),
            updated: tags.get(UPDATED_TAG).cloned().unwrap_or_default(),
            gated: !strategy_tag.split('/').any(|p| p == UNGATED),
        })
    }

    /// The tags that record it.
    pub fn to_tags(&self) -> Vec<(&'static str, String)> {
        let strategy = strategy_value(&self.strategy, &self.steps, self.gated);
        vec![
            (ID_TAG, self.id.clone()),
            (TARGET_TAG, self.target.as_str().to_string()),
            (STRATEGY_TAG, strategy),
            (STEP_TAG, self.step.to_string()),
            (STATE_TAG, self.phase.as_str().to_string()),
            (STARTED_BY_TAG, tag_safe(&self.started_by)),
            (UPDATED_TAG, self.updated.clone()),
        ]
    }
}

/// The value of the strategy tag: the strategy, its steps, and the mark of an ungated deployment, e.g.
/// `gradual/10/25/50/75/100` or `gradual/10/100/ungated`.
pub fn strategy_value(strategy: &str, steps: &[u8], gated: bool) -> String {
    let mut value = strategy.to_string();
    for s in steps {
        value.push('/');
        value.push_str(&s.to_string());
    }
    if !gated {
        value.push('/');
        value.push_str(UNGATED);
    }
    value
}

/// Every value of the record fits a tag ([`MAX_TAG_VALUE`] characters); else an error on the steps,
/// which are the only value that can grow that long.
pub fn check_record_fits(record: &DeploymentRecord) -> Result<(), crate::Error> {
    let Some((key, value)) = record
        .to_tags()
        .into_iter()
        .find(|(_, v)| v.chars().count() > MAX_TAG_VALUE)
    else {
        return Ok(());
    };
    let steps: Vec<String> = record.steps.iter().map(u8::to_string).collect();
    Err(crate::Error::invalid(
        Input::Steps,
        text!({given Input::Steps}, format!(" {}", steps.join(","))),
        format!(
            "the deployment record's {key} tag would be {} characters long, and AWS holds at most {MAX_TAG_VALUE} in a tag value",
            value.chars().count()
        ),
        "Give fewer steps (about 60 at most, fewer with two-digit percentages), e.g. 5,20,50,100",
    ))
}

/// There is room on a route that carries `tags` for the tags albflip writes (`keys`) within AWS's
/// [`MAX_TAGS`] per listener or rule; else an error naming the route's other tags, to be removed.
pub fn check_tag_room(
    route: &dyn std::fmt::Display,
    tags: &Tags,
    keys: &[&str],
) -> Result<(), crate::Error> {
    let added = keys.iter().filter(|k| !tags.contains_key(**k)).count();
    let total = tags.len() + added;
    if total <= MAX_TAGS {
        return Ok(());
    }
    let others: Vec<&str> = tags
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with("albflip:"))
        .collect();
    Err(crate::Error::State {
        what: format!(
            "the {route} carries {} tags and albflip's deployment record needs {added} more: {total}, over AWS's limit of {MAX_TAGS} tags per listener or rule. Its other tags: {}",
            tags.len(),
            others.join(", ")
        )
        .into(),
        fix: format!(
            "Nothing was written. Remove at least {} of those tags (`aws elbv2 remove-tags --resource-arns ARN --tag-keys KEY...`) and run it again",
            total - MAX_TAGS
        )
        .into(),
    })
}

/// The strategy tag's mark of a deliberately ungated deployment.
const UNGATED: &str = "ungated";

fn parse_strategy(value: &str) -> (String, Vec<u8>) {
    let mut parts = value.split('/');
    let name = parts.next().unwrap_or_default().to_string();
    (name, parts.filter_map(|p| p.parse().ok()).collect())
}

/// Replaces characters a tag value cannot hold.
pub fn tag_safe(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(256)
        .collect();
    if cleaned.is_empty() {
        "unknown".into()
    } else {
        cleaned
    }
}

/// RFC 3339 seconds, UTC.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A new deployment id: the start time and a few hex digits of its nanoseconds.
pub fn new_id(at: SystemTime) -> String {
    let nanos = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let stamp: String = timestamp(at)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{stamp}-{:04x}", nanos % 0x10000)
}

/// Who is running albflip: `$BUILD_TAG` (Jenkins) when set, else `user@host`.
pub fn identity_from_env() -> String {
    if let Some(tag) = std::env::var("BUILD_TAG").ok().filter(|t| !t.is_empty()) {
        return tag_safe(&tag);
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    tag_safe(&format!("{user}@{host}"))
}

/// What the start check needs to know of a route: its name for people, the record found on it, its live
/// split and its stable color.
#[derive(Clone, Copy)]
pub struct RouteState<'a> {
    /// The route, as people read it.
    pub route: &'a dyn std::fmt::Display,
    /// The deployment record found on it.
    pub record: Option<&'a DeploymentRecord>,
    /// Its live split.
    pub split: Split,
    /// Its stable color.
    pub stable: Color,
}

/// A deployment may start when none is in flight on the route and the new color is not already the
/// stable one.
pub fn check_can_start(live: RouteState<'_>, new: Color) -> Result<(), crate::Error> {
    use crate::Error;
    check_none_in_flight(live)?;
    if live.stable == new {
        return Err(Error::Invalid {
            input: Input::TargetColor,
            what: text!({given Input::TargetColor}, format!(" {new}")),
            why: format!(
                "{new} is already the stable color (it serves {})",
                live.split.percent_of(new)
            ),
            fix: text!(
                format!("Deploy the new version to {} and run ", new.other()),
                {next Next::DeployTo(new.other())}
            ),
        });
    }
    Ok(())
}

/// A manual shift may write when no deployment is in flight on the route (one in progress, a canary
/// awaiting promotion, one interrupted with traffic held off the stable color), or when the caller
/// takes it over deliberately (`take_over`): then the deployment it takes over is returned, for the
/// caller to say so. The refusal names the way to take over.
pub fn check_can_shift(
    live: RouteState<'_>,
    take_over: bool,
) -> Result<Option<DeploymentRecord>, crate::Error> {
    match check_none_in_flight(live) {
        Ok(()) => Ok(None),
        Err(_) if take_over => Ok(live.record.cloned()),
        Err(crate::Error::Conflict { what, fix }) => Err(crate::Error::Conflict {
            what,
            fix: fix.then(text!(
                "; to shift anyway, taking the route over from it, add ",
                {input Input::TakeOver}
            )),
        }),
        Err(e) => Err(e),
    }
}

/// The sentence a shift that took over from `record` says.
pub fn took_over(record: &DeploymentRecord) -> crate::input::Text {
    text!(
        format!(
            "took over from the deployment {} of {} recorded as {} at step {} (",
            record.id,
            record.target,
            record.phase.as_str(),
            record.step
        ),
        {input Input::TakeOver},
        "); its record is left as it was: ",
        {next Next::Rollback},
        " settles it"
    )
}

/// No deployment is in flight on the route.
fn check_none_in_flight(live: RouteState<'_>) -> Result<(), crate::Error> {
    use crate::Error;
    let route = live.route;
    if let Some(r) = live.record {
        let (who, since) = r.who_and_since();
        let blocking = match r.phase {
            Phase::AwaitingPromotion => Some((
                format!("a canary of {} started{who} is awaiting promotion on the {route}{since}", r.target),
                text!("Run ", {next Next::Promote}, " to finish it or ", {next Next::Rollback}, " to abandon it"),
            )),
            Phase::InProgress => Some((
                format!("a deployment of {} started{who} is recorded as in progress at step {} on the {route}{since}", r.target, r.step),
                text!("If that albflip is still running, wait for it; if it died, run ", {next Next::Resume}, " to continue it or ", {next Next::Rollback}, " to abandon it"),
            )),
            Phase::Interrupted if live.split.whole_color() != Some(live.stable) => Some((
                format!("a deployment of {} started{who} was interrupted at step {} and left traffic at {} on the {route}{since}", r.target, r.step, live.split),
                text!("Run ", {next Next::Resume}, " to continue it or ", {next Next::Rollback}, " to put traffic back on the stable color"),
            )),
            _ => None,
        };
        if let Some((what, fix)) = blocking {
            return Err(Error::conflict(what, fix));
        }
    }
    Ok(())
}

/// Where a resume picks a recorded deployment up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// The step to run first (1-based).
    pub step: usize,
    /// The split the record expected, when the live split differed and was adopted.
    pub adopted: Option<Split>,
}

impl DeploymentRecord {
    /// The split step `k` of this deployment puts on the route (step 0: all on the other color).
    pub fn split_at(&self, k: usize) -> Option<Split> {
        use crate::model::Percent;
        if k == 0 {
            return Some(Split::all_to(self.target.other()));
        }
        let percent = Percent::new(*self.steps.get(k - 1)?)?;
        Some(Split::to(self.target, percent))
    }

    /// Who started it and when it last changed, as a message says it (" by X (last update T)").
    fn who_and_since(&self) -> (String, String) {
        let who = if self.started_by.is_empty() {
            String::new()
        } else {
            format!(" by {}", self.started_by)
        };
        let since = if self.updated.is_empty() {
            String::new()
        } else {
            format!(" (last update {})", self.updated)
        };
        (who, since)
    }
}

/// A recorded deployment may be resumed when it is in progress or interrupted and the route's live
/// split is the recorded step's (or the next step's: albflip writes a step before recording it, and
/// may have died in between). A deployment that was rolled back, or interrupted and put back on the
/// stable color, is not resumed: that would undo the rollback in one jump. Another live split is
/// someone else's change: refused, unless `adopt_drift` says to continue from it.
pub fn check_can_resume(
    live: RouteState<'_>,
    record: &DeploymentRecord,
    adopt_drift: bool,
) -> Result<ResumePoint, crate::Error> {
    use crate::Error;
    let route = live.route;
    let (who, since) = record.who_and_since();
    let what = format!(
        "the deployment {} of {} started{who}",
        record.id, record.target
    );
    let stable = record.target.other();
    let start_new = text!(
        "A resume would undo that in one jump. Start a new deployment with ",
        {next Next::Deploy},
        "; ",
        {next Next::Status},
        " shows the recorded state"
    );
    if record.phase == Phase::RolledBack {
        return Err(Error::conflict(
            format!(
                "{what} was rolled back at step {} on the {route}{since}; traffic is at {}",
                record.step, live.split
            ),
            start_new,
        ));
    }
    let at = record.step;
    if record.split_at(at) == Some(live.split) {
        return Ok(ResumePoint {
            step: at.max(1),
            adopted: None,
        });
    }
    if at < record.steps.len() && record.split_at(at + 1) == Some(live.split) {
        return Ok(ResumePoint {
            step: at + 1,
            adopted: None,
        });
    }
    if live.split == Split::all_to(stable) {
        return Err(Error::conflict(
            format!(
                "{what} stopped at step {} and traffic was put back on {stable} ({}) on the {route}{since}",
                at, live.split
            ),
            start_new,
        ));
    }
    let Some(expected) = record.split_at(at) else {
        return Err(Error::conflict(
            format!("{what} records step {at}, which its steps do not have, on the {route}{since}"),
            text!(
                {next Next::Rollback},
                " returns traffic to the stable color; then start a new deployment with ",
                {next Next::Deploy}
            ),
        ));
    };
    if adopt_drift {
        return Ok(ResumePoint {
            step: at.max(1),
            adopted: Some(expected),
        });
    }
    Err(Error::conflict(
        format!(
            "the live split on the {route} is {}, but {what} recorded step {at} at {expected}{since}; someone else changed the route since",
            live.split
        ),
        text!(
            "Check who changed it; then ",
            {next Next::Rollback},
            " returns traffic to the stable color and records the deployment as rolled back, or ",
            {next Next::Resume},
            " with ",
            {input Input::AdoptDrift},
            " continues from the live split"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_tags_with_tag_safe_values() {
        let r = DeploymentRecord {
            id: new_id(SystemTime::UNIX_EPOCH),
            target: Color::Green,
            strategy: "gradual".into(),
            steps: vec![10, 25, 50, 75, 100],
            step: 2,
            phase: Phase::InProgress,
            started_by: "jenkins-shop-deploy-42".into(),
            updated: timestamp(SystemTime::UNIX_EPOCH),
            gated: true,
        };
        let tags: Tags = r
            .to_tags()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(tags[STRATEGY_TAG], "gradual/10/25/50/75/100");
        assert_eq!(DeploymentRecord::from_tags(&tags), Some(r));
        for v in tags.values() {
            assert!(
                v.chars()
                    .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
                "{v}"
            );
        }
        assert_eq!(tag_safe("a,b→c"), "a-b-c");
    }

    fn record(phase: Phase, step: usize) -> DeploymentRecord {
        DeploymentRecord {
            id: "d1".into(),
            target: Color::Green,
            strategy: "gradual".into(),
            steps: vec![30, 60, 100],
            step,
            phase,
            started_by: "ci".into(),
            updated: String::new(),
            gated: true,
        }
    }

    fn resume(r: &DeploymentRecord, green: u8, adopt: bool) -> Result<ResumePoint, crate::Error> {
        let split = Split::to(Color::Green, crate::model::Percent::new(green).unwrap());
        let live = RouteState {
            route: &"listener",
            record: Some(r),
            split,
            stable: Color::Blue,
        };
        check_can_resume(live, r, adopt)
    }

    #[test]
    fn a_resume_continues_only_from_the_recorded_split_or_the_next_step_written_before_its_record()
    {
        let r = record(Phase::InProgress, 2);
        assert_eq!(resume(&r, 60, false).unwrap().step, 2);
        assert_eq!(resume(&r, 100, false).unwrap().step, 3);
        let held = record(Phase::Interrupted, 1);
        assert_eq!(resume(&held, 30, false).unwrap().step, 1);
        // Someone else's split: refused unless adopted, and then the expected split is said.
        let e = resume(&r, 40, false).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        assert!(
            e.to_string()
                .contains("recorded step 2 at blue 40% / green 60%"),
            "{e}"
        );
        let adopted = resume(&r, 40, true).unwrap();
        assert_eq!(adopted.step, 2);
        assert_eq!(adopted.adopted, r.split_at(2));
    }

    #[test]
    fn a_shift_refuses_a_deployment_in_flight_unless_it_takes_over() {
        let shift = |r: &DeploymentRecord, green: u8, take_over: bool| {
            let split = Split::to(Color::Green, crate::model::Percent::new(green).unwrap());
            let live = RouteState {
                route: &"listener",
                record: Some(r),
                split,
                stable: Color::Blue,
            };
            check_can_shift(live, take_over)
        };
        for r in [
            record(Phase::InProgress, 1),
            record(Phase::AwaitingPromotion, 1),
            record(Phase::Interrupted, 1),
        ] {
            let e = shift(&r, 30, false).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Conflict, "{e}");
            assert!(e.to_string().ends_with("add taking over"), "{e}");
            assert_eq!(shift(&r, 30, true).unwrap(), Some(r.clone()));
        }
        for r in [record(Phase::Complete, 3), record(Phase::RolledBack, 1)] {
            assert_eq!(shift(&r, 0, false).unwrap(), None);
        }
    }

    #[test]
    fn the_record_must_fit_aws_tag_limits() {
        let foreign = |n: usize| -> Tags {
            (0..n)
                .map(|i| (format!("team:{i:02}"), "x".into()))
                .collect()
        };
        let keys = DEPLOYMENT_TAGS;
        assert!(
            check_tag_room(&"rule", &foreign(42), &keys).is_ok(),
            "42 + 8 = 50"
        );
        let e = check_tag_room(&"rule", &foreign(43), &keys).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Runtime);
        assert!(e.to_string().contains("team:00, team:01"), "{e}");
        // albflip's own tags already there take no more room.
        let mut tags = foreign(42);
        tags.insert(STATE_TAG.into(), "complete".into());
        assert!(check_tag_room(&"rule", &tags, &keys).is_ok());
        let mut r = record(Phase::InProgress, 1);
        r.steps = (1..=100).collect();
        let e = check_record_fits(&r).unwrap_err();
        assert_eq!(e.input(), Some(Input::Steps), "{e}");
        r.steps = (41..=100).collect();
        assert!(check_record_fits(&r).is_ok(), "60 two-digit steps fit");
    }

    #[test]
    fn a_resume_never_undoes_a_rollback() {
        for r in [record(Phase::RolledBack, 2), record(Phase::Interrupted, 2)] {
            for adopt in [false, true] {
                let e = resume(&r, 0, adopt).unwrap_err();
                assert_eq!(e.kind(), crate::ErrorKind::Conflict, "{e}");
                assert!(e.to_string().contains("undo that"), "{e}");
            }
        }
        let e = resume(&record(Phase::RolledBack, 2), 60, true).unwrap_err();
        assert!(e.to_string().contains("was rolled back at step 2"), "{e}");
    }
}
