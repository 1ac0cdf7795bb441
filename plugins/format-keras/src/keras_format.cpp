// The "keras" format (strata/format.hpp) over the archive and weights code of this plugin.
#include "keras_format.hpp"

#include <cctype>
#include <cstring>
#include <fstream>

#include "h5_file.hpp"
#include "keras3_weights.hpp"
#include "keras_archive.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"

namespace {

namespace fs = std::filesystem;

// HDF5's signature at offset 0, where h5py (Keras) writes it.
bool is_hdf5(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char sig[8] = {};
  return in.read(sig, sizeof sig) && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// LoadOptions::objects_to_skip applies to weights files only (Keras 3's load_weights refuses
// it for `.keras` archives too).
void refuse_objects_to_skip(const fs::path& path, const strata::LoadOptions& options, const char* what) {
  STRATA_CHECK(options.objects_to_skip.empty(), ValueError, "LoadOptions::objects_to_skip ('",
               options.objects_to_skip.front(),
               "', ...) applies to Keras 3 weights files (.weights.h5, .weights.json), not to ", what, " ('",
               path.string(), "')");
}

class KerasFormat final : public strata::Format {
 public:
  std::string name() const override { return "keras"; }
  // Keras 3: model.save("m.keras") writes the archive; save_weights takes ".weights.h5"
  // (one HDF5 file) or ".weights.json" (the sharded form's manifest).
  std::vector<std::string> model_extensions() const override { return {".keras"}; }
  std::vector<std::string> weights_extensions() const override { return {".weights.h5", ".weights.json"}; }
  unsigned capabilities() const override {
    return strata::kSaveModel | strata::kLoadModel | strata::kSaveWeights | strata::kLoadWeights |
           strata::kLoadArchitecture;
  }

  // An archive (zip or directory), a sharded weights manifest, or an HDF5 file in Keras 3's
  // weights layout.
  bool sniff(const fs::path& path) const override {
    try {
      if (strata::keras::is_archive(path)) return true;
      const std::string name = lower(path.filename().string());
      if (ends_with(name, ".weights.json")) return fs::is_regular_file(path);
      if (!is_hdf5(path)) return false;
      strata::h5::Session session;
      return strata::keras::has_keras3_layout(strata::h5::File::open(path));
    } catch (...) {
      return false;
    }
  }

  void save_model(const strata::Model& model, const fs::path& path, const strata::SaveOptions& options) const override {
    // As Keras 3: a ".keras" path is the zip archive; any other path (given with the format
    // named explicitly) is the unzipped form, a directory (Keras's zipped=False).
    strata::keras::save_archive(model, path, options, ends_with(lower(path.filename().string()), ".keras"));
  }

  std::shared_ptr<strata::Model> load_model(const fs::path& path, const strata::LoadOptions& options) const override {
    refuse_objects_to_skip(path, options, "load_model");
    if (!strata::keras::is_archive(path) && is_hdf5(path)) {
      STRATA_THROW(FormatError, "'", path.string(),
                   "' is a Keras 3 weights file (HDF5), not a model: load it with load_weights into a model built "
                   "from its architecture");
    }
    return strata::keras::load_archive(path, options);
  }

  // The model of an archive's config.json, its weights not read (initialised as a new
  // model's); compiled (no optimizer state) with options.compile.
  std::shared_ptr<strata::Model> load_architecture(const fs::path& path,
                                                   const strata::LoadOptions& options) const override {
    if (!strata::keras::is_archive(path) && is_hdf5(path)) {
      STRATA_THROW(FormatError, "'", path.string(),
                   "' is a Keras 3 weights file (HDF5), not a model: it holds no architecture");
    }
    return strata::keras::load_archive_architecture(path, options);
  }

  void save_weights(const strata::Model& model, const fs::path& path,
                    const strata::SaveOptions& options) const override {
    strata::keras::save_weights_file(model, path, options);
  }

  strata::LoadStatus load_weights(strata::Model& model, const fs::path& path,
                                  const strata::LoadOptions& options) const override {
    if (strata::keras::is_archive(path)) {
      refuse_objects_to_skip(path, options, "load_weights from a .keras archive");
      return strata::keras::load_archive_weights(model, path, options);
    }
    return strata::keras::load_weights_file(model, path, options);
  }

  std::string describe(const fs::path& path) const override {
    if (strata::keras::is_archive(path)) return strata::keras::describe_archive(path);
    return "format: keras (Keras 3 weights file)\n" + strata::keras::describe_weights_file(path);
  }
};

}  // namespace

namespace strata::keras {
std::shared_ptr<Format> make_format() { return std::make_shared<KerasFormat>(); }
}  // namespace strata::keras
