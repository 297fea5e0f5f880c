#!/usr/bin/env python3
"""Create the albflip reference stack in a local AWS (moto_server) and print its
outputs as one JSON object on stdout. All logging goes to stderr.

Run through localstack/create-stack (which makes sure .venv exists), or directly
with .venv/bin/python. Idempotent: when the stack already exists and is complete,
nothing is created and the outputs are printed again.

After the stack is complete this script also:
  * applies what moto's CloudFormation silently ignores, read from the template:
    Tags of the ELBv2 load balancer / target groups / listener (AddTags),
    TargetGroupAttributes (ModifyTargetGroupAttributes), and the lock table's
    TimeToLiveSpecification (UpdateTimeToLive). Each is only applied when the
    live value differs, so this is a no-op on real AWS;
  * with --stickiness N, sets the listener's default action through ELBv2
    ModifyListener to a weighted forward (blue 100 / green 0) with
    TargetGroupStickinessConfig Enabled=true, DurationSeconds=N: moto's
    CloudFormation cannot create a ForwardConfig listener, its ELBv2 API can.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import boto3
import botocore.exceptions
import yaml
from botocore.config import Config

HERE = Path(__file__).resolve().parent
DEFAULT_TEMPLATE = HERE.parent / "cloudformation" / "albflip-reference.yaml"
# Every template has these outputs; each also has its own (the Auto Scaling groups' names, or the ECS
# cluster's and services'), all printed and all required.
OUTPUT_KEYS = [
    "LoadBalancerArn",
    "LoadBalancerDNSName",
    "ListenerArn",
    "BlueTargetGroupArn",
    "GreenTargetGroupArn",
    "LockTableName",
    "PolicyArn",
    "VpcId",
]
COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}


def log(msg: str) -> None:
    print(f"create-stack: {msg}", file=sys.stderr, flush=True)


def die(msg: str, code: int = 1) -> "NoReturn":  # noqa: F821
    log(f"error: {msg}")
    sys.exit(code)


def parse_args(argv: list[str]) -> argparse.Namespace:
    port = os.environ.get("ALBFLIP_LOCAL_PORT", "4566")
    p = argparse.ArgumentParser(
        prog="create-stack",
        description="Create the albflip reference stack in moto_server and print its outputs as JSON.",
    )
    p.add_argument("--endpoint", default=f"http://127.0.0.1:{port}",
                   help="AWS endpoint URL (default: http://127.0.0.1:${ALBFLIP_LOCAL_PORT:-4566})")
    p.add_argument("--stack-name", default=None,
                   help="stack name (default: albflip-demo for the default environment/application, "
                        "else albflip-ENVIRONMENT-APPLICATION)")
    p.add_argument("--environment", default="demo", help="Environment parameter (default: demo)")
    p.add_argument("--application", default="shop", help="Application parameter (default: shop)")
    p.add_argument("--listener-forward", choices=["single", "weighted"], default="single",
                   help="ListenerForward parameter (default: single; moto cannot create 'weighted')")
    p.add_argument("--stickiness", type=int, metavar="SECONDS", default=None,
                   help="after creation, make the listener a weighted forward blue 100 / green 0 "
                        "with target group stickiness of SECONDS (1..604800)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="extra template parameter, e.g. --param BlueDesiredCapacity=3 (repeatable)")
    p.add_argument("--region", default="us-east-1", help="region (default: us-east-1)")
    p.add_argument("--template", default=str(DEFAULT_TEMPLATE), help="template file")
    p.add_argument("--timeout", type=float, default=180.0,
                   help="seconds to wait for CREATE_COMPLETE (default: 180)")
    a = p.parse_args(argv)
    if a.stickiness is not None and not 1 <= a.stickiness <= 604800:
        p.error("--stickiness must be between 1 and 604800 seconds")
    if a.stack_name is None:
        if (a.environment, a.application) == ("demo", "shop"):
            a.stack_name = "albflip-demo"
        else:
            a.stack_name = f"albflip-{a.environment}-{a.application}"
    for kv in a.param:
        if "=" not in kv:
            p.error(f"--param expects KEY=VALUE, got {kv!r}")
    return a


def session(region: str) -> boto3.session.Session:
    # Dummy credentials unless real ones are set; explicit keys also keep an
    # AWS_PROFILE in the environment from being looked up.
    return boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN", "testing"),
        region_name=region,
    )


def describe_stack(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as e:
        if "does not exist" in str(e):
            return None
        raise


def dump_events(cfn, name: str) -> None:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except Exception as e:  # noqa: BLE001
        log(f"(could not read stack events: {e})")
        return
    log(f"stack events of {name} (oldest first):")
    for ev in reversed(events):
        reason = ev.get("ResourceStatusReason") or ""
        log(f"  {ev.get('LogicalResourceId', '?'):<24} {ev.get('ResourceType', '?'):<45} "
            f"{ev.get('ResourceStatus', '?'):<20} {reason}")


def wait_complete(cfn, name: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = describe_stack(cfn, name)
        if st is None:
            die(f"stack {name} disappeared while waiting for it")
        status = st["StackStatus"]
        if status in COMPLETE:
            return st
        if not status.endswith("_IN_PROGRESS"):
            dump_events(cfn, name)
            die(f"stack {name} is {status}: {st.get('StackStatusReason', 'no reason given')}")
        if time.monotonic() > deadline:
            dump_events(cfn, name)
            die(f"stack {name} still {status} after {timeout:.0f}s")
        time.sleep(1)


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short forms (!Ref, !Sub, ...) into
    their long JSON forms."""


