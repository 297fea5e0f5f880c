//! SDK readers: clients on the emulator, and what tests read through them: the listener's forward
//! action, weights, tags and before/after fingerprints.

use std::sync::OnceLock;

use aws_sdk_elasticloadbalancingv2 as elb;

use super::emulator::{emulator, rt, REGION};
use super::stacks::Stack;

/// An SDK client on the emulator.
pub fn elb() -> elb::Client {
    static CLIENT: OnceLock<elb::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let conf = elb::Config::builder()
                .behavior_version(elb::config::BehaviorVersion::latest())
                .region(elb::config::Region::new(REGION))
                .endpoint_url(&emulator().endpoint)
                .credentials_provider(elb::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .http_client(albflip::aws::sdk::http_client())
                .build();
            elb::Client::from_conf(conf)
        })
        .clone()
}

/// Everything the API says about a listener, its rules and its tags, for before/after comparisons.
pub fn fingerprint(listener_arn: &str) -> String {
    fingerprint_with(&elb(), listener_arn)
}

/// The listener, its rules and its tags as `client` reads them.
pub fn listener_state(
    client: &elb::Client,
    listener_arn: &str,
) -> (
    Vec<elb::types::Listener>,
    Vec<elb::types::Rule>,
    Vec<elb::types::TagDescription>,
) {
    rt().block_on(async {
        let l = client
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .expect("describe listeners");
        let r = client
            .describe_rules()
            .listener_arn(listener_arn)
            .send()
            .await
            .expect("describe rules");
        let t = client
            .describe_tags()
            .resource_arns(listener_arn)
            .send()
            .await
            .expect("describe tags");
        (
            l.listeners().to_vec(),
            r.rules().to_vec(),
            t.tag_descriptions().to_vec(),
        )
    })
}

/// [`fingerprint`] through `client`.
pub fn fingerprint_with(client: &elb::Client, listener_arn: &str) -> String {
    let (listeners, rules, tags) = listener_state(client, listener_arn);
    format!("{listeners:?}\n{rules:?}\n{tags:?}")
}

/// An SDK configuration for the library's adapters against the test run's emulator.
pub fn sdk_config() -> albflip::aws::SdkConfig {
    albflip::aws::SdkConfig::builder()
        .behavior_version(elb::config::BehaviorVersion::latest())
        .region(elb::config::Region::new(REGION))
        .endpoint_url(&emulator().endpoint)
        .credentials_provider(elb::config::SharedCredentialsProvider::new(
            elb::config::Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .http_client(albflip::aws::sdk::http_client())
        .build()
}

/// (target group ARN, weight) pairs of a forward action.
pub type Groups = Vec<(String, Option<i32>)>;
/// (enabled, duration) of a forward action's stickiness config.
pub type Sticky = Option<(bool, Option<i32>)>;

/// The default forward action of a listener: its groups and stickiness.
pub fn forward(listener_arn: &str) -> (Groups, Sticky) {
    rt().block_on(async {
        let out = elb()
            .describe_listeners()
            .listener_arns(listener_arn)
            .send()
            .await
            .expect("describe");
        let action = out.listeners()[0].default_actions()[0].clone();
        let cfg = action.forward_config();
        let groups = match cfg.map(|c| c.target_groups()).filter(|g| !g.is_empty()) {
            Some(g) => g
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        t.weight(),
                    )
                })
                .collect(),
            None => vec![(
                action.target_group_arn().unwrap_or_default().to_string(),
                None,
            )],
        };
        let sticky = cfg
            .and_then(|c| c.target_group_stickiness_config())
            .map(|s| (s.enabled().unwrap_or(false), s.duration_seconds()));
        (groups, sticky)
    })
}

/// The weights of blue and green on a listener's default action.
pub fn weights(stack: &Stack) -> (Option<i32>, Option<i32>) {
    let (groups, _) = forward(&stack.listener_arn);
    let w = |arn: &str| groups.iter().find(|(a, _)| a == arn).and_then(|(_, w)| *w);
    (w(&stack.blue_tg), w(&stack.green_tg))
}

/// The listener's tag `key`.
pub fn tag(arn: &str, key: &str) -> Option<String> {
    rt().block_on(async {
        let out = elb()
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .expect("describe tags");
        out.tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value().map(str::to_string))
    })
}

/// A deployment finished on green: 0/100, green stable, state complete, stickiness as given.
#[track_caller]
pub fn assert_completed_on_green(stack: &Stack, stickiness: Sticky) {
    assert_eq!(weights(stack), (Some(0), Some(100)));
    assert_eq!(
        tag(&stack.listener_arn, "albflip:stable").as_deref(),
        Some("green")
    );
    assert_eq!(
        tag(&stack.listener_arn, "albflip:state").as_deref(),
        Some("complete")
    );
    assert_eq!(
        forward(&stack.listener_arn).1,
        stickiness,
        "stickiness kept"
    );
}

/// An ECS service as the API reads it: desired and running counts, and albflip's hold tag.
pub fn ecs_service(cluster: &str, name: &str) -> (i32, i32, Option<String>) {
    rt().block_on(async {
        let out = aws_sdk_ecs::Client::new(&sdk_config())
            .describe_services()
            .cluster(cluster)
            .services(name)
            .include(aws_sdk_ecs::types::ServiceField::Tags)
            .send()
            .await
            .expect("describe services");
        let s = &out.services()[0];
        let held = s
            .tags()
            .iter()
            .find(|t| t.key() == Some("albflip:held-min"))
            .and_then(|t| t.value().map(str::to_string));
        (s.desired_count(), s.running_count(), held)
    })
}

/// The minimum and maximum of an ECS service's scalable target.
pub fn scalable_target(cluster: &str, name: &str) -> (i32, i32) {
    use aws_sdk_applicationautoscaling::types::ServiceNamespace;
    rt().block_on(async {
        let out = aws_sdk_applicationautoscaling::Client::new(&sdk_config())
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(format!("service/{cluster}/{name}"))
            .send()
            .await
            .expect("describe scalable targets");
        let t = &out.scalable_targets()[0];
        (t.min_capacity(), t.max_capacity())
    })
}

/// A listener's or rule's ARN as albflip's lines name it without `-v`: `default action of listener ID
/// on LB`, `listener rule ID of listener ID on LB`.
pub fn route_named(arn: &str) -> String {
    let parts: Vec<&str> = arn.rsplit(':').next().unwrap_or(arn).split('/').collect();
    match parts.as_slice() {
        ["listener", _, lb, _, listener] => {
            format!("default action of listener {listener} on {lb}")
        }
        ["listener-rule", _, lb, _, listener, rule] => {
            format!("listener rule {rule} of listener {listener} on {lb}")
        }
        _ => panic!("not a listener or rule ARN: {arn}"),
    }
}
