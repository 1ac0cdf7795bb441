#include "strata/plugins.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "plugin/plugin_notes.hpp"
#include "core/foreign_exception.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/version.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

// Libraries of loaded plugins. Never closed: objects the plugins created carry their
// vtables, and may live until static destruction. Reachable from a global, so leak
// checkers do not report them.
std::vector<boost::dll::shared_library>& keep_alive() {
  static auto* libraries = new std::vector<boost::dll::shared_library>();
  return *libraries;
}

std::string abi_text(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

bool valid_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

// Copies at most `max` bytes of a C string a plugin handed us.
std::string bounded(const char* s, std::size_t max = 4096) {
  if (s == nullptr) return {};
  return std::string(s, strnlen(s, max));
}

// Boost.DLL wraps the loader's message as "... (dlerror system message: MSG): <errno text>";
// keep MSG, which is what the user needs.
std::string loader_message(const std::string& what) {
  const std::string marker = "dlerror system message: ";
  const auto start = what.find(marker);
  const auto end = what.rfind("): ");
  if (start == std::string::npos || end == std::string::npos || end < start) return what;
  return what.substr(start + marker.size(), end - start - marker.size());
}

struct Refusal {
  std::string reason;
};

// Every live manager, so that an error about a registry can say what its manager loaded.
std::mutex& managers_mutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}
std::vector<PluginManager*>& managers() {
  static auto* list = new std::vector<PluginManager*>();
  return *list;
}

