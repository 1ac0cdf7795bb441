#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzzer build for SECONDS each (default 60), seeded from
# the committed fixtures, and fails on the first crash, leak or sanitizer report.
#   scripts/fuzz.sh BUILD_DIR [SECONDS]
# BUILD_DIR must be configured with CC=clang CXX=clang++ -DSTRATA_BUILD_FUZZERS=ON
# (scripts/test.sh uses its ASan+UBSan build). Seeds: every tests/fuzz/*_seeds.py writes
# OUT/<target>/ for the fuzzer bin/<target>_fuzzer. New inputs found go to
# BUILD_DIR/fuzz/corpus/<target>/, crash reproducers to BUILD_DIR/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:?usage: scripts/fuzz.sh BUILD_DIR [SECONDS]}"
seconds="${2:-60}"
seeds="$build/fuzz/seeds" corpus="$build/fuzz/corpus" artifacts="$build/fuzz/artifacts"
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$artifacts"
for script in tests/fuzz/*_seeds.py; do
  python3 "$script" "$seeds" > /dev/null
done
shopt -s nullglob
fuzzers=("$build"/bin/*_fuzzer)
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "fuzz.sh: no *_fuzzer programs in $build/bin (configure with -DSTRATA_BUILD_FUZZERS=ON and clang)" >&2
  exit 1
fi
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer" _fuzzer)
  mkdir -p "$corpus/$name" "$seeds/$name"
  echo "fuzz.sh: $name for ${seconds}s (seeds: $(ls "$seeds/$name" | wc -l))"
  # -rss_limit_mb / -malloc_limit_mb: an input may not make a reader allocate without bound.
  "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
    -artifact_prefix="$artifacts/${name}-" -print_final_stats=1 "$corpus/$name" "$seeds/$name" \
    > "$build/fuzz/$name.log" 2>&1 || { tail -50 "$build/fuzz/$name.log"; echo "fuzz.sh: $name FAILED" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz/$name.log" | tr '\n' ' '
  echo
done
echo "fuzz.sh: ${#fuzzers[@]} fuzzers ran ${seconds}s each without a finding"
