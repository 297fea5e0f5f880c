#!/usr/bin/env python3
"""Simulated ALB metrics with a fault that starts at a known moment (for the detection-delay benchmark).

    fault_publisher.py --endpoint URL --stack-json FILE --trigger FILE --log FILE [--green-errors 0.2]

Like localstack/traffic.py: every --interval seconds it publishes RequestCount, HTTPCode_Target_5XX_Count,
TargetResponseTime, HealthyHostCount and UnHealthyHostCount for blue and green in proportion to the
listener's live weights. Green is healthy while the file --trigger does not exist and fails
--green-errors of its requests while it does. The trigger is checked every 20 ms; when it appears the
first faulty datapoints are published at once and one JSON line is appended to --log:
{"trigger": <contents of the trigger>, "stored": <unix time PutMetricData returned>, "timestamp": <the
datapoints' timestamp>, "visible": <the first moment a GetMetricData call can return them>}. Runs until
killed.

"visible" is max(stored, floor(timestamp) + 1 s): the emulator (moto 5.2.5, cloudwatch/models.py
get_metric_data) truncates StartTime and EndTime to whole seconds and keeps datapoints with
timestamp < EndTime, so a datapoint stamped 12:00:00.4 is returned only by queries ending at or after
12:00:01, however early it was stored.
"""
import argparse
import json
import math
import os
import time
from datetime import datetime, timezone

import boto3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--stack-json", required=True)
    p.add_argument("--trigger", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--green-errors", type=float, default=0.2)
    p.add_argument("--interval", type=float, default=0.5)
    a = p.parse_args()
    with open(a.stack_json) as f:
        stack = json.load(f)
    kw = dict(endpoint_url=a.endpoint, region_name=stack.get("Region", "us-east-1"),
              aws_access_key_id="testing", aws_secret_access_key="testing")
    elb = boto3.client("elbv2", **kw)
    cw = boto3.client("cloudwatch", **kw)
    lb_dim = stack["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
    blue, green = stack["BlueTargetGroupArn"], stack["GreenTargetGroupArn"]

    def publish(faulty: bool) -> float:
        action = elb.describe_listeners(ListenerArns=[stack["ListenerArn"]])["Listeners"][0]["DefaultActions"][0]
        tuples = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        weights = {t["TargetGroupArn"]: t.get("Weight", 1) for t in tuples} or {action.get("TargetGroupArn"): 100}
        now = datetime.now(timezone.utc)
        data = []
        for arn in (blue, green):
            requests = 2.0 * max(weights.get(arn, 0), 0)
            dims = [{"Name": "LoadBalancer", "Value": lb_dim},
                    {"Name": "TargetGroup", "Value": arn.rsplit(":", 1)[1]}]
            data += [
                {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": now, "Value": requests, "Unit": "Count"},
                {"MetricName": "HealthyHostCount", "Dimensions": dims, "Timestamp": now, "Value": 2, "Unit": "Count"},
                {"MetricName": "UnHealthyHostCount", "Dimensions": dims, "Timestamp": now, "Value": 0, "Unit": "Count"},
            ]
            if requests:
                data.append({"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": now,
                             "Value": 0.05, "Unit": "Seconds"})
            errors = round(requests * a.green_errors) if (faulty and arn == green) else 0
            if errors:
                data.append({"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Timestamp": now,
                             "Value": errors, "Unit": "Count"})
        cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
        return now.timestamp()

    faulty = False
    next_at = 0.0
    while True:
        now = time.monotonic()
        trigger = os.path.exists(a.trigger)
        if trigger and not faulty:
            try:
                with open(a.trigger) as f:
                    label = f.read().strip()
            except OSError:
                label = ""
            stamp = publish(True)
            stored = time.time()
            faulty = True
            with open(a.log, "a") as f:
                f.write(json.dumps({"trigger": label, "stored": stored, "timestamp": stamp,
                                    "visible": max(stored, math.floor(stamp) + 1.0)}) + "\n")
            next_at = time.monotonic() + a.interval
            continue
        if not trigger:
            faulty = False
        if now >= next_at:
            publish(faulty)
            next_at = now + a.interval
        time.sleep(0.02)


if __name__ == "__main__":
    main()
