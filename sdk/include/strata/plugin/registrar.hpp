// How a plugin introduces itself and registers what it provides.
//
// A plugin exports one plain, standard-layout PluginDescriptor through the
// STRATA_PLUGIN macro. The runtime reads it before running any of the plugin's C++ code
// and checks, in order: struct size, ABI major (equal), ABI minor (not newer than the
// runtime's), toolchain tag (equal). Only then does it call register_all with a
// Registrar, which stages entries and commits them all or none:
//
//   void register_all(strata::Registrar& r) {
//     r.add<strata::ObjectKind::kLayer>("my_package>CustomLayer", make_custom_layer);
//   }
//   STRATA_PLUGIN("my-layers", "1.0.0", "Custom layers for ...", register_all)
//
// Registration is explicit: no static initialiser ever registers anything.
#pragma once

#include "strata/export.hpp"
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "strata/registry.hpp"
#include "strata/version.hpp"

STRATA_API_BEGIN

namespace strata {

// Stages registry entries for one provider and commits them all or none.
class Registrar {
 public:
  Registrar(Registry& registry, std::string provider);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // Stages one entry. Throws ValueError for an invalid name and PluginError when this
  // registrar already staged the same (kind, name).
  template <ObjectKind K>
  void add(std::string_view name, KindValue<K> value) {
    stage(K, name, std::make_shared<const KindValue<K>>(std::move(value)));
  }
  void stage(ObjectKind kind, std::string_view name, std::shared_ptr<const void> value);

  // Entries of `kind` staged from now on carry `module` (RegistryEntryInfo::module): the
  // Keras module of the classes that follow, "keras.layers" for Keras's own layer classes
  // (they are then written into configs as Keras's, without a registered name). Custom
  // classes leave it empty. Default: "". Kinds from kCollective on (ABI 2.6) carry no
  // module: for them only "" is accepted (ValueError otherwise).
  void set_module(ObjectKind kind, std::string module);

  const std::string& provider() const noexcept { return provider_; }
  std::vector<RegistryEntryInfo> staged() const;

  // Adds every staged entry to the registry, or none: throws PluginError naming the
  // (kind, name), this provider and the provider that already holds it. Returns what
  // was committed and leaves the registrar empty.
  std::vector<RegistryEntryInfo> commit();

