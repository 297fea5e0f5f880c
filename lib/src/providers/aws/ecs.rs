//! ECS services as the capacity behind a color ([`EcsServices`], a [`CapacityPool`]): one service per
//! color in one cluster, each registered with its color's target group. It reads services and writes
//! the sizes it is given; when to raise, hold, lower or scale to zero is decided in [`crate::capacity`].
//!
//! A service's sizes as albflip sees them: its desired size is `desiredCount`; its members in service
//! are `runningCount`; its minimum and maximum are those of its Application Auto Scaling scalable
//! target (`ecs:service:DesiredCount`) when it has one. A service without one has nothing that scales
//! it but a write, and reads as minimum = maximum = desired (so albflip has nothing to hold). Holding a
//! service for a deployment raises its scalable target's `MinCapacity` to the desired count, so service
//! auto scaling cannot scale it in while traffic moves; the minimum it had is kept in the service's tag
//! `albflip:held-min` until the hold ends.

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTarget, ServiceNamespace};
use aws_sdk_ecs::types::{Service, ServiceField, Tag};

use crate::ports::{ApiError, ApiErrorKind, Backend, Capacity, CapacityPool, PoolInfo, PoolKind};
use crate::providers::aws::calls::CallCounter;
use crate::providers::aws::errors::classify;

/// The tag on a service albflip holds for a deployment: its scalable target's minimum before.
pub const HOLD_TAG: &str = "albflip:held-min";

/// Services per `DescribeServices` call (the API's maximum).
const DESCRIBE_BATCH: usize = 10;

/// The services of one ECS cluster as albflip's [`CapacityPool`]: a pool is a service, named by its
/// name; a backend's pools are the services whose load balancers name its target group.
#[derive(Debug, Clone)]
pub struct EcsServices {
    ecs: aws_sdk_ecs::Client,
    scaling: aws_sdk_applicationautoscaling::Client,
    cluster: String,
    calls: CallCounter,
}

/// One service as read: what albflip needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServiceInfo {
    name: String,
    arn: String,
    desired: u32,
    running: u32,
    target_groups: Vec<String>,
    held_min: Option<u32>,
}

impl EcsServices {
    /// The services of `cluster` (name or ARN), through clients built from `config`, counting calls in
    /// `calls`.
    pub fn new(config: &SdkConfig, cluster: &str, calls: CallCounter) -> EcsServices {
        EcsServices {
            ecs: aws_sdk_ecs::Client::new(config),
            scaling: aws_sdk_applicationautoscaling::Client::new(config),
            cluster: cluster.to_string(),
            calls,
        }
    }

    /// The cluster's name (the last part of an ARN).
    pub fn cluster(&self) -> &str {
        cluster_name(&self.cluster)
    }

    fn op(&self, name: &str) -> String {
        self.calls.record(name);
        name.to_string()
    }

    /// The services named (at most [`DESCRIBE_BATCH`]), with their tags; missing ones are left out.
    async fn services(&self, names: &[String]) -> Result<Vec<ServiceInfo>, ApiError> {
        let op = self.op("ecs:DescribeServices");
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .set_services(Some(names.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        Ok(out
            .services()
            .iter()
            .filter(|s| s.status() != Some("INACTIVE"))
            .map(service_info)
            .collect())
    }

    /// The service named `name`, if it exists (and is not deleted).
    async fn service(&self, name: &str) -> Result<Option<ServiceInfo>, ApiError> {
        let found = self.services(&[name.to_string()]).await?;
        Ok(found.into_iter().find(|s| s.name == name || s.arn == name))
    }

    /// Every service ARN of the cluster.
    async fn list(&self) -> Result<Vec<String>, ApiError> {
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let op = self.op("ecs:ListServices");
            let out = self
                .ecs
                .list_services()
                .cluster(&self.cluster)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify(&op, e))?;
            arns.extend(out.service_arns().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(arns),
            }
        }
    }

    /// The scalable target of service `name`, if service auto scaling is set up for it.
    async fn scalable_target(&self, name: &str) -> Result<Option<ScalableTarget>, ApiError> {
        let op = self.op("application-autoscaling:DescribeScalableTargets");
        let out = self
            .scaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_ids(self.resource_id(name))
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        let id = self.resource_id(name);
        Ok(out
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == id)
            .cloned())
    }

    /// Application Auto Scaling's id of service `name`: `service/CLUSTER/NAME`.
    fn resource_id(&self, name: &str) -> String {
        format!("service/{}/{}", self.cluster(), name)
    }

    /// The service and its scalable target as a pool.
    async fn pool(&self, service: ServiceInfo) -> Result<PoolInfo, ApiError> {
        let target = self.scalable_target(&service.name).await?;
        Ok(pool(&service, target.as_ref()))
    }

    async fn set_min_max(&self, name: &str, capacity: Capacity) -> Result<(), ApiError> {
        let op = self.op("application-autoscaling:RegisterScalableTarget");
        self.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(self.resource_id(name))
            .min_capacity(api_size(capacity.min))
            .max_capacity(api_size(capacity.max))
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        Ok(())
    }

    async fn set_desired(&self, name: &str, desired: u32) -> Result<(), ApiError> {
        let op = self.op("ecs:UpdateService");
        self.ecs
            .update_service()
            .cluster(&self.cluster)
            .service(name)
            .desired_count(api_size(desired))
            .send()
            .await
            .map_err(|e| classify(&op, e))?;
        Ok(())
    }

    fn missing(&self, op: &str, name: &str) -> ApiError {
        ApiError::new(
            op,
            ApiErrorKind::NotFound,
            format!("ECS service {name} is not in cluster {}", self.cluster()),
        )
    }
}

