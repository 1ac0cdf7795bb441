// The `.keras` archives Strata writes (config.json in Keras 3's dialect, Keras 3's weights
// layout) load in real Keras 3 and compute what Strata computes: every model of the tf-keras
// fixture set (tests/data/keras: about a hundred models over every layer kind Strata reads) is
// built by Strata from tf-keras's config, given the fixture's weights and saved as model.keras
// with its inputs and Strata's predictions; one Keras 3 process
// (tests/interop/keras3_config_check.py) loads each archive with keras.saving.load_model and
// predicts. Needs the interop venv (skips without it).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "interop_venv.hpp"
#include "npy.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtureDir = STRATA_KERAS_FIXTURE_DIR;

Config read_json_file(const fs::path& path) { return parse_python_json(test::read_text(path), path.string()); }

std::vector<Tensor> read_arrays(const Config& list) {
  std::vector<Tensor> out;
  for (const auto& item : list) out.push_back(testing::read_npy(kFixtureDir / item.at("file").get<std::string>()));
  return out;
}

// Fixture models whose archives Keras 3 does not load or computes differently, with the reason
// (docs/FORMATS.md, "What Keras 3 does not load"). Each is a class or behaviour Keras 3 lacks;
// Strata reloads all of them (the format kit and killed-saves tests, and
// interop.strata_keras3_archive_tests, cover Strata's own round trip).
const std::map<std::string, std::string>& known_differences() {
  static const std::map<std::string, std::string> known = {
      {"activation_layers", "ThresholdedReLU: removed in Keras 3"},
      {"activations", "tf-keras's hard_sigmoid: Keras 3's is another function (written under a Strata name)"},
      {"lstm_activations", "tf-keras's hard_sigmoid as the recurrent activation (as above)"},
      {"convnext_block", "LayerScale and StochasticDepth: tf-keras's private application classes"},
      {"inception_resnet_scale", "CustomScaleLayer: a custom class Keras 3 needs registered"},
      {"tf_op_lambda_math", "TFOpLambda: tf-keras only"},
      {"tf_op_lambda_resize", "TFOpLambda: tf-keras only"},
      {"tf_op_lambda_shapes", "TFOpLambda, SlicingOpLambda: tf-keras only"},
      {"resize_unknown_size", "TFOpLambda: tf-keras only"},
      {"mha_called_twice", "Keras 3 cannot rebuild a shared MultiHeadAttention whose second call returns scores"},
      {"mha_keras_masks", "Keras 3's MultiHeadAttention applies the inputs' Keras masks differently"},
      {"time_distributed_masked", "Keras 3 hands TimeDistributed's per-feature mask to the LSTM after it"},
      {"rnn_nested_initial_states", "Keras 3's LSTMCell takes no nested initial-state structure"},
  };
  return known;
}

// Models Strata refuses to write as Keras 3 archives, with the reason (ValueError naming the
// layer; they save as H5 or SavedModel).
const std::map<std::string, std::string>& known_refusals() {
  static const std::map<std::string, std::string> known = {
      {"conv3d_transpose", "Conv3DTranspose with groups"},
      {"separable_conv_1d", "SeparableConv1D with causal padding"},
  };
  return known;
}

TEST(Keras3ConfigWrite, EveryFixtureModelLoadsInKeras3AndPredictsWhatStrataPredicts) {
  const fs::path python = test::venv_python();
  if (!fs::exists(python)) GTEST_SKIP() << "no interop venv at " << python;
  initialize();
  const fs::path dir = fs::temp_directory_path() / ("strata-keras3-config-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  const Config index = read_json_file(kFixtureDir / "index.json");
  std::map<std::string, std::string> refused;  // case -> why Strata would not write it
  std::size_t written = 0;
  for (const auto& entry : index.at("models")) {
    const std::string name = entry.at("name").get<std::string>();
    if (entry.at("inputs").empty() || entry.at("outputs").empty()) continue;
    std::shared_ptr<Model> model;
    try {
      model = model_from_config(read_json_file(kFixtureDir / entry.at("config").get<std::string>()));
    } catch (const Error& e) {
      continue;  // models Strata does not read are the tf-keras fixture tests' business
    }
    std::vector<Tensor> weights = read_arrays(entry.at("weights"));
    if (weights.size() != model->weights().size()) continue;
    model->set_weights(weights);
    const std::vector<Tensor> xs = read_arrays(entry.at("inputs"));
    std::vector<Tensor> ys;
    try {
      ys = model->predict_on_batch(xs);  // the whole input at once: some fixtures fix the batch size
    } catch (const Error& e) {
      continue;  // inputs the fixture tests feed differently (their business)
    }
    const fs::path out = dir / name;
    fs::create_directories(out);
    try {
      save_model(*model, out / "model.keras");
    } catch (const ValueError& e) {
      refused[name] = e.what();
      fs::remove_all(out);
      continue;
    }
    // Strata reads its own archive back and computes the same, Keras 3 or not.
    {
      SCOPED_TRACE(name);
      const auto back = load_model(out / "model.keras");
      const std::vector<Tensor> again = back->predict_on_batch(xs);
      ASSERT_EQ(again.size(), ys.size());
      for (std::size_t i = 0; i < ys.size(); ++i) {
        ASSERT_EQ(ys[i].shape(), again[i].shape());
        ASSERT_EQ(ys[i].dtype(), DType::kFloat32);
        EXPECT_EQ(ys[i].to_vector<float>(), again[i].to_vector<float>()) << "output " << i;
      }
    }
    for (std::size_t i = 0; i < xs.size(); ++i) testing::write_npy(out / ("x" + std::to_string(i) + ".npy"), xs[i]);
    for (std::size_t i = 0; i < ys.size(); ++i) testing::write_npy(out / ("y" + std::to_string(i) + ".npy"), ys[i]);
    ++written;
  }
  ASSERT_GT(written, 50u) << "too few fixture models were written";

  std::string output;
  const int rc = test::run_capturing(python.string() + " " + STRATA_KERAS3_CONFIG_CHECK + " " + dir.string(), output);
  ASSERT_EQ(rc, 0) << output;
  const Config results = read_json_file(dir / "results.json");
  std::size_t passed = 0;
  for (auto it = results.begin(); it != results.end(); ++it) {
    const std::string verdict = it->get<std::string>();
    const auto known = known_differences().find(it.key());
    if (verdict == "ok") {
      ++passed;
      EXPECT_TRUE(known == known_differences().end()) << it.key() << " passes now: remove it from known_differences";
    } else if (known == known_differences().end()) {
      ADD_FAILURE() << it.key() << ": " << verdict;
    }
  }
  for (const auto& [name, why] : refused) {
    if (!known_refusals().count(name)) ADD_FAILURE() << name << ": Strata refused to write it: " << why;
  }
  for (const auto& [name, why] : known_refusals()) {
    EXPECT_TRUE(refused.count(name)) << name << " (" << why << ") is no longer refused: update known_refusals";
  }
  std::cout << "[          ] " << passed << " of " << results.size() << " models load in Keras 3 and predict the same\n";
  if (HasFailure()) {
    std::cout << "[          ] the cases are kept in " << dir.string() << "\n";
  } else {
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace strata
