//! The test harness: starts the emulator, creates stacks, runs the binary, reads the listener through
//! the real SDK.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2 as elb;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple,
};
use serde_json::Value;

pub const REGION: &str = "us-east-1";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shared tokio runtime for SDK calls made by the tests themselves.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// The emulator of this test run.
pub struct Emulator {
    pub endpoint: String,
    _process: Mutex<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn venv_bin(name: &str) -> PathBuf {
    repo().join(".venv").join("bin").join(name)
}

const INSTALL_HINT: &str =
    "The emulator (moto_server, pinned in localstack/requirements.txt) is missing. \
Install it with `localstack/ensure-env` (needs python3 with venv and access to PyPI), \
or run the README's test command, which does this for you.";

/// Starts (once per test run) moto_server on a free loopback port. The server is started through a
/// shell that kills it when this process's end of its stdin pipe closes, so it never outlives the run.
pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        if !venv_bin("moto_server").exists() {
            let status = Command::new(repo().join("localstack/ensure-env"))
                .stdout(Stdio::null())
                .status();
            assert!(
                matches!(status, Ok(s) if s.success()) && venv_bin("moto_server").exists(),
                "{INSTALL_HINT}"
            );
        }
        let port = free_port();
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port} >/tmp/albflip-test-moto-{port}.log 2>&1 & pid=$!; cat >/dev/null; kill $pid",
            venv_bin("moto_server").display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator: {e}. {INSTALL_HINT}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_until_up(&endpoint, port);
        Emulator { endpoint, _process: Mutex::new(child) }
    })
}

fn wait_until_up(endpoint: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the emulator did not answer at {endpoint} within 40 s (log: /tmp/albflip-test-moto-{port}.log). {INSTALL_HINT}");
}

/// One copy of the reference stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub environment: String,
    pub application: String,
    pub load_balancer_arn: String,
    pub listener_arn: String,
    pub blue_tg: String,
    pub green_tg: String,
    pub lock_table: String,
}

impl Stack {
    pub fn lb_name(&self) -> String {
        format!("{}-{}-alb", self.environment, self.application)
    }

    /// The flags that name this stack by the naming convention.
    pub fn convention(&self) -> Vec<String> {
        vec![
            "--environment".into(),
            self.environment.clone(),
            "--application".into(),
            self.application.clone(),
        ]
    }

    /// The flags that name the listener by ARN.
    pub fn by_arn(&self) -> Vec<String> {
        vec!["--listener-arn".into(), self.listener_arn.clone()]
    }
}

/// Creates a fresh stack: `stickiness` makes the listener a weighted 100/0 forward with stickiness.
pub fn stack(stickiness: Option<u32>) -> Stack {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let environment = format!("t{}x{n}", std::process::id() % 10_000);
    let cmd = Command::new(repo().join("localstack/create-stack"));
    create_stack(cmd, &emulator().endpoint, &environment, stickiness).0
}

/// Runs `localstack/create-stack` (a prepared command, e.g. with credentials) for application `shop` of
/// `environment` on `endpoint`: the stack and create-stack's JSON outputs.
pub fn create_stack(
    mut cmd: Command,
    endpoint: &str,
    environment: &str,
    stickiness: Option<u32>,
) -> (Stack, Value) {
    cmd.args([
        "--endpoint",
        endpoint,
        "--environment",
        environment,
        "--application",
        "shop",
    ]);
    if let Some(s) = stickiness {
        cmd.args(["--stickiness", &s.to_string()]);
    }
    let out = cmd.output().expect("run localstack/create-stack");
    assert!(
        out.status.success(),
        "create-stack on {endpoint} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("create-stack prints JSON");
    let s = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("output {k} missing in {v}"))
            .to_string()
    };
    let stack = Stack {
        load_balancer_arn: s("LoadBalancerArn"),
        listener_arn: s("ListenerArn"),
        blue_tg: s("BlueTargetGroupArn"),
        green_tg: s("GreenTargetGroupArn"),
        lock_table: s("LockTableName"),
        environment: environment.to_string(),
        application: "shop".to_string(),
    };
    (stack, v)
}

