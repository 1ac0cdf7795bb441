// Runtime start-up. initialize() loads plugins: first the explicit files given, then —
// on the first call only — everything on the plugin search path (strata/plugins.hpp),
// so a class from any installed plugin is found by name when a model is loaded.
// Entry points that need plugins (loading a model, the CLI) call it themselves; a host
// application calls it to pass options or to control when start-up cost is paid.
#pragma once

#include "strata/export.hpp"
#include <filesystem>
#include <vector>

STRATA_API_BEGIN

namespace strata {

struct RuntimeOptions {
  // Plugin files loaded before the search path; a refused one throws PluginError.
  std::vector<std::filesystem::path> plugin_files;
  // Extra directories searched before STRATA_PLUGIN_PATH.
  std::vector<std::filesystem::path> plugin_directories;
  // Search STRATA_PLUGIN_PATH and the default directory. Default: true. Only the first
  // call's choice counts: after a first call with false, later calls (including the
  // implicit ones of the save/load entry points) never load the search path.
  bool load_search_path = true;
};

// Thread safety: may be called concurrently; start-up happens once.
void initialize(const RuntimeOptions& options = {});
bool is_initialized() noexcept;

}  // namespace strata

STRATA_API_END
