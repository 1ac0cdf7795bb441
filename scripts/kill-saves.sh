#!/bin/sh
# Kills `strata convert` saves with SIGKILL at random times, many per format, on a model of a
# chosen size, and prints one line of figures per format (docs/RELIABILITY.md, "Killed saves").
# After every kill the target must load as the old or the new save (weights compared exactly),
# and a complete save must leave no temporary of a dead process. It runs the CI test
# cli.Formats/CliKilledSaves.* (tests/cli/cli_killed_saves_test.cpp) with more kills.
#
#   scripts/kill-saves.sh [BUILD_DIR]      (default: build; needs strata_cli_kill_tests built)
#   KILLS=200      kills per format
#   UNITS=1024     width of the model's two square Dense layers (1024: 8 MiB of weights)
#   FORMATS=h5,savedmodel,checkpoint,json
set -eu
build=${1:-build}
exe="$build/bin/strata_cli_kill_tests"
[ -x "$exe" ] || { echo "kill-saves: $exe not built (cmake --build $build --target strata_cli_kill_tests)" >&2; exit 2; }
log=$(mktemp)
rc=0
STRATA_KILL_SAVES=${KILLS:-200} STRATA_KILL_SAVES_UNITS=${UNITS:-1024} STRATA_KILL_SAVES_FORMATS=${FORMATS:-} \
  "$exe" --gtest_filter='*CliKilledSaves*' > "$log" 2>&1 || rc=$?
grep -E '^killed-saves|^\[  (PASSED|FAILED|SKIPPED)|Failure|holds' "$log" || cat "$log"
rm -f "$log"
exit $rc
