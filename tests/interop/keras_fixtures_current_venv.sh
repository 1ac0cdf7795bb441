#!/usr/bin/env bash
# The keras fixture checks (strata_interop_tests) over fixtures written by the interop venv's
# own tf-keras instead of the committed 2.17 ones (ctest: interop.keras_fixtures.current_venv):
# fixture_set_current_venv.sh for the set "keras" (tests/interop/generate_fixtures.py; cache
# ${STRATA_FIXTURE_CACHE:-~/.cache/strata/fixtures}/keras/tf_keras-<version>-<hash>/).
#
#   tests/interop/keras_fixtures_current_venv.sh build/bin/strata_interop_tests [gtest args]
set -euo pipefail
exec "$(cd "$(dirname "$0")" && pwd)/fixture_set_current_venv.sh" keras "$@"
