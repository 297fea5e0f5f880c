//! The least-privilege IAM policy albflip needs for a route: what it reads (describe calls, which AWS
//! does not scope to resources), what it writes (the listener or rule, scoped to its ARN), the metrics
//! it reads, the Auto Scaling groups it resizes and the lock table it uses.

use serde_json::{json, Value};

use crate::providers::aws::route::RouteId;

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

/// Auto Scaling reads (matching capacity, discovery, cleanup, rollback); not resource-scoped by AWS.
pub const ASG_READS: &[&str] = &["autoscaling:DescribeAutoScalingGroups"];

/// Auto Scaling writes: resizing the colors' groups (scoped to their ARNs).
pub const ASG_WRITES: &[&str] = &[
    "autoscaling:UpdateAutoScalingGroup",
    // The hold during a deployment: the minimum a group had, recorded as a tag on it.
    "autoscaling:CreateOrUpdateTags",
    "autoscaling:DeleteTags",
];

/// ECS reads: finding the service registered with a color's target group (and ending a hold after a
/// killed run); `ecs:ListServices` is not resource-scoped by AWS.
pub const ECS_READS: &[&str] = &["ecs:ListServices"];

/// ECS actions on the colors' services (scoped to their ARNs): reading and resizing them, and the hold
/// during a deployment (the minimum a service's scalable target had, recorded as a tag on the service).
pub const ECS_WRITES: &[&str] = &[
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:TagResource",
    "ecs:UntagResource",
];

/// Application Auto Scaling reads: a service's scalable target (not resource-scoped by AWS).
pub const SERVICE_SCALING_READS: &[&str] = &["application-autoscaling:DescribeScalableTargets"];

/// Application Auto Scaling writes: a service's minimum and maximum (the hold, the scale-down).
pub const SERVICE_SCALING_WRITES: &[&str] = &["application-autoscaling:RegisterScalableTarget"];

/// The capacity behind the colors that the policy lets albflip read and resize.
#[derive(Debug, Clone, Copy)]
pub enum PoolScope<'a> {
    /// Auto Scaling groups, by name (none: every group of the account and region).
    AutoScaling(&'a [&'a str]),
    /// The services of an ECS cluster, by name (none: every service of the cluster).
    Ecs {
        /// The cluster's name.
        cluster: &'a str,
        /// The services.
        services: &'a [&'a str],
    },
}

/// Lock table actions.
pub const LOCK_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    // Whether the naming convention's lock table exists, when no table is named.
    "dynamodb:DescribeTable",
    // `albflip history`: the route's history items in the same table.
    "dynamodb:Scan",
];

/// The policy document for `route`, the Auto Scaling groups named in `asgs` (every group of the route's
/// account and region when none is named, since albflip may discover them) and the lock table, when one
/// is used.
pub fn policy(route: &RouteId, lock_table: Option<&str>, asgs: &[&str]) -> Value {
    policy_for(route, lock_table, PoolScope::AutoScaling(asgs))
}

