#include "keras_archive.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>

#include "h5_file.hpp"
#include "keras3_config.hpp"
#include "keras3_weights.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugin/assets.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/saving.hpp"
#include "strata/version.hpp"

namespace strata::keras {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfig = "config.json";
constexpr const char* kMetadata = "metadata.json";
constexpr const char* kWeightsH5 = "model.weights.h5";
constexpr const char* kWeightsNpz = "model.weights.npz";
constexpr const char* kAssets = "assets";
// Most bytes one asset file of an unzipped archive may have (a zip member is bounded by the
// zip reader's limits).
constexpr std::uint64_t kMaxAssetBytes = std::uint64_t{1} << 30;

// An archive opened for reading: a zip (in a file or in memory) or Keras 3's unzipped
// directory. Only the fixed member names above are ever read, so a directory read cannot
// leave the directory.
class Contents {
 public:
  explicit Contents(ZipReader zip) : label_(zip.label()), zip_(std::move(zip)) {}
  explicit Contents(const fs::path& dir) : label_(dir.string()), dir_(dir) {}

  const std::string& label() const { return label_; }
  std::string where() const { return "'" + label_ + "'"; }

  std::optional<std::uint64_t> size(const std::string& name) const {
    if (zip_) {
      const ZipMember* m = zip_->find(name);
      return m ? std::optional<std::uint64_t>(m->size) : std::nullopt;
    }
    std::error_code ec;
    const auto p = dir_ / name;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    const auto n = fs::file_size(p, ec);
    return ec ? std::nullopt : std::optional<std::uint64_t>(n);
  }

  std::string read(const std::string& name, std::uint64_t max_bytes) const {
    if (zip_) return zip_->read(name, max_bytes);
    return read_file(dir_ / name, max_bytes);
  }

  // The files of Keras 3's asset directory `assets/<object_path>/` (DiskIOStore), by name
  // relative to it. Untrusted: a zip member's name must be a safe relative name (the zip
  // reader already refuses `..` and absolute names); in a directory, a symlink anywhere on the
  // way or below is refused, so nothing outside `assets/` is read. FormatError naming the file.
  AssetFiles assets(const std::string& object_path) const {
    AssetFiles out;
    const std::string prefix = std::string(kAssets) + "/" + (object_path.empty() ? "" : object_path + "/");
    if (zip_) {
      for (const auto& m : zip_->members()) {
        if (m.is_directory() || !m.name.starts_with(prefix)) continue;
        const std::string rest = m.name.substr(prefix.size());
        STRATA_CHECK(is_safe_asset_name(rest), FormatError, where(), ": asset member '", m.name,
                     "' has a name that leaves its asset directory");
        out[rest] = zip_->read(m.name, m.size);
      }
      return out;
    }
    std::error_code ec;
    fs::path base = dir_;
    for (const auto& part : fs::path(prefix)) {
      if (part.empty()) continue;
      base /= part;
      const auto st = fs::symlink_status(base, ec);
      if (ec || st.type() == fs::file_type::not_found) return out;
      STRATA_CHECK(st.type() != fs::file_type::symlink, FormatError, where(), ": '", base.string(),
                   "' is a symbolic link; asset files must lie inside the archive's assets/ directory");
      STRATA_CHECK(st.type() == fs::file_type::directory, FormatError, where(), ": '", base.string(),
                   "' is not a directory");
    }
    for (fs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
      const auto st = it->symlink_status(ec);
      STRATA_CHECK(st.type() != fs::file_type::symlink, FormatError, where(), ": asset '", it->path().string(),
                   "' is a symbolic link; asset files must lie inside the archive's assets/ directory");
      if (st.type() == fs::file_type::directory) continue;
      const std::string rest = fs::relative(it->path(), base, ec).generic_string();
      STRATA_CHECK(st.type() == fs::file_type::regular && is_safe_asset_name(rest), FormatError, where(), ": asset '",
                   it->path().string(), "' is not a regular file inside its asset directory");
      out[rest] = read_file(it->path(), kMaxAssetBytes);
    }
    STRATA_CHECK(!ec, IOError, where(), ": cannot list '", base.string(), "': ", ec.message());
    return out;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    if (zip_) {
      for (const auto& m : zip_->members()) out.push_back(m.name);
      return out;
    }
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), dir_, ec).generic_string());
    }
    return out;
  }

 private:
  std::string label_;
  std::optional<ZipReader> zip_;
  fs::path dir_;
};

