#!/usr/bin/env python3
"""End-to-end self-test of localstack/ and cloudformation/ (see localstack/selftest)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = REPO / ".venv" / "bin"
TEMPLATE = REPO / "cloudformation" / "albflip-reference.yaml"
PORT = int(os.environ.get("ALBFLIP_SELFTEST_PORT", "4599"))
ENDPOINT = f"http://127.0.0.1:{PORT}"
REGION = "us-east-1"

passed = 0
failed = 0


def check(name: str, ok: bool, detail: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}", flush=True)


def run(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})


def create_stack(*args: str) -> tuple[int, dict | None, str]:
    p = run([str(HERE / "create-stack"), "--endpoint", ENDPOINT, *args])
    try:
        out = json.loads(p.stdout) if p.returncode == 0 else None
    except json.JSONDecodeError:
        out = None
    return p.returncode, out, p.stderr


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def verify_stack(sess, out: dict, env: str, app: str, sticky: int | None) -> None:
    elbv2 = sess.client("elbv2", endpoint_url=ENDPOINT)
    ddb = sess.client("dynamodb", endpoint_url=ENDPOINT)
    asg = sess.client("autoscaling", endpoint_url=ENDPOINT)
    iam = sess.client("iam", endpoint_url=ENDPOINT)
    ec2 = sess.client("ec2", endpoint_url=ENDPOINT)
    p = f"{env}-{app}"
    keys = ["LoadBalancerArn", "LoadBalancerDNSName", "ListenerArn", "BlueTargetGroupArn",
            "GreenTargetGroupArn", "BlueAsgName", "GreenAsgName", "LockTableName", "PolicyArn",
            "VpcId", "Environment", "Application", "Endpoint", "Region"]
    check(f"[{p}] JSON has all keys", all(out.get(k) for k in keys),
          str([k for k in keys if not out.get(k)]))
    check(f"[{p}] Environment/Application/Endpoint/Region",
          (out["Environment"], out["Application"], out["Endpoint"], out["Region"]) == (env, app, ENDPOINT, REGION))

    lb = elbv2.describe_load_balancers(LoadBalancerArns=[out["LoadBalancerArn"]])["LoadBalancers"][0]
    check(f"[{p}] ALB name", lb["LoadBalancerName"] == f"{p}-alb", lb["LoadBalancerName"])
    check(f"[{p}] ALB DNS name output", lb["DNSName"] == out["LoadBalancerDNSName"])
    check(f"[{p}] ALB in 2 AZs", len({z["ZoneName"] for z in lb["AvailabilityZones"]}) == 2)
    check(f"[{p}] VpcId", lb["VpcId"] == out["VpcId"] and
          ec2.describe_vpcs(VpcIds=[out["VpcId"]])["Vpcs"][0]["VpcId"] == out["VpcId"])

    lst = elbv2.describe_listeners(ListenerArns=[out["ListenerArn"]])["Listeners"][0]
    check(f"[{p}] listener HTTP:80 on the ALB",
          (lst["Protocol"], lst["Port"], lst["LoadBalancerArn"]) == ("HTTP", 80, out["LoadBalancerArn"]))
    acts = lst["DefaultActions"]
    blue, green = out["BlueTargetGroupArn"], out["GreenTargetGroupArn"]
    if sticky is None:
        check(f"[{p}] listener: plain forward to blue",
              len(acts) == 1 and acts[0]["Type"] == "forward" and acts[0].get("TargetGroupArn") == blue,
              json.dumps(acts))
    else:
        fc = acts[0].get("ForwardConfig", {}) if len(acts) == 1 else {}
        weights = {t["TargetGroupArn"]: t.get("Weight") for t in fc.get("TargetGroups", [])}
        check(f"[{p}] listener: weighted forward blue 100 / green 0",
              acts[0]["Type"] == "forward" and weights == {blue: 100, green: 0}, json.dumps(acts))
        sc = fc.get("TargetGroupStickinessConfig", {})
        check(f"[{p}] listener: stickiness {sticky}s",
              sc.get("Enabled") is True and sc.get("DurationSeconds") == sticky, json.dumps(sc))

    for color, arn in (("blue", blue), ("green", green)):
        tg = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
        check(f"[{p}] {color} TG name/protocol/port/type",
              (tg["TargetGroupName"], tg["Protocol"], tg["Port"], tg["TargetType"])
              == (f"{p}-{color}-tg", "HTTP", 80, "instance"), str(tg))
        if color == "blue":
            # (moto does not associate a target group with the ALB through a
            # ForwardConfig set by ModifyListener, so green is not checked.)
            check(f"[{p}] blue TG attached to the ALB", out["LoadBalancerArn"] in tg["LoadBalancerArns"])
        states = [d["TargetHealth"]["State"] for d in
                  elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]]
        check(f"[{p}] {color} TG has 2 healthy targets", states == ["healthy", "healthy"], str(states))
        attrs = {a["Key"]: a["Value"] for a in
                 elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
        check(f"[{p}] {color} TG deregistration delay 30", attrs.get("deregistration_delay.timeout_seconds") == "30")
        g = asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[out[f"{color.capitalize()}AsgName"]])["AutoScalingGroups"]
        check(f"[{p}] {color} ASG {p}-{color}-asg desired 2, 2 instances, attached to its TG",
              len(g) == 1 and g[0]["AutoScalingGroupName"] == f"{p}-{color}-asg"
              and g[0]["DesiredCapacity"] == 2 and len(g[0]["Instances"]) == 2
              and g[0]["TargetGroupARNs"] == [arn], json.dumps(g, default=str)[:300])

    tags = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in
            elbv2.describe_tags(ResourceArns=[out["LoadBalancerArn"], blue, green])["TagDescriptions"]}
    base = {"Environment": env, "Application": app, "ManagedBy": "albflip"}
    check(f"[{p}] ALB tags", tags.get(out["LoadBalancerArn"]) == base, str(tags.get(out["LoadBalancerArn"])))
    check(f"[{p}] blue TG tags", tags.get(blue) == {**base, "Color": "blue"}, str(tags.get(blue)))
    check(f"[{p}] green TG tags", tags.get(green) == {**base, "Color": "green"}, str(tags.get(green)))

    t = ddb.describe_table(TableName=out["LockTableName"])["Table"]
    check(f"[{p}] lock table {p}-albflip-locks: PK lock_id S, PAY_PER_REQUEST",
          t["TableName"] == f"{p}-albflip-locks"
          and t["KeySchema"] == [{"AttributeName": "lock_id", "KeyType": "HASH"}]
          and t["AttributeDefinitions"] == [{"AttributeName": "lock_id", "AttributeType": "S"}]
          and t.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST", str(t)[:300])
    ttl = ddb.describe_time_to_live(TableName=out["LockTableName"])["TimeToLiveDescription"]
    check(f"[{p}] lock table TTL on expires_at",
          ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == "expires_at", str(ttl))
    ddb.put_item(TableName=out["LockTableName"],
                 Item={"lock_id": {"S": "selftest"}, "expires_at": {"N": str(int(time.time()) + 60)}})
    item = ddb.get_item(TableName=out["LockTableName"], Key={"lock_id": {"S": "selftest"}}).get("Item")
    ddb.delete_item(TableName=out["LockTableName"], Key={"lock_id": {"S": "selftest"}})
    check(f"[{p}] lock table put/get/delete", item is not None and item["lock_id"]["S"] == "selftest")

    pol = iam.get_policy(PolicyArn=out["PolicyArn"])["Policy"]
    doc = iam.get_policy_version(PolicyArn=out["PolicyArn"],
                                 VersionId=pol["DefaultVersionId"])["PolicyVersion"]["Document"]
    if isinstance(doc, str):
        import urllib.parse
        doc = json.loads(urllib.parse.unquote(doc))
    actions = set()
    for st in doc["Statement"]:
        a = st["Action"]
        actions.update([a] if isinstance(a, str) else a)
    need = {"elasticloadbalancing:ModifyListener", "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:AddTags", "cloudwatch:GetMetricData", "dynamodb:PutItem"}
    check(f"[{p}] IAM policy {p}-albflip has albflip's actions",
          pol["PolicyName"] == f"{p}-albflip" and need <= actions, str(sorted(need - actions)))


def main() -> int:
    if port_busy(PORT):
        print(f"selftest: port {PORT} is in use; set ALBFLIP_SELFTEST_PORT to a free port", file=sys.stderr)
        return 2
    env = {"ALBFLIP_LOCAL_PORT": str(PORT)}
    sess = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)
    t0 = time.monotonic()
    p = run([str(HERE / "start")], env)
    check("start moto_server", p.returncode == 0 and p.stdout.strip() == ENDPOINT, p.stderr[-500:])
    if p.returncode != 0:
        print(f"{passed} passed, {failed} failed")
        return 1
    try:
        p = run([str(HERE / "start")], env)
        check("start again is a no-op", p.returncode == 0 and "already running" in p.stderr, p.stderr[-300:])

        rc, demo, err = create_stack()
        check("create-stack (defaults)", rc == 0 and demo is not None, err[-1500:])
        if demo:
            check("create-stack default stack name", demo.get("StackName") == "albflip-demo")
            verify_stack(sess, demo, "demo", "shop", None)

        rc, other, err = create_stack("--environment", "staging", "--application", "cart",
                                      "--stickiness", "300")
        check("create-stack staging/cart --stickiness 300", rc == 0 and other is not None, err[-1500:])
        if other:
            verify_stack(sess, other, "staging", "cart", 300)

        if demo and other:
            check("two stacks coexist with distinct resources",
                  all(demo[k] != other[k] for k in ("LoadBalancerArn", "ListenerArn", "BlueTargetGroupArn",
                                                     "LockTableName", "PolicyArn", "VpcId")))
            # The first stack must be untouched by the second one.
            verify_stack(sess, demo, "demo", "shop", None)
            rc, again, err = create_stack()
            check("create-stack is idempotent (same JSON, no new stack)", rc == 0 and again == demo, err[-800:])
            cfn = sess.client("cloudformation", endpoint_url=ENDPOINT)
            names = sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"])
            check("exactly the two stacks exist", names == ["albflip-demo", "albflip-staging-cart"], str(names))
            rc, again, err = create_stack("--stickiness", "60")
            check("create-stack --stickiness on an existing stack", rc == 0 and again == demo, err[-800:])
            if again:
                verify_stack(sess, demo, "demo", "shop", 60)

        rc, _, err = create_stack("--environment", "bad_env")
        check("create-stack rejects an invalid Environment", rc != 0 and "bad_env" in err, err[-300:])
        print("    " + err.strip().splitlines()[-1], flush=True)
    finally:
        p = run([str(HERE / "stop")], env)
        check("stop moto_server", p.returncode == 0 and not port_busy(PORT), p.stderr[-300:])

    for params in ([], ["ListenerForward=single"], ["StickinessEnabled=true"]):
        args = [str(VENV_BIN / "cfn-lint")] + (["--parameters", *params] if params else []) + ["--", str(TEMPLATE)]
        p = run(args)
        check(f"cfn-lint {' '.join(params) or '(defaults)'}: no errors/warnings",
              p.returncode == 0 and not p.stdout.strip(), p.stdout[-1500:])

    print(f"selftest: {time.monotonic() - t0:.1f}s", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
