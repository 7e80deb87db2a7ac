#!/usr/bin/env bash
# bench/avml: AVML output, two ways, rounds alternating, medians.
#  1. A real guest image (1 GiB QEMU guest imaged by `memimage lab`, cached in $GUEST_CACHE): memimage
#     `convert -f avml` against bench/snappy_framed.py (libsnappy through Debian's python3-snappy) compressing the
#     same file to the Snappy framing format: output size and throughput.
#  2. A 2 GiB image of random bytes (bench/make-lime.ts): `convert -f avml` against `convert -f lime`, the same
#     pipeline without compression: throughput and peak RSS (goal <= 64 MiB).
# SIZE_MIB, ROUNDS, BENCH_DIR and GUEST_CACHE may be set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
/usr/bin/python3 -c "import snappy" 2>/dev/null || { echo "bench/avml.sh: needs python3-snappy (apt-get install python3-snappy)" >&2; exit 1; }
size_mib=${SIZE_MIB:-2048}
rounds=${ROUNDS:-3}
dir=${BENCH_DIR:-/var/tmp/memimage-bench-avml}
cache=${GUEST_CACHE:-/var/cache/memimage-lab/bench}
guest="$cache/guest-1024m.lime"
if [ ! -f "$guest" ]; then
  echo "bench/avml.sh: imaging a 1 GiB lab guest once (QEMU TCG, a few minutes) into $guest"
  rm -rf "$cache/lab" && mkdir -p "$cache"
  $MEMIMAGE lab --memory 1024M -o "$cache/lab" >/dev/null
  mv "$cache/lab/outside-vm.lime" "$guest" && rm -rf "$cache/lab"
fi
bench_image "$dir" "$size_mib"
guest_bytes=$(stat -c %s "$guest")
cat "$guest" >/dev/null

peer=() ours=() lime=() random_avml=() random_lime=() rss=0 guest_rss=0 lime_rss=0
for ((round = 0; round < rounds; round++)); do
  rm -f "$dir"/guest.* "$dir"/random.* && sync
  timed s r /usr/bin/python3 "$here/snappy_framed.py" "$guest" "$dir/guest.sz"; peer+=("$s")
  timed s r $MEMIMAGE convert "$guest" "$dir/guest.avml" -f avml -q; ours+=("$s"); guest_rss=$((r > guest_rss ? r : guest_rss))
  timed s r $MEMIMAGE convert "$guest" "$dir/guest.lime" -f lime -q; lime+=("$s")
  sync
  timed s r $MEMIMAGE convert "$image" "$dir/random.lime" -f lime -q; random_lime+=("$s"); lime_rss=$((r > lime_rss ? r : lime_rss))
  rm -f "$dir"/random.lime* && sync
  timed s r $MEMIMAGE convert "$image" "$dir/random.avml" -f avml -q; random_avml+=("$s"); rss=$((r > rss ? r : rss))
done
$MEMIMAGE verify "$dir/guest.avml" >/dev/null || { echo "bench/avml.sh: the guest's AVML image does not verify" >&2; exit 1; }
peer_s=$(median "${peer[@]}") ours_s=$(median "${ours[@]}") lime_s=$(median "${lime[@]}")
random_lime_s=$(median "${random_lime[@]}") random_avml_s=$(median "${random_avml[@]}")
# The same bytes AVML stores: the ranges' non-zero 512 KiB blocks (memimage's AVML block size), one framed stream.
/usr/bin/python3 "$here/snappy_framed.py" "$guest" "$dir/guest-nonzero.sz" --skip-zero-blocks 524288
sz=$(stat -c %s "$dir/guest.sz") nonzero=$(stat -c %s "$dir/guest-nonzero.sz") avml=$(stat -c %s "$dir/guest.avml")
size_ratio=$(echo "scale=5; $avml / $nonzero" | bc -l)

echo "machine: $(machine)"
echo "guest image: $guest_bytes bytes LiME (1 GiB lab guest), $rounds rounds, medians"
echo "python-snappy, framed (peer):     $(mbps "$guest_bytes" "$peer_s") MiB/s  $sz bytes ($(echo "scale=2; 100 * $sz / $guest_bytes" | bc -l)% of the input)"
echo "  the same, non-zero blocks only:  $nonzero bytes (what AVML stores, without its record headers)"
echo "memimage convert -f avml:         $(mbps "$guest_bytes" "$ours_s") MiB/s  ratio $(ratio "$peer_s" "$ours_s")  $avml bytes: ${size_ratio}x the peer's non-zero blocks (goal <= 1.02)  peak RSS $((guest_rss / 1024)) MiB"
echo "memimage convert -f lime:         $(mbps "$guest_bytes" "$lime_s") MiB/s"
echo "random image: $bytes bytes LiME (bench/make-lime.ts), same rounds"
echo "memimage convert -f lime:         $(mbps "$bytes" "$random_lime_s") MiB/s  peak RSS $((lime_rss / 1024)) MiB"
echo "memimage convert -f avml:         $(mbps "$bytes" "$random_avml_s") MiB/s  ratio to lime $(ratio "$random_lime_s" "$random_avml_s")  peak RSS $((rss / 1024)) MiB"
bench_result avml \
  "1 GiB lab guest image, $rounds rounds: AVML $avml bytes = ${size_ratio}x python-snappy's framing of the same non-zero blocks ($nonzero bytes; of the whole file: $sz), guest peak RSS $((guest_rss / 1024)) MiB; $((bytes >> 20)) MiB random image: convert -f lime $(mbps "$bytes" "$random_lime_s") MiB/s, peak RSS $((lime_rss / 1024)) MiB (peak RSS below: AVML of the random image)" \
  "python-snappy framed, bench/snappy_framed.py (guest)" "$(mbps "$guest_bytes" "$peer_s")" "$rss" 64 \
  "convert -f avml (guest)|$(mbps "$guest_bytes" "$ours_s")|$(ratio "$peer_s" "$ours_s")|-" \
  "convert -f avml (random; ratio to -f lime)|$(mbps "$bytes" "$random_avml_s")|$(ratio "$random_lime_s" "$random_avml_s")|-"
