// The "h5" format: Keras's legacy HDF5 files (tf-keras 2.17 layout, FORMATS.md §1) —
// whole models (config, weights, training config, optimizer state) and weights only.
// Saves build the file as an in-memory HDF5 image and write it through the file-system
// seam (write_file_atomically: temporary sibling, fsync, rename), so a failed or
// interrupted save leaves the previous file intact.
#include <array>
#include <cstring>
#include <fstream>

#include "h5_file.hpp"
#include "h5_format.hpp"
#include "h5_model.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/model.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using strata::FormatError;

constexpr std::array<unsigned char, 8> kSignature = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
// HDF5 looks for its superblock at 0, 512, 1024, 2048, ... (a user block before it).
constexpr std::uint64_t kMaxSignatureOffset = std::uint64_t{1} << 20;

enum class Kind { kHdf5, kZip, kEmpty, kOther, kUnreadable };

Kind peek(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Kind::kUnreadable;
  const auto size = fs::file_size(path, ec);
  if (ec) return Kind::kUnreadable;
  if (size == 0) return Kind::kEmpty;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Kind::kUnreadable;
  for (std::uint64_t off = 0; off + kSignature.size() <= size && off <= kMaxSignatureOffset; off = off ? off * 2 : 512) {
    char buf[8] = {};
    in.seekg(static_cast<std::streamoff>(off));
    in.read(buf, sizeof buf);
    if (in.gcount() != sizeof buf) break;
    if (std::memcmp(buf, kSignature.data(), kSignature.size()) == 0) return Kind::kHdf5;
    if (off == 0 && std::memcmp(buf, "PK\x03\x04", 4) == 0) return Kind::kZip;
  }
  return Kind::kOther;
}

strata::h5::File open_for_reading(const fs::path& path) {
  const Kind kind = peek(path);
  STRATA_CHECK(kind != Kind::kEmpty, FormatError, "'", path.string(), "' is empty (0 bytes): not an H5 file");
  STRATA_CHECK(kind != Kind::kZip, FormatError, "'", path.string(),
               "' is a zip archive (the Keras 3 '.keras' format), not an HDF5 file: format 'keras' (plugin "
               "format-keras) reads it");
  STRATA_CHECK(kind != Kind::kOther, FormatError, "'", path.string(),
               "' is not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)");
  return strata::h5::File::open(path);
}

class H5Format final : public strata::Format {
 public:
  std::string name() const override { return "h5"; }
  // Keras saves legacy H5 under .h5 and .hdf5, for models and weights alike. ".keras" was H5
  // in Keras 2.x up to 2.12; since tf-keras 2.13 and in Keras 3 it is the zip archive, which
  // format-keras claims. An H5 file named ".keras" is still read: loads go by content first.
  std::vector<std::string> model_extensions() const override { return {".h5", ".hdf5"}; }
  std::vector<std::string> weights_extensions() const override { return {".h5", ".hdf5"}; }
  unsigned capabilities() const override {
    return strata::kSaveModel | strata::kLoadModel | strata::kSaveWeights | strata::kLoadWeights |
           strata::kLoadArchitecture;
  }

  bool sniff(const fs::path& path) const override {
    try {
      return peek(path) == Kind::kHdf5;
    } catch (...) {
      return false;
    }
  }

  void save_model(const strata::Model& model, const fs::path& path, const strata::SaveOptions& options) const override {
    const strata::h5::Image image = strata::h5::model_image(model, options, path.string());
    strata::write_file_atomically(path, image.pieces(), options.overwrite);
  }

  std::shared_ptr<strata::Model> load_model(const fs::path& path, const strata::LoadOptions& options) const override {
    auto frame = strata::ErrorContext::push("reading the H5 model '", path.string(), "'");
    strata::h5::Session session;
    const strata::h5::File file = open_for_reading(path);
    return strata::h5::read_model(file, options);
  }

  // The model of a whole-model file, its weights not read (initialised as a new model's);
  // compiled (no optimizer state) with options.compile.
  std::shared_ptr<strata::Model> load_architecture(const fs::path& path,
                                                   const strata::LoadOptions& options) const override {
    auto frame = strata::ErrorContext::push("reading the architecture of the H5 model '", path.string(), "'");
    strata::h5::Session session;
    const strata::h5::File file = open_for_reading(path);
    return strata::h5::read_architecture(file, options);
  }

  void save_weights(const strata::Model& model, const fs::path& path,
                    const strata::SaveOptions& options) const override {
    const strata::h5::Image image = strata::h5::weights_image(model, path.string());
    strata::write_file_atomically(path, image.pieces(), options.overwrite);
  }

  strata::LoadStatus load_weights(strata::Model& model, const fs::path& path,
                                  const strata::LoadOptions& options) const override {
    auto frame = strata::ErrorContext::push("reading H5 weights from '", path.string(), "'");
    strata::h5::Session session;
    const strata::h5::File file = open_for_reading(path);
    return strata::h5::read_weights(file, model, options);
  }

  std::string describe(const fs::path& path) const override {
    strata::h5::Session session;
    const strata::h5::File file = open_for_reading(path);
    return strata::h5::describe_file(file);
  }
};

}  // namespace

namespace strata::h5 {
std::shared_ptr<Format> make_format() { return std::make_shared<H5Format>(); }
}  // namespace strata::h5
