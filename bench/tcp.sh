#!/usr/bin/env bash
# bench/tcp: an image sent over loopback TCP, memimage (convert -o tcp:// into memimage receive, which writes,
# hashes and verifies) against `cat FILE | nc` into `nc -l > FILE` (no hashing), both receivers writing to the
# same disk. Rounds alternate; medians count. SIZE_MIB, ROUNDS and BENCH_DIR may be set. Needs nc (netcat-openbsd).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
command -v nc >/dev/null || { echo "bench/tcp.sh: nc is missing (apt-get install netcat-openbsd)" >&2; exit 1; }
size_mib=${SIZE_MIB:-1024}
rounds=${ROUNDS:-3}
dir=${BENCH_DIR:-/var/tmp/memimage-bench-tcp}
bench_image "$dir" "$size_mib"
mkdir -p "$dir/in"

# listening PORT: waits until something listens on 127.0.0.1:PORT (a loaded machine starts Node slowly; a probe
# connection would count as memimage receive's one image, so ss looks instead)
listening() {
  for ((i = 0; i < 500; i++)); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    sleep 0.02
  done
  echo "bench/tcp.sh: nothing listens on port $1" >&2
  return 1
}

# Each side's clock starts once its receiver listens: the receivers' start-up is left out for both.
peer=() ours=()
for ((round = 0; round < rounds; round++)); do
  rm -rf "$dir/in"/* && sync
  nc -l 127.0.0.1 9171 >"$dir/in/peer.lime" &
  listener=$!
  listening 9171
  t0=$(now)
  cat "$image" | nc -N 127.0.0.1 9171
  wait "$listener"
  t1=$(now)
  peer+=("$(echo "$t1 - $t0" | bc -l)")
  rm -rf "$dir/in"/* && sync
  $MEMIMAGE receive --listen 127.0.0.1:9172 -o "$dir/in" --count 1 -q &
  receiver=$!
  listening 9172
  t0=$(now)
  $MEMIMAGE convert "$image" tcp://127.0.0.1:9172/ours.lime -f lime -q
  wait "$receiver"
  t1=$(now)
  ours+=("$(echo "$t1 - $t0" | bc -l)")
  [ -f "$dir/in/ours.lime" ] || { echo "bench/tcp.sh: the receiver stored nothing" >&2; exit 1; }
done
peer_s=$(median "${peer[@]}") ours_s=$(median "${ours[@]}")
echo "machine: $(machine)"
echo "load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image: $bytes bytes over loopback, $rounds rounds, medians"
echo "cat | nc -> nc -l > file:               $(mbps "$bytes" "$peer_s") MiB/s"
echo "memimage convert -o tcp:// -> receive:  $(mbps "$bytes" "$ours_s") MiB/s  ratio $(ratio "$peer_s" "$ours_s")"
bench_result tcp "$((bytes >> 20)) MiB LiME over loopback, $rounds alternating rounds, medians; both receivers write to the same disk" \
  "cat | nc -> nc -l > file" "$(mbps "$bytes" "$peer_s")" - - \
  "convert -o tcp:// -> receive (hashed, verified)|$(mbps "$bytes" "$ours_s")|$(ratio "$peer_s" "$ours_s")|0.9"
