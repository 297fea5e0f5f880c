#!/usr/bin/env bash
# All tests: installs the pinned emulator and cfn-lint into .venv, and Chromium, HAProxy and nginx if missing, lints the reference stack,
# then runs every Rust test (unit, property, simulated-time, doc, and the real binary against the
# emulator, which the tests start themselves on a free port).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

localstack/ensure-env >/dev/null
# Headless Chromium renders the HTML report in one test (Debian's package; refresh the stale lists first).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  else
    echo "test.sh: chromium is missing and cannot be installed here (needs root and apt-get):" \
      "run 'sudo apt-get install chromium', or the report test will fail" >&2
  fi
fi
# Real traffic runs through Debian's HAProxy (tests/traffic) and nginx; both are installed when missing.
missing=()
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: ${missing[*]} missing and cannot be installed here (needs root and apt-get):" \
      "run 'sudo apt-get install ${missing[*]}', or the real-traffic tests (tests/traffic) will fail" >&2
  fi
fi
.venv/bin/cfn-lint cloudformation/*.yaml
cargo test --workspace --all-targets
cargo test --workspace --doc
