//! The Auto Scaling adapter: [`Scaler`] over the Auto Scaling API. It reads groups and writes the sizes
//! it is given; when to raise, lower or scale to zero is decided in [`crate::capacity`].

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use aws_sdk_autoscaling::Client;

use crate::ports::{ApiError, Capacity};
use crate::providers::aws::api::{AsgInfo, Scaler};
use crate::providers::aws::arn::TargetGroupArn;
use crate::providers::aws::calls::CallCounter;
use crate::providers::aws::errors::classify;

const SERVICE: &str = "autoscaling";

/// Groups per `DescribeAutoScalingGroups` page (the API's maximum).
const PAGE_SIZE: i32 = 100;

/// The Auto Scaling API as albflip's [`Scaler`].
#[derive(Debug, Clone)]
pub struct AutoScaling {
    client: Client,
    calls: CallCounter,
}

impl AutoScaling {
    /// An adapter over a client built from `config`, counting calls in `calls`.
    pub fn new(config: &SdkConfig, calls: CallCounter) -> AutoScaling {
        AutoScaling {
            client: Client::new(config),
            calls,
        }
    }

    fn op(&self, name: &str) -> String {
        let op = format!("{SERVICE}:{name}");
        self.calls.record(&op);
        op
    }

    /// One page of groups (all groups when `name` is `None`) and the token of the next page.
    async fn page(
        &self,
        name: Option<&str>,
        token: Option<String>,
    ) -> Result<(Vec<AsgInfo>, Option<String>), ApiError> {
        let op = self.op("DescribeAutoScalingGroups");
        let out = self
            .client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(name.map(|n| vec![n.to_string()]))
            .max_records(PAGE_SIZE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        let groups = out.auto_scaling_groups().iter().map(info).collect();
        Ok((groups, out.next_token().map(str::to_string)))
    }
}

/// A size as albflip counts it: negative or missing sizes read as zero.
fn size(v: Option<i32>) -> u32 {
    v.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

/// A size as the API takes it: sizes beyond `i32::MAX` are clamped (the API caps groups far lower).
fn api_size(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn info(g: &AutoScalingGroup) -> AsgInfo {
    let in_service = g
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
        .count();
    AsgInfo {
        name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
        min: size(g.min_size()),
        max: size(g.max_size()),
        desired: size(g.desired_capacity()),
        in_service: u32::try_from(in_service).unwrap_or(u32::MAX),
        target_groups: g
            .target_group_arns()
            .iter()
            .filter_map(|a| TargetGroupArn::parse(a).ok())
            .collect(),
        held_min: g
            .tags()
            .iter()
            .find(|t| t.key() == Some(HOLD_TAG))
            .and_then(|t| t.value()?.parse().ok()),
    }
}

/// The tag on a group albflip holds for a deployment: the minimum it had before.
pub const HOLD_TAG: &str = "albflip:held-min";

impl Scaler for AutoScaling {
    async fn groups_for_target_group(
        &self,
        target_group: &TargetGroupArn,
    ) -> Result<Vec<AsgInfo>, ApiError> {
        // The API filters by tag only, so discovery pages through every group of the region.
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let (groups, next) = self.page(None, token).await?;
            found.extend(
                groups
                    .into_iter()
                    .filter(|g| g.target_groups.contains(target_group)),
            );
            match next {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(found),
            }
        }
    }

    async fn describe(&self, name: &str) -> Result<Option<AsgInfo>, ApiError> {
        let (groups, _) = self.page(Some(name), None).await?;
        Ok(groups.into_iter().find(|g| g.name == name))
    }

    async fn set_capacity(&self, name: &str, capacity: Capacity) -> Result<AsgInfo, ApiError> {
        let op = self.op("UpdateAutoScalingGroup");
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(api_size(capacity.min))
            .max_size(api_size(capacity.max))
            .desired_capacity(api_size(capacity.desired))
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        self.describe(name).await?.ok_or_else(|| {
            ApiError::new(
                op,
                crate::ports::ApiErrorKind::NotFound,
                format!("Auto Scaling group {name} is gone after the update"),
            )
        })
    }

    async fn set_hold(&self, name: &str, held_min: Option<u32>) -> Result<(), ApiError> {
        let tag = |value: Option<String>| {
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(HOLD_TAG)
                .set_value(value)
                .propagate_at_launch(false)
                .build()
        };
        match held_min {
            Some(min) => {
                let op = self.op("CreateOrUpdateTags");
                self.client
                    .create_or_update_tags()
                    .tags(tag(Some(min.to_string())))
                    .send()
                    .await
                    .map_err(|e| classify(&op, e))?;
            }
            None => {
                let op = self.op("DeleteTags");
                self.client
                    .delete_tags()
                    .tags(tag(None))
                    .send()
                    .await
                    .map_err(|e| classify(&op, e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_autoscaling::types::Instance;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue-tg/0000000000000003";

    fn instance(state: LifecycleState) -> Instance {
        Instance::builder().lifecycle_state(state).build()
    }

    #[test]
    fn a_group_counts_in_service_instances_only() {
        let g = AutoScalingGroup::builder()
            .auto_scaling_group_name("shop-blue-asg")
            .min_size(0)
            .max_size(4)
            .desired_capacity(2)
            .instances(instance(LifecycleState::InService))
            .instances(instance(LifecycleState::Pending))
            .target_group_arns(TG)
            .target_group_arns("not an arn")
            .build();
        let i = info(&g);
        assert_eq!((i.min, i.max, i.desired, i.in_service), (0, 4, 2, 1));
        assert_eq!(i.name, "shop-blue-asg");
        assert_eq!(i.target_groups.len(), 1);
        assert_eq!(i.target_groups[0].as_str(), TG);
    }

    #[test]
    fn negative_sizes_read_as_zero_and_huge_ones_are_clamped() {
        assert_eq!(size(Some(-1)), 0);
        assert_eq!(size(None), 0);
        assert_eq!(api_size(u32::MAX), i32::MAX);
    }
}
