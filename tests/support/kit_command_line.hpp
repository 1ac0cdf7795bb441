// The command line the installed conformance kits share (strata-backend-kit,
// strata-format-kit; docs/CLI.md): --plugin FILE (repeatable), --no-search-path, a filter
// (--devices / --formats, defaulting to an environment variable), a --list-... flag and
// --help. GoogleTest's own flags are removed by InitGoogleTest before this runs.
#pragma once

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "strata/runtime.hpp"

namespace strata::testing {

struct KitCommandLine {
  RuntimeOptions options;
  std::string filter;                // the filter flag's value, else the environment variable's
  bool list = false;                 // the list flag was given
  std::optional<int> exit_status;    // set when the program should exit now (--help: 0, usage error: 2)
};

struct KitFlags {
  const char* program;      // "strata-format-kit"
  const char* usage;        // printed by --help and after a usage error
  std::string_view filter;  // "--formats"
  const char* filter_env;   // "STRATA_KIT_FORMATS"
  std::string_view list;    // "--list-formats"
};

inline KitCommandLine parse_kit_command_line(int argc, char** argv, const KitFlags& flags) {
  KitCommandLine out;
  if (const char* env = std::getenv(flags.filter_env)) out.filter = env;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    // FLAG=VALUE or FLAG VALUE.
    auto value = [&](std::string_view flag) -> const char* {
      if (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag && arg[flag.size()] == '=') {
        return argv[i] + flag.size() + 1;
      }
      if (arg == flag && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << flags.usage;
      out.exit_status = 0;
      return out;
    }
    if (arg == "--no-search-path") {
      out.options.load_search_path = false;
    } else if (arg == flags.list) {
      out.list = true;
    } else if (const char* file = value("--plugin")) {
      out.options.plugin_files.emplace_back(file);
    } else if (const char* filter = value(flags.filter)) {
      out.filter = filter;
    } else {
      std::cerr << flags.program << ": unknown argument '" << arg << "'\n" << flags.usage;
      out.exit_status = 2;
      return out;
    }
  }
  return out;
}

}  // namespace strata::testing
