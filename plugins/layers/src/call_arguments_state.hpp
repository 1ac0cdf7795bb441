// The per-call arguments of a layer implementing strata::CallArgumentsLayer
// (strata/plugin/call_arguments.hpp, "Per node"): set_call_arguments gives the arguments of
// the next call only; a call reads the arguments recorded with the node the runtime is
// running, else those given for it, else the layer's defaults for its inputs; the latest
// call on symbolic inputs is what call_arguments() reports (and the runtime stores with
// the node that call records).
#pragma once

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <vector>

#include "strata/plugin/call_arguments.hpp"
#include "strata/layer.hpp"

namespace strata::layers {

class CallArgumentsState {
 public:
  // The arguments for the next call.
  void set(const Config& arguments) {
    std::lock_guard lock(mutex_);
    pending_ = arguments;
  }

  // The arguments of the call `layer` is making on `inputs`: recorded with the running node,
  // else the pending ones (consumed), else defaults(inputs.size()). Remembered as the latest
  // when the inputs are symbolic (a call being recorded or traced).
  Config for_call(const Layer& layer, const std::vector<Tensor>& inputs,
                  const std::function<Config(std::size_t)>& defaults) const {
    if (const Config* recorded = recorded_call_arguments(layer)) return *recorded;
    std::lock_guard lock(mutex_);
    Config arguments;
    if (pending_) {
      arguments = std::move(*pending_);
      pending_.reset();
    } else {
      arguments = defaults(inputs.size());
    }
    if (std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return t.is_symbolic(); })) latest_ = arguments;
    return arguments;
  }

  // The arguments the next call on `inputs` inputs will read, without consuming them (for
  // build(), which runs just before that call).
  Config peek(const Layer& layer, std::size_t inputs, const std::function<Config(std::size_t)>& defaults) const {
    if (const Config* recorded = recorded_call_arguments(layer)) return *recorded;
    std::lock_guard lock(mutex_);
    return pending_ ? *pending_ : defaults(inputs);
  }

  // The arguments of the latest call on symbolic inputs, else `fallback`.
  Config latest(const std::function<Config()>& fallback) const {
    std::lock_guard lock(mutex_);
    return latest_ ? *latest_ : fallback();
  }

 private:
  mutable std::mutex mutex_;
  mutable std::optional<Config> pending_;
  mutable std::optional<Config> latest_;
};

// {"strata.tensor": i} -> i; a FormatError naming `subject` and `what` otherwise.
inline std::size_t call_tensor_index(const Config& v, std::size_t inputs, const std::string& subject,
                                     const std::string& what) {
  STRATA_CHECK(v.is_object() && v.size() == 1 && v.contains("strata.tensor") && v["strata.tensor"].is_number_unsigned() &&
                   v["strata.tensor"].get<std::size_t>() < inputs,
               FormatError, subject, ": ", what, " must be a tensor, got ", v.dump());
  return v["strata.tensor"].get<std::size_t>();
}

// A Keras 3 node (`{"args": [...], "kwargs": {...}}`) keeps positional arguments after the
// first (`mha(q, v, key=k)` has args [q, v]); tf-keras writes them as keyword arguments named
// after the call's parameters, before the call's own keyword arguments (Node.serialize).
// Returns the arguments in that form: args [first], the first argument a list when it was
// one tensor (tf-keras's node of a layer is a list of references), and args[1:] named by
// `names` in order. FormatError naming `subject` when there are more positional arguments
// than names or a name is also given by keyword.
inline Config positional_as_keywords(const Config& arguments, std::initializer_list<const char*> names,
                                     const std::string& subject) {
  if (!arguments.is_object() || !arguments.contains("args") || !arguments["args"].is_array() ||
      arguments["args"].empty()) {
    return arguments;
  }
  const Config& args = arguments["args"];
  Config out = arguments;
  Config first = args[0];
  if (first.is_object() && first.contains("strata.tensor")) first = Config::array({first});
  out["args"] = Config::array({first});
  if (args.size() == 1) return out;
  STRATA_CHECK(args.size() - 1 <= names.size(), FormatError, subject, ": is called with ", args.size(),
               " positional arguments; it takes at most ", names.size() + 1);
  const Config given = arguments.value("kwargs", Config::object());
  Config kwargs = Config::object();
  auto name = names.begin();
  for (std::size_t i = 1; i < args.size(); ++i, ++name) {
    STRATA_CHECK(!given.contains(*name), FormatError, subject, ": the call argument '", *name,
                 "' is given both by position and by keyword");
    kwargs[*name] = args[i];
  }
  for (auto it = given.begin(); it != given.end(); ++it) kwargs[it.key()] = *it;
  out["kwargs"] = kwargs;
  return out;
}

// How many tensor placeholders ({"strata.tensor": i}) `v` holds, at any depth.
inline std::size_t count_call_tensors(const Config& v) {
  if (v.is_object() && v.size() == 1 && v.contains("strata.tensor")) return 1;
  if (!v.is_structured()) return 0;
  std::size_t n = 0;
  for (const auto& e : v) n += count_call_tensors(e);
  return n;
}

// The boolean keyword argument `key` (false when absent or null).
inline bool call_flag(const Config& kwargs, const char* key, const std::string& subject) {
  if (!kwargs.contains(key) || kwargs[key].is_null()) return false;
  STRATA_CHECK(kwargs[key].is_boolean(), FormatError, subject, ": the call argument '", key,
               "' must be true or false, got ", kwargs[key].dump());
  return kwargs[key].get<bool>();
}

}  // namespace strata::layers
