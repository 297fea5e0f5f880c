//! Names for people: a route, load balancer or target group by its name, not its ARN, in the HTML
//! report's sentences (the ARNs stay in its resource list and `title` attributes) and in the console lines.

use albflip::aws::arn::{LoadBalancerArn, TargetGroupArn};
use albflip::aws::route::RouteId;

/// The name of one ELB resource from its ARN: `default action of listener ID on LB`, `listener rule
/// ID of listener ID on LB`, `target group NAME`, `load balancer NAME`; `None` for anything else.
pub fn of_arn(arn: &str) -> Option<String> {
    if let Ok(route) = RouteId::parse(arn) {
        return Some(route_name(&route, false));
    }
    if let Ok(group) = TargetGroupArn::parse(arn) {
        return Some(format!("target group {}", group.name()));
    }
    if let Ok(lb) = LoadBalancerArn::parse(arn) {
        return Some(format!("load balancer {}", lb.name()));
    }
    None
}

/// A route for people: by its load balancer's name and the listener's (and rule's) id, or with `verbose`
/// by its ARN.
pub fn route_name(route: &albflip::aws::route::RouteId, verbose: bool) -> String {
    use albflip::aws::route::RouteId;
    if verbose {
        return route.to_string();
    }
    let last = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
    let listener = route.listener();
    let lb = listener.load_balancer();
    match route {
        RouteId::Listener(_) => format!(
            "default action of listener {} on {}",
            last(listener.as_str()),
            lb.name()
        ),
        RouteId::Rule(rule) => format!(
            "listener rule {} of listener {} on {}",
            last(rule.as_str()),
            last(listener.as_str()),
            lb.name()
        ),
    }
}

/// Whether `c` can be part of an ELB ARN (`arn:aws:elasticloadbalancing:REGION:ACCOUNT:TYPE/…`).
fn in_arn(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '-' | '_')
}

/// A console line or block for people: resources by name ([`without_arns`]), as `status` shows
/// them; with `-v` (`verbose`) as it is, ARNs and all.
pub fn for_people(text: String, verbose: bool) -> String {
    if verbose {
        text
    } else {
        without_arns(&text)
    }
}

/// `text` with every ELB ARN in it replaced by its name ([`of_arn`]); other text, and ARNs of other
/// services, as they are.
pub fn without_arns(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("arn:") {
        // An ARN starts a word: `warn:` is not one.
        let starts_word = rest[..i].chars().next_back().is_none_or(|c| !in_arn(c));
        let len = rest[i..]
            .find(|c: char| !in_arn(c))
            .unwrap_or(rest.len() - i);
        // An ARN never ends with ':': one there is the sentence's ("on ARN: blue 50% …").
        let len = rest[i..i + len].trim_end_matches(':').len();
        let token = &rest[i..i + len];
        out.push_str(&rest[..i]);
        match of_arn(token).filter(|_| starts_word) {
            Some(name) => {
                // "default action of listener ARN" reads "default action of listener ID on LB",
                // not the kind twice.
                out.truncate(out.len() - said_already(&out, &name));
                out.push_str(&name);
            }
            None => out.push_str(token),
        }
        rest = &rest[i + len.max(1)..];
    }
    out.push_str(rest);
    out
}

/// How many bytes at the end of `out` already say the kind `name` starts with (its first words,
/// e.g. `default action of listener `, `target group `): 0 when none do.
fn said_already(out: &str, name: &str) -> usize {
    name.match_indices(' ')
        .map(|(i, _)| &name[..=i])
        .filter(|kind| {
            out.ends_with(kind)
                && out[..out.len() - kind.len()]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTENER: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";
    const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-shop-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
    const GROUP: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/prod-shop-green-tg/73e2d6bc24d8a067";

    #[test]
    fn each_kind_of_arn_reads_as_its_name() {
        assert_eq!(
            of_arn(LISTENER).as_deref(),
            Some("default action of listener f2f7dc8efc522ab2 on prod-shop-alb")
        );
        assert_eq!(
            of_arn(RULE).as_deref(),
            Some("listener rule 9683b2d02a6cabee of listener f2f7dc8efc522ab2 on prod-shop-alb")
        );
        assert_eq!(
            of_arn(GROUP).as_deref(),
            Some("target group prod-shop-green-tg")
        );
        assert_eq!(
            of_arn("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1").as_deref(),
            Some("load balancer x")
        );
        assert_eq!(of_arn("arn:aws:sns:us-east-1:1:topic"), None);
    }

    #[test]
    fn arns_in_a_sentence_become_names_and_the_rest_stays() {
        let text = format!(
            "requests with X-Test=1 on {LISTENER}; group ({GROUP}), warn: arn:aws:sns:x:1:t."
        );
        assert_eq!(
            without_arns(&text),
            "requests with X-Test=1 on default action of listener f2f7dc8efc522ab2 on prod-shop-alb; \
             group (target group prod-shop-green-tg), warn: arn:aws:sns:x:1:t."
        );
        assert_eq!(
            without_arns("no arn here, nor xarn:"),
            "no arn here, nor xarn:"
        );
        assert_eq!(without_arns(""), "");
    }

    #[test]
    fn a_kind_already_said_before_the_arn_is_not_said_twice() {
        assert_eq!(
            without_arns(&format!(
                "rolled back default action of listener {LISTENER}."
            )),
            "rolled back default action of listener f2f7dc8efc522ab2 on prod-shop-alb."
        );
        assert_eq!(
            without_arns(&format!("the target group {GROUP} has no healthy targets")),
            "the target group prod-shop-green-tg has no healthy targets"
        );
        assert_eq!(
            without_arns(&format!("and in lockstep on the default action of listener {LISTENER}: blue 50%")),
            "and in lockstep on the default action of listener f2f7dc8efc522ab2 on prod-shop-alb: blue 50%"
        );
        // Only whole words: "retarget " does not say "target ".
        assert_eq!(
            without_arns(&format!("retarget {GROUP}")),
            "retarget target group prod-shop-green-tg"
        );
    }
}
