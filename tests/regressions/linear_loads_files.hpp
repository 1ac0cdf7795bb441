// Generators of adversarially sized files (issue 20, "super-linear work on adversarial
// sizes"): small files whose structure is long or wide, made at test time (no committed
// blobs). Used by linear_loads_test.cpp and by the generator program behind
// scripts/linear_loads.sh, which measures the figures of docs/RELIABILITY.md.
//
// REQUIRES: strata::initialize() ran with the format-checkpoint plugin loaded (the
// checkpoints are written through its store).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "strata/checkpoint.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/checkpoint_store.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "strata/tensor.hpp"
#include "strata/tf/saved_model.pb.h"

namespace strata::test::linear_loads {

namespace fs = std::filesystem;

inline void write_checkpoint(const fs::path& prefix, const CheckpointObjectGraph& graph) {
  const auto factory = Registry::global().find<ObjectKind::kCheckpointStore>("checkpoint");
  STRATA_CHECK(factory != nullptr, PluginError, "no \"checkpoint\" store is registered (load format-checkpoint)");
  CheckpointContents contents;
  contents.tensors.emplace_back("v/.ATTRIBUTES/VARIABLE_VALUE", Tensor::scalar<float>(1.0f));
  contents.object_graph = &graph;
  fs::create_directories(prefix.parent_path());
  (*factory)()->write(prefix, contents);
}

// (a) A TensorFlow checkpoint whose object graph is a chain `depth` objects deep below the
// root: object i's only child, "c", is object i + 1; the last one holds the one value.
// About 10 bytes per object (a 100000-deep chain is a 1 MB index).
inline void write_chain_checkpoint(const fs::path& prefix, int depth) {
  CheckpointObjectGraph graph;
  graph.nodes.resize(static_cast<std::size_t>(depth) + 1);
  for (int i = 0; i < depth; ++i) graph.nodes[static_cast<std::size_t>(i)].children.push_back({i + 1, "c"});
  graph.nodes.back().attributes.push_back({"VARIABLE_VALUE", "v", "v/.ATTRIBUTES/VARIABLE_VALUE"});
  write_checkpoint(prefix, graph);
}

// (c) The wide one: the root has `width` children ("c0", "c1", ...), the first holds the value.
inline void write_wide_checkpoint(const fs::path& prefix, int width) {
  CheckpointObjectGraph graph;
  graph.nodes.resize(static_cast<std::size_t>(width) + 1);
  for (int i = 1; i <= width; ++i) graph.nodes[0].children.push_back({i, "c" + std::to_string(i - 1)});
  graph.nodes[1].attributes.push_back({"VARIABLE_VALUE", "v", "v/.ATTRIBUTES/VARIABLE_VALUE"});
  write_checkpoint(prefix, graph);
}

namespace detail {

// "x000042": argument names whose order by name (TensorFlow flattens keyword arguments by
// key) is their order by number.
inline std::string arg_name(int i) {
  std::string digits = std::to_string(i);
  return "x" + std::string(digits.size() < 6 ? 6 - digits.size() : 0, '0') + digits;
}

inline void tensor_spec(tf::StructuredValue& v, const std::string& name) {
  auto* spec = v.mutable_tensor_spec_value();
  spec->set_name(name);
  spec->set_dtype(tf::DT_FLOAT);
  spec->mutable_shape()->add_dim()->set_size(-1);
  spec->mutable_shape()->add_dim()->set_size(2);
}

// A TF2 SavedModel without Keras metadata (what tf.saved_model.save of a tf.Module writes)
// whose one signature, serving_default, is `function` of the library: keyword arguments
// `inputs` (float32, shape (None, 2)), one output "y". Nothing is bound to the function,
// so it needs no variables/.
inline void write_signature_savedmodel(const fs::path& dir, tf::FunctionDef function, int inputs) {
  tf::SavedModel sm;
  sm.set_saved_model_schema_version(1);
  auto& mg = *sm.add_meta_graphs();
  mg.mutable_meta_info_def()->add_tags("serve");
  const std::string name = function.signature().name();
  *mg.mutable_graph_def()->mutable_library()->add_function() = std::move(function);
  auto& og = *mg.mutable_object_graph_def();
  auto* root = og.add_nodes();
  root->mutable_user_object()->set_identifier("_generic_user_object");
  auto* child = root->add_children();
  child->set_node_id(1);
  child->set_local_name("signatures");
  auto* signatures = og.add_nodes();
  signatures->mutable_user_object()->set_identifier("signature_map");
  child = signatures->add_children();
  child->set_node_id(2);
  child->set_local_name("serving_default");
  og.add_nodes()->mutable_bare_concrete_function()->set_concrete_function_name(name);
  auto& cf = (*og.mutable_concrete_functions())[name];
  auto* args = cf.mutable_canonicalized_input_signature()->mutable_tuple_value();
  args->add_values()->mutable_tuple_value();
  auto& kwargs = *args->add_values()->mutable_dict_value()->mutable_fields();
  for (int i = 0; i < inputs; ++i) {
    const std::string key = inputs == 1 ? std::string("x") : arg_name(i);
    tensor_spec(kwargs[key], key);
  }
  tensor_spec((*cf.mutable_output_signature()->mutable_dict_value()->mutable_fields())["y"], "y");
  fs::create_directories(dir);
  std::ofstream out(dir / "saved_model.pb", std::ios::binary | std::ios::trunc);
  STRATA_CHECK(sm.SerializeToOstream(&out), IOError, "cannot write '", (dir / "saved_model.pb").string(), "'");
}

inline void add_node(tf::FunctionDef& f, const std::string& name, const char* op,
                     std::initializer_list<std::string> inputs) {
  auto* n = f.add_node_def();
  n->set_name(name);
  n->set_op(op);
  for (const auto& in : inputs) n->add_input(in);
  (*n->mutable_attr())["T"].set_type(tf::DT_FLOAT);
}

}  // namespace detail

// (b) A SavedModel whose serving signature's function is a chain of `nodes` nodes of `op`
// on its one argument x: "Neg" (y = -(-(...x))), "Identity", or "AddV2" (each node adds x
// to the previous one: y = (nodes + 1)·x, every node also reading the argument).
inline void write_chain_savedmodel(const fs::path& dir, int nodes, const std::string& op = "Neg") {
  tf::FunctionDef f;
  f.mutable_signature()->set_name("__inference_chain_" + std::to_string(nodes));
  auto* x = f.mutable_signature()->add_input_arg();
  x->set_name("x");
  x->set_type(tf::DT_FLOAT);
  auto* y = f.mutable_signature()->add_output_arg();
  y->set_name("y");
  y->set_type(tf::DT_FLOAT);
  const std::string out_arg = op == "AddV2" ? ":z:0" : op == "Neg" ? ":y:0" : ":output:0";
  std::string prev = "x";
  for (int i = 0; i < nodes; ++i) {
    const std::string name = "n" + std::to_string(i);
    if (op == "AddV2") detail::add_node(f, name, "AddV2", {prev, "x"});
    else detail::add_node(f, name, op.c_str(), {prev});
    prev = name + out_arg;
  }
  (*f.mutable_ret())["y"] = prev;
  detail::write_signature_savedmodel(dir, std::move(f), 1);
}

// (c) The wide one: a function of `inputs` arguments x000000, x000001, ... returning their sum, one
// AddN node with `inputs` inputs.
inline void write_wide_savedmodel(const fs::path& dir, int inputs) {
  tf::FunctionDef f;
  f.mutable_signature()->set_name("__inference_sum_" + std::to_string(inputs));
  auto* n = f.add_node_def();
  n->set_name("sum");
  n->set_op("AddN");
  (*n->mutable_attr())["T"].set_type(tf::DT_FLOAT);
  (*n->mutable_attr())["N"].set_i(inputs);
  for (int i = 0; i < inputs; ++i) {
    auto* x = f.mutable_signature()->add_input_arg();
    x->set_name(detail::arg_name(i));
    x->set_type(tf::DT_FLOAT);
    n->add_input(x->name());
  }
  auto* y = f.mutable_signature()->add_output_arg();
  y->set_name("y");
  y->set_type(tf::DT_FLOAT);
  (*f.mutable_ret())["y"] = "sum:sum:0";
  detail::write_signature_savedmodel(dir, std::move(f), inputs);
}

// A subclassed model whose call is a chain of `nodes` Neg ops (registered nowhere, so a
// load revives it from its traced call).
class ChainModel final : public Model {
 public:
  explicit ChainModel(int nodes) : Model("ChainModel", Config{{"name", "chain"}}), nodes_(nodes) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    Tensor x = inputs.at(0);
    for (int i = 0; i < nodes_; ++i) x = neg(x);
    return {x};
  }

 private:
  int nodes_;
};

// (b) A SavedModel Strata writes of a ChainModel of `nodes` nodes: reviving it imports its
// traced call (one function of `nodes` nodes, in inference and training mode).
inline void write_revived_chain_savedmodel(const fs::path& dir, int nodes) {
  const auto model = std::make_shared<ChainModel>(nodes);
  (void)(*model)({Input(Shape{2})});  // built symbolically: no backend needed
  save_model(*model, dir);
}

// (b, wide in layers) A SavedModel Strata writes of a Sequential of `layers` Dense(2)
// layers: reviving it revives `layers` layers, each with its own traced call.
inline void write_layers_savedmodel(const fs::path& dir, int layers) {
  std::vector<std::shared_ptr<Layer>> stack;
  for (int i = 0; i < layers; ++i) stack.push_back(make_layer("Dense", Config{{"units", 2}}));
  const auto model = std::make_shared<Sequential>(stack, "stack");
  (void)(*model)({Input(Shape{2})});
  save_model(*model, dir);
}

}  // namespace strata::test::linear_loads
