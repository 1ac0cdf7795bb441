// Issue 19: each layer's call traced into the SavedModel, as tf-keras traces every layer's
// __call__, so that a model revived without its classes has layers that run (transfer
// learning, fine-tuning a revived layer). A layer object gets a `__call__` function
// object listing its inference and training concrete functions, bound to its variables.
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "function_graph.hpp"
#include "layer_metadata.hpp"
#include "savedmodel_format.hpp"
#include "savedmodel_internal.hpp"
#include "strata/error.hpp"
#include "strata/graph.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"

namespace strata::savedmodel {

namespace {

// What a layer was called with: its build shapes (batch dimension unknown) and the dtypes
// of its first call's inputs (the layer's dtype when it has no recorded call).
std::vector<TensorSpec> layer_specs(const Layer& layer) {
  std::vector<TensorSpec> specs;
  if (!layer.built()) return specs;
  const auto& shapes = layer.build_input_shapes();
  const auto nodes = layer.inbound_nodes();
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    if (!shapes[i].has_known_rank() || shapes[i].rank() == 0) return {};
    std::vector<std::int64_t> dims = shapes[i].dims();
    dims[0] = Shape::kUnknown;
    DType dtype = layer.dtype();
    if (!nodes.empty() && i < nodes[0]->inputs.size()) dtype = nodes[0]->inputs[i].dtype();
    specs.emplace_back(Shape(dims), dtype, detail::concat("input_", i + 1));
  }
  return specs;
}

std::string sanitized(const std::string& name) {
  std::string out;
  for (const char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

}  // namespace

void add_layer_traces(const Model& model, const CheckpointObjectGraph& ckpt, tf::MetaGraphDef& mg) {
  std::map<std::string, int> node_of;
  std::set<std::string> ambiguous;
  for (std::size_t id = 0; id < ckpt.nodes.size(); ++id) {
    if (!is_variable_node(ckpt.nodes[id])) continue;
    if (!node_of.emplace(ckpt.nodes[id].attributes[0].full_name, static_cast<int>(id)).second) {
      ambiguous.insert(ckpt.nodes[id].attributes[0].full_name);
    }
  }
  auto* og = mg.mutable_object_graph_def();
  auto* library = mg.mutable_graph_def()->mutable_library();
  std::vector<tf::StructuredValue> defaults(2);
  defaults[0].set_bool_value(false);
  defaults[1].mutable_none_value();
  const auto start = std::chrono::steady_clock::now();
  std::size_t traced = 0, untraced = 0;
  for (const auto& entry : layer_nodes(model, ckpt)) {
    const int node = entry.first;
    const Layer* layer = entry.second;  // not a structured binding: the trace lambda captures it
    if (node == 0 || node >= og->nodes_size() || layer->class_name() == "InputLayer") continue;
    const auto specs = layer_specs(*layer);
    if (specs.empty()) continue;
    std::vector<std::string> names;
    std::string problem;
    for (const bool training : {false, true}) {
      const std::string fname = detail::concat("__inference_", sanitized(layer->name()), "_layer_call_fn_", node,
                                               training ? "_training" : "");
      try {
        const Graph graph = trace(
            [&](const std::vector<Tensor>& in) {
              CallContext ctx;
              ctx.training = training;
              return (*layer)(in, ctx);
            },
            specs, fname);
        std::vector<int> bound;
        for (const auto& v : graph.captured_variables()) {
          const auto it = node_of.find(v.name());
          STRATA_CHECK(it != node_of.end() && !ambiguous.count(v.name()), ValueError, "its call reads variable '",
                       v.name(), "', which the model does not track under a unique name");
          bound.push_back(it->second);
        }
        add_function(graph, fname, *library);
        auto& cf = (*og->mutable_concrete_functions())[fname];
        for (const int b : bound) cf.add_bound_inputs(b);
        set_call_signature(specs, training, graph, cf);
        names.push_back(fname);
      } catch (const Error& e) {
        problem = e.message();
        break;
      }
    }
    if (names.empty()) {
      ++untraced;
      log_info("layer '", layer->name(), "' of model '", model.name(), "' is saved without a traced call (", problem,
               "); a model revived from this SavedModel has the layer without a call of its own");
      continue;
    }
    ++traced;
    const int fn_node = og->nodes_size();
    auto* fn = og->add_nodes()->mutable_function();
    for (const auto& name : names) fn->add_concrete_functions(name);
    set_function_spec(*fn->mutable_function_spec(), {"inputs", "training", "mask"}, defaults, {});
    auto* child = og->mutable_nodes(node)->add_children();
    child->set_node_id(fn_node);
    child->set_local_name("__call__");
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  log_info("model '", model.name(), "': traced the calls of ", traced, " layer(s) in ", ms, " ms",
           untraced ? detail::concat(" (", untraced, " without a trace)") : std::string());
}

}  // namespace strata::savedmodel
