#!/usr/bin/env python3
"""Simulated traffic for the demo: publishes ALB metrics (RequestCount, HTTPCode_Target_5XX_Count,
TargetResponseTime, HealthyHostCount, UnHealthyHostCount) for the blue and green target groups in
proportion to the listener's live weights, every --interval seconds, until killed. moto generates no
metrics of its own; on real AWS the load balancer publishes these.

    traffic.py --endpoint URL --stack-json FILE [--blue-errors 0.0] [--green-errors 0.2]
"""
import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone

import boto3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--stack-json", required=True, help="the JSON printed by localstack/create-stack")
    p.add_argument("--blue-errors", type=float, default=0.0, help="share of blue requests that fail (0..1)")
    p.add_argument("--green-errors", type=float, default=0.0, help="share of green requests that fail (0..1)")
    p.add_argument("--interval", type=float, default=0.5)
    a = p.parse_args()
    with open(a.stack_json) as f:
        stack = json.load(f)
    kw = dict(
        endpoint_url=a.endpoint,
        region_name=stack.get("Region", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    elb = boto3.client("elbv2", **kw)
    cw = boto3.client("cloudwatch", **kw)
    lb_dim = stack["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    groups = {
        stack["BlueTargetGroupArn"]: a.blue_errors,
        stack["GreenTargetGroupArn"]: a.green_errors,
    }
    while True:
        action = elb.describe_listeners(ListenerArns=[stack["ListenerArn"]])["Listeners"][0]["DefaultActions"][0]
        tuples = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        weights = {t["TargetGroupArn"]: t.get("Weight", 1) for t in tuples} or {action.get("TargetGroupArn"): 100}
        now = datetime.now(timezone.utc)
        for arn, fault in groups.items():
            requests = 2.0 * max(weights.get(arn, 0), 0)
            dims = [
                {"Name": "LoadBalancer", "Value": lb_dim},
                {"Name": "TargetGroup", "Value": arn.rsplit(":", 1)[1]},
            ]
            data = [
                {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": now, "Value": requests, "Unit": "Count"},
                {"MetricName": "HealthyHostCount", "Dimensions": dims, "Timestamp": now, "Value": 2, "Unit": "Count"},
                {"MetricName": "UnHealthyHostCount", "Dimensions": dims, "Timestamp": now, "Value": 0, "Unit": "Count"},
            ]
            if requests:
                data.append({"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": now, "Value": 0.05, "Unit": "Seconds"})
            errors = round(requests * fault)
            if errors:
                data.append({"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Timestamp": now, "Value": errors, "Unit": "Count"})
            cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
        sys.stdout.flush()
        time.sleep(a.interval)


if __name__ == "__main__":
    main()