/// A command for the real binary, hermetic: test credentials, the emulator's endpoint, no ambient
/// albflip or AWS profile settings, run in an empty directory.
pub fn albflip() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("albflip"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ALBFLIP_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", &emulator().endpoint)
        .env("NO_COLOR", "1")
        .current_dir(empty_dir());
    cmd
}

/// A fresh empty directory.
pub fn empty_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "albflip-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "albflip failed: {self:?}");
        self
    }
}

/// Runs the binary with `args`.
pub fn run<S: AsRef<str>>(args: &[S]) -> Run {
    run_in(albflip(), args)
}

/// Runs a prepared command with `args`.
pub fn run_in<S: AsRef<str>>(mut cmd: Command, args: &[S]) -> Run {
    let out: Output = cmd
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("run albflip");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Concatenates argument lists.
pub fn args(parts: &[&[String]], tail: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
    v.extend(tail.iter().map(|s| s.to_string()));
    v
}

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

/// Short timings so a deployment takes seconds: 1 s polls over a 5 s window with no lag.
pub fn fast(bake: &str) -> Vec<String> {
    [
        "--bake",
        bake,
        "--poll-interval",
        "1s",
        "--metric-lag",
        "0s",
        "--metric-window",
        "5s",
        "--metric-period",
        "1s",
        "--latency-statistic",
        "Average",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The route flags, the command, then the fast timings.
pub fn gated(route: &[String], command: &[&str], bake: &str) -> Vec<String> {
    let mut v = route.to_vec();
    v.extend(command.iter().map(|s| s.to_string()));
    v.extend(fast(bake));
    v
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

/// Sets a listener's default actions directly through the API (to build odd states).
pub fn set_default_actions(listener_arn: &str, actions: Vec<Action>) {
    rt().block_on(async {
        elb()
            .modify_listener()
            .listener_arn(listener_arn)
            .set_default_actions(Some(actions))
            .send()
            .await
            .expect("modify listener");
    })
}

/// A weighted forward action.
pub fn weighted(groups: &[(&str, i32)], stickiness: Option<(bool, i32)>) -> Action {
    let mut cfg = ForwardActionConfig::builder().set_target_groups(Some(
        groups
            .iter()
            .map(|(arn, w)| {
                TargetGroupTuple::builder()
                    .target_group_arn(*arn)
                    .weight(*w)
                    .build()
            })
            .collect(),
    ));
    if let Some((enabled, d)) = stickiness {
        cfg = cfg.target_group_stickiness_config(
            TargetGroupStickinessConfig::builder()
                .enabled(enabled)
                .duration_seconds(d)
                .build(),
        );
    }
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(cfg.build())
        .build()
}

/// Creates an extra target group in the stack's VPC and returns its ARN.
pub fn extra_target_group(stack: &Stack, suffix: &str) -> String {
    rt().block_on(async {
        let c = elb();
        let tg = c
            .describe_target_groups()
            .target_group_arns(&stack.blue_tg)
            .send()
            .await
            .expect("describe tg");
        let vpc = tg.target_groups()[0]
            .vpc_id()
            .unwrap_or_default()
            .to_string();
        let out = c
            .create_target_group()
            .name(format!("{}-{suffix}", stack.environment))
            .protocol(elb::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(vpc)
            .send()
            .await
            .expect("create tg");
        out.target_groups()[0]
            .target_group_arn()
            .unwrap_or_default()
            .to_string()
    })
}

/// Creates another listener on the stack's load balancer with `action` and returns its ARN.
pub fn extra_listener(stack: &Stack, port: i32, action: Action) -> String {
    rt().block_on(async {
        let out = elb()
            .create_listener()
            .load_balancer_arn(&stack.load_balancer_arn)
            .protocol(elb::types::ProtocolEnum::Http)
            .port(port)
            .default_actions(action)
            .send()
            .await
            .expect("create listener");
        out.listeners()[0]
            .listener_arn()
            .unwrap_or_default()
            .to_string()
    })
}

/// Deregisters every target of a target group (so it has 0 healthy of 0).
pub fn deregister_all(tg: &str) {
    rt().block_on(async {
        let c = elb();
        let h = c
            .describe_target_health()
            .target_group_arn(tg)
            .send()
            .await
            .expect("health");
        let targets: Vec<_> = h
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target().cloned())
            .collect();
        if !targets.is_empty() {
            c.deregister_targets()
                .target_group_arn(tg)
                .set_targets(Some(targets))
                .send()
                .await
                .expect("deregister");
        }
    })
}

/// Writes a file into a directory and returns the directory.
pub fn dir_with_file(name: &str, contents: &str) -> PathBuf {
    let dir = empty_dir();
    std::fs::write(dir.join(name), contents).expect("write file");
    dir
}

/// A CloudWatch client on the emulator.
pub fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    static CLIENT: OnceLock<aws_sdk_cloudwatch::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            use aws_sdk_cloudwatch::config;
            let conf = config::Builder::new()
                .behavior_version(config::BehaviorVersion::latest())
                .region(config::Region::new(REGION))
                .endpoint_url(&emulator().endpoint)
                .credentials_provider(config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .http_client(albflip::aws::sdk::http_client())
                .build();
            aws_sdk_cloudwatch::Client::from_conf(conf)
        })
        .clone()
}

/// How the publisher makes each color behave: the share of requests that fail with a 5XX.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub blue: f64,
    pub green: f64,
}

/// Publishes ALB metrics for both target groups in proportion to the live weights, every 500 ms, until
/// dropped: RequestCount (2 per weight point per tick), 5XX per the fault profile, average latency,
/// host counts.
pub struct Publisher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Publisher {
    pub fn start(stack: &Stack, faults: Faults) -> Publisher {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let stack = stack.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let (blue, green) = weights(&stack);
                // A single-group forward (no weights yet) sends everything to blue.
                let (blue, green) = match (blue, green) {
                    (None, None) => (100, 0),
                    (b, g) => (b.unwrap_or(0), g.unwrap_or(0)),
                };
                publish(&stack, &stack.blue_tg, blue, faults.blue);
                publish(&stack, &stack.green_tg, green, faults.green);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Publisher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn publish(stack: &Stack, tg_arn: &str, weight: i32, fault: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let lb = stack
        .load_balancer_arn
        .rsplit_once(":loadbalancer/")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    let tg = tg_arn
        .rsplit_once(':')
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    let requests = f64::from(weight.max(0)) * 2.0;
    let now = aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
    let datum = |name: &str, value: f64, unit: StandardUnit| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("LoadBalancer").value(&lb).build())
            .dimensions(Dimension::builder().name("TargetGroup").value(&tg).build())
            .timestamp(now)
            .value(value)
            .unit(unit)
            .build()
    };
    let mut data = vec![
        datum("RequestCount", requests, StandardUnit::Count),
        datum("HealthyHostCount", 2.0, StandardUnit::Count),
        datum("UnHealthyHostCount", 0.0, StandardUnit::Count),
    ];
    if requests > 0.0 {
        data.push(datum("TargetResponseTime", 0.05, StandardUnit::Seconds));
    }
    let errors = (requests * fault).round();
    if errors > 0.0 {
        // ALB publishes 5XX only when non-zero.
        data.push(datum(
            "HTTPCode_Target_5XX_Count",
            errors,
            StandardUnit::Count,
        ));
    }
    let _ = rt().block_on(
        cloudwatch()
            .put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(data))
            .send(),
    );
}

