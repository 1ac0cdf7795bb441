#!/bin/bash
# The doc test's setup for README.md (scripts/doc_snippets.py --blocks; docs/BUILD.md "Doc test"):
# its commands name the CLI as build/bin/strata, relative to a checkout: the build under test.
ln -s "$STRATA_DOC_BUILD" build