bool starts_with_zip_magic(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 4> magic{};
  return in.read(magic.data(), magic.size()) && std::memcmp(magic.data(), "PK\x03\x04", 4) == 0;
}

bool is_archive_directory(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(path / kConfig, ec) &&
         fs::is_regular_file(path / kMetadata, ec);
}

Contents open_contents(const fs::path& path) {
  if (is_archive_directory(path)) return Contents(path);
  std::error_code ec;
  STRATA_CHECK(fs::exists(path, ec), IOError, "'", path.string(), "' does not exist");
  STRATA_CHECK(!fs::is_directory(path, ec), FormatError, "'", path.string(),
               "' is a directory without config.json and metadata.json: not a Keras 3 model directory");
  STRATA_CHECK(starts_with_zip_magic(path), FormatError, "'", path.string(),
               "' is not a zip archive, so not a Keras 3 '.keras' file (an HDF5 file is read by format 'h5')");
  return Contents(ZipReader::open(path));
}

Config read_json_member(const Contents& c, const char* name) {
  const std::string text = c.read(name, kMaxJsonBytes);
  return parse_python_json(text, detail::concat(name, " of ", c.where()));
}

std::string now_keras_date() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d@%H:%M:%S", &tm);
  return buf;
}

// The weights member of an archive: model.weights.h5 (what Keras writes by default);
// model.weights.npz (Keras's weights_format="npz") is refused by name.
std::string read_weights_member(const Contents& c) {
  STRATA_CHECK(!c.size(kWeightsNpz) || c.size(kWeightsH5), FormatError, c.where(),
               " keeps its weights in model.weights.npz (Keras's weights_format=\"npz\"), which Strata does not read: "
               "save it again from Keras with the default weights_format=\"h5\"");
  const auto size = c.size(kWeightsH5);
  STRATA_CHECK(size.has_value(), FormatError, c.where(), " has no ", kWeightsH5,
               ": a Keras 3 archive holds its weights there");
  return c.read(kWeightsH5, *size);
}

void compile_from(Model& model, const Config& compile_config, const std::string& where) {
  if (!compile_config.is_object() || compile_config.empty()) return;
  const Config optimizer = compile_config.value("optimizer", Config());
  if (optimizer.is_null()) return;
  auto frame = ErrorContext::push("compiling the model from the compile_config of ", where);
  if (!compile_config.value("weighted_metrics", Config()).is_null()) {
    log_warning(where, ": weighted_metrics are not restored (Strata's compile has none); the model's other "
                "metrics are");
  }
  model.compile(optimizer, compile_config.value("loss", Config()), compile_config.value("metrics", Config()),
                compile_config.value("loss_weights", Config()));
}

// Keras 3's load_assets: each layer with assets (AssetsLayer) reads `assets/<its object path>/`
// before its weights are assigned. A layer whose config left its vocabulary to assets and that
// has none stays empty, as in Keras, with a warning.
void load_assets(const Contents& c, Model& model) {
  for (const auto& [path, layer] : object_paths(model)) {
    auto* assets = dynamic_cast<AssetsLayer*>(const_cast<Layer*>(layer));
    if (assets == nullptr) continue;
    auto frame = ErrorContext::push("reading the assets of layer '", layer->name(), "' (", kAssets, "/", path, ")");
    AssetFiles files = c.assets(path);
    if (files.empty()) {
      if (assets->needs_assets()) {
        log_warning(c.where(), ": layer '", layer->name(), "' (", layer->class_name(), ") has no vocabulary in its "
                    "config and none in ", kAssets, "/", path, "/; it is left empty, as Keras leaves it");
      }
      continue;
    }
    assets->load_assets(files);
  }
}

// The assets of every layer that has some, as archive-relative names ("assets/<path>/<file>").
std::vector<std::pair<std::string, std::string>> collect_assets(const Model& model) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [path, layer] : object_paths(model)) {
    const auto* assets = dynamic_cast<const AssetsLayer*>(layer);
    if (assets == nullptr) continue;
    for (auto& [name, bytes] : assets->save_assets()) {
      STRATA_CHECK(is_safe_asset_name(name), ValueError, "layer '", layer->name(), "' names an asset '", name,
                   "' that would leave its asset directory");
      out.emplace_back(std::string(kAssets) + "/" + (path.empty() ? "" : path + "/") + name, std::move(bytes));
    }
  }
  return out;
}

