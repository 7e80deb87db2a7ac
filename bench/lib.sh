# Shared helpers for the benchmark scripts: timing, peak RSS, and the machine description.
# Run as users run it (npm's bin): through its #! line, which sets the thread pool and V8's young generation.
MEMIMAGE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/dist/src/cli/main.js"

# now: seconds since the epoch, with nanoseconds
now() { date +%s.%N; }

# timed OUTVAR_SECONDS OUTVAR_RSS_KIB command...: runs the command under /usr/bin/time -v
timed() {
  local __secs=$1 __rss=$2; shift 2
  local log; log=$(mktemp)
  local t0; t0=$(now)
  /usr/bin/time -v "$@" 2>"$log" >/dev/null || { cat "$log" >&2; rm -f "$log"; return 1; }
  local t1; t1=$(now)
  printf -v "$__secs" '%s' "$(echo "$t1 - $t0" | bc -l)"
  printf -v "$__rss" '%s' "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
  rm -f "$log"
}

mbps() { echo "scale=1; $1 / 1048576 / $2" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

machine() {
  echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), Node $(node --version), $(uname -r)"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# bench_image DIR SIZE_MIB: a fresh DIR (removed on exit) holding DIR/bench.lime of SIZE_MIB, synced to disk and in
# the page cache; sets $image and $bytes.
bench_image() {
  rm -rf "$1" && mkdir -p "$1"
  trap "rm -rf '$1'" EXIT
  image="$1/bench.lime"
  node "$(dirname "${BASH_SOURCE[0]}")/../dist/bench/make-lime.js" "$image" "$2"
  sync
  bytes=$(stat -c %s "$image")
  cat "$image" >/dev/null
}

# The 1-minute load average when the bench started, for its result file.
export BENCH_LOAD_START=${BENCH_LOAD_START:-$(cut -d' ' -f1 /proc/loadavg)}

# bench_result NAME SETUP PEER PEER_MIBPS PEAK_RSS_KIB RSS_GOAL_MIB "CASE|MIBPS|RATIO|GOAL"...: writes
# bench/results/NAME.json for bench/report.ts (GOAL, RSS_GOAL_MIB and PEAK_RSS_KIB may be "-").
bench_result() { node "$(dirname "${BASH_SOURCE[0]}")/../dist/bench/record.js" "$@"; }
