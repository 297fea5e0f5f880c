//! The least-privilege IAM policy albflip needs for a route: what it reads (describe calls, which AWS
//! does not scope to resources), what it writes (the listener or rule, scoped to its ARN), the metrics
//! it reads and the lock table it uses.

use serde_json::{json, Value};

use crate::route::RouteId;

/// ELBv2 read actions; AWS does not support resource-level permissions for them.
pub const ELB_READS: &[&str] = &[
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
];

/// CloudWatch reads for the gates (not resource-scoped by AWS).
pub const METRIC_READS: &[&str] = &["cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"];

/// Lock table actions.
pub const LOCK_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

/// The policy document for `route` (and the lock table, when one is used).
pub fn policy(route: &RouteId, lock_table: Option<&str>) -> Value {
    let (write, resource) = match route {
        RouteId::Listener(arn) => ("elasticloadbalancing:ModifyListener", arn.as_str()),
        RouteId::Rule(arn) => ("elasticloadbalancing:ModifyRule", arn.as_str()),
    };
    let mut statements = vec![
        json!({"Sid": "AlbflipReadLoadBalancers", "Effect": "Allow", "Action": ELB_READS, "Resource": "*"}),
        json!({
            "Sid": "AlbflipWriteRoute",
            "Effect": "Allow",
            "Action": [write, "elasticloadbalancing:AddTags"],
            "Resource": [resource],
        }),
        json!({"Sid": "AlbflipReadMetrics", "Effect": "Allow", "Action": METRIC_READS, "Resource": "*"}),
    ];
    if let Some(table) = lock_table {
        // arn:aws:elasticloadbalancing:REGION:ACCOUNT:... -> arn:aws:dynamodb:REGION:ACCOUNT:table/NAME
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        let (partition, region, account) = (
            parts.get(1).copied().unwrap_or("aws"),
            parts.get(3).copied().unwrap_or("*"),
            parts.get(4).copied().unwrap_or("*"),
        );
        statements.push(json!({
            "Sid": "AlbflipLock",
            "Effect": "Allow",
            "Action": LOCK_ACTIONS,
            "Resource": [format!("arn:{partition}:dynamodb:{region}:{account}:table/{table}")],
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ListenerArn;

    #[test]
    fn writes_are_scoped_to_the_route_and_the_lock_table() {
        let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        let p = policy(
            &RouteId::Listener(ListenerArn::parse(arn).unwrap()),
            Some("prod-shop-albflip-locks"),
        );
        let s = p["Statement"].as_array().unwrap();
        assert_eq!(
            s[1]["Action"],
            json!([
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddTags"
            ])
        );
        assert_eq!(s[1]["Resource"], json!([arn]));
        assert_eq!(
            s[3]["Resource"],
            json!(["arn:aws:dynamodb:eu-west-1:123456789012:table/prod-shop-albflip-locks"])
        );
        assert!(s.iter().all(|st| st["Effect"] == "Allow"));
    }
}
