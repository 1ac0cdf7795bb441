#!/usr/bin/env bash
# Checks C++ sources against .clang-format and .clang-tidy's naming rules.
#   scripts/lint.sh [BUILD_DIR] [FILE...]
# Without files: the .cpp/.hpp files changed since the merge base with main (or HEAD~1).
# The naming check needs BUILD_DIR/compile_commands.json (scripts/build.sh writes it).
# Exit status 1 when a file is not formatted or breaks a naming rule. Not part of CI:
# existing code predates the configuration and is reformatted only when touched.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  base=$(git merge-base HEAD main 2>/dev/null || git rev-parse HEAD~1)
  mapfile -t files < <(git diff --name-only --diff-filter=AM "$base" -- '*.cpp' '*.hpp' '*.h' '*.c')
fi
[ ${#files[@]} -gt 0 ] || { echo "lint: no files"; exit 0; }
status=0
for f in "${files[@]}"; do
  if ! clang-format --style=file --dry-run --Werror "$f" 2> /dev/null; then
    echo "lint: $f is not formatted (clang-format -i $f)"
    status=1
  fi
done
cpp=()
for f in "${files[@]}"; do case "$f" in *.cpp) cpp+=("$f") ;; esac; done
if [ ${#cpp[@]} -gt 0 ]; then
  if [ -f "$build/compile_commands.json" ]; then
    clang-tidy -p "$build" --quiet "${cpp[@]}" 2> /dev/null | grep -E "warning:|error:" && status=1
  else
    echo "lint: no $build/compile_commands.json: naming check skipped"
  fi
fi
exit $status