impl CapacityPool for EcsServices {
    fn kind(&self) -> PoolKind {
        PoolKind::EcsService
    }

    async fn find(&self, backend: &Backend) -> Result<Vec<PoolInfo>, ApiError> {
        let arns = self.list().await?;
        let mut found = Vec::new();
        for batch in arns.chunks(DESCRIBE_BATCH) {
            for service in self.services(batch).await? {
                if service.target_groups.contains(&backend.id) {
                    found.push(self.pool(service).await?);
                }
            }
        }
        Ok(found)
    }

    async fn describe(&self, name: &str) -> Result<Option<PoolInfo>, ApiError> {
        match self.service(name).await? {
            Some(service) => Ok(Some(self.pool(service).await?)),
            None => Ok(None),
        }
    }

    /// With a scalable target, its minimum and maximum first (one `RegisterScalableTarget`, which
    /// updates it), then `desiredCount` (`UpdateService`); without one, `desiredCount` alone.
    async fn set_capacity(&self, name: &str, capacity: Capacity) -> Result<PoolInfo, ApiError> {
        if self.scalable_target(name).await?.is_some() {
            self.set_min_max(name, capacity).await?;
        }
        self.set_desired(name, capacity.desired).await?;
        CapacityPool::describe(self, name)
            .await?
            .ok_or_else(|| self.missing("ecs:UpdateService", name))
    }

    async fn set_hold(&self, name: &str, held_min: Option<u32>) -> Result<(), ApiError> {
        let service = self
            .service(name)
            .await?
            .ok_or_else(|| self.missing("ecs:DescribeServices", name))?;
        match held_min {
            Some(min) => {
                let op = self.op("ecs:TagResource");
                let tag = Tag::builder().key(HOLD_TAG).value(min.to_string()).build();
                self.ecs
                    .tag_resource()
                    .resource_arn(&service.arn)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| classify(&op, e))?;
            }
            None => {
                let op = self.op("ecs:UntagResource");
                self.ecs
                    .untag_resource()
                    .resource_arn(&service.arn)
                    .tag_keys(HOLD_TAG)
                    .send()
                    .await
                    .map_err(|e| classify(&op, e))?;
            }
        }
        Ok(())
    }
}

/// The name of a cluster given by name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`).
fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit('/').next().unwrap_or(cluster)
}

/// A count as albflip counts it: negative counts read as zero.
fn count(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// A size as the API takes it: sizes beyond `i32::MAX` are clamped.
fn api_size(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn service_info(s: &Service) -> ServiceInfo {
    ServiceInfo {
        name: s.service_name().unwrap_or_default().to_string(),
        arn: s.service_arn().unwrap_or_default().to_string(),
        desired: count(s.desired_count()),
        running: count(s.running_count()),
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.target_group_arn().map(str::to_string))
            .collect(),
        held_min: s
            .tags()
            .iter()
            .find(|t| t.key() == Some(HOLD_TAG))
            .and_then(|t| t.value()?.parse().ok()),
    }
}

/// A service (and its scalable target, if any) as a pool.
fn pool(s: &ServiceInfo, target: Option<&ScalableTarget>) -> PoolInfo {
    let (min, max) = match target {
        Some(t) => (count(t.min_capacity()), count(t.max_capacity())),
        // Nothing but a write changes its size: there is no range to keep it in.
        None => (s.desired, s.desired),
    };
    PoolInfo {
        name: s.name.clone(),
        min,
        max,
        desired: s.desired,
        in_service: s.running,
        serves: s.target_groups.clone(),
        held_min: s.held_min,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::LoadBalancer;

    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-blue-tg/0000000000000003";

    fn service() -> Service {
        Service::builder()
            .service_name("shop-blue")
            .service_arn("arn:aws:ecs:us-east-1:123456789012:service/shop/shop-blue")
            .desired_count(3)
            .running_count(2)
            .load_balancers(LoadBalancer::builder().target_group_arn(TG).build())
            .tags(Tag::builder().key(HOLD_TAG).value("1").build())
            .build()
    }

    #[test]
    fn a_service_reads_its_counts_target_groups_and_hold() {
        let s = service_info(&service());
        assert_eq!((s.desired, s.running), (3, 2));
        assert_eq!(s.target_groups, vec![TG.to_string()]);
        assert_eq!(s.held_min, Some(1));
    }

    #[test]
    fn without_a_scalable_target_a_service_has_nothing_to_hold() {
        let p = pool(&service_info(&service()), None);
        assert_eq!((p.min, p.max, p.desired, p.in_service), (3, 3, 3, 2));
        let target = ScalableTarget::builder()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id("service/shop/shop-blue")
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(1)
            .max_capacity(6)
            .role_arn("arn:aws:iam::123456789012:role/scaling")
            .creation_time(aws_sdk_applicationautoscaling::primitives::DateTime::from_secs(0))
            .build()
            .expect("a scalable target");
        let p = pool(&service_info(&service()), Some(&target));
        assert_eq!((p.min, p.max, p.desired), (1, 6, 3));
    }

    #[test]
    fn a_cluster_is_named_by_name_or_arn() {
        assert_eq!(cluster_name("shop"), "shop");
        assert_eq!(
            cluster_name("arn:aws:ecs:us-east-1:123456789012:cluster/shop"),
            "shop"
        );
        assert_eq!(count(-1), 0);
        assert_eq!(api_size(u32::MAX), i32::MAX);
    }
}
