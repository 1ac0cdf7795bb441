// main() of strata-format-kit (installed under <libdir>/strata/kits/; docs/CLI.md): loads the
// plugins, registers the format conformance suite for every loaded format that passes the
// filter, then runs GoogleTest.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <string_view>

#include "format_kit.hpp"
#include "kit_command_line.hpp"
#include "strata/error.hpp"
#include "strata/runtime.hpp"

namespace {

constexpr const char* kUsage =
    "usage: strata-format-kit [--plugin FILE]... [--no-search-path] [--formats LIST] [--list-formats]\n"
    "                         [--gtest_filter=PATTERN] [other GoogleTest flags]\n"
    "Runs the format conformance suite (round trips of a model zoo, resumed training, corruption,\n"
    "failed saves, overwrite=false, unknown classes) on every format the loaded plugins register.\n"
    "  --plugin FILE     load this plugin file (a format under test); repeatable\n"
    "  --no-search-path  load only the --plugin files, not STRATA_PLUGIN_PATH and the default\n"
    "                    plugin directory (the layers and training plugins the zoo needs are\n"
    "                    usually found there: pass them with --plugin then)\n"
    "  --formats LIST    comma-separated format names; default: the STRATA_KIT_FORMATS\n"
    "                    environment variable, else every loaded format\n"
    "  --list-formats    print the formats the suite would run on, with what they declare, and exit\n"
    "Exit status: 0 when every selected test passed or skipped, 1 on a failure, 2 on a usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);  // removes the --gtest_* flags
  const auto cli = strata::testing::parse_kit_command_line(
      argc, argv, {"strata-format-kit", kUsage, "--formats", "STRATA_KIT_FORMATS", "--list-formats"});
  if (cli.exit_status) return *cli.exit_status;
  const std::string& formats = cli.filter;
  const bool list = cli.list;
  try {
    strata::initialize(cli.options);
    const auto selected = strata::format_kit::kit_formats(formats);
    if (list) {
      for (const auto& f : selected) std::cout << strata::format_kit::describe_format(*f) << "\n";
      return 0;
    }
    if (selected.empty()) {
      std::cerr << "strata-format-kit: no loaded format matches '" << formats
                << "' (see --list-formats and `strata plugins --verbose`)\n";
      return 2;
    }
    strata::format_kit::register_format_kit_tests(formats);
  } catch (const strata::Error& e) {
    std::cerr << "strata-format-kit: " << e.what() << "\n";
    return 2;
  }
  const int status = RUN_ALL_TESTS();
  strata::format_kit::remove_scratch();
  return status;
}
