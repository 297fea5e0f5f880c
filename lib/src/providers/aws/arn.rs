//! ELBv2 ARNs: validated on construction, and the names and CloudWatch dimensions read from them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A string that is not an ARN of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind} ARN (expected {example})")]
pub struct InvalidArn {
    /// What was given.
    pub value: String,
    /// Which kind of ARN was expected.
    pub kind: &'static str,
    /// An example of the expected shape.
    pub example: &'static str,
}

macro_rules! arn_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $marker:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the ARN.
            pub fn parse(value: &str) -> Result<Self, InvalidArn> {
                if arn_resource(value, $marker).is_some() {
                    Ok($name(value.to_string()))
                } else {
                    Err(InvalidArn { value: value.to_string(), kind: $kind, example: $example })
                }
            }

            /// The ARN as AWS spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidArn;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

arn_type!(
    /// The ARN of an Application Load Balancer.
    LoadBalancerArn,
    "load balancer",
    "loadbalancer/app/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID"
);
arn_type!(
    /// The ARN of an ALB listener.
    ListenerArn,
    "listener",
    "listener/app/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LB/ID/ID"
);
arn_type!(
    /// The ARN of an ALB listener rule.
    RuleArn,
    "listener rule",
    "listener-rule/app/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LB/ID/ID/ID"
);
arn_type!(
    /// The ARN of a target group.
    TargetGroupArn,
    "target group",
    "targetgroup/",
    "arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID"
);

/// The resource part of an ELBv2 ARN when it starts with `marker` and has a non-empty tail.
fn arn_resource<'a>(value: &'a str, marker: &str) -> Option<&'a str> {
    let mut parts = value.splitn(6, ':');
    let (arn, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (_region, _account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = arn == "arn"
        && partition.starts_with("aws")
        && service == "elasticloadbalancing"
        && resource.len() > marker.len()
        && resource.starts_with(marker)
        && !value.chars().any(char::is_whitespace);
    ok.then_some(resource)
}

impl TargetGroupArn {
    /// The target group's name, read from the ARN (`targetgroup/NAME/ID`).
    pub fn name(&self) -> &str {
        self.0
            .rsplit_once(":targetgroup/")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or_default()
    }

    /// The CloudWatch dimension value for this group: `targetgroup/NAME/ID`.
    pub fn metric_dimension(&self) -> &str {
        self.0
            .rsplit_once(':')
            .map(|(_, resource)| resource)
            .unwrap_or_default()
    }
}

impl ListenerArn {
    /// The ARN of the load balancer this listener belongs to.
    pub fn load_balancer(&self) -> LoadBalancerArn {
        // listener/app/NAME/LBID/LISTENERID -> loadbalancer/app/NAME/LBID
        let lb = self
            .0
            .rsplit_once('/')
            .map(|(head, _)| head.replacen(":listener/app/", ":loadbalancer/app/", 1))
            .unwrap_or_default();
        LoadBalancerArn(lb)
    }
}

impl RuleArn {
    /// The ARN of the listener this rule belongs to.
    pub fn listener(&self) -> ListenerArn {
        let listener = self
            .0
            .rsplit_once('/')
            .map(|(head, _)| head.replacen(":listener-rule/app/", ":listener/app/", 1))
            .unwrap_or_default();
        ListenerArn(listener)
    }
}

impl LoadBalancerArn {
    /// The load balancer's name, read from the ARN.
    pub fn name(&self) -> &str {
        self.0
            .rsplit_once(":loadbalancer/app/")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or_default()
    }

    /// The CloudWatch dimension value for this load balancer: `app/NAME/ID`.
    pub fn metric_dimension(&self) -> &str {
        self.0
            .rsplit_once(":loadbalancer/")
            .map(|(_, resource)| resource)
            .unwrap_or_default()
    }
}

/// The test listener's ARN as the user gave it, checked; the error names the setting and the fix.
pub fn test_listener(arn: &str) -> Result<ListenerArn, crate::Error> {
    use crate::input::Input;
    ListenerArn::parse(arn).map_err(|e| {
        crate::Error::invalid(
            Input::TestListenerArn,
            crate::text!({given Input::TestListenerArn}, format!(" {arn:?}")),
            e.to_string(),
            "Pass the ARN of the test listener (`aws elbv2 describe-listeners`)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-shop-blue-tg/50dc6c495c0c9188";
    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";

    #[test]
    fn arns_are_validated_and_read() {
        let tg = TargetGroupArn::parse(TG).unwrap();
        assert_eq!(tg.name(), "demo-shop-blue-tg");
        assert_eq!(
            tg.metric_dimension(),
            "targetgroup/demo-shop-blue-tg/50dc6c495c0c9188"
        );
        let listener = ListenerArn::parse(LISTENER).unwrap();
        let lb = listener.load_balancer();
        assert_eq!(lb.name(), "demo-shop-alb");
        assert_eq!(lb.metric_dimension(), "app/demo-shop-alb/50dc6c495c0c9188");
        assert!(ListenerArn::parse(TG).is_err());
        assert!(ListenerArn::parse("arn:aws:elasticloadbalancing:listener").is_err());
        assert!(TargetGroupArn::parse("demo-shop-blue-tg").is_err());
    }
}
