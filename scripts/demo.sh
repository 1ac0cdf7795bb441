#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Strata and runs its main job.
# The main job is `strata demo` (the Keras saving guide's models: build, train, save,
# reload, compare), after `strata plugins` shows what is loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
./build/bin/strata plugins
./build/bin/strata demo
