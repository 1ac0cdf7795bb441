// The vocabularies of tf-keras's lookup layers (StringLookup, IntegerLookup, TextVectorization)
// in a SavedModel. tf-keras clears a lookup layer's `vocabulary` from the Keras metadata
// (VocabularySavedModelSaver) and keeps the vocabulary in the layer's `lookup_table` resource:
// its `_initialize` function imports the tokens and indices from two captured constants (a
// vocabulary given as a list, or adapted) or reads a file of assets/ (a vocabulary given as a
// file path: TextFileInitializer). This reads them back and hands them to the layer
// (strata/plugin/assets.hpp) as "tokens.txt": the tokens in index order, one per line.
//
// Untrusted input: an asset's file name must be a plain relative name inside assets/ (no
// "..", no absolute path) and neither the file nor assets/ may be a symbolic link; each
// refusal is a FormatError naming the file.
#include <algorithm>
#include <numeric>

#include "function_graph.hpp"
#include "savedmodel_internal.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/assets.hpp"
#include "strata/plugin/file_system.hpp"

namespace strata::savedmodel {
namespace {

constexpr std::uint64_t kMaxVocabularyBytes = std::uint64_t{1} << 30;

int child(const tf::SavedObjectGraph& og, int node, const std::string& name) {
  if (node < 0 || node >= og.nodes_size()) return -1;
  for (const auto& c : og.nodes(node).children()) {
    if (c.local_name() == name) return c.node_id() >= 0 && c.node_id() < og.nodes_size() ? c.node_id() : -1;
  }
  return -1;
}

// TextFileInitializer's lines: '\n'-separated, a final '\n' ends the last line, a '\r' before
// it is dropped.
std::vector<std::string> text_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    start = end + 1;
  }
  return out;
}

std::string read_asset(const fs::path& dir, const std::string& name) {
  const fs::path assets = dir / "assets";
  STRATA_CHECK(is_safe_asset_name(name), FormatError, "'", dir.string(), "': asset '", name,
               "' names a file outside assets/ (absolute, or with '..')");
  std::error_code ec;
  STRATA_CHECK(fs::symlink_status(assets, ec).type() != fs::file_type::symlink, FormatError, "'", assets.string(),
               "' is a symbolic link; assets must lie inside the SavedModel");
  fs::path p = assets;
  for (const auto& part : fs::path(name)) {
    p /= part;
    STRATA_CHECK(fs::symlink_status(p, ec).type() != fs::file_type::symlink, FormatError, "asset '", p.string(),
                 "' is a symbolic link; assets must lie inside the SavedModel's assets/");
  }
  STRATA_CHECK(fs::is_regular_file(p, ec), FormatError, "'", dir.string(), "': asset '", name,
               "' is not a file in assets/");
  return read_file(p, kMaxVocabularyBytes);
}

std::vector<std::string> as_text(const Tensor& t) {
  if (t.dtype() == DType::kString) {
    const auto s = t.strings();
    return {s.begin(), s.end()};
  }
  std::vector<std::string> out;
  for (const auto v : cast(t, DType::kInt64).to_vector<std::int64_t>()) out.push_back(std::to_string(v));
  return out;
}

bool is_range_from(const Tensor& t, std::int64_t start) {
  if (!is_integer(t.dtype())) return false;
  const auto v = cast(t, DType::kInt64).to_vector<std::int64_t>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != start + static_cast<std::int64_t>(i)) return false;
  }
  return true;
}

// The tokens in index order of the table `resource` initializes, or nullopt when it has none.
std::optional<std::vector<std::string>> table_tokens(const fs::path& dir, const tf::SavedModel& sm,
                                                     const GraphIndex& graph, int resource, const std::string& what) {
  const auto& mg = sm.meta_graphs(0);
  const auto& og = mg.object_graph_def();
  const int init = child(og, resource, "_initialize");
  if (init < 0 || !og.nodes(init).has_function() || og.nodes(init).function().concrete_functions_size() == 0) {
    return std::nullopt;
  }
  const std::string fname = og.nodes(init).function().concrete_functions(0);
  const auto it = og.concrete_functions().find(fname);
  STRATA_CHECK(it != og.concrete_functions().end(), FormatError, what, ": the table initializer '", fname,
               "' is not among the concrete functions");
  std::vector<Tensor> constants;
  for (const int id : it->second.bound_inputs()) {
    STRATA_CHECK(id >= 0 && id < og.nodes_size(), FormatError, what, ": '", fname, "' is bound to node ", id,
                 ", which does not exist");
    const auto& node = og.nodes(id);
    if (node.has_asset()) {
      const int index = node.asset().asset_file_def_index();
      STRATA_CHECK(index >= 0 && index < mg.asset_file_def_size(), FormatError, what, ": asset index ", index,
                   " is out of range");
      return text_lines(read_asset(dir, mg.asset_file_def(index).filename()));
    }
    if (node.has_constant()) constants.push_back(graph_constant(graph, node.constant().operation(), what));
  }
  // KeyValueTensorInitializer(keys, values): tokens -> indices, or (inverted) indices ->
  // tokens. The index side is the range of consecutive indices; when both sides are (an
  // IntegerLookup of consecutive integers), the keys are the tokens unless inverted.
  if (constants.size() != 2 || constants[0].rank() != 1 || constants[1].rank() != 1 ||
      constants[0].num_elements() != constants[1].num_elements()) {
    return std::nullopt;
  }
  std::vector<std::int64_t> starts;
  for (const auto& c : constants) {
    starts.push_back(is_integer(c.dtype()) && c.num_elements() > 0 ? cast(c, DType::kInt64).to_vector<std::int64_t>()[0]
                                                                   : 0);
  }
  const bool first_is_index = is_range_from(constants[0], starts[0]) && constants[1].dtype() == DType::kString;
  const bool second_is_index = is_range_from(constants[1], starts[1]);
  return as_text(first_is_index && !second_is_index ? constants[1] : constants[0]);
}

