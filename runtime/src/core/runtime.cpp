#include "strata/runtime.hpp"

#include <atomic>
#include <mutex>

#include "strata/plugins.hpp"

namespace strata {
namespace {
std::atomic<bool> g_initialized{false};
bool g_first_call_done = false;  // guarded by g_init_mutex
std::mutex g_init_mutex;
}  // namespace

void initialize(const RuntimeOptions& options) {
  std::lock_guard lock(g_init_mutex);
  auto& manager = PluginManager::global();
  for (const auto& file : options.plugin_files) manager.load(file);
  for (const auto& dir : options.plugin_directories) manager.load_directory(dir);
  // The first call decides about the search path, for good: a host that said no keeps
  // its chosen plugins when save/load entry points call initialize() again later.
  if (!g_first_call_done && options.load_search_path) manager.load_search_path();
  g_first_call_done = true;
  g_initialized.store(true);
}

bool is_initialized() noexcept { return g_initialized.load(); }

}  // namespace strata
