// Plugin loading. A PluginManager loads shared libraries built against the SDK,
// checks their descriptor (strata/plugin/registrar.hpp), and lets each register into
// its Registry. It loads from, in order: explicit load() calls; the directories in
// STRATA_PLUGIN_PATH (':'-separated; empty entries are ignored, so the current
// directory is never searched implicitly); the default directory beside libstrata.so
// (<prefix>/lib/strata/plugins). Loading a model never loads code.
//
// Each file is first checked from its bytes, without opening it: a 64-bit ELF shared
// object of this machine whose segments lie inside the file, exporting the entry point,
// whose descriptor (read through the file's relocations, ABI version first) passes every
// check. A plugin refused by these checks, and one whose name is already loaded (shadowed:
// the first wins), is never opened, so none of its code runs. Only a plugin that will be kept
// is opened (RTLD_NOW: an unresolved symbol fails with the loader's message); from then on
// its code runs (constructors, probe, register_all), and it is still refused if the loader
// fails, its descriptor in memory differs from the file's, or it throws while registering.
// A refused plugin: load() throws a PluginError naming the file and what was wrong,
// directory loading logs it and goes on; either way the registry is unchanged by it and the
// refusal is listed by plugins(). Loaded plugins stay loaded until the process exits.
// The search path is trusted configuration: any plugin there that passes the checks runs.
//
// Thread safety: every member may be called concurrently (calls are serialised).
#pragma once

#include "strata/export.hpp"
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/registry.hpp"

STRATA_API_BEGIN

namespace strata {

enum class PluginState { kLoaded, kRefused, kShadowed };

struct PluginInfo {
  std::filesystem::path path;
  std::string name;  // from the descriptor; empty when it could not be read
  std::string version;
  std::string description;
  std::string toolchain_tag;
  unsigned abi_major = 0;
  unsigned abi_minor = 0;
  bool has_descriptor = false;
  PluginState state = PluginState::kRefused;
  std::string reason;  // refused: why; shadowed: path of the plugin that won
  bool usable = true;  // from the optional probe
  std::string unusable_reason;
  std::vector<RegistryEntryInfo> entries;  // what it registered
  std::vector<std::string> dependencies;   // plugins it declares it calls at run time

  // "loaded", "refused: <reason>", "shadowed by <path>",
  // "present, not usable: <reason>".
  std::string status() const;
};

class PluginManager {
 public:
  // Registers into `registry`, which must outlive the manager.
  explicit PluginManager(Registry& registry);
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // The manager bound to Registry::global().
  static PluginManager& global();

  // Loads one plugin file. Loading the same file again returns its earlier record.
  // Returns the record (state kLoaded or kShadowed); throws PluginError when refused.
  PluginInfo load(const std::filesystem::path& file);
  // Loads every "*.so" file in `dir` that exports the plugin entry point, in name order;
  // refusals are logged as warnings and recorded, never thrown. Shared libraries without
  // the entry point (helpers of the plugins) are skipped with a debug message and not
  // recorded. A missing directory is skipped with a debug message; one that cannot be read
  // is a warning.
  std::vector<PluginInfo> load_directory(const std::filesystem::path& dir);
  // load_directory() for each entry of plugin_search_path().
  void load_search_path();

  // Every plugin seen so far, in load order, including refused and shadowed ones.
  std::vector<PluginInfo> plugins() const;
  // "name needs X, which is not loaded" for every declared dependency of a loaded plugin
  // that no loaded plugin satisfies; empty when all are met.
  std::vector<std::string> missing_dependencies() const;
  Registry& registry() noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// STRATA_PLUGIN_PATH's directories (relative ones made absolute against the current
// directory at the time of the call), then default_plugin_directory().
std::vector<std::filesystem::path> plugin_search_path();
// <directory of libstrata.so>/strata/plugins.
std::filesystem::path default_plugin_directory();
// The file libstrata.so was loaded from.
std::filesystem::path runtime_library_path();

}  // namespace strata

STRATA_API_END
