// The TF1 view of a Strata SavedModel: a session graph next to the TF2 object graph.
#include <signal.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "function_graph.hpp"
#include "layer_metadata.hpp"
#include "savedmodel_format.hpp"
#include "savedmodel_internal.hpp"
#include "strata/checkpoint.hpp"
#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/graph.hpp"
#include "strata/initializers.hpp"
#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"
#include "strata/tf/keras_saved_metadata.pb.h"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

// The TF1 view of the SavedModel, for session-based loaders (`saved_model_cli run`, TF
// Serving's SavedModelBundle, tf.compat.v1 loaders): the MetaGraph's graph_def gets a
// placeholder per serving input (the signature's tensor names), a VarHandleOp per variable,
// a StatefulPartitionedCall of the serving function (its outputs are the signature's
// outputs), and a V2 saver: `saver_filename` fed with the variables prefix, `restore_all`
// (RestoreV2 + AssignVariableOp per variable) and `saver_save` (SaveV2 of every variable).
// TF2 loaders ignore these nodes; they read the object graph.
void add_session_graph(strata::tf::MetaGraphDef& mg, const strata::WrittenCheckpoint& written) {
  const strata::CheckpointObjectGraph& ckpt = written.object_graph;
  using strata::tf::DataType;
  const auto& og = mg.object_graph_def();
  const auto serving = og.concrete_functions().find(kServingFunction);
  if (serving == og.concrete_functions().end()) return;
  const strata::tf::FunctionDef* fn = nullptr;
  for (const auto& f : mg.graph_def().library().function()) {
    if (f.signature().name() == kServingFunction) fn = &f;
  }
  if (fn == nullptr) return;
  auto& gd = *mg.mutable_graph_def();
  const auto add_node = [&gd](const std::string& name, const std::string& op) {
    auto* n = gd.add_node();
    n->set_name(name);
    n->set_op(op);
    return n;
  };
  const auto set_shape = [](strata::tf::TensorShapeProto& out, const strata::Shape& shape) {
    for (const std::int64_t d : shape.dims()) out.add_dim()->set_size(d < 0 ? -1 : d);
  };
  const auto string_const = [&](const std::string& name, const std::vector<std::string>& values) {
    auto* n = add_node(name, "Const");
    (*n->mutable_attr())["dtype"].set_type(strata::tf::DT_STRING);
    auto& t = *(*n->mutable_attr())["value"].mutable_tensor();
    t.set_dtype(strata::tf::DT_STRING);
    t.mutable_tensor_shape()->add_dim()->set_size(static_cast<std::int64_t>(values.size()));
    for (const auto& v : values) t.add_string_val(v);
  };

  // Every variable of the object graph, in node order.
  struct Var {
    std::string handle, key;
    DataType dtype;
  };
  std::map<int, Var> vars;
  for (std::size_t id = 0; id < ckpt.nodes.size() && static_cast<int>(id) < og.nodes_size(); ++id) {
    if (!is_variable_node(ckpt.nodes[id])) continue;
    const std::string& key = ckpt.nodes[id].attributes[0].checkpoint_key;
    const auto& value = written.values.at(key);
    Var v{"Variable_" + std::to_string(id), key, static_cast<DataType>(strata::dtype_to_tf(value.dtype))};
    auto* n = add_node(v.handle, "VarHandleOp");
    (*n->mutable_attr())["dtype"].set_type(v.dtype);
    set_shape(*(*n->mutable_attr())["shape"].mutable_shape(), value.shape);
    (*n->mutable_attr())["shared_name"].set_s(v.handle);
    (*n->mutable_attr())["container"].set_s("");
    vars.emplace(static_cast<int>(id), std::move(v));
  }
  for (const int b : serving->second.bound_inputs()) {
    if (!vars.count(b)) return;  // not a variable the checkpoint holds: no session graph
  }

  // The function's tensor arguments are the signature's keys in key order.
  std::vector<std::string> arg_keys;
  const auto& sig = serving->second.canonicalized_input_signature();
  if (sig.tuple_value().values_size() == 2) {
    for (const auto& [key, value] : sig.tuple_value().values(1).dict_value().fields()) arg_keys.push_back(key);
  }
  std::sort(arg_keys.begin(), arg_keys.end());
  const auto tensor_args = std::count_if(fn->signature().input_arg().begin(), fn->signature().input_arg().end(),
                                         [](const auto& arg) { return arg.type() != strata::tf::DT_RESOURCE; });
  if (static_cast<std::size_t>(tensor_args) != arg_keys.size()) return;  // not a signature this writer made

  // The serving call.
  auto* call = add_node("StatefulPartitionedCall", "StatefulPartitionedCall");
  auto& tin = *(*call->mutable_attr())["Tin"].mutable_list();
  int next_input = 1;
  for (const auto& arg : fn->signature().input_arg()) {
    if (arg.type() == strata::tf::DT_RESOURCE) continue;
    const std::string name = "serving_default_" + arg_keys[static_cast<std::size_t>(next_input++ - 1)];
    auto* ph = add_node(name, "Placeholder");
    (*ph->mutable_attr())["dtype"].set_type(arg.type());
    const auto shapes = fn->arg_attr().find(static_cast<std::uint32_t>(next_input - 2));
    if (shapes != fn->arg_attr().end()) {
      const auto a = shapes->second.attr().find("_output_shapes");
      if (a != shapes->second.attr().end() && a->second.list().shape_size() == 1) {
        *(*ph->mutable_attr())["shape"].mutable_shape() = a->second.list().shape(0);
      }
    }
    call->add_input(name);
    tin.add_type(arg.type());
  }
  for (const int b : serving->second.bound_inputs()) {
    call->add_input(vars.at(b).handle);
    tin.add_type(strata::tf::DT_RESOURCE);
  }
  auto& tout = *(*call->mutable_attr())["Tout"].mutable_list();
  for (const auto& arg : fn->signature().output_arg()) tout.add_type(arg.type());
  (*call->mutable_attr())["f"].mutable_func()->set_name(kServingFunction);
  for (const char* a : {"config", "config_proto", "executor_type"}) (*call->mutable_attr())[a].set_s("");
  // Output i of the call is the signature's i-th output key in key order ("StatefulPartitionedCall:i").

  // The saver.
  auto* filename = add_node("saver_filename", "Placeholder");
  (*filename->mutable_attr())["dtype"].set_type(strata::tf::DT_STRING);
  (*filename->mutable_attr())["shape"].mutable_shape();
  std::vector<std::string> keys, slices;
  for (const auto& [id, v] : vars) {
    keys.push_back(v.key);
    slices.emplace_back();
  }
  string_const("saver/tensor_names", keys);
  string_const("saver/shape_and_slices", slices);
  auto* restore = add_node("saver/RestoreV2", "RestoreV2");
  for (const char* in : {"saver_filename", "saver/tensor_names", "saver/shape_and_slices"}) restore->add_input(in);
  auto* save = add_node("saver/SaveV2", "SaveV2");
  for (const char* in : {"saver_filename", "saver/tensor_names", "saver/shape_and_slices"}) save->add_input(in);
  auto& restore_types = *(*restore->mutable_attr())["dtypes"].mutable_list();
  auto& save_types = *(*save->mutable_attr())["dtypes"].mutable_list();
  auto* restore_all = add_node("restore_all", "NoOp");
  std::size_t k = 0;
  for (const auto& [id, v] : vars) {
    restore_types.add_type(v.dtype);
    save_types.add_type(v.dtype);
    auto* assign = add_node("saver/Assign_" + std::to_string(k), "AssignVariableOp");
    assign->add_input(v.handle);
    assign->add_input("saver/RestoreV2:" + std::to_string(k));
    (*assign->mutable_attr())["dtype"].set_type(v.dtype);
    restore_all->add_input("^saver/Assign_" + std::to_string(k));
    auto* read = add_node("saver/Read_" + std::to_string(k), "ReadVariableOp");
    read->add_input(v.handle);
    (*read->mutable_attr())["dtype"].set_type(v.dtype);
    save->add_input("saver/Read_" + std::to_string(k));
    ++k;
  }
  auto* saved = add_node("saver_save", "Identity");
  saved->add_input("saver_filename");
  saved->add_input("^saver/SaveV2");
  (*saved->mutable_attr())["T"].set_type(strata::tf::DT_STRING);
  auto* saver = mg.mutable_saver_def();
  saver->set_save_tensor_name("saver_save:0");
  saver->set_restore_op_name("restore_all");
  gd.mutable_versions()->set_producer(1);
}

}  // namespace strata::savedmodel