// The message of the exception being handled, as translate_foreign_exception words it for
// plugin code: a strata::Error's own text, else the type and what() of a foreign one.
std::string current_exception_text(std::string_view plugin, std::string_view operation) {
  try {
    internal::translate_foreign_exception({plugin, "plugin", plugin, operation});
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace

std::string PluginInfo::status() const {
  switch (state) {
    case PluginState::kLoaded:
      return usable ? "loaded" : "present, not usable: " + unusable_reason;
    case PluginState::kRefused:
      return "refused: " + reason;
    case PluginState::kShadowed:
      return "shadowed by " + reason;
  }
  return "unknown";
}

struct PluginManager::Impl {
  explicit Impl(Registry& r) : registry(r) {}
  Registry& registry;
  mutable std::recursive_mutex mutex;
  std::vector<PluginInfo> records;
  std::map<std::string, std::size_t> loaded_by_name;
  std::map<fs::path, std::size_t> by_path;

  // Fills `info` from the library at info.path; throws Refusal.
  void open_and_register(PluginInfo& info) {
    boost::dll::shared_library library;
    try {
      library.load(info.path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
      throw Refusal{"the dynamic loader could not load it: " + loader_message(e.what())};
    }
    if (!library.has(kPluginEntrySymbol)) {
      throw Refusal{std::string("it does not export the entry point '") + kPluginEntrySymbol +
                    "' (build it with strata_add_plugin and declare it with STRATA_PLUGIN)"};
    }
    const auto* descriptor = static_cast<const PluginDescriptor*>(library.get<const void*>(kPluginEntrySymbol));
    if (descriptor == nullptr) throw Refusal{"its entry point is a null descriptor"};
    if (descriptor->struct_size < kPluginDescriptorMinSize) {
      throw Refusal{"its descriptor is " + std::to_string(descriptor->struct_size) +
                    " bytes; this runtime needs at least " + std::to_string(kPluginDescriptorMinSize)};
    }
    info.has_descriptor = true;
    info.abi_major = descriptor->abi_major;
    info.abi_minor = descriptor->abi_minor;
    info.name = bounded(descriptor->name, 128);
    info.version = bounded(descriptor->version, 64);
    info.description = bounded(descriptor->description);
    info.toolchain_tag = bounded(descriptor->toolchain_tag, 512);
    if (descriptor->struct_size >= offsetof(PluginDescriptor, dependencies) + sizeof(const char*) &&
        descriptor->dependencies != nullptr) {
      const std::string list = bounded(descriptor->dependencies, 1024);
      std::size_t start = 0;
      while (start <= list.size()) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        std::string name = list.substr(start, comma - start);
        name.erase(0, name.find_first_not_of(' '));
        name.erase(name.find_last_not_of(' ') + 1);
        if (!name.empty()) info.dependencies.push_back(std::move(name));
        start = comma + 1;
      }
    }
    const std::string ours = abi_text(kPluginAbiMajor, kPluginAbiMinor);
    const std::string theirs = abi_text(info.abi_major, info.abi_minor);
    if (info.abi_major != kPluginAbiMajor) {
      throw Refusal{"built for plugin ABI " + theirs + "; this runtime speaks " + ours +
                    " (the major versions must be equal: rebuild the plugin against this SDK)"};
    }
    if (info.abi_minor > kPluginAbiMinor) {
      throw Refusal{"built for plugin ABI " + theirs + "; this runtime speaks " + ours +
                    " (the plugin needs a newer runtime)"};
    }
    if (info.toolchain_tag != runtime_toolchain_tag()) {
      throw Refusal{"built with toolchain '" + info.toolchain_tag + "'; this runtime was built with '" +
                    runtime_toolchain_tag() +
                    "' (compiler, standard library ABI, C++ standard, nlohmann_json version and "
                    "sanitizers must match: rebuild the plugin)"};
    }
    if (!valid_plugin_name(info.name)) {
      throw Refusal{"its name '" + info.name + "' is not a valid plugin name (letters, digits, '-', '_', '.')"};
    }
    if (descriptor->register_all == nullptr) throw Refusal{"its descriptor has no register function"};

    if (auto it = loaded_by_name.find(info.name); it != loaded_by_name.end()) {
      info.state = PluginState::kShadowed;
      info.reason = records[it->second].path.string();
      return;  // `library` closes here: nothing of it ran or registered
    }

    if (library.has(kPluginProbeSymbol)) {
      auto probe = reinterpret_cast<PluginProbeFn>(const_cast<void*>(library.get<const void*>(kPluginProbeSymbol)));
      if (probe != nullptr) {
        char reason[512] = {};
        int usable = 1;
        try {
          usable = probe(reason, sizeof reason);
        } catch (...) {
          throw Refusal{"its probe threw (a probe must not throw): " + current_exception_text(info.name, "its probe")};
        }
        if (usable == 0) {
          info.usable = false;
          info.unusable_reason = bounded(reason, sizeof reason);
          if (info.unusable_reason.empty()) info.unusable_reason = "the plugin's probe gave no reason";
        }
      }
    }

    Registrar registrar(registry, info.name);
    try {
      descriptor->register_all(registrar);
      info.entries = registrar.commit();
    } catch (...) {
      throw Refusal{"registration failed, nothing was registered: " + current_exception_text(info.name, "register_all")};
    }
    info.state = PluginState::kLoaded;
    keep_alive().push_back(std::move(library));
  }

  // Returns the index of the record for `file`, loading it if new.
  std::size_t load(const fs::path& file) {
    std::error_code ec;
    fs::path path = fs::weakly_canonical(fs::absolute(file, ec), ec);
    if (ec) path = fs::absolute(file);
    if (auto it = by_path.find(path); it != by_path.end()) return it->second;

    PluginInfo info;
    info.path = path;
    if (!fs::is_regular_file(path, ec)) {
      info.reason = "no such file";
    } else {
      try {
        open_and_register(info);
      } catch (const Refusal& r) {
        info.state = PluginState::kRefused;
        info.reason = r.reason;
      }
    }
    const std::size_t index = records.size();
    records.push_back(info);
    by_path.emplace(path, index);
    if (info.state == PluginState::kLoaded) {
      loaded_by_name.emplace(info.name, index);
      log_debug("loaded plugin '", info.name, "' ", info.version, " from ", path.string());
    } else if (info.state == PluginState::kShadowed) {
      log_info("plugin '", info.name, "' at ", path.string(), " is shadowed by ", info.reason);
    }
    return index;
  }
};

PluginManager::PluginManager(Registry& registry) : impl_(std::make_unique<Impl>(registry)) {
  std::lock_guard lock(managers_mutex());
  managers().push_back(this);
}
PluginManager::~PluginManager() {
  std::lock_guard lock(managers_mutex());
  auto& list = managers();
  list.erase(std::remove(list.begin(), list.end(), this), list.end());
}

namespace internal {

std::string plugin_load_notes(const Registry& registry) noexcept {
  try {
    const PluginManager* manager = nullptr;
    if (&registry == &Registry::global()) {
      manager = &PluginManager::global();
    } else {
      std::lock_guard lock(managers_mutex());
      for (const PluginManager* m : managers()) {
        if (&const_cast<PluginManager*>(m)->registry() == &registry) manager = m;
      }
    }
    if (manager == nullptr) return {};
    const auto records = manager->plugins();
    std::size_t loaded = 0;
    std::string others;
    for (const auto& p : records) {
      if (p.state == PluginState::kLoaded) {
        ++loaded;
        continue;
      }
      others += "\n  - " + (p.name.empty() ? std::string("?") : "'" + p.name + "'") + " (" + p.path.string() +
                "): " + p.status();
    }
    std::string out;
    if (loaded == 0) {
      out += "\nNo plugins are loaded";
      out += records.empty() ? "" : " (every plugin found was refused or shadowed)";
      out += ": call strata::initialize() before building or loading models (it loads the plugins in "
             "STRATA_PLUGIN_PATH and in " +
             default_plugin_directory().string() +
             "), or load plugin files with RuntimeOptions::plugin_files, PluginManager::load or the CLI's "
             "--plugin FILE.";
    }
    if (!others.empty()) out += "\nPlugins found but not loaded, which may provide it:" + others;
    return out;
  } catch (...) {
    return {};  // a note is a courtesy: never let it replace the error being reported
  }
}

}  // namespace internal

PluginManager& PluginManager::global() {
  static PluginManager* manager = new PluginManager(Registry::global());
  return *manager;
}

PluginInfo PluginManager::load(const fs::path& file) {
  std::lock_guard lock(impl_->mutex);
  const PluginInfo info = impl_->records[impl_->load(file)];
  STRATA_CHECK(info.state != PluginState::kRefused, PluginError, "cannot load plugin '", info.path.string(),
               "': ", info.reason);
  return info;
}

std::vector<PluginInfo> PluginManager::load_directory(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".so" && it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec && files.empty()) {
    log_debug("plugin directory ", dir.string(), " skipped: ", ec.message());
    return {};
  }
  std::sort(files.begin(), files.end());
  std::vector<PluginInfo> out;
  std::lock_guard lock(impl_->mutex);
  for (const auto& f : files) {
    const PluginInfo& info = impl_->records[impl_->load(f)];
    if (info.state == PluginState::kRefused) {
      log_warning("plugin '", info.path.string(), "' refused: ", info.reason);
    }
    out.push_back(info);
  }
  return out;
}

void PluginManager::load_search_path() {
  for (const auto& dir : plugin_search_path()) load_directory(dir);
  for (const auto& missing : missing_dependencies()) log_warning("plugin ", missing);
}

std::vector<std::string> PluginManager::missing_dependencies() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> out;
  for (const auto& p : impl_->records) {
    if (p.state != PluginState::kLoaded) continue;
    for (const auto& d : p.dependencies) {
      if (impl_->loaded_by_name.count(d) == 0) {
        out.push_back("'" + p.name + "' needs '" + d + "', which is not loaded (" + p.name +
                      " loads, but what it does with '" + d + "' fails until it is)");
      }
    }
  }
  return out;
}

std::vector<PluginInfo> PluginManager::plugins() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->records;
}

Registry& PluginManager::registry() noexcept { return impl_->registry; }

std::filesystem::path runtime_library_path() {
  std::error_code ec;
  const fs::path path = boost::dll::this_line_location(ec);
  return fs::weakly_canonical(path, ec);
}

std::filesystem::path default_plugin_directory() {
  return runtime_library_path().parent_path() / "strata" / "plugins";
}

std::vector<std::filesystem::path> plugin_search_path() {
  std::vector<fs::path> out;
  if (const char* env = std::getenv("STRATA_PLUGIN_PATH"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string_view part = rest.substr(0, colon);
      if (!part.empty()) out.push_back(fs::absolute(fs::path(std::string(part))));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  out.push_back(default_plugin_directory());
  return out;
}

}  // namespace strata
