// Reading a SavedModel directory's protos: saved_model.pb and the root's Keras metadata
// (keras_metadata.pb, or, for TF <= 2.4 files, the root object's user-object metadata).
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

constexpr std::size_t kMaxProtoBytes = std::size_t{1} << 31;  // protobuf's own message limit

strata::tf::SavedModel read_saved_model(const fs::path& dir) {
  const fs::path file = dir / "saved_model.pb";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    STRATA_CHECK(!fs::exists(dir / "saved_model.pbtxt", ec), FormatError, "'", dir.string(),
                 "' holds saved_model.pbtxt (text format), which Strata does not read");
    STRATA_THROW(FormatError, "'", dir.string(), "' is not a SavedModel: it has no saved_model.pb");
  }
  const std::string bytes = strata::read_file(file, kMaxProtoBytes);
  strata::tf::SavedModel sm;
  STRATA_CHECK(sm.ParseFromString(bytes), FormatError, "'", file.string(), "' is not a valid SavedModel protobuf");
  STRATA_CHECK(sm.meta_graphs_size() >= 1, FormatError, "'", file.string(), "' has no MetaGraphDef");
  return sm;
}

// tf-keras writes the metadata with its JSON encoder, which keeps Python tuples apart as
// {"class_name": "__tuple__", "items": [...]} (MultiHeadAttention's attention_axes, a
// layer's input shape); its decoder turns them back into tuples, which get_config then
// gives as lists. The same here: each one becomes its items, walked without recursion.
void decode_tuples(Config& root) {
  std::vector<Config*> pending{&root};
  while (!pending.empty()) {
    Config* v = pending.back();
    pending.pop_back();
    while (v->is_object() && v->size() == 2 && v->contains("class_name") && v->contains("items") &&
           (*v)["class_name"] == "__tuple__" && (*v)["items"].is_array()) {
      Config items = std::move((*v)["items"]);
      *v = std::move(items);
    }
    if (v->is_object() || v->is_array()) {
      for (auto& child : *v) pending.push_back(&child);
    }
  }
}

Config parse_metadata(const std::string& json, const std::string& where) {
  Config c = strata::parse_python_json(json, where);
  STRATA_CHECK(c.is_object(), FormatError, where, ": the Keras metadata is not a JSON object");
  decode_tuples(c);
  return c;
}

bool has_keras_metadata(const fs::path& dir, const strata::tf::SavedModel& sm) {
  std::error_code ec;
  if (fs::exists(dir / "keras_metadata.pb", ec)) return true;
  if (sm.meta_graphs_size() == 0) return false;
  const auto& graph = sm.meta_graphs(0).object_graph_def();
  return graph.nodes_size() > 0 && graph.nodes(0).has_user_object() && !graph.nodes(0).user_object().metadata().empty();
}

Metadata read_metadata(const fs::path& dir, const strata::tf::SavedModel& sm) {
  const fs::path file = dir / "keras_metadata.pb";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    strata::keras::SavedMetadata md;
    STRATA_CHECK(md.ParseFromString(strata::read_file(file, kMaxProtoBytes)), FormatError, "'", file.string(),
                 "' is not a valid Keras SavedMetadata protobuf");
    for (const auto& node : md.nodes()) {
      if (node.node_id() == 0 || node.node_path() == "root") {
        std::string where = "'";
        where.append(file.string()).append("' node 0 (").append(node.identifier()).append(")");
        return {parse_metadata(node.metadata(), where), file.string()};
      }
    }
    STRATA_THROW(FormatError, "'", file.string(), "' has no metadata for the root object (node 0)");
  }
  // TF <= 2.4: the JSON lives in the object graph's SavedUserObject.metadata.
  const auto& graph = sm.meta_graphs(0).object_graph_def();
  STRATA_CHECK(graph.nodes_size() > 0 && graph.nodes(0).has_user_object() &&
                   !graph.nodes(0).user_object().metadata().empty(),
               FormatError, "'", dir.string(),
               "' has no keras_metadata.pb and no Keras metadata in saved_model.pb: it was not written by "
               "tf-keras (plain tf.Module SavedModels need their traced functions, which Strata does not run)");
  std::string where = "'";
  where.append((dir / "saved_model.pb").string()).append("' object 0 (").append(graph.nodes(0).user_object().identifier()).append(")");
  return {parse_metadata(graph.nodes(0).user_object().metadata(), where), (dir / "saved_model.pb").string()};
}

}  // namespace strata::savedmodel
