// main() of strata-backend-kit (installed under <libdir>/strata/kits/) and of the build's
// strata_op_tests: loads the plugins, registers the reference backend `ref` (linked into
// the program: the oracle every backend is compared against, never loaded from a plugin),
// registers the op, gradient and model suites for the loaded backends' devices (kit.hpp),
// then runs GoogleTest. docs/CLI.md, "strata-backend-kit".
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <string_view>

#include "kit.hpp"
#include "kit_command_line.hpp"
#include "ref_backend.hpp"
#include "strata/error.hpp"
#include "strata/runtime.hpp"

namespace {

constexpr const char* kUsage =
    "usage: strata-backend-kit [--plugin FILE]... [--no-search-path] [--devices LIST] [--list-devices]\n"
    "                          [--gtest_filter=PATTERN] [other GoogleTest flags]\n"
    "Runs the op, gradient and model conformance suites on every device of every loaded backend,\n"
    "comparing each with the reference backend built into this program.\n"
    "  --plugin FILE     load this plugin file (a backend under test); repeatable\n"
    "  --no-search-path  load only the --plugin files, not STRATA_PLUGIN_PATH and the default\n"
    "                    plugin directory (where the layers, training and format plugins the\n"
    "                    model cases need are usually found)\n"
    "  --devices LIST    comma-separated device types or devices (cpu,cuda:1); default: the\n"
    "                    STRATA_KIT_DEVICES environment variable, else every device\n"
    "  --list-devices    print the devices the suites would run on and exit\n"
    "Exit status: 0 when every selected test passed or skipped, 1 on a failure, 2 on a usage error.\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage << "\n";
      ::testing::InitGoogleTest(&argc, argv);  // prints GoogleTest's flags
      return 0;
    }
  }
  ::testing::InitGoogleTest(&argc, argv);  // removes the --gtest_* flags
  const auto cli = strata::testing::parse_kit_command_line(
      argc, argv, {"strata-backend-kit", kUsage, "--devices", "STRATA_KIT_DEVICES", "--list-devices"});
  if (cli.exit_status) return *cli.exit_status;
  const std::string& devices = cli.filter;
  const bool list_devices = cli.list;
  try {
    strata::initialize(cli.options);
    strata::testing::register_ref_backend();
    strata::testing::set_kit_device_filter(devices);
    if (list_devices) {
      for (const auto& d : strata::testing::kit_devices(true)) {
        std::cout << d.to_string();
        if (d.type() == "ref") std::cout << " (the reference backend: gradient checks only)";
        if (!strata::is_device_available(d)) std::cout << " (not usable here: its cases skip)";
        std::cout << "\n";
      }
      return 0;
    }
    strata::testing::register_kit_tests();
  } catch (const strata::Error& e) {
    std::cerr << "strata-backend-kit: " << e.what() << "\n";
    return 2;
  }
  return RUN_ALL_TESTS();
}
