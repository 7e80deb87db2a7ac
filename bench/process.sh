#!/usr/bin/env bash
# gdb's gcore against `memimage process` on the same process holding MIB MiB of touched memory (default 1024).
# Prints each tool's wall time, throughput (bytes of its core / wall time) and peak RSS, then the ratio.
# Each tool runs RUNS times (default 3), alternating; the median run counts. Needs gcc, gdb, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh # bench_result, and the load at the start
MIB=${MIB:-1024}
RUNS=${RUNS:-3}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/var/tmp}/memimage-bench-process.XXXXXX")}
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
[ -x /usr/bin/time ] || { echo "bench/process.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
[ -f dist/src/cli/main.js ] || npx tsc -p .

gcc -O2 -pthread -o "$OUT/target" test/fixtures/process/target.c
"$OUT/target" "$MIB" >"$OUT/ready" &
pid=$!
for _ in $(seq 600); do grep -q ready "$OUT/ready" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$OUT/ready" || { echo "bench/process.sh: the target did not start" >&2; exit 1; }

# seconds and peak RSS (KiB) from /usr/bin/time -v
elapsed() { awk -F': ' '/Elapsed/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$1"; }
peak() { awk -F': ' '/Maximum resident/ { print $2 }' "$1"; }

declare -a gc_s gf_s mi_s gc_b mi_b gc_rss mi_rss
for run in $(seq "$RUNS"); do
  rm -f "$OUT/gcore.core" "$OUT/mi.core" "$OUT/mi.core.report.json"
  /usr/bin/time -v -o "$OUT/gcore.time" gdb -batch -nx -p "$pid" -ex "gcore $OUT/gcore.core" >/dev/null 2>&1
  gc_s+=("$(elapsed "$OUT/gcore.time")"); gc_b+=("$(stat -c %s "$OUT/gcore.core")"); gc_rss+=("$(peak "$OUT/gcore.time")")
  rm -f "$OUT/gcore.core"
  # memimage fsyncs its core before it calls it complete; time gcore doing the same, too.
  /usr/bin/time -v -o "$OUT/gcore-sync.time" sh -c "gdb -batch -nx -p $pid -ex 'gcore $OUT/gcore.core' && sync $OUT/gcore.core" >/dev/null 2>&1
  gf_s+=("$(elapsed "$OUT/gcore-sync.time")")
  rm -f "$OUT/gcore.core"
  /usr/bin/time -v -o "$OUT/mi.time" dist/src/cli/main.js process "$pid" -o "$OUT/mi.core" -q
  mi_s+=("$(elapsed "$OUT/mi.time")"); mi_b+=("$(stat -c %s "$OUT/mi.core")"); mi_rss+=("$(peak "$OUT/mi.time")")
  echo "run $run: gcore ${gc_s[-1]} s, gcore+fsync ${gf_s[-1]} s, memimage ${mi_s[-1]} s" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
gs=$(median "${gc_s[@]}"); fs=$(median "${gf_s[@]}"); ms=$(median "${mi_s[@]}")
awk -v gs="$gs" -v fs="$fs" -v ms="$ms" -v gb="${gc_b[0]}" -v mb="${mi_b[0]}" -v gr="$(median "${gc_rss[@]}")" \
  -v mr="$(median "${mi_rss[@]}")" -v mib="$MIB" -v runs="$RUNS" 'BEGIN {
  gt = gb / gs / 1048576; ft = gb / fs / 1048576; mt = mb / ms / 1048576
  printf "process with %d MiB touched, median of %d runs (SHA-256 on in memimage: per mapping and whole core; the core is fsynced)\n", mib, runs
  printf "gcore:    %6.2f s  %7.1f MiB/s  core %d bytes  peak RSS %.1f MiB\n", gs, gt, gb, gr / 1024
  printf "gcore+fsync: %6.2f s  %7.1f MiB/s\n", fs, ft
  printf "memimage: %6.2f s  %7.1f MiB/s  core %d bytes  peak RSS %.1f MiB\n", ms, mt, mb, mr / 1024
  printf "ratio (memimage / gcore throughput): %.2fx; against gcore+fsync: %.2fx\n", mt / gt, mt / ft
}'
read -r gt ft mt < <(awk -v gs="$gs" -v fs="$fs" -v ms="$ms" -v gb="${gc_b[0]}" -v mb="${mi_b[0]}" \
  'BEGIN { printf "%.1f %.1f %.1f\n", gb / gs / 1048576, gb / fs / 1048576, mb / ms / 1048576 }')
bench_result process "a process with $MIB MiB touched, median of $RUNS alternating runs; memimage hashes and fsyncs its core" \
  "gdb gcore" "$gt" "$(median "${mi_rss[@]}")" 64 \
  "process PID -> ELF core|$mt|$(ratio "$mt" "$gt")|1.5" \
  "the same, against gcore + fsync ($ft MiB/s)|$mt|$(ratio "$mt" "$ft")|-"
