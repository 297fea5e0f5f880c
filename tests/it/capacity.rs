//! The Auto Scaling adapter and `albflip::capacity` against the reference stack in the emulator, whose
//! Auto Scaling groups register their instances with the blue and green target groups.

use std::time::Duration;

use albflip::aws::api::{AlbInventory, Scaler};
use albflip::aws::arn::{ListenerArn, TargetGroupArn};
use albflip::aws::resolve::{RouteSpec, Target};
use albflip::aws::{AutoScaling, CallCounter, ElbV2};
use albflip::capacity::{self, ColorPool, Wait};
use albflip::model::Color;
use albflip::ports::{Provider, Routes, TokioClock};

use crate::harness::*;

fn tg(arn: &str) -> TargetGroupArn {
    TargetGroupArn::parse(arn).expect("target group ARN")
}

const WAIT: Wait = Wait {
    timeout: Duration::from_secs(30),
    poll: Duration::from_secs(1),
};

#[test]
fn green_is_raised_to_blue_and_blue_is_scaled_down_once_green_has_the_traffic() {
    let (stack, blue_asg, green_asg) = stack_with_empty_green(None);
    let config = sdk_config();
    let calls = CallCounter::default();
    let (alb, asgs) = (
        ElbV2::new(&config, calls.clone()),
        AutoScaling::new(&config, calls.clone()),
    );
    let green_tg = tg(&stack.green_tg);
    let target = Target::new(RouteSpec::Listener(
        ListenerArn::parse(&stack.listener_arn).expect("listener ARN"),
    ));
    let matched = rt().block_on(async {
        let routes = alb.resolve(&target).await.unwrap();
        let found = capacity::discover(&asgs, &routes.backend(Color::Green))
            .await
            .unwrap();
        assert_eq!(found.map(|g| g.name), Some(green_asg.clone()));
        assert_eq!(alb.health(&green_tg).await.unwrap().healthy, 0);

        let green = ColorPool {
            pool: &green_asg,
            color: Color::Green,
        };
        let mut looks = Vec::new();
        let matched = capacity::match_capacity(
            &asgs,
            &routes,
            &TokioClock::new(),
            green,
            &blue_asg,
            WAIT,
            |p| looks.push(p.clone()),
        )
        .await
        .unwrap();
        assert!(matched.raised);
        assert_eq!((matched.new_before.desired, matched.new.desired), (0, 2));
        assert_eq!(matched.stable.desired, 2);
        assert!(matched.healthy >= 2, "{looks:?}");
        assert_eq!(alb.health(&green_tg).await.unwrap().healthy, 2);

        // The reference listener forwards to blue alone: blue must not be scaled down.
        let blue = ColorPool {
            pool: &blue_asg,
            color: Color::Blue,
        };
        let refused = capacity::scale_down(&asgs, &routes, None, blue)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, albflip::Error::ScaleDownRefused { .. }),
            "{refused:?}"
        );
        assert_eq!(asgs.describe(&blue_asg).await.unwrap().unwrap().desired, 2);
        matched
    });

    // Green takes all the traffic; now blue may go.
    set_default_actions(
        &stack.listener_arn,
        vec![weighted(
            &[(&stack.blue_tg, 0), (&stack.green_tg, 100)],
            None,
        )],
    );
    rt().block_on(async {
        let routes = alb.resolve(&target).await.unwrap();
        let blue = ColorPool {
            pool: &blue_asg,
            color: Color::Blue,
        };

        let down = capacity::scale_down(&asgs, &routes, None, blue)
            .await
            .unwrap();
        assert_eq!((down.min, down.desired), (0, 0));
        assert_eq!(asgs.describe(&blue_asg).await.unwrap().unwrap().desired, 0);

        // A rollback brings blue back to what it had when the deployment started.
        let restored = capacity::restore_capacity(
            &asgs,
            &routes,
            &TokioClock::new(),
            &matched.stable,
            Color::Blue,
            Some(WAIT),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(restored.asg.desired, 2);
        assert!(restored.healthy >= Some(2), "{restored:?}");
    });
    let per_op = calls.snapshot();
    assert_eq!(
        per_op.get("autoscaling:UpdateAutoScalingGroup"),
        Some(&3),
        "{per_op:?}"
    );
}

#[test]
fn a_missing_group_is_not_found_and_nothing_is_written() {
    let (stack, blue_asg, _) = stack_with_empty_green(None);
    let config = sdk_config();
    let calls = CallCounter::default();
    let (alb, asgs) = (
        ElbV2::new(&config, calls.clone()),
        AutoScaling::new(&config, calls.clone()),
    );
    let target = Target::new(RouteSpec::Listener(
        ListenerArn::parse(&stack.listener_arn).expect("listener ARN"),
    ));
    let routes = rt().block_on(alb.resolve(&target)).unwrap();
    let green = ColorPool {
        pool: "no-such-asg",
        color: Color::Green,
    };
    let e = rt()
        .block_on(capacity::match_capacity(
            &asgs,
            &routes,
            &TokioClock::new(),
            green,
            &blue_asg,
            WAIT,
            |_| {},
        ))
        .unwrap_err();
    assert!(e.to_string().contains("\"no-such-asg\" not found"), "{e}");
    assert_eq!(
        calls.snapshot().get("autoscaling:UpdateAutoScalingGroup"),
        None
    );
}