// ---- A second emulator, with IAM enforcement (catalogue.rs, iam.rs) ---------------------------------

/// An access key id and its secret.
pub type Keys = (String, String);

/// An emulator that enforces IAM (moto's `INITIAL_NO_AUTH_ACTION_COUNT`), and its admin's keys.
///
/// What moto's enforcement checks, and what it does not: it matches the *action* of each request against
/// the caller's policies, never the resource (a statement scoped to an ARN denies even a request on that
/// ARN), and it names an action by the service of the request's SigV4 scope, so CloudWatch calls are
/// `monitoring:GetMetricData`, not the `cloudwatch:GetMetricData` of real IAM.
pub struct IamEmulator {
    pub endpoint: String,
    pub admin: Keys,
    _process: Mutex<Child>,
}

/// Requests served before IAM is enforced: CreateUser, PutUserPolicy and CreateAccessKey of the admin.
/// Everything after that, users included, is created as the admin.
const IAM_SETUP_CALLS: u32 = 3;

const IAM_ADMIN: &str = r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="albflip-admin")
iam.put_user_policy(UserName="albflip-admin", PolicyName="admin", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="albflip-admin")["AccessKey"]
print(json.dumps([k["AccessKeyId"], k["SecretAccessKey"]]))
"#;

const IAM_USER: &str = r#"
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
iam.create_user(UserName=sys.argv[2])
iam.put_user_policy(UserName=sys.argv[2], PolicyName="albflip", PolicyDocument=sys.argv[3])
k = iam.create_access_key(UserName=sys.argv[2])["AccessKey"]
print(json.dumps([k["AccessKeyId"], k["SecretAccessKey"]]))
"#;