 private:
  Registry& registry_;
  std::string provider_;
  std::vector<Registry::Staged> staged_;
  // One slot per kind that has a module: the kinds of ABI 2.5 (kLayer .. kCheckpointStore).
  // Its size is part of Registrar's layout, which plugins built against ABI 2.5 share, so it
  // stays 15 when kinds are added.
  static constexpr std::size_t kModuleSlots = 15;
  std::string modules_[kModuleSlots];
};

// The descriptor every plugin exports. New fields are only ever appended; struct_size
// tells the runtime how much of it the plugin knows.
struct PluginDescriptor {
  std::uint32_t struct_size;  // sizeof(PluginDescriptor) as the plugin compiled it
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  const char* toolchain_tag;  // STRATA_TOOLCHAIN_TAG of the plugin's build
  const char* name;           // unique plugin name, e.g. "format-h5"
  const char* version;
  const char* description;
  void (*register_all)(Registrar& registrar);  // called only after every check passed
  // Appended in ABI 2.0; a descriptor whose struct_size ends before it declares none.
  // Comma-separated names of the plugins this one calls at run time ("format-checkpoint"),
  // or null. Informational: the loader does not refuse a plugin whose dependency is absent
  // (its calls fail then, naming what is missing); `strata plugins` lists them and marks
  // the missing ones, and loading the search path warns about them.
  const char* dependencies;
};
static_assert(std::is_standard_layout_v<PluginDescriptor>);

// The smallest struct_size this runtime accepts: everything up to register_all (fields after
// it are optional).
inline constexpr std::uint32_t kPluginDescriptorMinSize =
    offsetof(PluginDescriptor, register_all) + sizeof(void (*)(Registrar&));

// Optional probe a plugin may export with STRATA_PLUGIN_PROBE: returns 1 when the plugin
// can work on this machine, else 0 after writing a NUL-terminated reason of at most
// `reason_size` bytes ("no CUDA driver: ..."). Must not throw. A plugin that is not
// usable is still registered (its backend then reports the reason when asked for a
// device); `strata plugins` shows "present, not usable: <reason>".
using PluginProbeFn = int (*)(char* reason, std::size_t reason_size);

// A probe's body: `unusable_reason()` returns "" when the plugin can work here, else why not;
// the reason is copied into `reason` (truncated to `reason_size` bytes with the NUL), and an
// exception counts as "probe failed". Header-only.
template <class ReasonFn>
int probe_with(ReasonFn&& unusable_reason, char* reason, std::size_t reason_size) noexcept {
  const auto write = [&](const char* text, std::size_t length) {
    if (reason_size == 0) return;
    const std::size_t n = length < reason_size - 1 ? length : reason_size - 1;
    for (std::size_t i = 0; i < n; ++i) reason[i] = text[i];
    reason[n] = '\0';
  };
  try {
    const std::string why = unusable_reason();
    if (why.empty()) return 1;
    write(why.data(), why.size());
  } catch (...) {
    static constexpr char kFailed[] = "probe failed";
    write(kFailed, sizeof kFailed - 1);
  }
  return 0;
}

// Symbol names the loader looks for.
inline constexpr const char* kPluginEntrySymbol = "strata_plugin_entry";
inline constexpr const char* kPluginProbeSymbol = "strata_plugin_probe";

}  // namespace strata

// Exports `descriptor` (a PluginDescriptor with static storage) as the plugin entry.
// The symbol has the shape of a Boost.DLL alias (a `const void*` in section "boostdll")
// so boost::dll::shared_library::get_alias and library_info see it; it is spelled out
// here because SDK headers include no third-party header.
#define STRATA_EXPORT_PLUGIN_DESCRIPTOR(descriptor)                                     \
  extern "C" {                                                                          \
  __attribute__((visibility("default"), section("boostdll"))) const void*               \
      strata_plugin_entry = static_cast<const void*>(&(descriptor));                    \
  }

// Declares this shared library a Strata plugin.
#define STRATA_PLUGIN(plugin_name, plugin_version, plugin_description, register_fn)    \
  STRATA_PLUGIN_WITH_DEPENDENCIES(plugin_name, plugin_version, plugin_description, register_fn, nullptr)

// The same, for a plugin that calls other plugins at run time: `dependencies` is a string
// literal of comma-separated plugin names ("format-checkpoint").
#define STRATA_PLUGIN_WITH_DEPENDENCIES(plugin_name, plugin_version, plugin_description, register_fn, \
                                        dependencies)                                                \
  static const ::strata::PluginDescriptor strata_detail_plugin_descriptor = {                        \
      sizeof(::strata::PluginDescriptor),                                                            \
      ::strata::kPluginAbiMajor,                                                                     \
      ::strata::kPluginAbiMinor,                                                                     \
      STRATA_TOOLCHAIN_TAG,                                                                          \
      plugin_name,                                                                                   \
      plugin_version,                                                                                \
      plugin_description,                                                                            \
      &(register_fn),                                                                                \
      dependencies};                                                                                 \
  STRATA_EXPORT_PLUGIN_DESCRIPTOR(strata_detail_plugin_descriptor)

// Exports an optional probe (a function matching strata::PluginProbeFn).
#define STRATA_PLUGIN_PROBE(probe_fn)                                                   \
  extern "C" {                                                                          \
  __attribute__((visibility("default"), section("boostdll"))) const void*               \
      strata_plugin_probe =                                                             \
          reinterpret_cast<const void*>(static_cast<::strata::PluginProbeFn>(&(probe_fn))); \
  }

STRATA_API_END
