// The per-call arguments of a layer implementing strata::CallArgumentsLayer
// (strata/plugin/call_arguments.hpp, "Per node"): set_call_arguments gives the arguments of
// the next call only; a call reads the arguments recorded with the node the runtime is
// running, else those given for it, else the layer's defaults for its inputs; the latest
// call on symbolic inputs is what call_arguments() reports (and the runtime stores with
// the node that call records).
#pragma once

#include <algorithm>
#include <functional>
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

// The boolean keyword argument `key` (false when absent or null).
inline bool call_flag(const Config& kwargs, const char* key, const std::string& subject) {
  if (!kwargs.contains(key) || kwargs[key].is_null()) return false;
  STRATA_CHECK(kwargs[key].is_boolean(), FormatError, subject, ": the call argument '", key,
               "' must be true or false, got ", kwargs[key].dump());
  return kwargs[key].get<bool>();
}

}  // namespace strata::layers