// config.json, checked: an object with a class and a config, no Python code.
Config read_model_config(const Contents& c) {
  STRATA_CHECK(c.size(kConfig).has_value(), FormatError, c.where(), " has no ", kConfig,
               ": it is a zip archive but not a Keras 3 model");
  Config config = read_json_member(c, kConfig);
  STRATA_CHECK(config.is_object() && config.contains("class_name") && config.contains("config"), FormatError,
               c.where(), ": ", kConfig, " must be an object with 'class_name' and 'config'");
  refuse_code(config, c.where());
  return config;
}

// The model of `config`, built, its assets loaded and compiled from compile_config when
// options.compile. The weights file holds every weight of the model (float16 at the smallest,
// read into at most float64: 4x), so a config asking for more than 4x its `weights_bytes`
// is refused before allocating.
std::shared_ptr<Model> build_model(const Contents& c, const Config& config, std::uint64_t weights_bytes,
                                   const LoadOptions& options) {
  const std::uint64_t budget_bytes = 4 * weights_bytes + (std::uint64_t{16} << 20);
  std::shared_ptr<Model> model;
  {
    WeightBudget budget(budget_bytes, "the config.json of " + c.where());
    model = model_from_config(config, options.custom_objects);
    build_from_build_config(*model, config, c.where());
  }
  load_assets(c, *model);
  if (options.compile) compile_from(*model, config.value("compile_config", Config()), c.where());
  return model;
}

std::shared_ptr<Model> load_from(const Contents& c, const LoadOptions& options) {
  auto frame = ErrorContext::push("reading the Keras archive ", c.where());
  const Config config = read_model_config(c);
  const std::string weights = read_weights_member(c);
  h5::Session session;
  const h5::File file = h5::File::open_image(weights, c.label() + "/" + kWeightsH5);
  const std::shared_ptr<Model> model = build_model(c, config, weights.size(), options);
  LoadStatus status = read_weights(file, *model, options, options.compile);
  status.assert_model_weights_restored(*model, options.allow_partial_checkpoint);
  return model;
}

// The model of config.json, built (its weights initialised as a new model's, or only
// reserved under SkipWeightInitializers) and compiled from compile_config with
// options.compile (no optimizer state): model.weights.h5 is not read, only its size, which
// bounds what the config may allocate as in load_from.
std::shared_ptr<Model> architecture_from(const Contents& c, const LoadOptions& options) {
  auto frame = ErrorContext::push("reading the architecture of the Keras archive ", c.where());
  const Config config = read_model_config(c);
  return build_model(c, config, c.size(kWeightsH5).value_or(0), options);
}

}  // namespace

bool is_archive(const fs::path& path) {
  try {
    if (is_archive_directory(path)) return true;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec) || !starts_with_zip_magic(path)) return false;
    const ZipReader zip = ZipReader::open(path);
    return zip.find(kConfig) != nullptr || zip.find(kWeightsH5) != nullptr;
  } catch (...) {
    return false;
  }
}

void refuse_code(const Config& config, const std::string& where) {
  if (config.is_array()) {
    for (const auto& v : config) refuse_code(v, where);
    return;
  }
  if (!config.is_object()) return;
  const Config cls = config.value("class_name", Config());
  if (cls == "__lambda__" || cls == "Lambda") {
    const Config inner = config.value("config", Config());
    const std::string name = inner.is_object() && inner.value("name", Config()).is_string()
                                 ? inner["name"].get<std::string>()
                                 : std::string("?");
    STRATA_THROW(FormatError, where, ": ",
                 cls == "Lambda" ? detail::concat("layer '", name, "' is a Lambda layer, whose function is")
                                 : std::string("the config holds a Python lambda, which is"),
                 " Python bytecode. Loading never runs code (as Keras 3's load_model with its default "
                 "safe_mode=True): replace the Lambda with a registered layer (a plugin provides custom layers by "
                 "class name) and save the model again");
  }
  for (auto it = config.begin(); it != config.end(); ++it) refuse_code(*it, where);
}

