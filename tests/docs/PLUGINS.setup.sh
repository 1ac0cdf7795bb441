#!/bin/bash
# The doc test's setup for docs/PLUGINS.md: ./build/strata-my-layers.so is the plugin that
# sdk.doc_snippets built from this page's blocks (the fixture strata_doc_snippets).
plugin="$STRATA_DOC_SNIPPETS/build/plugins/strata-my-layers.so"
if [ ! -f "$plugin" ]; then
  echo "sdk.doc_snippets has not built the page's plugin ($plugin)"
  exit 77
fi
mkdir build
ln -s "$plugin" build/strata-my-layers.so
