#!/usr/bin/env bash
# npm run bench: every benchmark in bench/, one after another (they share the machine; never run them at once).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
npm run build --silent
for script in convert process physical vm tcp; do
  echo "== bench/$script"
  bash "$here/$script.sh"
done
