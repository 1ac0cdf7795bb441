// The format conformance suite (format_kit.cpp), registered at start-up for the formats the
// loaded plugins register. Used by strata-format-kit (installed under <libdir>/strata/kits/)
// and by the build's own run of it (tests/plugins/formats/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "strata/format.hpp"

namespace strata::format_kit {

// The registered formats whose name is in `filter` (comma-separated; empty: every format).
std::vector<std::shared_ptr<Format>> kit_formats(const std::string& filter);

// One line: name, declared extensions per use, what it saves and loads.
std::string describe_format(const Format& format);

// Registers the suite (GoogleTest suite "FormatKit/<format>") for each format of
// kit_formats(filter); returns the number of tests registered.
std::size_t register_format_kit_tests(const std::string& filter);

// Removes the files the tests wrote (under the temporary directory, one folder per process).
void remove_scratch();

}  // namespace strata::format_kit
