#!/bin/bash
# memimage vm vs QEMU's own dump-guest-memory, same guest, same run (provisions the lab; root needed).
# Usage: bench/vm.sh [--memory 512,2048] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
node dist/src/lab/provision.js
node dist/bench/vm.js "$@"
