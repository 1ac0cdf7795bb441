#!/usr/bin/env bash
# One format's tf-keras fixture tests over files the interop venv's own tf-keras (2.21) writes at
# test time, instead of the committed 2.17 ones (the second version; ctest:
# <set>.fixtures.current_venv; interop.keras_fixtures.current_venv for the per-layer keras
# fixtures, through keras_fixtures_current_venv.sh):
#
#   tests/interop/fixture_set_current_venv.sh SET TEST_PROGRAM [gtest args]
#
#   SET         generator                                                committed dir
#   keras       tests/interop/generate_fixtures.py                       tests/data/keras
#   h5          tests/interop/generate_h5_fixtures.py                    tests/data/h5
#   savedmodel  tests/interop/generate_savedmodel_fixtures.py            tests/data/savedmodel
#   checkpoint  tests/plugins/checkpoint/generate_checkpoint_fixtures.py tests/data/checkpoint
#   training    tests/plugins/training/generate_training_fixtures.py     tests/data/training
#
# Runs the generator with $STRATA_INTEROP_VENV (default ~/.cache/strata/interop-venv) and --out
# into a cache directory keyed by the generator's SHA-256 and the venv's tf-keras version,
# ${STRATA_FIXTURE_CACHE:-~/.cache/strata/fixtures}/<set>/tf_keras-<version>-<hash>/, once;
# later runs reuse it. The directory is published by a rename after the generator succeeded,
# so one that exists is complete. Then runs the test program with
# STRATA_<SET>_FIXTURE_DIR=<that directory> and STRATA_<SET>_FIXTURE_TF_KERAS=<version> (the
# tests read the directory from there and check that the files say that version).
# Exits 77 (ctest: skipped) when the venv is absent.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 keras|h5|savedmodel|checkpoint|training TEST_PROGRAM [gtest args]" >&2; exit 2; }
SET="$1"
TESTS="$2"
shift 2
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
case "$SET" in
  keras) GENERATOR="$HERE/generate_fixtures.py" ;;
  h5) GENERATOR="$HERE/generate_h5_fixtures.py" ;;
  savedmodel) GENERATOR="$HERE/generate_savedmodel_fixtures.py" ;;
  checkpoint) GENERATOR="$ROOT/tests/plugins/checkpoint/generate_checkpoint_fixtures.py" ;;
  training) GENERATOR="$ROOT/tests/plugins/training/generate_training_fixtures.py" ;;
  *) echo "$0: unknown fixture set '$SET' (keras, h5, savedmodel, checkpoint, training)" >&2; exit 2 ;;
esac
UPPER="$(echo "$SET" | tr '[:lower:]' '[:upper:]')"

VENV="${STRATA_INTEROP_VENV:-$HOME/.cache/strata/interop-venv}"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
  echo "no interop venv at $VENV (tests/interop/setup_venv.sh makes it): skipped"
  exit 77
fi

TF_KERAS="$("$PY" -c 'import importlib.metadata as m; print(m.version("tf-keras"))')"
HASH="$(sha256sum "$GENERATOR" | cut -c1-16)"
CACHE="${STRATA_FIXTURE_CACHE:-$HOME/.cache/strata/fixtures}/$SET"
DIR="$CACHE/tf_keras-$TF_KERAS-$HASH"

if [[ ! -d "$DIR" ]]; then
  echo "generating the $SET fixtures with tf-keras $TF_KERAS ($VENV) into $DIR"
  mkdir -p "$CACHE"
  TMP="$(mktemp -d "$CACHE/.tmp-XXXXXX")"
  trap 'rm -rf "$TMP" "$TMP.log"' EXIT
  start=$(date +%s)
  if ! TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3 "$PY" "$GENERATOR" --out "$TMP/out" > "$TMP.log" 2>&1; then
    tail -n 40 "$TMP.log"
    echo "$(basename "$GENERATOR") failed with tf-keras $TF_KERAS"
    exit 1
  fi
  echo "generated in $(( $(date +%s) - start )) s"
  # Another run may have published it meanwhile: keep the first.
  mv -T "$TMP/out" "$DIR" 2>/dev/null || true
fi

echo "$SET fixtures: $DIR (tf-keras $TF_KERAS)"
export "STRATA_${UPPER}_FIXTURE_DIR=$DIR" "STRATA_${UPPER}_FIXTURE_TF_KERAS=$TF_KERAS"
exec "$TESTS" "$@"
