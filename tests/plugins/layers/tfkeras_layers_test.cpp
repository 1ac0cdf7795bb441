// The layer harness (issue 23): every model of every layer family in
// tests/interop/layer_models/<family>.py through every format, both ways, against real
// tf-keras and Keras 3 (label interop; skips without the venv).
//
// tests/interop/generate_tfkeras_layers.py builds each family's models with tf-keras at test
// time (cached under ~/.cache/strata/tfkeras-layers/<family>-...). For each model Strata must
//   - load tf-keras's H5 and SavedModel and predict tf-keras's outputs;
//   - rebuild the model from model.to_json(), take tf-keras's weights, predict the same on every
//     device with kernels (ref, cpu) and give the gradients of sum(y²)/2 w.r.t. the trainable
//     weights that tf.GradientTape gave (models whose `grad` is true);
//   - load Keras 3's `.keras` archive of the same builder's model and predict Keras 3's outputs;
//   - save H5, SavedModel and `.keras`, which tf-keras (H5, SavedModel) and Keras 3 (`.keras`)
//     load and predict tf-keras's outputs with (tests/interop/layers_load_in_keras.py).
// STRATA_LAYER_FAMILIES=a,b limits the run to those families.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "strata/format.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

namespace fs = std::filesystem;

const fs::path kModels = fs::path(STRATA_SOURCE_DIR) / "tests/interop/layer_models";
const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_tfkeras_layers.py";
const fs::path kChecker = fs::path(STRATA_SOURCE_DIR) / "tests/interop/layers_load_in_keras.py";

// The families: one per module in tests/interop/layer_models (listed, not run, at start-up).
std::vector<std::string> families() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kModels, ec)) {
    if (e.path().extension() == ".py" && e.path().stem().string()[0] != '_') out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool selected(const std::string& family) {
  const char* only = std::getenv("STRATA_LAYER_FAMILIES");
  if (only == nullptr || *only == '\0') return true;
  std::stringstream list(only);
  for (std::string f; std::getline(list, f, ',');) {
    if (f == family) return true;
  }
  return false;
}

bool has_format(const char* name) {
  return Registry::global().contains(ObjectKind::kFormat, name);
}

Device usable_device() {
  return Device(skip_reason("cpu:0").empty() ? "cpu:0" : "ref:0");
}

// "" when `got` equals `want`: strings exactly, numbers within atol (+1e-5 relative).
std::string differs(const Tensor& got_any, const Tensor& want, double atol) {
  const Tensor got = got_any.to(Device::cpu());
  if (got.shape().to_string() != want.shape().to_string()) {
    return "shape " + got.shape().to_string() + ", want " + want.shape().to_string();
  }
  if (want.dtype() == DType::kString || got.dtype() == DType::kString) {
    if (want.dtype() != got.dtype()) return "dtype " + std::string(dtype_name(got.dtype())) + ", want string";
    const auto g = got.strings(), w = want.strings();
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (g[i] != w[i]) return "[" + std::to_string(i) + "] \"" + g[i] + "\", want \"" + w[i] + "\"";
    }
    return "";
  }
  return mismatch(values(got), values(want), 1e-5, atol);
}