def _cfn_tag(loader: yaml.Loader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


class Unresolvable(Exception):
    pass


def resolve(value, params: dict[str, str], region: str):
    """Resolve the few intrinsics used in Tags/attributes: literals, Ref to a
    parameter or pseudo parameter, and Fn::Sub with ${Param}."""
    pseudo = {"AWS::Region": region, "AWS::Partition": "aws"}
    if isinstance(value, (str, int, float, bool)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, dict) and list(value) == ["Ref"]:
        name = value["Ref"]
        if name in params:
            return params[name]
        if name in pseudo:
            return pseudo[name]
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        def sub(m: re.Match) -> str:
            return resolve({"Ref": m.group(1)}, params, region)

        return re.sub(r"\$\{([A-Za-z0-9:]+)\}", sub, value["Fn::Sub"])
    raise Unresolvable(json.dumps(value))


def apply_moto_gaps(sess, endpoint: str, cfg: Config, cfn, stack: dict, template_path: Path,
                    region: str) -> None:
    """Apply template properties that moto's CloudFormation ignores."""
    template = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack["StackName"])["StackResources"]
        # moto lists the resource types it does not create without a logical id.
        if "LogicalResourceId" in r and "PhysicalResourceId" in r
    }
    elbv2 = sess.client("elbv2", endpoint_url=endpoint, config=cfg)
    ddb = sess.client("dynamodb", endpoint_url=endpoint, config=cfg)

    for logical, res in template.get("Resources", {}).items():
        rtype = res.get("Type", "")
        props = res.get("Properties", {}) or {}
        if rtype == "AWS::ApplicationAutoScaling::ScalableTarget":
            # moto's CloudFormation does not create scalable targets: register them.
            register_scalable_target(sess, endpoint, cfg, logical, props, physical, params, region)
            continue
        arn = physical.get(logical)
        if not arn:
            continue
        if rtype == "AWS::ECS::Service" and props.get("LoadBalancers"):
            # moto's CloudFormation ignores a service's LoadBalancers: set them through UpdateService.
            set_service_load_balancers(sess, endpoint, cfg, logical, props, arn, physical)
        try:
            if rtype.startswith("AWS::ElasticLoadBalancingV2::") and props.get("Tags"):
                want = {resolve(t["Key"], params, region): resolve(t["Value"], params, region)
                        for t in props["Tags"]}
                have = {t["Key"]: t["Value"] for t in
                        elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"][0].get("Tags", [])}
                todo = {k: v for k, v in want.items() if have.get(k) != v}
                if todo:
                    elbv2.add_tags(ResourceArns=[arn],
                                   Tags=[{"Key": k, "Value": v} for k, v in todo.items()])
                    log(f"tagged {logical} ({', '.join(sorted(todo))}) via AddTags")
            if rtype == "AWS::ElasticLoadBalancingV2::TargetGroup" and props.get("TargetGroupAttributes"):
                want = {resolve(a["Key"], params, region): resolve(a["Value"], params, region)
                        for a in props["TargetGroupAttributes"]}
                have = {a["Key"]: a["Value"] for a in
                        elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
                todo = {k: v for k, v in want.items() if have.get(k) != v}
                if todo:
                    elbv2.modify_target_group_attributes(
                        TargetGroupArn=arn, Attributes=[{"Key": k, "Value": v} for k, v in todo.items()])
                    log(f"set {logical} attributes ({', '.join(sorted(todo))}) via ModifyTargetGroupAttributes")
            if rtype == "AWS::DynamoDB::Table" and props.get("TimeToLiveSpecification"):
                spec = props["TimeToLiveSpecification"]
                if resolve(spec.get("Enabled", False), params, region) == "true":
                    attr = resolve(spec["AttributeName"], params, region)
                    ttl = ddb.describe_time_to_live(TableName=arn)["TimeToLiveDescription"]
                    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                        ddb.update_time_to_live(
                            TableName=arn,
                            TimeToLiveSpecification={"Enabled": True, "AttributeName": attr})
                        log(f"enabled TTL ({attr}) on {logical} via UpdateTimeToLive")
        except Unresolvable as e:
            log(f"warning: {logical}: cannot resolve {e}; left as is")


def resolve_physical(value, physical: dict[str, str], params: dict[str, str], region: str) -> str:
    """Ref and GetAtt NAME.Name of the stack's resources (by their physical ids), Fn::Join of those,
    else `resolve`."""
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in physical:
        return physical[value["Ref"]]
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        name, attr = value["Fn::GetAtt"]
        if attr == "Name" and name in physical:
            return physical[name].rsplit("/", 1)[-1]
    if isinstance(value, dict) and list(value) == ["Fn::Join"]:
        sep, parts = value["Fn::Join"]
        return sep.join(resolve_physical(p, physical, params, region) for p in parts)
    return resolve(value, params, region)


def set_service_load_balancers(sess, endpoint: str, cfg: Config, logical: str, props: dict,
                               service_arn: str, physical: dict[str, str]) -> None:
    ecs = sess.client("ecs", endpoint_url=endpoint, config=cfg)
    cluster = resolve_physical(props["Cluster"], physical, {}, "")
    want = [
        {"containerName": lb["ContainerName"], "containerPort": int(lb["ContainerPort"]),
         "targetGroupArn": resolve_physical(lb["TargetGroupArn"], physical, {}, "")}
        for lb in props["LoadBalancers"]
    ]
    live = ecs.describe_services(cluster=cluster, services=[service_arn])["services"][0]
    have = [lb.get("targetGroupArn") for lb in live.get("loadBalancers", [])]
    if have != [lb["targetGroupArn"] for lb in want]:
        ecs.update_service(cluster=cluster, service=service_arn, loadBalancers=want)
        log(f"set {logical} load balancers via UpdateService")


def register_scalable_target(sess, endpoint: str, cfg: Config, logical: str, props: dict,
                             physical: dict[str, str], params: dict[str, str], region: str) -> None:
    aas = sess.client("application-autoscaling", endpoint_url=endpoint, config=cfg)
    resource_id = resolve_physical(props["ResourceId"], physical, params, region)
    namespace, dimension = props["ServiceNamespace"], props["ScalableDimension"]
    found = aas.describe_scalable_targets(ServiceNamespace=namespace, ResourceIds=[resource_id],
                                          ScalableDimension=dimension)["ScalableTargets"]
    if found:
        return
    aas.register_scalable_target(
        ServiceNamespace=namespace, ResourceId=resource_id, ScalableDimension=dimension,
        MinCapacity=int(resolve(props["MinCapacity"], params, region)),
        MaxCapacity=int(resolve(props["MaxCapacity"], params, region)))
    log(f"registered {logical} ({resource_id}) via RegisterScalableTarget")


def validate_parameters(template_path: Path, params: dict[str, str]) -> None:
    """CloudFormation's parameter constraints, which moto does not enforce (a bad
    value would otherwise leave a half-created stack behind)."""
    declared = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader).get("Parameters", {})
    errors = []
    for key, value in params.items():
        spec = declared.get(key)
        if spec is None:
            errors.append(f"{key}: not a parameter of {template_path.name}")
            continue
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            errors.append(f"{key}={value!r}: must be one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            errors.append(f"{key}={value!r}: must match {spec['AllowedPattern']}")
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            errors.append(f"{key}={value!r}: shorter than {spec['MinLength']}")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            errors.append(f"{key}={value!r}: longer than {spec['MaxLength']}")
        if spec.get("Type") == "Number":
            try:
                num = float(value)
            except ValueError:
                errors.append(f"{key}={value!r}: not a number")
                continue
            if "MinValue" in spec and num < float(spec["MinValue"]):
                errors.append(f"{key}={value}: below {spec['MinValue']}")
            if "MaxValue" in spec and num > float(spec["MaxValue"]):
                errors.append(f"{key}={value}: above {spec['MaxValue']}")
    if errors:
        die("invalid parameters:\n  " + "\n  ".join(errors), 2)


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    sess = session(a.region)
    cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=120)
    # No retries for CloudFormation: a retried CreateStack after a moto HTTP 500
    # would run the (failing) creation twice.
    cfn = sess.client("cloudformation", endpoint_url=a.endpoint,
                      config=cfg.merge(Config(retries={"max_attempts": 1, "mode": "standard"})))
    elbv2 = sess.client("elbv2", endpoint_url=a.endpoint, config=cfg)

    params = {
        "Environment": a.environment,
        "Application": a.application,
        "ListenerForward": a.listener_forward,
    }
    if a.stickiness is not None:
        params["StickinessEnabled"] = "true"
        params["StickinessDuration"] = str(a.stickiness)
    for kv in a.param:
        k, v = kv.split("=", 1)
        params[k] = v

    template = Path(a.template)
    if not template.is_file():
        die(f"template not found: {template}")
    validate_parameters(template, params)

    try:
        stack = describe_stack(cfn, a.stack_name)
    except botocore.exceptions.EndpointConnectionError:
        die(f"cannot reach {a.endpoint}; is moto running? (localstack/start)")
    except botocore.exceptions.ClientError:
        raise
    except Exception as e:  # noqa: BLE001
        # moto answers DescribeStacks with HTTP 500 for a stack whose creation crashed.
        die(f"cannot describe stack {a.stack_name} ({type(e).__name__}); a previous create of it "
            f"probably crashed moto's CloudFormation: restart moto (localstack/stop && "
            f"localstack/start) or use another --stack-name")

    if stack is not None:
        status = stack["StackStatus"]
        if status.endswith("_IN_PROGRESS"):
            log(f"stack {a.stack_name} is {status}; waiting")
            stack = wait_complete(cfn, a.stack_name, a.timeout)
        elif status not in COMPLETE:
            dump_events(cfn, a.stack_name)
            die(f"stack {a.stack_name} exists in state {status}; delete it first "
                f"(aws --endpoint-url {a.endpoint} cloudformation delete-stack --stack-name {a.stack_name})")
        existing = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
        for k in ("Environment", "Application"):
            if existing.get(k) is not None and existing[k] != params[k]:
                die(f"stack {a.stack_name} exists with {k}={existing[k]}, not {params[k]}; "
                    f"use another --stack-name")
        log(f"stack {a.stack_name} already exists ({stack['StackStatus']}); reusing it")
    else:
        log(f"creating stack {a.stack_name} at {a.endpoint} ({a.region}) with "
            + " ".join(f"{k}={v}" for k, v in params.items()))
        try:
            cfn.create_stack(
                StackName=a.stack_name,
                TemplateBody=template.read_text(encoding="utf-8"),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                Capabilities=["CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": "Environment", "Value": a.environment},
                      {"Key": "Application", "Value": a.application}],
            )
        except botocore.exceptions.EndpointConnectionError:
            die(f"cannot reach {a.endpoint}; is moto running? (localstack/start)")
        except Exception as e:  # noqa: BLE001 - moto answers some failures with a bare HTTP 500
            dump_events(cfn, a.stack_name)
            hint = ""
            if a.listener_forward == "weighted":
                hint = ("; moto's CloudFormation cannot create a ForwardConfig listener (KeyError "
                        "'TargetGroupArn' in its log): use --listener-forward single, plus --stickiness "
                        "SECONDS for a weighted listener. The half-created stack stays in moto until "
                        "it is restarted")
            die(f"CreateStack failed: {type(e).__name__}: {str(e).splitlines()[0]}{hint}")
        stack = wait_complete(cfn, a.stack_name, a.timeout)
        log(f"stack {a.stack_name} is {stack['StackStatus']}")

    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    declared = list(yaml.load(template.read_text(encoding="utf-8"), Loader=_CfnLoader).get("Outputs", {}))
    keys = OUTPUT_KEYS + [k for k in declared if k not in OUTPUT_KEYS]
    missing = [k for k in keys if not outputs.get(k)]
    if missing:
        die(f"stack {a.stack_name} lacks outputs: {', '.join(missing)}")
    stack_params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}

    apply_moto_gaps(sess, a.endpoint, cfg, cfn, stack, template, a.region)

    if a.stickiness is not None:
        action = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": outputs["BlueTargetGroupArn"], "Weight": 100},
                    {"TargetGroupArn": outputs["GreenTargetGroupArn"], "Weight": 0},
                ],
                "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": a.stickiness},
            },
        }
        elbv2.modify_listener(ListenerArn=outputs["ListenerArn"], DefaultActions=[action])
        log(f"listener default action: weighted forward blue 100 / green 0, stickiness {a.stickiness}s")

    result = {k: outputs[k] for k in keys}
    result.update({
        "Environment": stack_params.get("Environment", a.environment),
        "Application": stack_params.get("Application", a.application),
        "Endpoint": a.endpoint,
        "Region": a.region,
        "StackName": a.stack_name,
    })
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except botocore.exceptions.EndpointConnectionError as e:
        die(f"cannot reach the endpoint: {e}")
    except botocore.exceptions.ClientError as e:
        die(str(e))
    except KeyboardInterrupt:
        die("interrupted", 130)
    except Exception as e:  # noqa: BLE001
        die(f"{type(e).__name__}: {e}")
