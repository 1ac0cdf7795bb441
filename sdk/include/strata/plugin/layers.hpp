// What plugin authors need around layers, kept out of the headers every host includes:
// registering a layer class, and the two scopes a format plugin opens while it builds a model
// from an untrusted file (a budget on weight bytes, and skipping initializers it will
// overwrite). Implemented in libstrata.so.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strata/config.hpp"
#include "strata/layer.hpp"
#include "strata/plugin/registrar.hpp"

STRATA_API_BEGIN

namespace strata {

class Model;

// A layer class whose inference is nothing but ops on its inputs and its Variables (no state
// kept elsewhere, no decision on input values on the host, no assignment when not
// training) implements this interface besides Layer: Model::predict may then trace a
// plain Functional or Sequential made of such layers once per input signature and run the
// optimised graph (docs/PERFORMANCE.md, "Per-node overhead at batch 1"). ABI 2.5.
class InferenceTraceable {
 public:
  virtual ~InferenceTraceable();
};

// Registers layer class T (constructible from a Config) under `name`.
template <class T>
void register_layer(Registrar& registrar, std::string_view name) {
  registrar.add<ObjectKind::kLayer>(name, [](const Config& c) -> std::shared_ptr<Layer> { return std::make_shared<T>(c); });
}

// A limit on the bytes of weights add_weight may create on this thread while the scope is
// alive, for models built from untrusted files: a config that asks for more is refused
// with a FormatError naming `source` *before* anything is allocated, so a 20-byte
// "Dense(units=10**12)" cannot make a load allocate terabytes. Format plugins open one
// around building a model from a file (format-h5: a file must hold every weight of its
// model, so its budget follows from the file size). Scopes nest; the innermost applies.
class WeightBudget {
 public:
  WeightBudget(std::uint64_t max_bytes, std::string source);
  ~WeightBudget();
  WeightBudget(const WeightBudget&) = delete;
  WeightBudget& operator=(const WeightBudget&) = delete;
  std::uint64_t used() const noexcept { return used_; }
  // Counts `bytes` against the budget; FormatError when it would be exceeded.
  void charge(std::uint64_t bytes, const std::string& what);
  static WeightBudget* current() noexcept;

 private:
  std::uint64_t max_;
  std::uint64_t used_ = 0;
  std::string source_;
  WeightBudget* previous_;
};

// While alive on this thread, add_weight does not run initializers: new weights are
// allocated but not written (their contents are unspecified). Only for loaders that replace
// every weight right after building the model (an H5 whole-model load): random
// initialization of a 100M-parameter model costs more than reading it, and untouched
// memory costs nothing. A loader that then finds a weight it did not set must discard the
// model and build it again without the scope (format-h5 does). Scopes nest.
class SkipWeightInitializers {
 public:
  SkipWeightInitializers();
  ~SkipWeightInitializers();
  SkipWeightInitializers(const SkipWeightInitializers&) = delete;
  SkipWeightInitializers& operator=(const SkipWeightInitializers&) = delete;
  static bool active() noexcept;
};

// Builds a model its config left unbuilt (a Sequential without an input, a subclassed model)
// by calling it on zeros shaped like the config's build_config["input_shape"] (unknown
// dimensions as 1); nothing when the model is built, there is no build_config or its
// input_shape is null (Keras 3 writes that for graph models). FormatError naming `where`
// when the shapes ask for more than 2^26 elements. For format plugins.
void build_from_build_config(Model& model, const Config& model_config, const std::string& where);

}  // namespace strata

STRATA_API_END