const IAM_POLICY_DOCUMENT: &str = r#"
import json, sys, urllib.parse, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
p = iam.get_policy(PolicyArn=sys.argv[2])["Policy"]
d = iam.get_policy_version(PolicyArn=sys.argv[2], VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]
print(json.dumps(json.loads(urllib.parse.unquote(d)) if isinstance(d, str) else d))
"#;

/// Starts (once per test run) the IAM-enforcing emulator on a free port and creates its admin.
pub fn iam_emulator() -> &'static IamEmulator {
    static EMU: OnceLock<IamEmulator> = OnceLock::new();
    EMU.get_or_init(|| {
        emulator(); // installs the emulator when missing
        let port = free_port();
        let log = format!("/tmp/albflip-test-moto-iam-{port}.log");
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port} >{log} 2>&1 & pid=$!; cat >/dev/null; kill $pid",
            venv_bin("moto_server").display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", IAM_SETUP_CALLS.to_string())
            .stdin(Stdio::piped())
            .spawn()
            .expect("start the IAM-enforcing emulator");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(40);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the IAM emulator did not start (log: {log})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = Command::new(venv_bin("python"))
            .args(["-c", IAM_ADMIN, &endpoint])
            .output()
            .expect("run the IAM setup");
        assert!(
            out.status.success(),
            "IAM setup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let k: Value = serde_json::from_slice(&out.stdout).expect("keys JSON");
        IamEmulator {
            endpoint,
            admin: (
                k[0].as_str().unwrap().to_string(),
                k[1].as_str().unwrap().to_string(),
            ),
            _process: Mutex::new(child),
        }
    })
}

