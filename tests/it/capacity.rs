//! The Auto Scaling adapter and `albflip::capacity` against the reference stack in the emulator, whose
//! Auto Scaling groups register their instances with the blue and green target groups.

use std::time::Duration;

use albflip::aws::api::{AlbInventory, Scaler};
use albflip::aws::arn::{ListenerArn, TargetGroupArn};
use albflip::aws::route::RouteId;
use albflip::aws::{AutoScaling, CallCounter, ElbV2};
use albflip::capacity::{self, ColorAsg, Wait};
use albflip::ports::TokioClock;

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
    let (blue_tg, green_tg) = (tg(&stack.blue_tg), tg(&stack.green_tg));
    let route = [RouteId::Listener(
        ListenerArn::parse(&stack.listener_arn).expect("listener ARN"),
    )];
    let matched = rt().block_on(async {
        let found = capacity::discover(&asgs, &green_tg).await.unwrap();
        assert_eq!(found.map(|g| g.name), Some(green_asg.clone()));
        assert_eq!(alb.health(&green_tg).await.unwrap().healthy, 0);

        let green = ColorAsg {
            asg: &green_asg,
            target_group: &green_tg,
        };
        let mut looks = Vec::new();
        let matched = capacity::match_capacity(
            &asgs,
            &alb,
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
        let blue = ColorAsg {
            asg: &blue_asg,
            target_group: &blue_tg,
        };
        let refused = capacity::scale_down(&asgs, &alb, &route, blue)
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
        let blue = ColorAsg {
            asg: &blue_asg,
            target_group: &blue_tg,
        };

        let down = capacity::scale_down(&asgs, &alb, &route, blue)
            .await
            .unwrap();
        assert_eq!((down.min, down.desired), (0, 0));
        assert_eq!(asgs.describe(&blue_asg).await.unwrap().unwrap().desired, 0);

        // A rollback brings blue back to what it had when the deployment started.
        let restored = capacity::restore_capacity(
            &asgs,
            &alb,
            &TokioClock::new(),
            &matched.stable,
            &blue_tg,
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
    let green_tg = tg(&stack.green_tg);
    let green = ColorAsg {
        asg: "no-such-asg",
        target_group: &green_tg,
    };
    let e = rt()
        .block_on(capacity::match_capacity(
            &asgs,
            &alb,
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
