#!/usr/bin/env bash
# npm run bench: every benchmark in bench/, one after another (they share the machine; never run them at once).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
npm run build --silent
for script in convert process physical vm tcp avml s3; do
  echo "== bench/$script"
  bash "$here/$script.sh"
done
echo "== bench/convert, 4 GiB image (peak RSS stays bounded whatever the size)"
SIZE_MIB=4096 ROUNDS=1 BENCH_NAME=convert-4g bash "$here/convert.sh"
# every bench above wrote bench/results/NAME.json: the generated table of docs/benchmarks.md
node dist/bench/report.js
# the generated table in Biome's markdown layout, so `npm test`'s lint still passes after a bench run
npx biome format --write docs/benchmarks.md >/dev/null
