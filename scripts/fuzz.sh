#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzzer build for SECONDS each (default 60; as many at once
# as there are cores), seeded from the committed fixtures, and fails when any of them finds a
# crash, leak or sanitizer report. CI runs 40 s each (scripts/test.sh); a long run is the
# same script with more time, e.g. 20 minutes each: scripts/fuzz.sh build-asan 1200.
# Figures (executions, coverage, features, corpus, peak RSS, finding) go to
# BUILD_DIR/fuzz/summary.md, a table for docs/RELIABILITY.md.
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
# Debian's interpreter, where setup.sh's python3-h5py lives (another python3 may come first
# on PATH).
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
for script in tests/fuzz/*_seeds.py; do
  "$python" "$script" "$seeds" > /dev/null
done
shopt -s nullglob
fuzzers=("$build"/bin/*_fuzzer)
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "fuzz.sh: no *_fuzzer programs in $build/bin (configure with -DSTRATA_BUILD_FUZZERS=ON and clang)" >&2
  exit 1
fi
# The cpu device keeps freed blocks for reuse, up to 1/16 of physical memory by default
# (issue 22). A fuzzer builds thousands of models of every size in one process, so that
# cache would count against -rss_limit_mb across inputs and hide what one input allocates:
# cap it at 256 MiB here.
export STRATA_CPU_CACHE_MB=256
summary="$build/fuzz/summary.md"
echo "| target | seconds | executions | coverage (cov) | features (ft) | corpus | peak RSS | result |" > "$summary"
echo "|---|---|---|---|---|---|---|---|" >> "$summary"
# One fuzzer: its options, its run, its log. Prints a summary line and adds a row to
# summary.md; returns non-zero on a finding (the log's tail is printed).
run_one() {
  local fuzzer="$1" name malloc_limit asan_options shape=() status=0 result
  name=$(basename "$fuzzer" _fuzzer)
  mkdir -p "$corpus/$name" "$seeds/$name"
  # Inputs may grow far past the seeds (libFuzzer's default -max_len is the largest seed, so
  # a 100k-deep config could never be made): 1 MiB for the structured formats, with the
  # dictionary of their keys, names and tokens.
  case "$name" in
    json_* | python_json | layer_config | h5_*) shape=(-max_len=1048576 -dict=tests/fuzz/json.dict) ;;
    savedmodel | graphdef | checkpoint_object_graph) shape=(-max_len=1048576 -dict=tests/fuzz/tensorflow.dict) ;;
    npy | checkpoint_index | plugin_elf) shape=(-max_len=65536) ;;
    # Zip archives: record signatures, field values and Keras's member names.
    keras_archive) shape=(-max_len=1048576 -dict=tests/fuzz/keras_archive.dict) ;;
  esac
  # -rss_limit_mb / -malloc_limit_mb: an input may not make a reader allocate without bound.
  malloc_limit=1024 asan_options="${ASAN_OPTIONS:-}"
  case "$name" in
    h5_* | json_* | layer_config | savedmodel | graphdef | keras_archive)
      # These load the plugins, whose OpenMP workers and thread_local caches make LSan
      # either crash (use_tls=1: "Tracer caught signal 11", docs/BUILD.md) or report blocks
      # held only by thread-local containers as leaks (use_tls=0). Leaks are checked by the
      # sanitized CTest run instead; here ASan and UBSan do the work.
      asan_options="${asan_options:+$asan_options:}detect_leaks=0" ;;
  esac
  case "$name" in
    h5_* | keras_archive)
      # HDF5 1.10 asks malloc for sizes it read from a file before checking them and fails
      # cleanly when malloc returns NULL: let it (allocator_may_return_null; C++ new still
      # reports), and bound what is really used with the RSS limit. A .keras archive's
      # weights are an HDF5 file too (CI's run at 498671b: H5C_protect asked for 176 GB).
      malloc_limit=1048576 asan_options="$asan_options:allocator_may_return_null=1" ;;
  esac
  local started=$SECONDS
  ASAN_OPTIONS="$asan_options" OMP_NUM_THREADS=1 \
    "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb="$malloc_limit" -timeout=10 \
      "${shape[@]}" -artifact_prefix="$artifacts/${name}-" -print_final_stats=1 "$corpus/$name" "$seeds/$name" \
      > "$build/fuzz/$name.log" 2>&1 || status=$?
  local log="$build/fuzz/$name.log" last execs rss
  last=$(grep -E "^#[0-9]+" "$log" | tail -1)
  # A crash prints the final stats twice: the last ones count.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  result="no finding"
  # UBSan (-fno-sanitize-recover) prints "file:line:col: runtime error: ..." and aborts, which
  # libFuzzer reports only as a deadly signal: name the UBSan line first.
  [ "$status" -ne 0 ] && result="FINDING after $((SECONDS - started)) s: $(grep -m1 -oE "[^ /]+:[0-9]+:[0-9]+: runtime error: [^|]{0,100}|ERROR: [A-Za-z]+: [a-z-]+|ERROR: libFuzzer: [a-z-]+|==[0-9]+==ERROR: [^ ]+ [^ ]+" "$log" | head -1)"
  echo "| $name | $seconds | ${execs:-?} | $(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$last") | $(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<< "$last") | $(sed -n 's/.*corp: \([^ ]*\).*/\1/p' <<< "$last") | ${rss:-?} MB | $result |" >> "$summary"
  if [ "$status" -ne 0 ]; then
    # The report without libFuzzer's progress lines and the library's warnings, which would
    # otherwise push it out of the tail.
    grep -v -E "^#[0-9]+[[:space:]]|^strata: warning" "$log" | tail -80
    echo "fuzz.sh: $name FAILED (log: $log)" >&2
    return 1
  fi
  echo "fuzz.sh: $name ${seconds}s, seeds $(ls "$seeds/$name" | wc -l): executions ${execs:-?}, $(grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [^ ]+" <<< "$last"), peak RSS ${rss:-?} MB"
}

# As many fuzzers at once as there are cores (each is one process, one thread).
jobs_max=$(nproc)
failed=0
running=0
for fuzzer in "${fuzzers[@]}"; do
  if [ "$running" -ge "$jobs_max" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "$fuzzer" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [ "$failed" -ne 0 ]; then
  cat "$summary"
  echo "fuzz.sh: a fuzzer found something (reproducers in $artifacts)" >&2
  exit 1
fi
cat "$summary"
echo "fuzz.sh: ${#fuzzers[@]} fuzzers ran ${seconds}s each without a finding"
