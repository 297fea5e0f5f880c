//! Listener rules for the test header: read a listener's rules with their header conditions, create a
//! rule that forwards requests carrying a header to one target group, delete a rule.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HttpHeaderConditionConfig, Rule, RuleCondition, Tag,
};

use crate::ports::{ApiError, ApiErrorKind, TestHeader};
use crate::providers::aws::api::ListenerRule;
use crate::providers::aws::arn::{ListenerArn, RuleArn, TargetGroupArn};
use crate::providers::aws::errors::classify;
use crate::providers::aws::sdk::queued_write;
use crate::providers::aws::throttle::retry_throttled;

use super::{ElbV2, SERVICE};

/// Resources per `DescribeTags` call (the API's maximum).
const TAGS_PER_CALL: usize = 20;

impl ElbV2 {
    pub(super) async fn listener_rules_of(
        &self,
        listener: &ListenerArn,
    ) -> Result<Vec<ListenerRule>, ApiError> {
        let op = self.op("DescribeRules");
        let pages: Vec<_> = self
            .client
            .describe_rules()
            .listener_arn(listener.as_str())
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(&op, e))?;
        let mut rules: Vec<ListenerRule> = pages
            .iter()
            .flat_map(|page| page.rules())
            .filter(|r| r.is_default() != Some(true))
            .filter_map(rule)
            .collect();
        // Tags only where a test header's rule can be: rules with a header condition.
        let tagged: Vec<String> = rules
            .iter()
            .filter(|r| !r.headers.is_empty())
            .map(|r| r.arn.as_str().to_string())
            .collect();
        for chunk in tagged.chunks(TAGS_PER_CALL) {
            let arns: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let mut tags = crate::providers::aws::api::AlbInventory::tags(self, &arns).await?;
            for r in rules.iter_mut() {
                if let Some(t) = tags.remove(r.arn.as_str()) {
                    r.tags = t;
                }
            }
        }
        Ok(rules)
    }

    pub(super) async fn create_rule(
        &self,
        listener: &ListenerArn,
        priority: u32,
        header: &TestHeader,
        to: &TargetGroupArn,
        tags: &[(&str, &str)],
    ) -> Result<RuleArn, ApiError> {
        let op = format!("{SERVICE}:CreateRule");
        let condition = RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name(&header.name)
                    .values(&header.value)
                    .build(),
            )
            .build();
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(to.as_str())
            .build();
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect();
        // A write like the route's: in its turn in the write queue, one SDK attempt per turn.
        let out = retry_throttled(|| async {
            self.calls.record(&op);
            self.client
                .create_rule()
                .listener_arn(listener.as_str())
                .priority(i32::try_from(priority).unwrap_or(i32::MAX))
                .conditions(condition.clone())
                .actions(forward.clone())
                .set_tags(Some(tags.clone()))
                .customize()
                .config_override(queued_write())
                .send()
                .await
                .map_err(|e| classify(&op, e))
        })
        .await?;
        out.rules()
            .first()
            .and_then(|r| r.rule_arn())
            .and_then(|a| RuleArn::parse(a).ok())
            .ok_or_else(|| ApiError::new(&op, ApiErrorKind::Other, "the response lists no rule"))
    }

    pub(super) async fn delete(&self, rule: &RuleArn) -> Result<(), ApiError> {
        let op = format!("{SERVICE}:DeleteRule");
        retry_throttled(|| async {
            self.calls.record(&op);
            self.client
                .delete_rule()
                .rule_arn(rule.as_str())
                .customize()
                .config_override(queued_write())
                .send()
                .await
                .map_err(|e| classify(&op, e))
        })
        .await?;
        Ok(())
    }
}

/// A rule as the test header sees it; `None` when its ARN is not one.
fn rule(r: &Rule) -> Option<ListenerRule> {
    let arn = RuleArn::parse(r.rule_arn()?).ok()?;
    let headers: Vec<(String, Vec<String>)> = r
        .conditions()
        .iter()
        .filter(|c| c.field() == Some("http-header"))
        .filter_map(|c| {
            let h = c.http_header_config()?;
            Some((h.http_header_name()?.to_string(), h.values().to_vec()))
        })
        .collect();
    let other_conditions = r.conditions().len() - headers.len();
    let forward = r
        .actions()
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .flat_map(|a| {
            let single = a.target_group_arn().map(str::to_string);
            let weighted = a
                .forward_config()
                .map(|f| {
                    f.target_groups()
                        .iter()
                        .filter(|t| t.weight().unwrap_or(1) > 0)
                        .filter_map(|t| t.target_group_arn().map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            single.into_iter().chain(weighted)
        })
        .filter_map(|a| TargetGroupArn::parse(&a).ok())
        .collect::<Vec<_>>();
    let mut forward = forward;
    forward.dedup();
    Some(ListenerRule {
        arn,
        priority: r.priority().and_then(|p| p.parse().ok()),
        headers,
        other_conditions,
        forward,
        tags: Default::default(),
    })
}
