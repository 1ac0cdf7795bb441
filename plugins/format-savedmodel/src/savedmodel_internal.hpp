// What the files of the "savedmodel" format share. One file per concern:
//   read.cpp           saved_model.pb and the root's Keras metadata, checked;
//   traces.cpp         the traced functions (call, losses, serving signature);
//   session_graph.cpp  the TF1 view (placeholders, VarHandleOps, the V2 saver);
//   writer.cpp         variables/, the protos, the atomic commit through the seam;
//   layer_traces.cpp   each layer's traced call (for revived layers);
//   loader.cpp         reviving from classes or from traces (RevivedModel);
//   revived_layers.cpp the layers of a model revived from traces;
//   signatures.cpp     SavedModels without Keras metadata: a signature as a model;
//   lookup_tables.cpp  the vocabularies of tf-keras's lookup layers (lookup tables, assets/);
//   format_savedmodel.cpp  the Format object: claims, sniff, describe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/checkpoint.hpp"
#include "strata/config.hpp"
#include "strata/format.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/tf/saved_model.pb.h"

namespace strata::savedmodel {

namespace fs = std::filesystem;

inline constexpr const char* kCallFunction = "__inference_call";
inline constexpr const char* kTrainingCallFunction = "__inference_call_training";
// The call followed by its loss terms (written only when the call adds losses or, in
// training mode, weights have regularizers).
inline constexpr const char* kLossesFunction = "__inference_call_and_return_conditional_losses";
inline constexpr const char* kTrainingLossesFunction = "__inference_call_and_return_conditional_losses_training";
inline constexpr const char* kServingFunction = "__inference_signature_wrapper";

// ---- lookup_tables.cpp
// Hands each lookup layer of `model` (StringLookup, IntegerLookup, TextVectorization, also in
// nested models) whose config left its vocabulary out the vocabulary tf-keras kept in its
// lookup table (captured constants, or a file of assets/ kept inside assets/: FormatError
// naming it otherwise). Call before the variables are restored.
void load_lookup_vocabularies(const fs::path& dir, const tf::SavedModel& sm, Model& model);
// The assets of the model's layers that keep state outside their config (an adapted
// StringLookup's vocabulary), as files under assets/ ("strata.layers/<layer>/vocabulary.txt"):
// tf-keras keeps such state in lookup-table resources Strata does not write, so Strata's
// SavedModels carry it here and load_lookup_vocabularies reads it back.
std::vector<std::pair<std::string, std::string>> strata_asset_files(const Model& model);

// ---- read.cpp
struct Metadata {
  Config root;          // the root's Keras metadata JSON
  std::string source;   // which file it came from
};
// saved_model.pb, checked (FormatError naming the file).
tf::SavedModel read_saved_model(const fs::path& dir);
// The root's metadata: keras_metadata.pb, else the root object's user-object metadata.
Metadata read_metadata(const fs::path& dir, const tf::SavedModel& sm);
// Whether read_metadata finds any (tf-keras wrote the SavedModel).
bool has_keras_metadata(const fs::path& dir, const tf::SavedModel& sm);

// ---- signatures.cpp
// The root's signatures: name → concrete function (empty for a TF1 SavedModel).
std::map<std::string, std::string> signature_functions(const tf::SavedModel& sm);
// Signature options.signature (default serving_default) as a model; FormatError naming TF1
// for a SavedModel without an object graph, ValueError listing the signatures when there
// is no such one.
std::shared_ptr<Model> load_signature(const fs::path& dir, const tf::SavedModel& sm, const LoadOptions& options);

// A model revived from a SavedModel's traces (loader.cpp) keeps what the saving model's
// class had that the traces lack; saved again, the new file records that claim about the
// original class instead of one about the revived model's own members.
class RevivedFromTraces {
 public:
  virtual ~RevivedFromTraces() = default;
  virtual const std::vector<std::string>& original_overridden() const = 0;
  virtual const std::vector<std::string>& original_mask_readers() const = 0;
};

// A model whose weights are values read from a SavedModel (revived from traces, a signature).
class RestoredModel : public Model {
 public:
  using Model::Model;
  // A new weight holding `value` (signatures.cpp).
  Variable add_variable(const std::string& name, const Tensor& value, bool trainable);
};

// ---- traces.cpp
// The specs a model's call is traced with (batch dimension unknown).
std::vector<TensorSpec> input_specs(const Model& model);
// The keys of the serving signature, as tf-keras writes them: the model's input names (its
// Input layers'), its output names (the output layers', a repeated name suffixed _1, _2, ...
// as Keras's output_names are), input_<i>/output_<i> (from 1) where the model has none
// (subclassed) or where a name is not one TensorFlow takes as a signature key.
struct ServingKeys {
  std::vector<std::string> inputs, outputs;
};
ServingKeys serving_keys(const Model& model, std::size_t num_inputs, std::size_t num_outputs);
// The positions of `keys` in the order TensorFlow flattens a dict of them (by key).
std::vector<std::size_t> sorted_order(const std::vector<std::string>& keys);
// A TensorSpec as TensorFlow's proto.
void spec_to_proto(const TensorSpec& spec, tf::TensorSpecProto& out);
// Python's inspect.FullArgSpec, as TensorFlow's FunctionSpec stores it, of a function with
// positional `args` (the last defaults.size() of them defaulted) and keyword-only `kwonly`.
void set_function_spec(tf::FunctionSpec& out, const std::vector<std::string>& args,
                       const std::vector<tf::StructuredValue>& defaults, const std::vector<std::string>& kwonly);
// Keras's layout of a call's concrete function: input signature ((inputs, training, mask),
// {}), inputs a TensorSpec or, for several, a list of them; output signature `graph`'s
// outputs (a TensorSpec, or a tuple of them).
void set_call_signature(const std::vector<TensorSpec>& specs, bool training, const Graph& graph,
                        tf::SavedConcreteFunction& cf);
// A checkpoint node holding one variable's value.
bool is_variable_node(const CheckpointObjectGraph::Node& node);
// Adds the traced functions of `model` to `mg` (object nodes after the checkpoint's
// `ckpt` nodes); returns what the traces cannot hold ("strata_traces_lack") or null.
Config add_traces(const Model& model, const CheckpointObjectGraph& ckpt, tf::MetaGraphDef& mg);

// ---- layer_traces.cpp: each layer's call as a `__call__` function of its node (issue 19).
void add_layer_traces(const Model& model, const CheckpointObjectGraph& ckpt, tf::MetaGraphDef& mg);

// ---- session_graph.cpp
void add_session_graph(tf::MetaGraphDef& mg, const WrittenCheckpoint& written);

// ---- writer.cpp: Format::save_model.
void save(const Model& model, const fs::path& dir, const SaveOptions& options);

// ---- loader.cpp: Format::load_model.
std::shared_ptr<Model> load(const fs::path& dir, const LoadOptions& options);
// The model without its variables (loader.cpp): what `strata info` shows.
std::shared_ptr<Model> load_architecture(const fs::path& dir, const LoadOptions& options);

}  // namespace strata::savedmodel
