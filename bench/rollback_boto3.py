#!/usr/bin/env python3
"""Emergency rollback as a boto3 script: the same four calls as rollback-awscli.sh (describe load
balancer, listeners, target groups, then ModifyListener with all traffic on blue), in one process.

    rollback_boto3.py ENVIRONMENT APPLICATION [PORT]

AWS access and AWS_ENDPOINT_URL from the environment.
"""
import os
import sys

import boto3


def main() -> None:
    env, app = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 80
    elb = boto3.client("elbv2", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    lb = elb.describe_load_balancers(Names=[f"{env}-{app}-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
    listener = next(l["ListenerArn"] for l in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]
                    if l["Port"] == port)
    groups = {g["TargetGroupName"]: g["TargetGroupArn"] for g in
              elb.describe_target_groups(Names=[f"{env}-{app}-blue-tg", f"{env}-{app}-green-tg"])["TargetGroups"]}
    elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": groups[f"{env}-{app}-blue-tg"], "Weight": 100},
        {"TargetGroupArn": groups[f"{env}-{app}-green-tg"], "Weight": 0},
    ]}}])


if __name__ == "__main__":
    main()
