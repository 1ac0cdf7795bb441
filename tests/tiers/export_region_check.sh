#!/bin/sh
# Every SDK header declares its API between STRATA_API_BEGIN and STRATA_API_END
# (strata/export.hpp): libstrata.so is built with hidden visibility, so a declaration outside
# the region is not exported and a plugin or host using it fails to link or load.
#   export_region_check.sh SDK_INCLUDE_DIR
set -eu
dir=$1
failed=0
count=0
for header in "$dir"/strata/*.hpp "$dir"/strata/plugin/*.hpp; do
  name=${header#"$dir"/}
  case $name in
    strata/export.hpp|strata/strata.hpp) continue ;;  # the macros themselves; includes only
  esac
  count=$((count + 1))
  begin=$(grep -c '^STRATA_API_BEGIN$' "$header" || true)
  end=$(grep -c '^STRATA_API_END$' "$header" || true)
  if [ "$begin" != 1 ] || [ "$end" != 1 ]; then
    echo "$name: needs one STRATA_API_BEGIN after its includes and one STRATA_API_END at its end (found $begin and $end)"
    failed=1
    continue
  fi
  # Nothing but the closing #endif of an include guard or blank lines after the END.
  after=$(sed -n '/^STRATA_API_END$/,$p' "$header" | sed 1d | grep -v -E '^\s*$|^#endif' || true)
  if [ -n "$after" ]; then
    echo "$name: declarations after STRATA_API_END"
    failed=1
  fi
  # No #include inside the region (a standard header inside it would export std templates).
  inside=$(sed -n '/^STRATA_API_BEGIN$/,/^STRATA_API_END$/p' "$header" | grep -E '^\s*#\s*include' || true)
  if [ -n "$inside" ]; then
    echo "$name: #include inside the API region: $inside"
    failed=1
  fi
done
[ "$count" -gt 30 ] || { echo "FAILED: only $count headers found under $dir"; exit 1; }
if [ "$failed" != 0 ]; then echo "FAILED"; exit 1; fi
echo "$count headers declare their API inside STRATA_API_BEGIN/END"
