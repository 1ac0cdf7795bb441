// Foreign exceptions: what the runtime does when plugin code throws something that is
// not a strata::Error (std::out_of_range from nlohmann's `at`, an int, a type of the
// plugin's own). Every place where the runtime calls code a plugin provides (registry
// factories, Layer methods, kernels, Format methods, the probe) runs that call through
// call_plugin_code, so that hosts, the CLI and the C API only ever see strata::Error:
//
//   return call_plugin_code({provider, "kernel", key, "compute"}, [&] { kernel.compute(ctx); });
//
// A try block costs nothing while nothing is thrown; the message is only made when
// something was.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "strata/registry.hpp"

namespace strata::internal {

// Which piece of plugin code a call enters; every field is named in the error.
struct PluginCallSite {
  std::string_view provider;   // the plugin ("layers"); "" when the class is not registered
  std::string_view kind;       // "layer", "kernel", "format", ...
  std::string_view name;       // the class or entry name ("Dense", "MatMul:cpu:float32")
  std::string_view operation;  // "from_config", "call", "load_model", ...
};

// Must be called from inside a catch handler. Rethrows a strata::Error untouched, and
// std::bad_alloc and forced unwinding (thread cancellation) too; turns anything else into
// a PluginError naming the site, the exception's type and, for a std::exception, its
// what(), with the ErrorContext frames active at the call. The original exception stays
// attached (std::nested_exception), so std::rethrow_if_nested recovers it.
[[noreturn]] void translate_foreign_exception(const PluginCallSite& site);

// Calls `f()` and returns its result; foreign exceptions leave as translate_foreign_exception
// says.
template <class F>
decltype(auto) call_plugin_code(const PluginCallSite& site, F&& f) {
  try {
    return std::invoke(std::forward<F>(f));
  } catch (...) {
    translate_foreign_exception(site);
  }
}

// The provider of `class_name` registered as `kind` (a layer class is also looked up as a
// model), "" when it is not in the global registry (a host's own subclass). For error
// paths only: it takes the registry's lock.
std::string provider_of(ObjectKind kind, std::string_view class_name);

// call_plugin_code for a method of an object made from the registry (a Layer, Optimizer,
// Loss, Metric: anything with class_name()), whose provider is looked up only when
// something was thrown.
template <class Obj, class F>
decltype(auto) call_object_code(ObjectKind kind, const Obj& object, std::string_view operation, F&& f) {
  try {
    return std::invoke(std::forward<F>(f));
  } catch (...) {
    const std::string name = object.class_name();
    const std::string provider = provider_of(kind, name);
    translate_foreign_exception({provider, kind_name(kind), name, operation});
  }
}

template <class Obj, class F>
decltype(auto) call_layer_code(const Obj& layer, std::string_view operation, F&& f) {
  return call_object_code(ObjectKind::kLayer, layer, operation, std::forward<F>(f));
}

}  // namespace strata::internal
