#!/bin/bash
# memimage vs LiME in the lab guest (provisions the lab first; root needed). Usage: bench/physical.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
node dist/src/lab/provision.js --lime
node dist/bench/physical.js "$@"
