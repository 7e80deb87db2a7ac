#!/usr/bin/env bash
# bench/convert: convert a 2 GiB LiME image to padded and back, against `cat IMAGE | sha256sum` on the same file,
# in alternating rounds (the machine is noisy); prints median throughputs, the ratios and memimage's peak RSS.
# SIZE_MIB, ROUNDS, BENCH_DIR and BENCH_NAME (of its result file, bench/results/NAME.json) may be set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
size_mib=${SIZE_MIB:-2048}
rounds=${ROUNDS:-3}
dir=${BENCH_DIR:-/var/tmp/memimage-bench}
bench_image "$dir" "$size_mib" # every run starts from the page cache

peer=() to_padded=() back=() rss=0
for ((round = 0; round < rounds; round++)); do
  rm -f "$dir"/bench.padded* "$dir"/back.lime*
  sync
  timed s r bash -c "cat '$image' | sha256sum"; peer+=("$s")
  timed s r $MEMIMAGE convert "$image" "$dir/bench.padded" -f padded -q; to_padded+=("$s"); rss=$((r > rss ? r : rss))
  sync
  timed s r $MEMIMAGE convert "$dir/bench.padded" "$dir/back.lime" -f lime -q; back+=("$s"); rss=$((r > rss ? r : rss))
  cmp -s <(jq -r '.ranges[].sha256' "$dir/bench.padded.report.json") <(jq -r '.ranges[].sha256' "$dir/back.lime.report.json") \
    || { echo "range hashes differ after the round trip" >&2; exit 1; }
done
peer_s=$(median "${peer[@]}") to_padded_s=$(median "${to_padded[@]}") back_s=$(median "${back[@]}")

echo "machine: $(machine)"
echo "image: $bytes bytes LiME, $rounds rounds, medians; output written to $(df --output=fstype "$dir" | tail -1) and fsynced"
echo "cat | sha256sum:          $(mbps "$bytes" "$peer_s") MiB/s"
echo "memimage lime -> padded:  $(mbps "$bytes" "$to_padded_s") MiB/s  ratio $(ratio "$peer_s" "$to_padded_s")"
echo "memimage padded -> lime:  $(mbps "$bytes" "$back_s") MiB/s  ratio $(ratio "$peer_s" "$back_s")"
echo "memimage peak RSS:        $((rss / 1024)) MiB"
bench_result "${BENCH_NAME:-convert}" \
  "$((bytes >> 20)) MiB LiME in the page cache, $rounds rounds, output fsynced to $(df --output=fstype "$dir" | tail -1)" \
  "cat | sha256sum" "$(mbps "$bytes" "$peer_s")" "$rss" 64 \
  "convert lime -> padded|$(mbps "$bytes" "$to_padded_s")|$(ratio "$peer_s" "$to_padded_s")|0.9" \
  "convert padded -> lime|$(mbps "$bytes" "$back_s")|$(ratio "$peer_s" "$back_s")|0.9"