/// The policy document for `route`, the capacity `pools` (Auto Scaling groups or ECS services) and the
/// lock table, when one is used.
pub fn policy_for(route: &RouteId, lock_table: Option<&str>, pools: PoolScope<'_>) -> Value {
    let (write, resource) = match route {
        RouteId::Listener(arn) => ("elasticloadbalancing:ModifyListener", arn.as_str()),
        RouteId::Rule(arn) => ("elasticloadbalancing:ModifyRule", arn.as_str()),
    };
    let scope = Scope::of(resource);
    let mut statements = vec![
        json!({"Sid": "AlbflipReadLoadBalancers", "Effect": "Allow", "Action": ELB_READS, "Resource": "*"}),
        json!({
            "Sid": "AlbflipWriteRoute",
            "Effect": "Allow",
            "Action": [write, "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [resource],
        }),
        json!({"Sid": "AlbflipReadMetrics", "Effect": "Allow", "Action": METRIC_READS, "Resource": "*"}),
    ];
    statements.extend(capacity_statements(&scope, pools));
    if let Some(table) = lock_table {
        statements.push(json!({
            "Sid": "AlbflipLock",
            "Effect": "Allow",
            "Action": LOCK_ACTIONS,
            "Resource": [scope.arn("dynamodb", &format!("table/{table}"))],
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Adds to `policy` what the test header needs (`--test-header`): creating its rule on the route's
/// listener (with its tag) and deleting it, scoped to the listener and its rules.
pub fn with_test_header(mut policy: Value, route: &RouteId) -> Value {
    let listener = route.listener();
    let rules = format!(
        "{}/*",
        listener
            .as_str()
            .replacen(":listener/", ":listener-rule/", 1)
    );
    let statement = json!({
        "Sid": "AlbflipTestHeaderRule",
        "Effect": "Allow",
        "Action": TEST_RULE_ACTIONS,
        "Resource": [listener.as_str(), rules],
    });
    if let Some(list) = policy["Statement"].as_array_mut() {
        list.push(statement);
    }
    policy
}

/// The test header's rule: created on the listener (tagged as it is created), deleted at the end.
pub const TEST_RULE_ACTIONS: &[&str] = &[
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:AddTags",
];

/// The statements that read and resize the colors' capacity.
fn capacity_statements(scope: &Scope<'_>, pools: PoolScope<'_>) -> Vec<Value> {
    match pools {
        PoolScope::AutoScaling(asgs) => vec![
            json!({"Sid": "AlbflipReadAutoScaling", "Effect": "Allow", "Action": ASG_READS, "Resource": "*"}),
            json!({
                "Sid": "AlbflipScaleColors",
                "Effect": "Allow",
                "Action": ASG_WRITES,
                "Resource": scope.asg_arns(asgs),
            }),
        ],
        PoolScope::Ecs { cluster, services } => {
            let names = if services.is_empty() {
                vec!["*"]
            } else {
                services.to_vec()
            };
            let arns: Vec<String> = names
                .iter()
                .map(|n| scope.arn("ecs", &format!("service/{cluster}/{n}")))
                .collect();
            vec![
                json!({"Sid": "AlbflipReadEcs", "Effect": "Allow", "Action": ECS_READS, "Resource": "*"}),
                json!({"Sid": "AlbflipScaleServices", "Effect": "Allow", "Action": ECS_WRITES, "Resource": arns}),
                json!({"Sid": "AlbflipReadServiceScaling", "Effect": "Allow", "Action": SERVICE_SCALING_READS, "Resource": "*"}),
                json!({
                    "Sid": "AlbflipHoldServiceScaling",
                    "Effect": "Allow",
                    "Action": SERVICE_SCALING_WRITES,
                    // A scalable target's ARN carries an id AWS gives it, not the service's name.
                    "Resource": [scope.arn("application-autoscaling", "scalable-target/*")],
                }),
            ]
        }
    }
}

/// The partition, region and account of the route, which the other resources share.
struct Scope<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl<'a> Scope<'a> {
    /// From `arn:aws:elasticloadbalancing:REGION:ACCOUNT:...`.
    fn of(resource: &'a str) -> Scope<'a> {
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        Scope {
            partition: parts.get(1).copied().unwrap_or("aws"),
            region: parts.get(3).copied().unwrap_or("*"),
            account: parts.get(4).copied().unwrap_or("*"),
        }
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        let Scope {
            partition,
            region,
            account,
        } = self;
        format!("arn:{partition}:{service}:{region}:{account}:{rest}")
    }

    /// `autoScalingGroup:*:autoScalingGroupName/NAME` for each group (the `*` is the group's id), or
    /// every group when none is named.
    fn asg_arns(&self, asgs: &[&str]) -> Vec<String> {
        let names = if asgs.is_empty() {
            vec!["*"]
        } else {
            asgs.to_vec()
        };
        names
            .iter()
            .map(|n| {
                self.arn(
                    "autoscaling",
                    &format!("autoScalingGroup:*:autoScalingGroupName/{n}"),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::aws::arn::ListenerArn;

    #[test]
    fn writes_are_scoped_to_the_route_and_the_lock_table() {
        let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        let p = policy(
            &RouteId::Listener(ListenerArn::parse(arn).unwrap()),
            Some("prod-shop-albflip-locks"),
            &["prod-shop-blue-asg", "prod-shop-green-asg"],
        );
        let s = p["Statement"].as_array().unwrap();
        assert_eq!(
            s[1]["Action"],
            json!([
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags"
            ])
        );
        assert_eq!(s[1]["Resource"], json!([arn]));
        assert_eq!(
            s[3]["Action"],
            json!(["autoscaling:DescribeAutoScalingGroups"])
        );
        assert_eq!(s[3]["Resource"], json!("*"));
        assert_eq!(
            s[4]["Resource"],
            json!([
                "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/prod-shop-blue-asg",
                "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/prod-shop-green-asg"
            ])
        );
        assert_eq!(
            s[5]["Resource"],
            json!(["arn:aws:dynamodb:eu-west-1:123456789012:table/prod-shop-albflip-locks"])
        );
        assert!(s.iter().all(|st| st["Effect"] == "Allow"));
    }

    #[test]
    fn ecs_services_are_scaled_on_their_arns_and_no_auto_scaling_group_is() {
        let arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        let route = RouteId::Listener(ListenerArn::parse(arn).unwrap());
        let services = ["shop-blue", "shop-green"];
        let pools = PoolScope::Ecs {
            cluster: "prod",
            services: &services,
        };
        let p = policy_for(&route, None, pools);
        let s = p["Statement"].as_array().unwrap();
        let text = p.to_string();
        assert!(!text.contains("\"autoscaling:"), "{text}");
        let scale = s
            .iter()
            .find(|st| st["Sid"] == "AlbflipScaleServices")
            .unwrap();
        assert_eq!(
            scale["Resource"],
            json!([
                "arn:aws:ecs:eu-west-1:123456789012:service/prod/shop-blue",
                "arn:aws:ecs:eu-west-1:123456789012:service/prod/shop-green"
            ])
        );
        assert!(set_of(&scale["Action"]).contains(&"ecs:UpdateService".to_string()));
        assert!(set_of(&scale["Action"]).contains(&"ecs:DescribeServices".to_string()));
        assert!(text.contains("application-autoscaling:RegisterScalableTarget"));
        assert!(text.contains("application-autoscaling:DescribeScalableTargets"));
        let any = policy_for(
            &route,
            None,
            PoolScope::Ecs {
                cluster: "prod",
                services: &[],
            },
        );
        assert!(any.to_string().contains("service/prod/*"), "{any}");
    }

    fn set_of(v: &Value) -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn without_named_groups_the_resize_covers_the_account_and_region_only() {
        let arn = "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:listener/app/a/1/2";
        let p = policy(
            &RouteId::Listener(ListenerArn::parse(arn).unwrap()),
            None,
            &[],
        );
        let s = p["Statement"].as_array().unwrap();
        assert_eq!(s.len(), 5, "no lock statement without a table");
        assert_eq!(
            s[4]["Action"],
            json!([
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:DeleteTags"
            ])
        );
        assert_eq!(
            s[4]["Resource"],
            json!(["arn:aws-cn:autoscaling:cn-north-1:123456789012:autoScalingGroup:*:autoScalingGroupName/*"])
        );
    }
}