// Strata's own copy of a layer's assets (strata/plugin/assets.hpp), for its SavedModels of
// layers whose vocabulary is not in their config: `assets/strata.layers/<layer name>[/<inner
// layer name>...]/<file>`. TensorFlow ignores it; Strata reads it when the layer has no lookup
// table tf-keras would have written.
constexpr const char* kStrataAssets = "strata.layers";

AssetFiles read_strata_assets(const fs::path& dir, const std::string& layer_path) {
  AssetFiles out;
  std::error_code ec;
  fs::path base = dir / "assets";
  for (const auto& part : fs::path(std::string(kStrataAssets) + "/" + layer_path)) {
    base /= part;
    const auto st = fs::symlink_status(base, ec);
    if (ec || st.type() == fs::file_type::not_found) return out;
    STRATA_CHECK(st.type() == fs::file_type::directory, FormatError, "'", base.string(),
                 "' is not a directory (a symbolic link, or a file); assets must lie inside the SavedModel's assets/");
  }
  for (fs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const auto st = it->symlink_status(ec);
    if (st.type() == fs::file_type::directory) continue;
    const std::string rest = fs::relative(it->path(), base, ec).generic_string();
    STRATA_CHECK(st.type() == fs::file_type::regular && is_safe_asset_name(rest), FormatError, "asset '",
                 it->path().string(), "' is not a regular file inside assets/ (a symbolic link?)");
    out[rest] = read_file(it->path(), kMaxVocabularyBytes);
  }
  return out;
}

void visit(const fs::path& dir, const tf::SavedModel& sm, const GraphIndex& graph, int node, const Model& model,
           const std::string& prefix) {
  const auto& og = sm.meta_graphs(0).object_graph_def();
  const auto layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const int id = child(og, node, "layer-" + std::to_string(i));
    if (id < 0) continue;
    if (const auto* inner = dynamic_cast<const Model*>(layers[i].get())) {
      visit(dir, sm, graph, id, *inner, prefix + inner->name() + "/");
      continue;
    }
    auto* assets = dynamic_cast<AssetsLayer*>(layers[i].get());
    if (assets == nullptr || !assets->needs_assets()) continue;
    const std::string what = detail::concat("'", dir.string(), "', layer '", layers[i]->name(), "'");
    int table = child(og, id, "lookup_table");
    if (table < 0) table = child(og, child(og, id, "_lookup_layer"), "lookup_table");
    const auto tokens = table < 0 ? std::nullopt : table_tokens(dir, sm, graph, table, what);
    if (!tokens) {
      AssetFiles files = read_strata_assets(dir, prefix + layers[i]->name());
      if (!files.empty()) {
        auto frame = ErrorContext::push("reading the assets of ", what);
        assets->load_assets(files);
      } else {
        log_warning(what, ": no vocabulary found in its lookup table; the layer is left empty");
      }
      continue;
    }
    std::string text;
    for (std::size_t k = 0; k < tokens->size(); ++k) text += (k ? "\n" : "") + (*tokens)[k];
    auto frame = ErrorContext::push("reading the vocabulary of ", what);
    if (!tokens->empty()) assets->load_assets({{"tokens.txt", text}});
  }
}

}  // namespace

void load_lookup_vocabularies(const fs::path& dir, const tf::SavedModel& sm, Model& model) {
  if (sm.meta_graphs_size() == 0 || !sm.meta_graphs(0).has_object_graph_def()) return;
  const GraphIndex graph(sm.meta_graphs(0).graph_def());
  visit(dir, sm, graph, 0, model, "");
}

namespace {
void collect_strata_assets(const Model& model, const std::string& prefix,
                           std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& layer : model.layers()) {
    if (const auto* inner = dynamic_cast<const Model*>(layer.get())) {
      collect_strata_assets(*inner, prefix + inner->name() + "/", out);
      continue;
    }
    const auto* assets = dynamic_cast<const AssetsLayer*>(layer.get());
    if (assets == nullptr) continue;
    for (auto& [name, bytes] : assets->save_assets()) {
      const std::string path = std::string(kStrataAssets) + "/" + prefix + layer->name() + "/" + name;
      STRATA_CHECK(is_safe_asset_name(path), ValueError, "layer '", layer->name(), "' names an asset '", name,
                   "' that would leave its asset directory");
      out.emplace_back(path, std::move(bytes));
    }
  }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> strata_asset_files(const Model& model) {
  std::vector<std::pair<std::string, std::string>> out;
  collect_strata_assets(model, "", out);
  return out;
}

}  // namespace strata::savedmodel
