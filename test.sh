#!/usr/bin/env bash
# All tests: installs the pinned emulator and cfn-lint into .venv if missing, lints the reference stack,
# then runs every Rust test (unit, property, simulated-time, doc, and the real binary against the
# emulator, which the tests start themselves on a free port).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

localstack/ensure-env >/dev/null
.venv/bin/cfn-lint cloudformation/*.yaml
cargo test --workspace --all-targets
cargo test --workspace --doc
