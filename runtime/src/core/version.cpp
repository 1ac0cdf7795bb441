#include "strata/version.hpp"

namespace strata {

const char* runtime_version() noexcept { return STRATA_VERSION_STRING; }
const char* runtime_toolchain_tag() noexcept { return STRATA_TOOLCHAIN_TAG; }
unsigned runtime_plugin_abi_major() noexcept { return STRATA_PLUGIN_ABI_MAJOR; }
unsigned runtime_plugin_abi_minor() noexcept { return STRATA_PLUGIN_ABI_MINOR; }

}  // namespace strata
