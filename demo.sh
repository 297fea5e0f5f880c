#!/usr/bin/env bash
# The demo: start the local AWS (moto on 127.0.0.1:4566), create the reference stack, move traffic by
# hand, then run a healthy gradual deployment (green's Auto Scaling group starts at 0 and is raised to
# blue's capacity first; test traffic by header on the production listener), one that albflip rolls back on its own, a cleanup that scales the old color to
# zero and a rollback after the cleanup that scales it back up before moving traffic; then real traffic
# through a real HAProxy (demo/real-traffic.sh: a healthy deployment and a rolled-back one, the client's
# count of failed requests next to albflip's).
# Needs Rust and Python 3; installs the pinned emulator into .venv on first run. Stop the local AWS with
# `localstack/stop`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
endpoint="$(localstack/start)"
export AWS_ENDPOINT_URL="$endpoint"
echo "== local AWS at $AWS_ENDPOINT_URL; creating the reference stack" >&2
stack_json="$(mktemp)"
localstack/create-stack --endpoint "$AWS_ENDPOINT_URL" --stickiness 300 --param GreenDesiredCapacity=0 >"$stack_json"
cargo build --quiet --bin albflip
albflip() { echo; echo "\$ albflip $*"; target/debug/albflip "$@"; }
export ALBFLIP_ENVIRONMENT=demo ALBFLIP_APPLICATION=shop
export ALBFLIP_LOCK_TABLE=demo-shop-albflip-locks   # the reference stack's lock table: one albflip per listener
export ALBFLIP_READY_POLL=1s   # look at the new color's health every second (10s by default)
mkdir -p reports
# Short timings so the demo takes seconds (the defaults bake 3m and poll every 30s).
fast=(--bake 4s --poll-interval 1s --metric-lag 0s --metric-window 5s --metric-period 1s --latency-statistic Average)

traffic_pid=""
traffic() {  # simulated ALB metrics; moto generates none
  [ -n "$traffic_pid" ] && kill "$traffic_pid" 2>/dev/null || true
  .venv/bin/python localstack/traffic.py --endpoint "$AWS_ENDPOINT_URL" --stack-json "$stack_json" "$@" &
  traffic_pid=$!
}
trap '[ -n "$traffic_pid" ] && kill "$traffic_pid" 2>/dev/null; rm -f "$stack_json"' EXIT

echo "== 1. status, and the pre-flight for green (its Auto Scaling group starts at 0; deploy raises it first)"
target/debug/albflip rollback --to blue --quiet   # start from blue (a rerun of the demo leaves green stable)
albflip status
albflip check --target green "${fast[@]}" || echo "(exit code $?: 1 means a pre-flight check failed; nothing was changed)"

echo; echo "== 2. a healthy gradual deployment of green (simulated traffic: no errors)"
echo "   green's group is raised to blue's capacity and its targets awaited before the first step;"
echo "   requests with the header X-Albflip-Test: demo go to green for the whole deployment (a temporary rule)"
traffic --green-errors 0
albflip deploy --target green --steps 25,50,100 --test-header X-Albflip-Test=demo "${fast[@]}" --report reports/healthy.html

echo; echo "== 3. a manual shift, and the emergency rollback"
albflip shift --target blue --percentage 10
albflip rollback

echo; echo "== 4. a faulty deployment of blue (simulated traffic: 20% of blue's requests fail)"
traffic --blue-errors 0.2
set +e
albflip deploy --target blue "${fast[@]}" --report reports/rolled-back.html
code=$?
set -e
echo "(exit code $code: 3 means a gate failed and albflip rolled back)"

echo; echo "== 5. cleanup: blue (not stable) is scaled to zero once every route shows it at weight 0"
albflip cleanup
echo; echo "== 6. a rollback to blue after the cleanup: blue's group is scaled back up and awaited first"
albflip rollback --to blue
albflip status
echo
# 7: real traffic through a real HAProxy (skipped when haproxy is not installed).
demo/real-traffic.sh
echo
echo "== done. HTML reports: reports/healthy.html, reports/rolled-back.html"
echo "== The local AWS is still running at $AWS_ENDPOINT_URL; stop it with localstack/stop"
