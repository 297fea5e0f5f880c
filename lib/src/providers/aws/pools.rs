//! The capacity behind the colors on AWS, whichever it is: Auto Scaling groups or the services of an
//! ECS cluster ([`AwsPools`]), chosen once from the deployment's [`CapacityPolicy`].

use aws_config::SdkConfig;

use crate::engine::lifecycle::CapacityPolicy;
use crate::ports::{ApiError, Backend, Capacity, CapacityPool, PoolInfo, PoolKind};
use crate::providers::aws::calls::CallCounter;
use crate::providers::aws::ecs::EcsServices;
use crate::providers::aws::AutoScaling;

/// Auto Scaling groups, or ECS services when the policy names a cluster.
#[derive(Debug, Clone)]
pub enum AwsPools {
    /// Each color's Auto Scaling group.
    AutoScaling(AutoScaling),
    /// Each color's ECS service.
    Ecs(EcsServices),
}

impl AwsPools {
    /// The pools `policy` describes: the ECS services of its cluster when it names one, else Auto
    /// Scaling groups.
    pub fn new(config: &SdkConfig, calls: CallCounter, policy: &CapacityPolicy) -> AwsPools {
        match &policy.ecs_cluster {
            Some(cluster) => AwsPools::Ecs(EcsServices::new(config, cluster, calls)),
            None => AwsPools::AutoScaling(AutoScaling::new(config, calls)),
        }
    }
}

impl CapacityPool for AwsPools {
    fn kind(&self) -> PoolKind {
        match self {
            AwsPools::AutoScaling(a) => CapacityPool::kind(a),
            AwsPools::Ecs(e) => e.kind(),
        }
    }

    async fn find(&self, backend: &Backend) -> Result<Vec<PoolInfo>, ApiError> {
        match self {
            AwsPools::AutoScaling(a) => CapacityPool::find(a, backend).await,
            AwsPools::Ecs(e) => e.find(backend).await,
        }
    }

    async fn describe(&self, name: &str) -> Result<Option<PoolInfo>, ApiError> {
        match self {
            AwsPools::AutoScaling(a) => CapacityPool::describe(a, name).await,
            AwsPools::Ecs(e) => CapacityPool::describe(e, name).await,
        }
    }

    async fn set_capacity(&self, name: &str, capacity: Capacity) -> Result<PoolInfo, ApiError> {
        match self {
            AwsPools::AutoScaling(a) => CapacityPool::set_capacity(a, name, capacity).await,
            AwsPools::Ecs(e) => CapacityPool::set_capacity(e, name, capacity).await,
        }
    }

    async fn set_hold(&self, name: &str, held_min: Option<u32>) -> Result<(), ApiError> {
        match self {
            AwsPools::AutoScaling(a) => CapacityPool::set_hold(a, name, held_min).await,
            AwsPools::Ecs(e) => CapacityPool::set_hold(e, name, held_min).await,
        }
    }
}
