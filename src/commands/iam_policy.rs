//! `albflip iam-policy`: the least-privilege IAM policy (JSON) albflip needs for this route, its lock
//! table and its Auto Scaling groups.

use albflip::aws::iam::PoolScope;
use albflip::Error;

use super::common::{emit, Session};
use crate::args::GlobalArgs;
use crate::exit;
use crate::settings::Settings;

/// Prints the policy; reads the route only when it is not named by ARN.
pub async fn run(settings: Settings, g: &GlobalArgs) -> Result<u8, Error> {
    let session = Session::open(None, &settings, g).await?;
    let route = match settings.target.route.route_id() {
        Some(route) => route,
        None => {
            albflip::aws::resolve::resolve(&session.alb, &settings.target)
                .await?
                .snapshot
                .route
        }
    };
    // With one pool unnamed, albflip may discover it: then every group of the account (every service
    // of the cluster).
    let capacity = &session.lifecycle.capacity;
    let named: Vec<&str> = match (
        capacity.named(albflip::model::Color::Blue),
        capacity.named(albflip::model::Color::Green),
    ) {
        (Some(blue), Some(green)) => vec![blue, green],
        _ => Vec::new(),
    };
    let pools = match &capacity.ecs_cluster {
        Some(cluster) => PoolScope::Ecs {
            cluster: cluster.rsplit('/').next().unwrap_or(cluster),
            services: &named,
        },
        None => PoolScope::AutoScaling(&named),
    };
    let policy = albflip::aws::iam::policy_for(
        &route,
        settings
            .lock_table
            .as_deref()
            .or(settings.convention_lock_table.as_deref()),
        pools,
    );
    let header = session
        .lifecycle
        .test_traffic
        .as_ref()
        .is_some_and(|t| matches!(t.listener, albflip::ports::TestListener::Header(_)));
    let policy = if header {
        albflip::aws::iam::with_test_header(policy, &route)
    } else {
        policy
    };
    let out = format!(
        "{}\n",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    );
    emit(&out, g);
    Ok(exit::SUCCESS)
}
