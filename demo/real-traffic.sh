#!/usr/bin/env bash
# The demo's real-traffic part: blue and green HTTP servers (demo/colors.py) behind a real HAProxy, a
# client that prints every second which color answered and how many requests failed, and albflip moving
# the traffic: a healthy deployment of green, then a green that answers 500 to 30 % of its requests,
# rolled back, with the client's count of failed requests next to the blast radius albflip reports.
# Needs Debian's haproxy (skipped without it) and Python 3; run by demo.sh, or on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
haproxy="$(command -v haproxy || echo /usr/sbin/haproxy)"
if [ ! -x "$haproxy" ]; then
  echo "== (HAProxy is not installed: skipping the real-traffic part; apt-get install haproxy)"
  exit 0
fi
for v in $(env | grep -o '^ALBFLIP_[A-Z_]*' || true); do unset "$v"; done
bin="${CARGO_TARGET_DIR:-target}/debug/albflip"
cargo build --quiet --bin albflip
dir="$(mktemp -d)"
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
front="$(port)" blue_port="$(port)" green_port="$(port)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
cat >"$dir/haproxy.cfg" <<CFG
global
    stats socket $dir/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:$front
    http-after-response set-header x-served-by %s
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /health
    default-server check inter 500ms fall 2 rise 2
    server blue1 127.0.0.1:$blue_port weight 256
    server green1 127.0.0.1:$green_port weight 0
CFG
python3 demo/colors.py serve blue "$blue_port" & pids+=($!)
python3 demo/colors.py serve green "$green_port" & green_pid=$!; pids+=($green_pid)
"$haproxy" -db -f "$dir/haproxy.cfg" & pids+=($!)
sleep 2

albflip() {
  echo "\$ albflip --router haproxy … $*"
  "$bin" --router haproxy --haproxy-socket "$dir/admin.sock" --haproxy-backend app \
    --blue blue1 --green green1 --state-dir "$dir/state" "$@"
}
fast=(--steps 20,50,100 --bake 4s --poll-interval 1s --metric-period 1s --metric-window 10s)
client() { python3 demo/colors.py client "http://127.0.0.1:$front/" & client_pid=$!; sleep 1; }
client_stop() { kill -TERM "$client_pid"; wait "$client_pid" || true; }

echo "== 7. real traffic through HAProxy on 127.0.0.1:$front (blue and green servers, a client counting who answered)"
albflip status
echo; echo "== 7a. a healthy deployment of green under real traffic"
client
albflip deploy --target green "${fast[@]}"
sleep 1
client_stop
echo; echo "== 7b. back to blue; green restarted answering 500 to 30 % of its requests; deploy it again"
albflip rollback --to blue
kill "$green_pid"; wait "$green_pid" 2>/dev/null || true
python3 demo/colors.py serve green "$green_port" --fail-percent 30 & pids+=($!)
sleep 2
client
set +e
albflip deploy --target green "${fast[@]}"
code=$?
set -e
sleep 1
client_stop
echo "(exit code $code: 3 means a gate failed and albflip rolled back; the client's failed requests on green"
echo " are the blast radius albflip printed)"