void save_archive(const Model& model, const fs::path& path, const SaveOptions& options, bool zipped) {
  auto frame = ErrorContext::push("saving model '", model.name(), "' as the Keras archive '", path.string(), "'");
  const std::string config = to_python_json(keras3_model_config(model));
  Config metadata = Config::object();
  metadata["keras_version"] = kKeras3Version;
  metadata["date_saved"] = now_keras_date();
  metadata["strata_version"] = STRATA_VERSION_STRING;
  const std::string meta = to_python_json(metadata);
  h5::Session session;
  const h5::Image weights = weights_image(model, options.include_optimizer, path.string() + "/" + kWeightsH5);
  const auto pieces = weights.pieces();
  const auto assets = collect_assets(model);
  if (!zipped) {
    strata::write_directory_atomically(
        path,
        [&](const fs::path& tmp) {
          FileSystem& files = file_system();
          files.write_file(tmp / kMetadata, meta);
          files.write_file(tmp / kConfig, config);
          write_file_pieces(tmp / kWeightsH5, pieces);
          for (const auto& [name, bytes] : assets) {
            files.create_directories((tmp / name).parent_path());
            files.write_file(tmp / name, bytes);
          }
        },
        options.overwrite, "Keras model directory");
    return;
  }
  ZipWriter zip(path.string());
  zip.add(kMetadata, {meta});
  zip.add(kConfig, {config});
  zip.add(kWeightsH5, std::vector<std::string_view>(pieces.begin(), pieces.end()), true);
  for (const auto& [name, bytes] : assets) zip.add(name, {bytes}, true);
  strata::write_file_atomically(path, zip.finish(), options.overwrite);
}

std::shared_ptr<Model> load_archive(const fs::path& path, const LoadOptions& options) {
  return load_from(open_contents(path), options);
}

std::shared_ptr<Model> load_archive_bytes(std::string_view bytes, const std::string& label, const LoadOptions& options) {
  return load_from(Contents(ZipReader::open_memory(bytes, label)), options);
}

std::shared_ptr<Model> load_archive_architecture(const fs::path& path, const LoadOptions& options) {
  return architecture_from(open_contents(path), options);
}

LoadStatus load_archive_weights(Model& model, const fs::path& path, const LoadOptions& options) {
  const Contents c = open_contents(path);
  auto frame = ErrorContext::push("reading the weights of the Keras archive ", c.where());
  const std::string weights = read_weights_member(c);
  h5::Session session;
  const h5::File file = h5::File::open_image(weights, c.label() + "/" + kWeightsH5);
  return read_weights(file, model, options, true);
}

std::string describe_archive(const fs::path& path) {
  const Contents c = open_contents(path);
  std::string out = "format: keras (Keras 3 archive";
  out += is_archive_directory(path) ? ", unzipped directory)\n" : ")\n";
  if (c.size(kMetadata)) {
    const Config meta = read_json_member(c, kMetadata);
    if (meta.is_object()) {
      for (const char* key : {"keras_version", "date_saved", "strata_version"}) {
        if (meta.contains(key) && meta[key].is_string()) out += detail::concat(key, ": ", meta[key].get<std::string>(), "\n");
      }
    }
  }
  out += "members:";
  for (const auto& name : c.names()) out += " " + name;
  out += "\n";
  if (c.size(kConfig)) {
    const Config config = read_json_member(c, kConfig);
    if (config.is_object() && config.value("class_name", Config()).is_string()) {
      out += "model class: " + config["class_name"].get<std::string>() + "\n";
    }
  }
  // The weights file's objects when it is small; a larger one only by its size, so that
  // `strata info` of a big model reads its config, not its weights (issue 22).
  if (const auto size = c.size(kWeightsH5); size && *size > kMaxDescribedWeightsBytes) {
    out += detail::concat(kWeightsH5, ": ", *size, " bytes (its objects are not listed above ",
                          kMaxDescribedWeightsBytes, " bytes: the weights are not read)\n");
  } else if (size) {
    const std::string weights = read_weights_member(c);
    h5::Session session;
    const h5::File file = h5::File::open_image(weights, c.label() + "/" + kWeightsH5);
    out += describe_weights(file);
  }
  return out;
}

}  // namespace strata::keras
