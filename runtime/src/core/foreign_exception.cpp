#include "core/foreign_exception.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <typeinfo>

#include "strata/error.hpp"
#include "strata/registry.hpp"

namespace strata::internal {
namespace {

std::string demangled(const std::type_info* type) {
  if (type == nullptr) return "an unknown type";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type->name(), nullptr, nullptr, &status),
                                              std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type->name());
}

[[noreturn]] void raise(const PluginCallSite& site, const std::string& thrown) {
  const std::string who = site.kind == "plugin" ? detail::concat("plugin '", site.name, "'")
                          : site.provider.empty()
                              ? detail::concat(site.kind, " '", site.name, "' (not a registered class)")
                              : detail::concat(site.kind, " '", site.name, "' of plugin '", site.provider, "'");
  std::throw_with_nested(PluginError(detail::concat(
      who, " failed in ", site.operation, " with ", thrown,
      ". Plugin code must report errors as strata::Error; if the input (a config, a file) is at fault, correct it, "
      "otherwise report this to the plugin's authors")));
}

}  // namespace

void translate_foreign_exception(const PluginCallSite& site) {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;  // out of memory is not the plugin's fault; the runtime's own allocations throw it too
  } catch (abi::__forced_unwind&) {
    throw;  // thread cancellation must unwind
  } catch (const std::exception& e) {
    raise(site, detail::concat(demangled(&typeid(e)), ": ", e.what()));
  } catch (...) {
    raise(site, detail::concat("an exception of type '", demangled(abi::__cxa_current_exception_type()),
                               "', which is not a std::exception"));
  }
}

std::string provider_of(ObjectKind kind, std::string_view class_name) {
  const Registry& registry = Registry::global();
  if (auto match = registry.find_erased(kind, class_name); match.value) return match.provider;
  if (kind == ObjectKind::kLayer) return provider_of(ObjectKind::kModel, class_name);
  return {};
}

}  // namespace strata::internal
