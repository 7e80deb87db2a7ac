#!/usr/bin/env bash
# bench/s3: `convert -o s3://` (multipart, default part size and concurrency) into s3rver on loopback (started here
# by test/helpers/s3-server.ts, storing on the same disk), against `convert` of the same image to a file. Rounds
# alternate; medians count; memimage's peak RSS with the S3 sink is the figure that matters (goal <= 128 MiB).
# SIZE_MIB, ROUNDS and BENCH_DIR may be set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
size_mib=${SIZE_MIB:-1024}
rounds=${ROUNDS:-3}
dir=${BENCH_DIR:-/var/tmp/memimage-bench-s3}
bench_image "$dir" "$size_mib"
mkdir -p "$dir/store"

export AWS_ACCESS_KEY_ID=MEMIMAGEBENCHKEY AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
S3_TEST_KEY=$AWS_ACCESS_KEY_ID S3_TEST_SECRET=$AWS_SECRET_ACCESS_KEY \
  node "$here/../dist/test/helpers/s3-server.js" --serve "$dir/store" evidence >"$dir/server.out" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q listening "$dir/server.out" && break; sleep 0.2; done
port=$(awk '/listening/ {print $2}' "$dir/server.out")
[ -n "$port" ] || { echo "bench/s3.sh: s3rver did not start: $(cat "$dir/server.out")" >&2; exit 1; }

peer=() ours=() rss=0 peer_rss=0
for ((round = 0; round < rounds; round++)); do
  rm -f "$dir"/out.lime* && rm -rf "$dir/store/evidence"/round* && sync
  timed s r $MEMIMAGE convert "$image" "$dir/out.lime" -f lime -q; peer+=("$s"); peer_rss=$((r > peer_rss ? r : peer_rss))
  sync
  timed s r $MEMIMAGE convert "$image" "s3://evidence/round$round.lime" -f lime -q --endpoint "http://127.0.0.1:$port"
  ours+=("$s"); rss=$((r > rss ? r : rss))
done
peer_s=$(median "${peer[@]}") ours_s=$(median "${ours[@]}")

echo "machine: $(machine)"
echo "image: $bytes bytes LiME, $rounds rounds, medians; s3rver on 127.0.0.1 stores on $(df --output=fstype "$dir" | tail -1)"
echo "memimage convert -> file:  $(mbps "$bytes" "$peer_s") MiB/s  peak RSS $((peer_rss / 1024)) MiB"
echo "memimage convert -> s3://: $(mbps "$bytes" "$ours_s") MiB/s  ratio $(ratio "$peer_s" "$ours_s")  peak RSS $((rss / 1024)) MiB"
bench_result s3 \
  "$((bytes >> 20)) MiB LiME to s3rver on loopback (default part size and concurrency), $rounds rounds; the peer is the same convert to a file on the same disk (peak RSS $((peer_rss / 1024)) MiB)" \
  "convert -> file" "$(mbps "$bytes" "$peer_s")" "$rss" 128 \
  "convert -> s3:// (multipart)|$(mbps "$bytes" "$ours_s")|$(ratio "$peer_s" "$ours_s")|-"
