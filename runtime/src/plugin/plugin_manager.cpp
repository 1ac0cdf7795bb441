#include "strata/plugins.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "plugin/plugin_file.hpp"
#include "plugin/plugin_notes.hpp"
#include "core/foreign_exception.hpp"
#include "core/threads_env.hpp"
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

  // Fills `info` from the file at info.path and, when it is a plugin that will be kept,
  // opens it and lets it register; throws Refusal. Every check that can be made from the
  // file's bytes is made before the dynamic loader sees the file (plugin/plugin_file.hpp),
  // so a plugin refused by them, and a shadowed one, is never opened and none of its code
  // (ELF constructors included) runs. Returns false, leaving `info` as it was, when
  // `skip_non_plugins` and the file is a well-formed shared library without the entry point
  // (a helper library beside the plugins).
  bool open_and_register(PluginInfo& info, bool skip_non_plugins) {
    std::string error;
    auto bytes = internal::open_plugin_file(info.path, error);
    if (!bytes) throw Refusal{"it cannot be read: " + error};
    const internal::PluginFileReport file =
        internal::inspect_plugin_file(*bytes, internal::this_elf_machine(), kPluginAbiMajor);
    bytes.reset();
    if (file.kind == internal::PluginFileKind::kNotPlugin && skip_non_plugins) return false;
    if (file.kind != internal::PluginFileKind::kPlugin) throw Refusal{file.problem};

    // The ABI version first: it says how the rest of the descriptor is laid out.
    const internal::FilePluginDescriptor& d = file.descriptor;
    const std::string min_size = std::to_string(kPluginDescriptorMinSize);
    if (d.struct_size < 3 * sizeof(std::uint32_t)) {
      throw Refusal{"its descriptor is " + std::to_string(d.struct_size) + " bytes; this runtime needs at least " +
                    min_size};
    }
    info.has_descriptor = true;
    info.abi_major = d.abi_major;
    info.abi_minor = d.abi_minor;
    if (d.fields_read) {
      info.name = d.name;
      info.version = d.version;
      info.description = d.description;
      info.toolchain_tag = d.toolchain_tag;
      std::size_t start = 0;
      while (d.has_dependencies && start <= d.dependencies.size()) {
        const std::size_t comma = std::min(d.dependencies.find(',', start), d.dependencies.size());
        std::string name = d.dependencies.substr(start, comma - start);
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
    if (!d.fields_read) {
      throw Refusal{"its descriptor is " + std::to_string(d.struct_size) + " bytes; this runtime needs at least " +
                    min_size};
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
    if (!d.has_register_all) throw Refusal{"its descriptor has no register function"};

    if (auto it = loaded_by_name.find(info.name); it != loaded_by_name.end()) {
      info.state = PluginState::kShadowed;
      info.reason = records[it->second].path.string();
      return true;  // never opened: nothing of it ran or registered
    }

    // Kept: from here on the plugin's code runs (the dynamic loader runs its ELF
    // constructors and those of the libraries it needs, unless it fails to resolve a symbol).
    boost::dll::shared_library library;
    try {
      // Bounded OpenMP waits unless the user chose (core/threads_env.hpp): libgomp reads
      // its settings when this load brings it in.
      detail::OpenMpWaitDefault openmp_waits;
      library.load(info.path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
      throw Refusal{"the dynamic loader could not load it: " + loader_message(e.what())};
    }
    const PluginDescriptor* descriptor = nullptr;
    if (library.has(kPluginEntrySymbol)) {
      descriptor = static_cast<const PluginDescriptor*>(library.get<const void*>(kPluginEntrySymbol));
    }
    // What was checked in the file must be what runs: the same descriptor in memory.
    if (descriptor == nullptr || descriptor->struct_size != d.struct_size || descriptor->abi_major != d.abi_major ||
        descriptor->abi_minor != d.abi_minor || descriptor->register_all == nullptr ||
        bounded(descriptor->name, 128) != info.name || bounded(descriptor->toolchain_tag, 512) != info.toolchain_tag) {
      throw Refusal{"its descriptor in memory differs from the one in the file (the file changed while it was "
                    "loaded, or its code rewrote the descriptor)"};
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
    return true;
  }

  // Returns the index of the record for `file`, loading it if new. From a directory
  // (`skip_non_plugins`), a shared library that is no plugin gets no record: nullopt.
  std::optional<std::size_t> load(const fs::path& file, bool skip_non_plugins) {
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
        if (!open_and_register(info, skip_non_plugins)) {
          log_debug("skipped ", path.string(), " in a plugin directory: a shared library without the entry point '",
                    kPluginEntrySymbol, "' (not a plugin)");
          return std::nullopt;
        }
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
  const PluginInfo info = impl_->records[*impl_->load(file, false)];
  STRATA_CHECK(info.state != PluginState::kRefused, PluginError, "cannot load plugin '", info.path.string(),
               "': ", info.reason);
  return info;
}

std::vector<PluginInfo> PluginManager::load_directory(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    // A directory of the search path that does not exist is normal (the default one of a
    // build without plugins); one that exists but cannot be read hides plugins: say so.
    if (ec == std::errc::no_such_file_or_directory) {
      log_debug("plugin directory ", dir.string(), " skipped: ", ec.message());
    } else {
      log_warning("plugin directory ", dir.string(), " cannot be read (", ec.message(),
                  "): no plugin in it is loaded");
    }
    return {};
  }
  for (fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (it->path().extension() == ".so" && it->is_regular_file(file_ec)) files.push_back(it->path());
  }
  if (ec) {
    log_warning("plugin directory ", dir.string(), " could not be read to its end (", ec.message(),
                "): only the plugins listed before the error are loaded");
  }
  std::sort(files.begin(), files.end());
  std::vector<PluginInfo> out;
  std::lock_guard lock(impl_->mutex);
  for (const auto& f : files) {
    const std::optional<std::size_t> index = impl_->load(f, true);
    if (!index) continue;
    const PluginInfo& info = impl_->records[*index];
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
