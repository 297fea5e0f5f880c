//! `albflip iam-policy`: the least-privilege IAM policy (JSON) albflip needs for this route, its lock
//! table and its Auto Scaling groups.

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
    // With one group unnamed, albflip may discover it: then every group of the account.
    let capacity = &session.lifecycle.capacity;
    let asgs: Vec<&str> = match (&capacity.blue_asg, &capacity.green_asg) {
        (Some(blue), Some(green)) => vec![blue, green],
        _ => Vec::new(),
    };
    let policy = albflip::aws::iam::policy(
        &route,
        settings
            .lock_table
            .as_deref()
            .or(settings.convention_lock_table.as_deref()),
        &asgs,
    );
    let out = format!(
        "{}\n",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    );
    emit(&out, g);
    Ok(exit::SUCCESS)
}
