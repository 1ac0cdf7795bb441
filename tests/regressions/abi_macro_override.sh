#!/bin/sh
# Reported: a plugin built with -DSTRATA_PLUGIN_ABI_MAJOR=2 (to see how a runtime refuses it)
# compiled, and the flag was silently ignored: the SDK's headers are system headers to an
# out-of-tree project, so the redefinition warning was not shown. Now every version macro
# set from outside is a compile error naming the supported way (issue 17).
#   abi_macro_override.sh CXX INCLUDE_DIR WORKDIR
set -eu
cxx=$1 include=$2 work=$3
mkdir -p "$work"
printf '#include <strata/plugin/registrar.hpp>\nint main() { return 0; }\n' > "$work/abi_override.cpp"
# As a third party sees the headers: -isystem, where redefinition warnings are silent.
if "$cxx" -std=c++20 -fsyntax-only -isystem "$include" "$work/abi_override.cpp" > "$work/plain.log" 2>&1; then :; else
  cat "$work/plain.log"; echo "FAILED: the header does not compile without overrides"; exit 1
fi
for flag in -DSTRATA_PLUGIN_ABI_MAJOR=2 -DSTRATA_PLUGIN_ABI_MINOR=9 -DSTRATA_TOOLCHAIN_TAG=x -DSTRATA_VERSION_STRING=x; do
  if "$cxx" -std=c++20 -fsyntax-only -isystem "$include" "$flag" "$work/abi_override.cpp" > "$work/override.log" 2>&1; then
    echo "FAILED: $flag was accepted"; exit 1
  fi
  grep -q "cannot be overridden" "$work/override.log" || { cat "$work/override.log"; echo "FAILED: $flag: no clear error"; exit 1; }
done
echo "ok: every version macro override is refused at compile time"
