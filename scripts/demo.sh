#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds Strata and runs its main job.
# Until `strata demo` exists (training issue), the main job is `strata plugins --verbose`:
# it loads every plugin on the search path and shows what each provides.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
./build/bin/strata plugins --verbose
