#!/usr/bin/env bash
# The demo: start the local AWS (moto on 127.0.0.1:4566), create the reference stack, and move traffic.
# Needs Rust and Python 3; installs the pinned emulator into .venv on first run. Stop the local AWS with
# `localstack/stop`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ENDPOINT_URL="$(localstack/start)"
echo "== local AWS at $AWS_ENDPOINT_URL; creating the reference stack" >&2
localstack/create-stack --endpoint "$AWS_ENDPOINT_URL" --stickiness 300 >/dev/null
cargo build --quiet --bin albflip
albflip() { echo; echo "\$ albflip $*"; target/debug/albflip "$@"; }
export ALBFLIP_ENVIRONMENT=demo ALBFLIP_APPLICATION=shop

albflip status
albflip shift --target green --percentage 10
albflip status
albflip rollback
echo
echo "== done. The local AWS is still running at $AWS_ENDPOINT_URL; stop it with localstack/stop"
