// Keras's "loading the graph only" (tf.saved_model.load): the signatures of a SavedModel
// as plain callables over tensors, built from its traced functions and restored
// variables. No layer class, plugin or custom_objects entry is needed, and there is no
// Keras model (no fit, no layers).
#pragma once

#include "strata/export.hpp"
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "strata/graph.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

STRATA_API_BEGIN

namespace strata::saved_model {

// One signature: the tensors it takes (batch dimension unknown) and the function.
struct ConcreteFunction {
  std::vector<TensorSpec> inputs;
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> function;
  std::vector<Tensor> operator()(const std::vector<Tensor>& args) const { return function(args); }
};

struct LoadedSavedModel {
  std::map<std::string, ConcreteFunction> signatures;  // "serving_default"
  // Keras's call_and_return_conditional_losses: the model's call (training=False; the
  // "_training" entry: training=True) returning its outputs followed by its loss terms:
  // the add_loss terms of the call and, in training mode, the weights' regularization
  // penalties, as the SavedModel's traces hold them (none when it holds none).
  std::map<std::string, ConcreteFunction> functions;
  std::vector<Variable> variables;  // what the functions read
};

// FormatError naming the directory when it is not a SavedModel with traced functions.
LoadedSavedModel load(const std::filesystem::path& dir);

}  // namespace strata::saved_model

STRATA_API_END
