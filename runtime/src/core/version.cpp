#include "strata/version.hpp"

namespace strata {

const char* runtime_version() noexcept { return STRATA_VERSION_STRING; }
const char* runtime_toolchain_tag() noexcept { return STRATA_TOOLCHAIN_TAG; }
unsigned runtime_plugin_abi_major() noexcept { return kPluginAbiMajor; }
unsigned runtime_plugin_abi_minor() noexcept { return kPluginAbiMinor; }

}  // namespace strata
