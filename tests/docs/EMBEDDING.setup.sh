#!/bin/bash
# The doc test's setup for docs/EMBEDDING.md: pkg-config finds the prefix sdk.out_of_tree
# installed; host.c and host.cpp are the smallest C and C++ hosts (the page's own hosts are
# built by sdk.doc_snippets).
if [ ! -f "$STRATA_DOC_PREFIX/lib/pkgconfig/strata.pc" ]; then
  echo "no installed prefix (sdk.out_of_tree installs it)"
  exit 77
fi
echo "export PKG_CONFIG_PATH='$STRATA_DOC_PREFIX/lib/pkgconfig'" > .doc-env
cat > host.c <<'C'
#include <strata/c_api.h>
int main(void) {
  const strata_api* api = 0;
  strata_status* s = strata_get_api(STRATA_C_API_VERSION, &api);
  if (s) strata_status_release(s);
  return s ? 1 : 0;
}
C
cat > host.cpp <<'CXX'
#include <strata/strata.hpp>
int main() { strata::initialize(); }
CXX
