#!/bin/sh
# host_tier_check.sh CXX INCLUDE_DIR HEADER...
# Fails when a host-tier header (one a host application includes, strata.hpp among them)
# includes, directly or not, a plugin-author header from strata/plugin/.
set -eu
cxx=$1 include=$2
shift 2
status=0
for header in "$@"; do
  deps=$(printf '#include "%s"\n' "$header" | "$cxx" -std=c++20 -x c++ -I "$include" -M -MT x - 2>&1) ||
    { echo "$deps"; echo "FAILED: $header does not preprocess"; exit 1; }
  bad=$(printf '%s\n' "$deps" | tr ' ' '\n' | grep '/strata/plugin/' || true)
  if [ -n "$bad" ]; then
    echo "FAILED: $header reaches plugin-author headers:"
    printf '  %s\n' $bad
    status=1
  fi
done
[ $status -eq 0 ] && echo "ok: $# host headers reach no strata/plugin/ header"
exit $status
