// Version numbers of the runtime and of the plugin ABI, and the toolchain tag that a
// plugin must share with the runtime that loads it.
//
// The plugin ABI is versioned major.minor: a plugin built for another major, or for a
// newer minor than the runtime speaks, is refused. The toolchain tag names everything
// else that decides whether C++ objects can cross the plugin boundary: compiler family
// and major version, libstdc++'s dual-ABI flag, the C++ standard, the nlohmann_json
// version (Config crosses the boundary) and ABI-changing sanitizers (address, thread).
// UBSan changes no layout and GCC exposes no macro for it, so it is not part of the tag.
//
// These numbers describe the SDK the including code is built against; they cannot be set
// from outside. A -DSTRATA_PLUGIN_ABI_MAJOR=2 on the command line (or any other
// pre-definition of the macros below) is a compile error rather than a silently ignored
// flag: a plugin's ABI is the ABI of the SDK it was compiled with. docs/PLUGINS.md
// ("Checking compatibility") shows how to see how a runtime judges a plugin.
#pragma once
#ifndef STRATA_VERSION_HPP_
#define STRATA_VERSION_HPP_

#if defined(STRATA_VERSION_MAJOR) || defined(STRATA_VERSION_MINOR) || defined(STRATA_VERSION_PATCH) || \
    defined(STRATA_VERSION_STRING) || defined(STRATA_PLUGIN_ABI_MAJOR) || defined(STRATA_PLUGIN_ABI_MINOR) || \
    defined(STRATA_TOOLCHAIN_TAG)
#error "STRATA_VERSION_*, STRATA_PLUGIN_ABI_* and STRATA_TOOLCHAIN_TAG are set by <strata/version.hpp> and cannot be overridden (remove the -D flag): a plugin's ABI is the SDK's it is built against. To see whether a runtime accepts a plugin: strata --plugin FILE plugins (docs/PLUGINS.md, 'Checking compatibility')."
#endif

#include "strata/export.hpp"
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

STRATA_API_BEGIN

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_STRING "0.1.0"

#define STRATA_PLUGIN_ABI_MAJOR 2
#define STRATA_PLUGIN_ABI_MINOR 7

#define STRATA_DETAIL_STR2(x) #x
#define STRATA_DETAIL_STR(x) STRATA_DETAIL_STR2(x)

#if defined(__clang__)
#define STRATA_DETAIL_COMPILER_TAG "clang" STRATA_DETAIL_STR(__clang_major__)
#elif defined(__GNUC__)
#define STRATA_DETAIL_COMPILER_TAG "gcc" STRATA_DETAIL_STR(__GNUC__)
#else
#define STRATA_DETAIL_COMPILER_TAG "unknown-compiler"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define STRATA_DETAIL_STDLIB_TAG "libstdc++/cxx11abi=" STRATA_DETAIL_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define STRATA_DETAIL_STDLIB_TAG "libc++/" STRATA_DETAIL_STR(_LIBCPP_ABI_VERSION)
#else
#define STRATA_DETAIL_STDLIB_TAG "unknown-stdlib"
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_DETAIL_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define STRATA_DETAIL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(STRATA_DETAIL_ASAN)
#define STRATA_DETAIL_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(STRATA_DETAIL_TSAN)
#define STRATA_DETAIL_TSAN 1
#endif

#if defined(STRATA_DETAIL_ASAN) && defined(STRATA_DETAIL_TSAN)
#define STRATA_DETAIL_SANITIZER_TAG ";asan;tsan"
#elif defined(STRATA_DETAIL_ASAN)
#define STRATA_DETAIL_SANITIZER_TAG ";asan"
#elif defined(STRATA_DETAIL_TSAN)
#define STRATA_DETAIL_SANITIZER_TAG ";tsan"
#else
#define STRATA_DETAIL_SANITIZER_TAG ""
#endif

// The tag of the translation unit that expands it, e.g.
// "gcc12;libstdc++/cxx11abi=1;c++202002L;json3.11.2".
#define STRATA_TOOLCHAIN_TAG                                                          \
  STRATA_DETAIL_COMPILER_TAG ";" STRATA_DETAIL_STDLIB_TAG                             \
  ";c++" STRATA_DETAIL_STR(__cplusplus) ";json" STRATA_DETAIL_STR(                    \
      NLOHMANN_JSON_VERSION_MAJOR) "." STRATA_DETAIL_STR(NLOHMANN_JSON_VERSION_MINOR) "." \
      STRATA_DETAIL_STR(NLOHMANN_JSON_VERSION_PATCH) STRATA_DETAIL_SANITIZER_TAG

namespace strata {

// The plugin ABI this SDK speaks, as constants: what STRATA_PLUGIN writes into a plugin's
// descriptor and what the runtime compares it with.
inline constexpr unsigned kPluginAbiMajor = STRATA_PLUGIN_ABI_MAJOR;
inline constexpr unsigned kPluginAbiMinor = STRATA_PLUGIN_ABI_MINOR;

// The runtime's version ("0.1.0") and the toolchain tag libstrata.so was built with.
const char* runtime_version() noexcept;
const char* runtime_toolchain_tag() noexcept;
unsigned runtime_plugin_abi_major() noexcept;
unsigned runtime_plugin_abi_minor() noexcept;

}  // namespace strata

STRATA_API_END

#endif  // STRATA_VERSION_HPP_