impl IamEmulator {
    /// Runs a Python (boto3) script as the admin: argv[1] is the endpoint, then `args`. Returns stdout.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new(venv_bin("python"))
            .args(["-c", script, &self.endpoint])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &self.admin.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.admin.1)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates user `name` with the inline policy `document` and returns its keys.
    pub fn user(&self, name: &str, document: &Value) -> Keys {
        let out = self.python(IAM_USER, &[name, &document.to_string()]);
        let k: Value = serde_json::from_str(&out).expect("keys JSON");
        (
            k[0].as_str().unwrap().to_string(),
            k[1].as_str().unwrap().to_string(),
        )
    }

    /// The default version of a managed policy, as a JSON document.
    pub fn policy_document(&self, policy_arn: &str) -> Value {
        serde_json::from_str(&self.python(IAM_POLICY_DOCUMENT, &[policy_arn])).expect("policy JSON")
    }

    /// Creates a copy of the reference stack as the admin: the stack and create-stack's JSON outputs.
    pub fn stack(&self, environment: &str, stickiness: Option<u32>) -> (Stack, Value) {
        let mut cmd = Command::new(repo().join("localstack/create-stack"));
        cmd.env("AWS_ACCESS_KEY_ID", &self.admin.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.admin.1)
            .env("AWS_SESSION_TOKEN", "");
        create_stack(cmd, &self.endpoint, environment, stickiness)
    }

    /// The binary on this emulator with `keys`.
    pub fn albflip(&self, keys: &Keys) -> Command {
        let mut c = albflip();
        c.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", &keys.0)
            .env("AWS_SECRET_ACCESS_KEY", &keys.1);
        c
    }

    /// An SDK client on this emulator as its admin.
    pub fn elb(&self) -> elb::Client {
        let conf = elb::Config::builder()
            .behavior_version(elb::config::BehaviorVersion::latest())
            .region(elb::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(elb::config::Credentials::new(
                &self.admin.0,
                &self.admin.1,
                None,
                None,
                "tests",
            ))
            .http_client(albflip::aws::sdk::http_client())
            .build();
        elb::Client::from_conf(conf)
    }

    /// `fingerprint`, on this emulator.
    pub fn fingerprint(&self, listener_arn: &str) -> String {
        fingerprint_with(&self.elb(), listener_arn)
    }

    /// `weights`, on this emulator.
    pub fn weights(&self, stack: &Stack) -> (Option<i32>, Option<i32>) {
        let c = self.elb();
        let out = rt()
            .block_on(
                c.describe_listeners()
                    .listener_arns(&stack.listener_arn)
                    .send(),
            )
            .expect("describe listeners");
        let action = out.listeners()[0].default_actions()[0].clone();
        let groups = action
            .forward_config()
            .map(|f| f.target_groups().to_vec())
            .unwrap_or_default();
        let w = |arn: &str| {
            groups
                .iter()
                .find(|t| t.target_group_arn() == Some(arn))
                .and_then(|t| t.weight())
        };
        (w(&stack.blue_tg), w(&stack.green_tg))
    }
}

/// A well-formed ARN of a listener that does not exist: `arn` with its last hex digit changed.
pub fn missing_listener(arn: &str) -> String {
    let (head, last) = arn.split_at(arn.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

/// Starts albflip with `argv` and waits until the first step's weights are live (the
/// "weights applied and verified" line); returns the running child and the rest of its stdout.
pub fn start_until_weights(
    argv: &[String],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut cmd = albflip();
    cmd.args(argv).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn albflip");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push(line.clone());
        if line.contains("weights applied and verified") {
            return (child, lines);
        }
    }
    let _ = child.kill();
    let status = child.wait();
    panic!("albflip ended ({status:?}) before applying weights: {seen:?}");
}

/// A stack whose green group starts empty (desired 0) and blue's at the template's 2; with the names
/// of both groups.
pub fn stack_with_empty_green(stickiness: Option<u32>) -> (Stack, String, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let environment = format!(
        "c{}y{}",
        std::process::id() % 10_000,
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut cmd = std::process::Command::new(repo().join("localstack/create-stack"));
    cmd.args(["--param", "GreenDesiredCapacity=0"]);
    let (stack, outputs) = create_stack(cmd, &emulator().endpoint, &environment, stickiness);
    let name = |k: &str| outputs[k].as_str().expect(k).to_string();
    (stack, name("BlueAsgName"), name("GreenAsgName"))
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

/// Sends `signal` (`INT`, `TERM`) to a running albflip.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} failed");
}

/// Interrupts a running albflip (SIGINT) and waits for it: its exit code, how long it took after the
/// signal, and the rest of its output.
pub fn interrupt(
    mut child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) -> (Option<i32>, Duration, Vec<String>) {
    let signalled = Instant::now();
    signal(&child, "INT");
    let code = child.wait().expect("wait").code();
    let took = signalled.elapsed();
    (code, took, lines.map_while(Result::ok).collect())
}
