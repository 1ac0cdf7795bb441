#include "strata/saved_model.hpp"

#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"

namespace strata::saved_model {

LoadedSavedModel load(const std::filesystem::path& dir) {
  LoadOptions options;
  options.format = "savedmodel";
  options.compile = false;
  options.revive_from_traces = true;
  std::shared_ptr<const Model> model = load_model(dir, options);
  LoadedSavedModel out;
  ConcreteFunction serve;
  // A revived model is built with the traced inputs' shapes (batch dimension unknown).
  const auto& shapes = model->build_input_shapes();
  for (std::size_t i = 0; i < shapes.size(); ++i) serve.inputs.emplace_back(shapes[i], model->dtype(), detail::concat("input_", i + 1));
  serve.function = [model](const std::vector<Tensor>& args) {
    CallContext ctx;
    ctx.training = false;
    return (*model)(args, ctx);
  };
  for (const bool training : {false, true}) {
    ConcreteFunction with_losses{serve.inputs, [model, training](const std::vector<Tensor>& args) {
                                   LossCollector collector;
                                   CallContext ctx;
                                   ctx.training = training;
                                   std::vector<Tensor> out = (*model)(args, ctx);
                                   out.insert(out.end(), collector.losses().begin(), collector.losses().end());
                                   return out;
                                 }};
    out.functions.emplace(training ? "call_and_return_conditional_losses_training" : "call_and_return_conditional_losses",
                          std::move(with_losses));
  }
  out.signatures.emplace("serving_default", std::move(serve));
  out.variables = model->weights();
  return out;
}

}  // namespace strata::saved_model
