//! A second emulator, with IAM enforcement (catalogue.rs, iam.rs): its users, policies, stacks, and the
//! binary and SDK clients on it.

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2 as elb;
use serde_json::Value;

use super::cli::albflip;
use super::emulator::{emulator, free_port, repo, rt, venv_bin, REGION};
use super::readers::fingerprint_with;
use super::stacks::{create_stack, Stack};

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
