// What the plugin loader knows that may explain a failed lookup, for error messages.
#pragma once

#include <string>

namespace strata {
class Registry;
namespace internal {

// Text to append to an "unknown class" or "no kernel" message about `registry`: that no
// plugin is loaded into it at all (with how to load them), and every plugin that was
// refused or shadowed (with its path and reason), since a class may be missing because
// of them. "" when every plugin seen loaded, or when no PluginManager feeds `registry`.
// Each note starts with a newline. Never throws.
std::string plugin_load_notes(const Registry& registry) noexcept;

}  // namespace internal
}  // namespace strata
