//! Hooks against the real `sh`.

use super::*;

const SECOND: Duration = Duration::from_secs(1);

fn hook(command: &str) -> Hook {
    Hook {
        stage: Stage::BeforeStep,
        command: command.to_string(),
    }
}

#[test]
fn stages_parse_from_and_print_as_their_kebab_names() {
    for stage in Stage::ALL {
        assert_eq!(stage.to_string().parse::<Stage>(), Ok(stage));
    }
    assert_eq!(Stage::AfterTestTraffic.to_string(), "after-test-traffic");
}

#[test]
fn a_hook_is_stage_equals_command() {
    let h: Hook = "after-step=curl -fsS http://x/?a=b".parse().unwrap();
    assert_eq!(h.stage, Stage::AfterStep);
    assert_eq!(
        h.command, "curl -fsS http://x/?a=b",
        "only the first '=' splits"
    );
}

#[test]
fn a_bad_stage_names_the_valid_ones() {
    let e = "before-stp=true".parse::<Hook>().unwrap_err().to_string();
    assert!(e.contains("\"before-stp\""), "{e}");
    for stage in Stage::ALL {
        assert!(e.contains(stage.as_str()), "{stage} missing in: {e}");
    }
    let shape = "./check.sh".parse::<Hook>().unwrap_err();
    assert!(matches!(shape, HookParseError::Shape { .. }), "{shape:?}");
    let empty = "after-deploy= ".parse::<Hook>().unwrap_err();
    assert_eq!(
        empty,
        HookParseError::EmptyCommand {
            stage: Stage::AfterDeploy
        }
    );
}

#[test]
fn the_context_becomes_albflip_variables() {
    let ctx = HookContext {
        stage: Some(Stage::BeforeStep),
        target: Some(crate::model::Color::Green),
        percent: Some(25),
        step: Some(2),
        listener_arn: Some("arn:listener".into()),
        ..HookContext::default()
    };
    let env = ctx.env();
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("ALBFLIP_STAGE"), Some("before-step"));
    assert_eq!(get("ALBFLIP_TARGET"), Some("green"));
    assert_eq!(get("ALBFLIP_PERCENT"), Some("25"));
    assert_eq!(get("ALBFLIP_STEP"), Some("2"));
    assert_eq!(get("ALBFLIP_LISTENER_ARN"), Some("arn:listener"));
    assert_eq!(get("ALBFLIP_STABLE"), None, "unknown values are left out");
}

#[tokio::test]
async fn a_hook_that_exits_zero_passes_with_its_output() {
    let done = run(&hook("echo out; echo err >&2"), &[], 10 * SECOND)
        .await
        .unwrap();
    assert_eq!(done.exit_code, Some(0));
    assert_eq!(
        done.output, "out\nerr\n",
        "stdout and stderr together, in order"
    );
    assert!(!done.truncated);
}

#[tokio::test]
async fn a_non_zero_exit_fails_and_shows_the_output() {
    let e = run(
        &hook("echo 'db not migrated' >&2; exit 3"),
        &[],
        10 * SECOND,
    )
    .await
    .unwrap_err();
    let HookError::Failed(done) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(done.exit_code, Some(3));
    let text = e.to_string();
    assert!(
        text.contains("before-step") && text.contains("exit status 3"),
        "{text}"
    );
    assert!(text.contains("db not migrated"), "{text}");
}

#[tokio::test]
async fn a_hook_past_its_timeout_is_killed_with_its_children() {
    let started = Instant::now();
    let e = run(&hook("echo started; sleep 30 & sleep 30"), &[], SECOND / 2)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < 5 * SECOND,
        "took {:?}",
        started.elapsed()
    );
    let HookError::TimedOut(done) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(done.output, "started\n");
    assert!(e.to_string().contains("did not finish within"), "{e}");
}

#[tokio::test]
async fn the_variables_are_visible_to_the_hook() {
    let env = [
        ("ALBFLIP_TARGET".to_string(), "green".to_string()),
        ("ALBFLIP_PERCENT".to_string(), "10".to_string()),
    ];
    let done = run(
        &hook("echo \"$ALBFLIP_TARGET $ALBFLIP_PERCENT\""),
        &env,
        10 * SECOND,
    )
    .await
    .unwrap();
    assert_eq!(done.output, "green 10\n");
}

#[tokio::test]
async fn only_the_last_four_kib_of_output_are_kept() {
    let done = run(
        &hook("i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done"),
        &[],
        10 * SECOND,
    )
    .await
    .unwrap();
    assert!(done.truncated);
    assert_eq!(done.output.len(), OUTPUT_LIMIT);
    assert!(
        done.output.ends_with("line1999\n"),
        "{}",
        &done.output[done.output.len() - 20..]
    );
}
