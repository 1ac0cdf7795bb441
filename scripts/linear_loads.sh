#!/usr/bin/env bash
# Measures how `strata info` grows on adversarially sized files (issue 20, the figures of
# docs/RELIABILITY.md "Linear-time loads"): wall and CPU time and peak resident memory
# (/usr/bin/time) of `strata info` on files strata_linear_loads_generate writes:
#   ckpt-chain N     a checkpoint whose object graph is an N-deep chain
#   ckpt-wide N      a checkpoint whose root has N children
#   sm-chain N       a SavedModel whose signature function is a chain of N Neg nodes (loaded)
#   sm-wide N        a SavedModel whose signature function takes N inputs (loaded)
#   revive-chain N   a SavedModel Strata writes of a model whose call is N Neg ops, revived
#   revive-layers N  a SavedModel Strata writes of a Sequential of N Dense layers, revived
#
#   scripts/linear_loads.sh [BUILD_DIR] [KIND:N ...]
# Default BUILD_DIR: build (targets strata_cli, strata_linear_loads_generate and the plugins
# built); default cases: each kind at two sizes. Prints one line per case. `strata info`
# revives a SavedModel written with classes only when they are missing: the revive-* files
# name classes no plugin registers, so info revives them from their traces.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
shift || true
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  cases=(ckpt-chain:100000 ckpt-chain:200000 ckpt-wide:100000 ckpt-wide:200000 sm-chain:100000 sm-chain:200000
         sm-wide:50000 sm-wide:100000 revive-chain:50000 revive-chain:100000 revive-layers:1000 revive-layers:2000)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '%-14s %8s %10s %8s %8s %12s\n' kind n "file KiB" "wall s" "CPU s" "max RSS MiB"
for c in "${cases[@]}"; do
  kind="${c%%:*}"
  n="${c##*:}"
  path="$work/$kind-$n"
  [ "${kind#ckpt}" != "$kind" ] && path="$work/$kind-$n/ckpt"
  "$build/bin/strata_linear_loads_generate" "$kind" "$n" "$path" > /dev/null
  size=$(du -sk "$(dirname "$path")/$(basename "$path")"* | awk '{s += $1} END {print s}')
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$build/bin/strata" info "$path" > "$work/out" 2>&1 || {
    echo "strata info $kind $n failed:"; tail -3 "$work/out"; }
  read -r secs user sys kib < "$work/time"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
  printf '%-14s %8s %10s %8s %8s %12s\n' "$kind" "$n" "$size" "$secs" "$cpu" "$((kib / 1024))"
done
