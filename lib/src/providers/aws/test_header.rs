//! Test traffic on the production listener (`--test-header NAME=VALUE`): for the length of a run, a
//! listener rule at the lowest free priority sends requests carrying the header to the new color; every
//! write is read back; the rule carries the tag [`TEST_RULE_TAG`] (its header) so that only albflip's own
//! rule is ever changed or deleted, and it is removed on every way out.
//!
//! Argo Rollouts users ask for header-based test routes on the ALB (argo-rollouts #2086, #2829); this
//! is albflip's.

use serde::Serialize;

use crate::error::Error;
use crate::ports::{ApiError, TestHeader};
use crate::providers::aws::api::{Alb, ListenerRule};
use crate::providers::aws::arn::{ListenerArn, RuleArn, TargetGroupArn};
use crate::providers::aws::route::{RouteId, RouteSnapshot};

/// The tag on the test header's rule: the header, `NAME=VALUE`.
pub const TEST_RULE_TAG: &str = "albflip:test-header";

/// The highest priority a listener rule may have.
pub const MAX_PRIORITY: u32 = 50_000;

/// The test route of a run on the ALB: a test listener (as read), or the test header's rule on the
/// production route's own listener.
#[derive(Debug, Clone)]
pub enum TestRoute {
    /// A test listener's default action.
    Listener(RouteSnapshot),
    /// Requests carrying a header on the production listener.
    Header(HeaderRoute),
}

/// Where the test header's rule lives and what it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderRoute {
    /// The production route's listener.
    pub listener: ListenerArn,
    /// The header.
    pub header: TestHeader,
}

impl HeaderRoute {
    /// Test traffic by `header` on the production `route`. Only a listener's default action is served
    /// this way: a rule route's own conditions (host, path...) would have to be copied into the test
    /// rule, which albflip does not do yet.
    pub fn on(route: &RouteId, header: &TestHeader) -> Result<HeaderRoute, Error> {
        match route {
            RouteId::Listener(listener) => Ok(HeaderRoute {
                listener: listener.clone(),
                header: header.clone(),
            }),
            RouteId::Rule(_) => Err(Error::invalid(
                crate::input::Input::TestHeader,
                crate::text!({given crate::input::Input::TestHeader}),
                "a test header is served on a listener's default action only, and the route is a listener rule (its conditions would have to be copied into the test rule)",
                crate::text!("Name a test listener with ", {input crate::input::Input::TestListenerPort}, " instead"),
            )),
        }
    }
}

/// albflip's rule for `header` among `rules`.
pub fn ours<'a>(rules: &'a [ListenerRule], header: &TestHeader) -> Vec<&'a ListenerRule> {
    let tag = header.to_string();
    rules
        .iter()
        .filter(|r| r.tags.get(TEST_RULE_TAG) == Some(&tag))
        .collect()
}

/// Any rule albflip created for a test header (whatever the header), for `status`.
pub fn any_ours(rules: &[ListenerRule]) -> Vec<&ListenerRule> {
    rules
        .iter()
        .filter(|r| r.tags.contains_key(TEST_RULE_TAG))
        .collect()
}

/// The lowest priority no rule of the listener has: the test rule comes before as many rules as can be.
pub fn free_priority(rules: &[ListenerRule]) -> Option<u32> {
    let taken: std::collections::BTreeSet<u32> = rules.iter().filter_map(|r| r.priority).collect();
    (1..=MAX_PRIORITY).find(|p| !taken.contains(p))
}

/// Whether `rule` is exactly the test rule: the header with its one value, no other condition,
/// forwarding to `to` alone.
pub fn matches(rule: &ListenerRule, header: &TestHeader, to: &TargetGroupArn) -> bool {
    let header_ok = matches!(rule.headers.as_slice(), [(name, values)]
        if name.eq_ignore_ascii_case(&header.name) && values.as_slice() == [header.value.clone()]);
    header_ok && rule.other_conditions == 0 && rule.forward.as_slice() == [to.clone()]
}