class TfKerasLayers : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) {
      GTEST_SKIP() << "no interop venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
    }
    if (!selected(GetParam())) GTEST_SKIP() << "not in STRATA_LAYER_FAMILIES";
    const fs::path module = kModels / (GetParam() + ".py");
    const char* home = std::getenv("HOME");
    // The cache directory changes with the generator, the family's module and tf-keras.
    dir_ = fs::path(home ? home : "/root") / ".cache/strata/tfkeras-layers" /
           (GetParam() + "-" +
            std::to_string(std::hash<std::string>{}(test::read_text(kGenerator) + test::read_text(module))) +
            "-tf_keras-" + test::venv_tf_keras_version());
    std::string out;
    ASSERT_EQ(test::generate_with_script(dir_, "index.json", kGenerator, "--family " + GetParam() + " --out", out), 0)
        << out;
    index_ = Config::parse(test::read_text(dir_ / "index.json"));
  }

  static std::vector<Tensor> read_all(const fs::path& dir, const char* prefix, std::size_t n,
                                      const Device& device = Device::cpu()) {
    std::vector<Tensor> out;
    for (std::size_t i = 0; i < n; ++i) {
      Tensor t = read_npy(dir / (prefix + std::to_string(i) + ".npy"));
      out.push_back(t.dtype() == DType::kString ? t : t.to(device));
    }
    return out;
  }

  static void expect_predicts(const Model& model, const std::vector<Tensor>& xs, const std::vector<Tensor>& want,
                              double atol, const std::string& what) {
    const auto got = model.predict(xs);
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t o = 0; o < want.size(); ++o) {
      EXPECT_EQ(differs(got[o], want[o], atol), "") << what << ", output " << o;
    }
  }

  fs::path dir_;
  Config index_;
};

