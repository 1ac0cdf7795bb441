// What libstrata.so exports. The runtime is compiled with -fvisibility=hidden and
// -fvisibility-inlines-hidden, so only what the SDK headers declare is part of its ABI:
// each public header brackets its declarations with STRATA_API_BEGIN / STRATA_API_END
// (after its #include block, so the standard library and nlohmann_json keep their own
// visibility), and a single declaration elsewhere can be marked STRATA_API. Classes declared
// between the two keep their typeinfo and vtables visible, so a strata::Error thrown in the
// runtime is caught by its type in a plugin or host, and dynamic_cast and UBSan's vptr
// check work across the library boundary. A linker version script (runtime/strata.map)
// then keeps the export table to namespace strata and the C API's strata_* functions:
// template instantiations of the standard library and nlohmann_json stay inside the
// library (docs/DECISIONS.md, "libstrata.so exports only its API").
//
// Code in runtime/src that no SDK header declares is hidden: a plugin, host, test or tool
// cannot link against it. Plugins are built hidden too (strata_add_plugin); the macros
// only say what the runtime exports, a plugin's exports are its entry points alone.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define STRATA_API __attribute__((visibility("default")))
#define STRATA_API_BEGIN _Pragma("GCC visibility push(default)")
#define STRATA_API_END _Pragma("GCC visibility pop")
#else
#define STRATA_API
#define STRATA_API_BEGIN
#define STRATA_API_END
#endif
