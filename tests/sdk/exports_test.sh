#!/bin/sh
# libstrata.so exports only its API (strata/export.hpp, runtime/strata.map):
#   exports_test.sh LIBSTRATA
# Every defined dynamic symbol is the C API (strata_*) or, demangled, belongs to namespace
# strata: a function or variable of it, or the typeinfo, vtable, guard variable or thunk of
# one of its classes. Nothing of the standard library, nlohmann_json or Boost (their
# template instantiations stay inside the library), nothing of strata::internal, and the
# API the plugins and hosts use is there.
set -eu
lib=$1
command -v nm > /dev/null && command -v c++filt > /dev/null || { echo "FAILED: nm and c++filt are needed"; exit 1; }
test -f "$lib" || { echo "FAILED: no $lib"; exit 1; }
symbols=$(nm -D --defined-only "$lib" | awk '{ $1 = ""; $2 = ""; sub(/^ +/, ""); print }')
# A mangled C++ name begins with _Z; demangle those only, so that a C name stays itself.
demangled=$(printf '%s\n' "$symbols" | c++filt)
count=$(printf '%s\n' "$symbols" | grep -c .)
echo "libstrata.so exports $count symbols"

bad=$(printf '%s\n' "$demangled" | grep -v -E \
  -e '^strata_[a-z0-9_]+$' \
  -e '^strata::' \
  -e '^(typeinfo|typeinfo name|vtable|VTT|construction vtable|guard variable|non-virtual thunk|virtual thunk) for strata::' \
  -e '^(non-virtual|virtual) thunk to strata::' \
  -e '^[^<(]*[ *&]strata::' || true)
if [ -n "$bad" ]; then
  printf '%s\n' "$bad" | head -40
  echo "FAILED: libstrata.so exports $(printf '%s\n' "$bad" | grep -c .) symbols outside namespace strata and the C API"
  exit 1
fi
internal=$(printf '%s\n' "$demangled" | grep -E '(^|[ *&])strata::(internal|[a-z_]+::internal)::' || true)
if [ -n "$internal" ]; then
  printf '%s\n' "$internal" | head -20
  echo "FAILED: libstrata.so exports strata::internal symbols"
  exit 1
fi
leaks=$(printf '%s\n' "$demangled" | grep -E '^(std|nlohmann|boost)::|for (std|nlohmann|boost)::' || true)
if [ -n "$leaks" ]; then
  printf '%s\n' "$leaks" | head -20
  echo "FAILED: libstrata.so exports standard library, nlohmann_json or Boost symbols"
  exit 1
fi

# The API is there: the C API, the error types a plugin or host catches (typeinfo), the
# classes plugins derive from (vtables), and functions of the C++ API.
for want in 'strata_get_api' 'strata_init' 'strata_model_predict' \
            'typeinfo for strata::Error' 'typeinfo for strata::ValueError' 'typeinfo for strata::PluginError' \
            'vtable for strata::Error' 'typeinfo for strata::Layer' 'vtable for strata::Layer' \
            'strata::runtime_version()' 'strata::ErrorContext::'; do
  printf '%s\n' "$demangled" | grep -qF -e "$want" || { echo "FAILED: libstrata.so does not export $want"; exit 1; }
done
echo "ok: $count symbols, all in namespace strata or the C API"