TEST_P(TfKerasLayers, EveryFormatBothWays) {
  const fs::path back =
      fs::temp_directory_path() / ("strata-tfkeras-layers-" + GetParam() + "-" + std::to_string(::getpid()));
  fs::remove_all(back);
  Config manifest = Config::object();
  manifest["models"] = Config::object();
  ASSERT_FALSE(index_["models"].empty()) << GetParam() << ": no models";

  for (const auto& [name, entry] : index_["models"].items()) {
    SCOPED_TRACE(name);
    const fs::path d = dir_ / name;
    const auto n_in = entry["inputs"].get<std::size_t>();
    const auto n_out = entry["outputs"].get<std::size_t>();
    const double atol = entry["atol"].get<double>();
    const auto want = read_all(d, "y", n_out);

    // tf-keras -> Strata: JSON + weights on every device, with gradients.
    for (const std::string& device_name : test_devices()) {
      if (!skip_reason(device_name).empty()) continue;
      SCOPED_TRACE(device_name);
      const Device device(device_name);
      DeviceScope scope(device);
      clear_session();
      std::shared_ptr<Model> model;
      try {
        model = model_from_json(test::read_text(d / "model.json"));
      } catch (const Error& e) {
        ADD_FAILURE() << "model.to_json() of tf-keras: " << e.what();
        break;
      }
      const auto n_weights = entry["weights"].get<std::size_t>();
      ASSERT_EQ(model->weights().size(), n_weights);
      for (std::size_t i = 0; i < n_weights; ++i) {
        std::string keras_name = entry["weight_names"][i].get<std::string>();
        if (keras_name.size() > 2 && keras_name.compare(keras_name.size() - 2, 2, ":0") == 0)
          keras_name.resize(keras_name.size() - 2);
        EXPECT_EQ(model->weights()[i].name(), keras_name) << "weight " << i;
      }
      model->set_weights(read_all(d, "w", n_weights, device));
      const auto xs = read_all(d, "x", n_in, device);
      expect_predicts(*model, xs, want, atol, "from model.to_json()");
      if (!entry["grad"].get<bool>()) continue;
      const auto trainable = model->trainable_weights();
      ASSERT_EQ(trainable.size(), entry["trainable"].get<std::size_t>());
      GradientTape tape;
      std::vector<Tensor> terms;
      for (const auto& y : (*model)(xs)) {
        if (is_floating(y.dtype())) terms.push_back(sum(square(y)) * 0.5);
      }
      ASSERT_FALSE(terms.empty());
      const Tensor loss = terms.size() == 1 ? terms[0] : add_n(terms);
      const auto grads = tape.gradient(loss, trainable);
      const auto want_grads = read_all(d, "g", trainable.size());
      for (std::size_t i = 0; i < trainable.size(); ++i) {
        const Tensor g = grads[i].defined() ? grads[i] : zeros_like(trainable[i].value());
        EXPECT_EQ(mismatch(values(g.to(Device::cpu())), values(want_grads[i]), 1e-4, 1e-4), "")
            << "gradient of " << trainable[i].name();
      }
    }

    DeviceScope scope(usable_device());
    const auto xs = read_all(d, "x", n_in, usable_device());
    std::shared_ptr<Model> loaded;
    if (has_format("h5")) {
      try {
        loaded = load_model(d / "model.h5");
        expect_predicts(*loaded, xs, want, atol, "tf-keras's H5");
      } catch (const Error& e) {
        ADD_FAILURE() << "tf-keras's H5: " << e.what();
      }
    }
    if (has_format("savedmodel")) {
      try {
        const auto m = load_model(d / "savedmodel");
        expect_predicts(*m, xs, want, atol, "tf-keras's SavedModel");
        if (!loaded) loaded = m;
      } catch (const Error& e) {
        ADD_FAILURE() << "tf-keras's SavedModel: " << e.what();
      }
    }
    if (entry["keras3"].get<bool>() && has_format("keras")) {
      if (entry.contains("keras3_error")) {
        ADD_FAILURE() << "Keras 3 could not build or save the model: " << entry["keras3_error"].get<std::string>();
      } else {
        try {
          const auto m = load_model(d / "keras3" / "model.keras");
          expect_predicts(*m, read_all(d / "keras3", "x", n_in, usable_device()), read_all(d / "keras3", "y", n_out),
                          atol, "Keras 3's .keras archive");
        } catch (const Error& e) {
          ADD_FAILURE() << "Keras 3's .keras archive: " << e.what();
        }
      }
    }
    if (!loaded) continue;

    // Strata -> tf-keras / Keras 3.
    const fs::path out = back / name;
    fs::create_directories(out);
    for (std::size_t i = 0; i < n_in; ++i)
      fs::copy_file(d / ("x" + std::to_string(i) + ".npy"), out / ("x" + std::to_string(i) + ".npy"));
    for (std::size_t i = 0; i < n_out; ++i)
      fs::copy_file(d / ("y" + std::to_string(i) + ".npy"), out / ("y" + std::to_string(i) + ".npy"));
    Config files = Config::object();
    const std::vector<std::pair<std::string, std::string>> saves = {
        {"h5", "strata.h5"}, {"savedmodel", "strata_savedmodel"}, {"keras", "strata.keras"}};
    for (const auto& [format, file] : saves) {
      if (!has_format(format.c_str())) continue;
      if (format == "keras" && !entry["keras3"].get<bool>()) continue;  // Keras 3 lacks the class
      try {
        SaveOptions options;
        options.format = format;
        save_model(*loaded, out / file, options);
        files[format] = (out / file).string();
      } catch (const Error& e) {
        ADD_FAILURE() << "saving " << format << ": " << e.what();
      }
    }
    manifest["models"][name] = Config{{"inputs", n_in}, {"outputs", n_out}, {"atol", atol}, {"files", files}};
  }

  if (manifest["models"].empty()) return;
  {
    std::ofstream f(back / "manifest.json");
    f << manifest.dump(1);
  }
  std::string output;
  ASSERT_EQ(test::run_capturing(
                "'" + test::venv_python().string() + "' '" + kChecker.string() + "' '" + back.string() + "'", output),
            0)
      << output;
  const Config results = Config::parse(test::read_text(back / "results.json"));
  for (const auto& [name, entry] : manifest["models"].items()) {
    for (const auto& [format, path] : entry["files"].items()) {
      const Config r = results.value(name, Config::object()).value(format, Config::object());
      EXPECT_TRUE(r.value("ok", false)) << name << ": Strata's " << format << " in "
                                        << (format == "keras" ? "Keras 3" : "tf-keras") << ": "
                                        << r.value("detail", std::string("not checked"));
    }
  }
  if (!HasFailure()) fs::remove_all(back);
}

INSTANTIATE_TEST_SUITE_P(Families, TfKerasLayers, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TfKerasLayers);

}  // namespace
}  // namespace strata::layer_tests