/// Sends the header's requests to `to`: albflip's rule if it already does exactly that, else the old one
/// deleted and a new one created at the lowest free priority; read back either way. Returns the rule.
pub async fn point<A: Alb>(
    alb: &A,
    route: &HeaderRoute,
    to: &TargetGroupArn,
) -> Result<RuleArn, Error> {
    let rules = read(alb, route).await?;
    let existing = ours(&rules, &route.header);
    if let [only] = existing.as_slice() {
        if matches(only, &route.header, to) {
            return Ok(only.arn.clone());
        }
    }
    for r in existing {
        delete(alb, &r.arn).await?;
    }
    let rules = read(alb, route).await?;
    let priority = free_priority(&rules).ok_or_else(|| Error::State {
        what: format!(
            "every priority of listener {} is taken, so no test rule can be added",
            route.listener
        )
        .into(),
        fix: crate::text!("Free a priority, or name a test listener with ", {input crate::input::Input::TestListenerPort}),
    })?;
    let tag = route.header.to_string();
    let created = alb
        .create_header_rule(
            &route.listener,
            priority,
            &route.header,
            to,
            &[(TEST_RULE_TAG, tag.as_str())],
        )
        .await
        .map_err(|source| write_failed(route, source))?;
    let after = read(alb, route).await?;
    match after.iter().find(|r| r.arn == created) {
        Some(r) if matches(r, &route.header, to) && r.tags.get(TEST_RULE_TAG) == Some(&tag) => {
            Ok(created)
        }
        found => Err(Error::VerificationFailed {
            route: RouteId::Rule(created.clone()).to_string(),
            expected: format!("requests with {} forwarded to {}", route.header, to.name()),
            found: match found {
                Some(r) => format!("{r:?}"),
                None => "no such rule".to_string(),
            },
        }),
    }
}

/// Deletes albflip's rule for the header, if there is one, and reads back that it is gone. `Ok(true)`
/// when a rule was deleted.
pub async fn remove<A: Alb>(alb: &A, route: &HeaderRoute) -> Result<bool, Error> {
    let rules = read(alb, route).await?;
    let existing: Vec<RuleArn> = ours(&rules, &route.header)
        .iter()
        .map(|r| r.arn.clone())
        .collect();
    for arn in &existing {
        delete(alb, arn).await?;
    }
    if existing.is_empty() {
        return Ok(false);
    }
    let after = read(alb, route).await?;
    if let Some(left) = ours(&after, &route.header).first() {
        return Err(Error::VerificationFailed {
            route: RouteId::Rule(left.arn.clone()).to_string(),
            expected: "the test header's rule deleted".to_string(),
            found: "it is still there".to_string(),
        });
    }
    Ok(true)
}

async fn read<A: Alb>(alb: &A, route: &HeaderRoute) -> Result<Vec<ListenerRule>, Error> {
    alb.listener_rules(&route.listener)
        .await
        .map_err(Error::Read)
}

async fn delete<A: Alb>(alb: &A, rule: &RuleArn) -> Result<(), Error> {
    alb.delete_rule(rule)
        .await
        .map_err(|source| Error::WriteFailed {
            route: RouteId::Rule(rule.clone()).to_string(),
            source,
        })
}

fn write_failed(route: &HeaderRoute, source: ApiError) -> Error {
    Error::WriteFailed {
        route: RouteId::Listener(route.listener.clone()).to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/73e2d6bc24d8a067";
    const RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";

    fn header() -> TestHeader {
        TestHeader::parse("X-Albflip-Test=canary").unwrap()
    }

    fn rule(priority: u32, tagged: bool) -> ListenerRule {
        ListenerRule {
            arn: RuleArn::parse(RULE).unwrap(),
            priority: Some(priority),
            headers: vec![("x-albflip-test".into(), vec!["canary".into()])],
            other_conditions: 0,
            forward: vec![TargetGroupArn::parse(TG).unwrap()],
            tags: if tagged {
                [(
                    TEST_RULE_TAG.to_string(),
                    "X-Albflip-Test=canary".to_string(),
                )]
                .into()
            } else {
                Default::default()
            },
        }
    }

    #[test]
    fn the_lowest_free_priority_is_taken() {
        assert_eq!(free_priority(&[]), Some(1));
        assert_eq!(
            free_priority(&[rule(1, false), rule(2, false), rule(4, false)]),
            Some(3)
        );
    }

    #[test]
    fn only_a_tagged_rule_is_albflips_and_it_must_match_exactly() {
        let to = TargetGroupArn::parse(TG).unwrap();
        assert!(ours(&[rule(1, false)], &header()).is_empty());
        assert_eq!(ours(&[rule(1, true)], &header()).len(), 1);
        assert!(matches(&rule(1, true), &header(), &to));
        let mut extra = rule(1, true);
        extra.other_conditions = 1;
        assert!(!matches(&extra, &header(), &to));
    }

    #[test]
    fn headers_are_checked_as_the_alb_takes_them() {
        assert!(TestHeader::parse("X-Test").is_err());
        assert!(TestHeader::parse("X Test=1").is_err());
        assert!(TestHeader::parse("X-Test=a*").is_err());
        assert!(TestHeader::parse(&format!("X-Test={}", "v".repeat(129))).is_err());
        assert_eq!(
            TestHeader::parse(" X-Test = 1 ").unwrap().to_string(),
            "X-Test=1"
        );
    }
}
