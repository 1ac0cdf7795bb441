// The `.keras` archive as a whole (plugins/format-keras/src/keras_archive.hpp), without Keras:
// archives made with ZipWriter from configs written here. Keras 3's own archives are checked
// in tests/interop/keras3_archive_test.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "keras_archive.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"
#include "zip_archive.hpp"

namespace strata::keras {
namespace {

const char* kMetadata = R"({"keras_version": "3.15.1", "date_saved": "2026-12-05@00:00:00"})";

// An archive of metadata.json, config.json and (when given) model.weights.h5.
std::string archive(const std::string& config, const std::string& weights = "\x89HDF\r\n\x1a\n") {
  ZipWriter zip("test.keras");
  zip.add("metadata.json", {kMetadata});
  zip.add("config.json", {config});
  if (!weights.empty()) zip.add("model.weights.h5", {weights});
  return zip.finish();
}

std::string load_error(const std::string& bytes) {
  try {
    (void)load_archive_bytes(bytes, "test.keras", LoadOptions{});
  } catch (const FormatError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no FormatError";
  return {};
}

// Keras 3's Lambda layer as Keras 3 serializes it: its function is Python bytecode.
const char* kLambdaModel = R"({"module": "keras", "class_name": "Sequential", "registered_name": null,
  "config": {"name": "sequential", "layers": [
    {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
     "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "input_layer"}},
    {"module": "keras.layers", "class_name": "Lambda", "registered_name": null,
     "config": {"name": "double", "function": {"class_name": "__lambda__",
                "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7pAgAAAKkA", "defaults": null,
                           "closure": null}}}}]}})";

TEST(KerasArchive, ALambdaLayerIsRefusedAsPythonBytecodeBeforeAnythingIsBuilt) {
  initialize();
  const std::string what = load_error(archive(kLambdaModel));
  EXPECT_NE(what.find("layer 'double' is a Lambda layer"), std::string::npos) << what;
  EXPECT_NE(what.find("Python bytecode"), std::string::npos) << what;
  EXPECT_NE(what.find("safe_mode"), std::string::npos) << what;
  EXPECT_NE(what.find("test.keras"), std::string::npos) << what;
}

TEST(KerasArchive, APythonLambdaAnywhereInTheConfigIsRefused) {
  initialize();
  // A lambda as a layer's activation (what Keras 3 writes for activation=lambda x: ...).
  const std::string config = R"({"module": "keras", "class_name": "Sequential", "registered_name": null,
    "config": {"name": "s", "layers": [{"module": "keras.layers", "class_name": "Dense", "registered_name": null,
      "config": {"name": "d", "units": 2, "activation": {"class_name": "__lambda__", "config": {"code": "AA=="}}}}]}})";
  const std::string what = load_error(archive(config));
  EXPECT_NE(what.find("Python lambda"), std::string::npos) << what;
}

TEST(KerasArchive, AnArchiveWithoutItsConfigOrWeightsSaysWhatIsMissing) {
  initialize();
  ZipWriter zip("test.keras");
  zip.add("metadata.json", {kMetadata});
  zip.add("model.weights.h5", {"x"});
  EXPECT_NE(load_error(zip.finish()).find("has no config.json"), std::string::npos);
  const std::string config = R"({"module": "keras", "class_name": "Sequential", "registered_name": null,
    "config": {"name": "s", "layers": []}})";
  EXPECT_NE(load_error(archive(config, "")).find("has no model.weights.h5"), std::string::npos);
  ZipWriter npz("test.keras");
  npz.add("config.json", {config});
  npz.add("model.weights.npz", {"PK"});
  EXPECT_NE(load_error(npz.finish()).find("model.weights.npz"), std::string::npos);
}

TEST(KerasArchive, AConfigThatIsNoModelObjectIsAFormatError) {
  initialize();
  for (const std::string config : {"[]", "{\"class_name\": \"Sequential\"}", "not json"}) {
    const std::string what = load_error(archive(config));
    EXPECT_NE(what.find("config.json"), std::string::npos) << config << ": " << what;
  }
}

// Keras 2.x up to 2.12 wrote HDF5 under ".keras": such a file loads by its content (format h5),
// while saving to ".keras" writes Keras 3's zip archive (format keras).
TEST(KerasExtension, AnHdf5FileNamedKerasLoadsAndSavingToKerasWritesTheArchive) {
  initialize();
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("strata-keras-ext-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto model = model_from_json(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "name": "in"}},
    {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "tanh"}}]}})");
  const Tensor x = Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}, Shape{2, 3});
  const std::vector<float> expected = model->predict(x).to_vector<float>();

  save_model_hdf5(*model, dir / "legacy.keras");
  EXPECT_EQ(format_for_loading(dir / "legacy.keras", "", false)->name(), "h5");
  EXPECT_EQ(load_model(dir / "legacy.keras")->predict(x).to_vector<float>(), expected);

  save_model(*model, dir / "new.keras");
  std::ifstream in(dir / "new.keras", std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  EXPECT_EQ(std::string(magic, 4), std::string("PK\x03\x04", 4)) << "not a zip archive";
  EXPECT_EQ(format_for_loading(dir / "new.keras", "", false)->name(), "keras");
  EXPECT_EQ(load_model(dir / "new.keras")->predict(x).to_vector<float>(), expected);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace strata::keras
