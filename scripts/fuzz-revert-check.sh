#!/usr/bin/env bash
# Shows that the fuzzing can find the class of defect issue 20 fixed first: with the nesting
# limit of the Python-JSON parser reverted, python_json_fuzzer must find the stack overflow
# (a config nested far deeper than any recursion can take) within LIMIT seconds (default
# 600), from the fixtures' configs as seeds. The JSON mutator's "nest" step is what makes
# such inputs; byte mutations alone never grow one (docs/RELIABILITY.md, "Fuzzing").
#   scripts/fuzz-revert-check.sh [LIMIT]
# The committed HEAD is checked out as a worktree beside this checkout
# (../<name>-revert-check, so ccache reuses a build-asan of this checkout), the limit is
# removed there (kMaxJsonDepth set to SIZE_MAX), and only that fuzzer and the runtime are
# built (clang, ASan+UBSan, as scripts/test.sh builds build-asan). Exit status 0 when the
# crash is found within LIMIT, 1 when it is not; the log and the reproducer stay in
# ${TMPDIR:-/tmp}/strata-revert-check/, the worktree is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-600}"
dir="$(cd .. && pwd)/$(basename "$PWD")-revert-check"
cleanup() { git worktree remove --force "$dir" 2> /dev/null || true; }
if [ -e "$dir" ]; then cleanup; rm -rf "$dir"; fi
git worktree add --detach "$dir" HEAD > /dev/null
file="$dir/runtime/src/saving/python_json.cpp"
sed -i 's/^constexpr std::size_t kMaxJsonDepth = 1000;$/constexpr std::size_t kMaxJsonDepth = SIZE_MAX;  \/\/ reverted by fuzz-revert-check.sh/' "$file"
grep -q "reverted by fuzz-revert-check.sh" "$file" || { echo "fuzz-revert-check.sh: kMaxJsonDepth not found in $file" >&2; cleanup; exit 2; }

build="$dir/build-asan" out="${TMPDIR:-/tmp}/strata-revert-check"
rm -rf "$out"
CC=clang CXX=clang++ cmake -S "$dir" -B "$build" -G Ninja -DSTRATA_WERROR=ON -DSTRATA_SANITIZE=ON \
  -DSTRATA_BUILD_BENCH=OFF -DSTRATA_BUILD_FUZZERS=ON > /dev/null
cmake --build "$build" --target python_json_fuzzer > /dev/null
mkdir -p "$out/corpus" "$out/seeds"
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
"$python" tests/fuzz/h5_seeds.py "$out/seeds" > /dev/null

started=$SECONDS
status=0
ASAN_OPTIONS=detect_leaks=0 "$build/bin/python_json_fuzzer" -max_total_time="$limit" -max_len=1048576 \
  -dict=tests/fuzz/json.dict -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/" -print_final_stats=1 \
  "$out/corpus" "$out/seeds/python_json" > "$out/fuzz.log" 2>&1 || status=$?
elapsed=$((SECONDS - started))
cleanup
inputs=$(grep -E '^#[0-9]+' "$out/fuzz.log" | tail -1 | awk '{print $1}' | tr -d '#')
if [ "$status" -ne 0 ] && grep -q "stack-overflow" "$out/fuzz.log"; then
  echo "fuzz-revert-check.sh: with the nesting limit reverted, python_json_fuzzer found the stack overflow in ${elapsed} s (${inputs:-?} inputs; log and reproducer in $out)"
  exit 0
fi
echo "fuzz-revert-check.sh: no stack overflow within ${limit} s (status $status); log: $out/fuzz.log" >&2
exit 1
