// The "json" format: a model's architecture as Keras's JSON
// ({"class_name", "config", "keras_version", "backend"}, Python's json.dumps layout).
// Saving writes the architecture only (no weights), atomically; loading builds a model
// with fresh weights through the registry and custom objects.
#include <cstdio>
#include <fstream>
#include <limits>

#include "json_format.hpp"
#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using strata::Config;

constexpr std::size_t kMaxJsonBytes = std::size_t{256} << 20;  // 256 MiB: far above any real config

class JsonFormat final : public strata::Format {
 public:
  std::string name() const override { return "json"; }
  // Architectures only: model.save("m.json") writes the model's JSON; no weights.
  std::vector<std::string> model_extensions() const override { return {".json"}; }
  std::vector<std::string> weights_extensions() const override { return {}; }
  unsigned capabilities() const override { return strata::kSaveArchitecture | strata::kLoadArchitecture; }

  bool sniff(const fs::path& path) const override {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return false;
    std::ifstream in(path, std::ios::binary);
    char head[512] = {};
    in.read(head, sizeof head);
    const std::string text(head, static_cast<std::size_t>(in.gcount()));
    const auto first = text.find_first_not_of(" \t\r\n");
    return first != std::string::npos && text[first] == '{' && text.find("\"class_name\"") != std::string::npos;
  }

  void save_architecture(const strata::Model& model, const fs::path& path, const strata::SaveOptions& options) const override {
    strata::write_file_atomically(path, strata::model_to_json(model), options.overwrite);
  }

  std::shared_ptr<strata::Model> load_architecture(const fs::path& path, const strata::LoadOptions& options) const override {
    auto frame = strata::ErrorContext::push("reading the model JSON '", path.string(), "'");
    const std::string text = strata::read_file(path, kMaxJsonBytes);
    // An architecture holds no weights, so the file bounds nothing; the budget is open only
    // so that all weights the load makes together are held to the machine's memory
    // (add_weight: a BackendError naming the layer, before allocating).
    strata::WeightBudget budget(std::numeric_limits<std::uint64_t>::max(), strata::detail::concat("'", path.string(), "'"));
    return strata::model_from_json(text, options.custom_objects);
  }

  std::string describe(const fs::path& path) const override {
    const Config c = strata::parse_python_json(strata::read_file(path, kMaxJsonBytes), path.string());
    std::string out = "format: json (architecture only, no weights)\n";
    // Read as any config from a file: not an object, or a class_name that is no string, is a
    // FormatError naming the file (not the JSON library's type_error).
    const strata::ConfigReader reader(c, strata::detail::concat("'", path.string(), "'"));
    out += "class: " + reader.optional("class_name", "?") + "\n";
    if (c.contains("keras_version") && c["keras_version"].is_string()) {
      out += "keras_version: " + c["keras_version"].get<std::string>() + "\n";
    }
    return out;
  }
};

}  // namespace

namespace strata::json_format {
std::shared_ptr<Format> make_format() { return std::make_shared<JsonFormat>(); }
}  // namespace strata::json_format
