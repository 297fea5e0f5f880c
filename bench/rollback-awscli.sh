#!/usr/bin/env bash
# Emergency rollback the way an operator types it today with the AWS CLI: find the load balancer, its
# listener on the port, the two target groups, then put all traffic on blue.
#
#   rollback-awscli.sh ENVIRONMENT APPLICATION [PORT]
#
# Four API calls (3 reads + 1 ModifyListener), four `aws` processes. AWS access from the environment;
# the endpoint from AWS_ENDPOINT_URL (passed explicitly, so older CLIs that ignore the variable work).
set -euo pipefail
env="$1"; app="$2"; port="${3:-80}"
ep=(); [ -n "${AWS_ENDPOINT_URL:-}" ] && ep=(--endpoint-url "$AWS_ENDPOINT_URL")

lb=$(aws "${ep[@]}" elbv2 describe-load-balancers --names "$env-$app-alb" \
  --query 'LoadBalancers[0].LoadBalancerArn' --output text)
listener=$(aws "${ep[@]}" elbv2 describe-listeners --load-balancer-arn "$lb" \
  --query "Listeners[?Port==\`$port\`].ListenerArn | [0]" --output text)
groups=$(aws "${ep[@]}" elbv2 describe-target-groups --names "$env-$app-blue-tg" "$env-$app-green-tg" \
  --query 'TargetGroups[].[TargetGroupName,TargetGroupArn]' --output text)
blue=$(awk -v n="$env-$app-blue-tg" '$1 == n {print $2}' <<<"$groups")
green=$(awk -v n="$env-$app-green-tg" '$1 == n {print $2}' <<<"$groups")
aws "${ep[@]}" elbv2 modify-listener --listener-arn "$listener" --default-actions \
  "[{\"Type\":\"forward\",\"ForwardConfig\":{\"TargetGroups\":[{\"TargetGroupArn\":\"$blue\",\"Weight\":100},{\"TargetGroupArn\":\"$green\",\"Weight\":0}]}}]" \
  >/dev/null
