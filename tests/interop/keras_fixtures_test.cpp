// Real tf-keras as the oracle. tests/interop/generate_fixtures.py saved, for a list of small
// models, what tf-keras 2.17 writes and computes: the H5 `model_config` JSON, model.to_json(),
// model.summary(), get_weights(), and predict() on a few inputs (tests/data/keras, listed in
// index.json). For every model this suite rebuilds it in Strata from those files alone - no
// Python - and checks, each as its own test case:
//   H5Config      model_from_config(<name>.config.json) works and model_config() of the
//                 result equals that config key for key (float formatting aside);
//   ToJsonConfig  the same from the model.to_json() envelope (the newer dialect), whose
//                 model_config() must also equal the H5 config: Strata writes the H5 dialect;
//   Weights       weights() has Keras's count, order, shapes, names and trainable flags, and
//                 count_params() gives Keras's parameter counts;
//   Predict       after set_weights(Keras's weights), predict(x) on the default device (cpu
//                 unless STRATA_DEVICE says otherwise) matches Keras's outputs within
//                 |got - ref| <= atol + rtol * |ref| (rtol 1e-5, atol 1e-5);
//   PredictRef    the same on the tests' `ref` device (naive reference kernels): when
//                 PredictRef passes and Predict fails, the backend's kernels are at fault,
//                 when both fail, the layer;
//   Summary       summary() equals Keras's text byte for byte.
// H5Config, ToJsonConfig, Weights and Summary build their models on the `ref` device, so
// they check the layers and models whatever state the CPU backend is in.
// A layer class no plugin registers makes the cases of that model fail with the loader's
// message; nothing here may crash.
//
// The fixture directory is the committed one (tests/data/keras, tf-keras 2.17) unless
// $STRATA_KERAS_FIXTURE_DIR names another: tests/interop/keras_fixtures_current_venv.sh
// points it at the fixtures the generator wrote with the interop venv's tf-keras (2.21),
// and $STRATA_KERAS_FIXTURE_TF_KERAS at the version they must have been written by.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "npy.hpp"
#include "strata/device.hpp"
#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

fs::path fixture_dir() {
  const char* dir = std::getenv("STRATA_KERAS_FIXTURE_DIR");
  return dir != nullptr && *dir != '\0' ? fs::path(dir) : fs::path(STRATA_KERAS_FIXTURE_DIR);
}

// The tf-keras version the fixtures must have been written by: the committed fixtures are
// 2.17.0's (STRATA_KERAS_FIXTURE_TF_KERAS compiled in); another directory names its own.
std::string expected_tf_keras() {
  const char* dir = std::getenv("STRATA_KERAS_FIXTURE_DIR");
  const char* version = std::getenv("STRATA_KERAS_FIXTURE_TF_KERAS");
  if (version != nullptr && *version != '\0') return version;
  return dir != nullptr && *dir != '\0' ? "" : STRATA_KERAS_FIXTURE_TF_KERAS;
}

const fs::path kFixtureDir = fixture_dir();
const Device kRefDevice("ref", 0);

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  STRATA_CHECK(in, IOError, "cannot open fixture '", path.string(), "'");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Config read_json(const fs::path& path) {
  try {
    return Config::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    STRATA_THROW(FormatError, "fixture '", path.string(), "' is not valid JSON: ", e.what());
  }
}

// ---- the model list ---------------------------------------------------------------------------

struct ModelCase {
  std::string name;
  Config entry;  // the model's entry in index.json; null when index.json could not be read
  std::string load_error;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }

std::vector<ModelCase> load_cases() {
  try {
    const Config index = read_json(kFixtureDir / "index.json");
    std::vector<ModelCase> cases;
    for (const auto& entry : index.at("models")) cases.push_back({entry.at("name").get<std::string>(), entry, ""});
    return cases;
  } catch (const std::exception& e) {
    // One failing case instead of an empty, silently passing suite.
    return {{"index_json", Config(), e.what()}};
  }
}

std::string case_name(const ::testing::TestParamInfo<ModelCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// ---- JSON comparison ----------------------------------------------------------------------------

bool is_integral(const Config& v) { return v.is_number_integer() || v.is_number_unsigned(); }

// Layer entries get their name in diff paths: "model_config.config.layers[2:dense_1].config.units".
std::string element_label(const Config& element) {
  // (Built with append: GCC 12 warns falsely (-Wrestrict) about ":" + std::string here.)
  std::string label;
  if (!element.is_object()) return label;
  const Config* named = &element;
  if (!(element.contains("name") && element["name"].is_string()) && element.contains("config") &&
      element["config"].is_object()) {
    named = &element["config"];
  }
  if (named->contains("name") && (*named)["name"].is_string()) label.append(":").append((*named)["name"].get<std::string>());
  return label;
}

// Numbers compare by value - floats within 1e-7 relative, which absorbs float32-vs-double
// spellings - but an integer where Keras wrote a float (or the reverse) is a difference: a
// Python reader sees 4.0 and 4 as different types. Key order is not compared.
void json_diff(const Config& want, const Config& got, const std::string& path, std::vector<std::string>& out) {
  const auto show = [](const Config& v) {
    std::string s = v.dump();
    return s.size() > 160 ? s.substr(0, 157) + "..." : s;
  };
  if (want.is_number() && got.is_number()) {
    if (is_integral(want) != is_integral(got)) {
      out.push_back(path + ": expected " + show(want) + ", got " + show(got) + " (integer vs float)");
    } else if (is_integral(want)) {
      if (want != got) out.push_back(path + ": expected " + show(want) + ", got " + show(got));
    } else {
      const double a = want.get<double>(), b = got.get<double>();
      const bool same = a == b || (std::isnan(a) && std::isnan(b)) ||
                        std::abs(a - b) <= 1e-7 * std::max(std::abs(a), std::abs(b));
      if (!same) out.push_back(path + ": expected " + show(want) + ", got " + show(got));
    }
    return;
  }
  if (want.type() != got.type()) {
    out.push_back(path + ": expected " + show(want) + ", got " + show(got));
    return;
  }
  if (want.is_object()) {
    for (const auto& [key, value] : want.items()) {
      if (!got.contains(key)) {
        out.push_back(path + "." + key + ": missing (expected " + show(value) + ")");
      } else {
        json_diff(value, got.at(key), path + "." + key, out);
      }
    }
    for (const auto& [key, value] : got.items()) {
      if (!want.contains(key)) out.push_back(path + "." + key + ": unexpected key (got " + show(value) + ")");
    }
  } else if (want.is_array()) {
    if (want.size() != got.size()) {
      out.push_back(path + ": expected " + std::to_string(want.size()) + " elements, got " +
                    std::to_string(got.size()) + ": " + show(got));
    }
    for (std::size_t i = 0; i < std::min(want.size(), got.size()); ++i) {
      json_diff(want[i], got[i], path + "[" + std::to_string(i) + element_label(want[i]) + "]", out);
    }
  } else if (want != got) {
    out.push_back(path + ": expected " + show(want) + ", got " + show(got));
  }
}

std::string describe_diffs(const std::vector<std::string>& diffs) {
  std::ostringstream s;
  const std::size_t shown = std::min<std::size_t>(diffs.size(), 25);
  s << diffs.size() << " difference(s) from the tf-keras config:\n";
  for (std::size_t i = 0; i < shown; ++i) s << "  " << diffs[i] << "\n";
  if (shown < diffs.size()) s << "  ... and " << diffs.size() - shown << " more\n";
  return s.str();
}

// ---- the test fixture ----------------------------------------------------------------------------

class KerasModel : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    const auto& c = GetParam();
    if (!c.load_error.empty()) FAIL() << "cannot read " << (kFixtureDir / "index.json").string() << ": " << c.load_error;
    clear_session();
  }

  const Config& entry() const { return GetParam().entry; }
  fs::path file(const std::string& key) const { return kFixtureDir / entry().at(key).get<std::string>(); }

  // Layer classes of this model that nothing registered, for a clearer message than the
  // loader's when a plugin is simply not there yet.
  std::string unregistered_classes() const {
    std::string missing;
    for (const auto& cls : entry().at("layer_classes")) {
      const auto name = cls.get<std::string>();
      if (!Registry::global().contains(ObjectKind::kLayer, name) && !Registry::global().contains(ObjectKind::kModel, name)) {
        missing += (missing.empty() ? "" : ", ") + name;
      }
    }
    return missing;
  }

  std::shared_ptr<Model> build(const Config& config) const {
    const std::string missing = unregistered_classes();
    auto frame = ErrorContext::push("building model '", GetParam().name, "' from its tf-keras config",
                                    missing.empty() ? "" : " (unregistered layer classes: " + missing + ")");
    return model_from_config(config);
  }

  std::shared_ptr<Model> build_from_h5_config() const { return build(read_json(file("config"))); }

  std::vector<Tensor> read_list(const char* key) const {
    std::vector<Tensor> out;
    for (const auto& item : entry().at(key)) {
      const fs::path path = kFixtureDir / item.at("file").get<std::string>();
      Tensor t = testing::read_npy(path);
      const Shape listed(item.at("shape").get<std::vector<std::int64_t>>());
      STRATA_CHECK(t.shape() == listed && dtype_name(t.dtype()) == item.at("dtype").get<std::string>(), FormatError,
                   "fixture '", path.string(), "' holds ", dtype_name(t.dtype()), " ", t.shape().to_string(),
                   " but index.json lists ", item.at("dtype").get<std::string>(), " ", listed.to_string(),
                   "; regenerate the fixtures");
      out.push_back(t.to(default_device()));
    }
    return out;
  }

  // The name of the layer that produces output `i` (from the config's output_layers).
  std::string output_layer(std::size_t i) const {
    try {
      const Config config = read_json(file("config"));
      const Config& c = config.at("config");
      if (c.contains("output_layers")) return c["output_layers"].at(i).at(0).get<std::string>();
      return c.at("layers").back().at("config").at("name").get<std::string>();
    } catch (const std::exception&) {
      return "?";
    }
  }

  void check_predict();

  template <class F>
  void guarded(const char* step, F&& body) {
    try {
      body();
    } catch (const Error& e) {
      ADD_FAILURE() << step << " threw " << e.kind() << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << step << " threw std::exception: " << e.what();
    }
  }
};

TEST_P(KerasModel, H5Config) {
  guarded("H5 config", [&] {
    DeviceScope on_ref(kRefDevice);
    const Config want = read_json(file("config"));
    const auto model = build(want);
    std::vector<std::string> diffs;
    json_diff(want, model_config(*model), "model_config", diffs);
    EXPECT_TRUE(diffs.empty()) << describe_diffs(diffs);
  });
}

TEST_P(KerasModel, ToJsonConfig) {
  guarded("to_json config", [&] {
    DeviceScope on_ref(kRefDevice);
    const Config envelope = read_json(file("to_json"));
    ASSERT_TRUE(envelope.is_object() && envelope.contains("class_name") && envelope.contains("config"))
        << "to_json fixture without class_name/config";
    EXPECT_EQ(envelope.value("backend", ""), "tensorflow");
    EXPECT_TRUE(envelope.contains("keras_version"));
    const auto model = build(Config{{"class_name", envelope["class_name"]}, {"config", envelope["config"]}});
    std::vector<std::string> diffs;
    json_diff(read_json(file("config")), model_config(*model), "model_config", diffs);
    EXPECT_TRUE(diffs.empty()) << "model_config() of the model built from to_json() should be the H5 config; "
                               << describe_diffs(diffs);
  });
}

TEST_P(KerasModel, Weights) {
  guarded("weights", [&] {
    DeviceScope on_ref(kRefDevice);
    const auto model = build_from_h5_config();
    const auto weights = model->weights();
    const Config& want = entry().at("weights");
    ASSERT_EQ(weights.size(), want.size()) << "Keras has " << want.size() << " weights";
    for (std::size_t i = 0; i < weights.size(); ++i) {
      const Config& w = want[i];
      std::string keras_name = w.at("name").get<std::string>();
      if (keras_name.size() > 2 && keras_name.compare(keras_name.size() - 2, 2, ":0") == 0) {
        keras_name.resize(keras_name.size() - 2);
      }
      EXPECT_EQ(weights[i].name(), keras_name) << "weight " << i;
      EXPECT_EQ(weights[i].shape().to_string(), Shape(w.at("shape").get<std::vector<std::int64_t>>()).to_string())
          << "weight " << i << " (" << keras_name << ")";
      EXPECT_EQ(std::string(dtype_name(weights[i].dtype())), w.at("dtype").get<std::string>())
          << "weight " << i << " (" << keras_name << ")";
    }
    std::int64_t trainable = 0, non_trainable = 0;
    for (const auto& v : model->trainable_weights()) trainable += v.shape().num_elements();
    for (const auto& v : model->non_trainable_weights()) non_trainable += v.shape().num_elements();
    const Config& params = entry().at("params");
    EXPECT_EQ(model->count_params(), params.at("total").get<std::int64_t>()) << "count_params()";
    EXPECT_EQ(trainable, params.at("trainable").get<std::int64_t>()) << "trainable parameters";
    EXPECT_EQ(non_trainable, params.at("non_trainable").get<std::int64_t>()) << "non-trainable parameters";
  });
}

void KerasModel::check_predict() {
  guarded("predict", [&] {
    const auto model = build_from_h5_config();
    model->set_weights(read_list("weights"));
    const auto inputs = read_list("inputs");
    const auto refs = read_list("outputs");
    // In batches of 3, as the generator predicted (BATCH): a stateful model (rnn_stateful)
    // carries its states from one batch to the next and needs the batch size it was built with.
    const auto outputs = model->predict(inputs, 3);
    ASSERT_EQ(outputs.size(), refs.size()) << "number of outputs";
    const double rtol = 1e-5, atol = 1e-5;
    for (std::size_t o = 0; o < refs.size(); ++o) {
      const std::string what = "output " + std::to_string(o) + " (layer '" + output_layer(o) + "') on " +
                               default_device().to_string();
      ASSERT_EQ(outputs[o].shape().to_string(), refs[o].shape().to_string()) << what;
      ASSERT_EQ(outputs[o].dtype(), DType::kFloat32) << what;
      const auto got = outputs[o].to_vector<float>();
      const auto ref = refs[o].to_vector<float>();
      std::size_t bad = 0, worst = 0;
      double worst_excess = -1, max_abs = 0;
      for (std::size_t i = 0; i < ref.size(); ++i) {
        const double diff = std::abs(static_cast<double>(got[i]) - ref[i]);
        const double limit = atol + rtol * std::abs(static_cast<double>(ref[i]));
        const bool ok = diff <= limit;  // NaN fails
        if (!ok) ++bad;
        const double excess = std::isnan(diff) ? INFINITY : diff - limit;
        if (excess > worst_excess) worst_excess = excess, worst = i;
        max_abs = std::max(max_abs, std::isnan(diff) ? INFINITY : diff);
      }
      if (bad > 0) {
        std::vector<std::int64_t> index;
        std::size_t rest = worst;
        const auto& dims = refs[o].shape().dims();
        for (auto d = dims.rbegin(); d != dims.rend(); ++d) {
          index.insert(index.begin(), static_cast<std::int64_t>(rest % static_cast<std::size_t>(*d)));
          rest /= static_cast<std::size_t>(*d);
        }
        std::ostringstream at;
        for (std::size_t k = 0; k < index.size(); ++k) at << (k ? ", " : "") << index[k];
        std::ostringstream msg;
        msg << std::setprecision(9) << what << " shape " << refs[o].shape().to_string() << ": " << bad << " of "
            << ref.size() << " elements differ (rtol 1e-5, atol 1e-5); max |got - ref| = " << max_abs << "; worst at ["
            << at.str() << "]: got " << got[worst] << ", ref " << ref[worst];
        ADD_FAILURE() << msg.str();
      }
    }
  });
}

TEST_P(KerasModel, Predict) { check_predict(); }

TEST_P(KerasModel, PredictRef) {
  DeviceScope on_ref(kRefDevice);
  check_predict();
}

TEST_P(KerasModel, Summary) {
  guarded("summary", [&] {
    DeviceScope on_ref(kRefDevice);
    const auto model = build_from_h5_config();
    const std::string want = read_text(file("summary"));
    const std::string got = model->summary();
    if (got == want) return;
    std::istringstream a(want), b(got);
    std::string la, lb;
    int line = 0;
    while (true) {
      const bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
      ++line;
      if (!ha && !hb) break;
      if (!ha || !hb || la != lb) {
        ADD_FAILURE() << "summary differs from tf-keras first at line " << line << ":\n  keras : \""
                      << (ha ? la : "<end>") << "\"\n  strata: \"" << (hb ? lb : "<end>") << "\"\n"
                      << "--- keras ---\n"
                      << want << "--- strata ---\n"
                      << got;
        return;
      }
    }
    ADD_FAILURE() << "summary differs from tf-keras only in line endings or a trailing newline";
  });
}

INSTANTIATE_TEST_SUITE_P(Keras, KerasModel, ::testing::ValuesIn(load_cases()), case_name);

// ---- the fixture files themselves ------------------------------------------------------------

// index.json records the versions that wrote the fixtures; printed, so that a log says which
// tf-keras the cases above compared against, and checked against the expected version.
TEST(KerasFixtureFiles, WrittenByTheExpectedTfKerasVersion) {
  try {
    const Config versions = read_json(kFixtureDir / "index.json").at("versions");
    const std::string tf_keras = versions.at("tf_keras").get<std::string>();
    std::cout << "[ fixtures ] " << kFixtureDir.string() << ": written by tf-keras " << tf_keras << ", tensorflow "
              << versions.at("tensorflow").get<std::string>() << ", numpy " << versions.at("numpy").get<std::string>()
              << ", h5py " << versions.at("h5py").get<std::string>() << std::endl;
    RecordProperty("tf_keras", tf_keras);
    const std::string want = expected_tf_keras();
    if (!want.empty()) {
      EXPECT_EQ(tf_keras, want) << "fixtures in " << kFixtureDir.string();
    }
  } catch (const std::exception& e) {
    FAIL() << "cannot read the versions of " << (kFixtureDir / "index.json").string() << ": " << e.what();
  }
}

// Every .npy fixture, read and written back by the tests' npy support, gives numpy's bytes.
TEST(KerasFixtureFiles, NpyFilesRoundTripByteForByte) {
  std::size_t files = 0;
  const fs::path out = fs::temp_directory_path() / ("strata-interop-npy-" + std::to_string(::getpid()) + ".npy");
  for (const auto& item : fs::directory_iterator(kFixtureDir)) {
    if (item.path().extension() != ".npy") continue;
    ++files;
    try {
      testing::write_npy(out, testing::read_npy(item.path()));
      EXPECT_EQ(read_text(out), read_text(item.path())) << item.path().filename().string();
    } catch (const std::exception& e) {
      ADD_FAILURE() << item.path().filename().string() << ": " << e.what();
    }
  }
  fs::remove(out);
  EXPECT_GT(files, 0u) << "no .npy files in " << kFixtureDir.string();
}

// ---- the guide's facts that are not one model -----------------------------------------------

TEST(KerasGuide, NestedLayerTrainableFlagChangesWeightOrder) {
  try {
    DeviceScope on_ref(kRefDevice);
    const Config fact = read_json(kFixtureDir / "nested_weight_order.json");
    PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN);
    const Config& layer = fact.at("layer");
    auto nested = make_layer(layer.at("class_name").get<std::string>(), layer.at("config"));
    // The guide's Sequential([keras.Input((784,)), NestedDenseLayer(10, "nested")]).
    auto input = make_layer("InputLayer", Config{{"batch_input_shape", fact.at("input_shape")}});
    Sequential model({input, nested});
    const auto names = [&] {
      std::vector<std::string> out;
      for (const auto& v : model.weights()) out.push_back(v.name());
      return out;
    };
    const auto keras_names = [](const Config& list) {
      std::vector<std::string> out;
      for (const auto& n : list) {
        auto s = n.get<std::string>();
        if (s.size() > 2 && s.compare(s.size() - 2, 2, ":0") == 0) s.resize(s.size() - 2);
        out.push_back(s);
      }
      return out;
    };
    EXPECT_EQ(names(), keras_names(fact.at("weights_before")));
    // get_layer('nested').dense_1.trainable = False: the guide's custom layer tracks dense_1 first.
    ASSERT_FALSE(nested->children().empty());
    nested->children().front().layer->set_trainable(false);
    EXPECT_EQ(names(), keras_names(fact.at("weights_after")));
    std::vector<std::string> non_trainable;
    for (const auto& v : model.non_trainable_weights()) non_trainable.push_back(v.name());
    EXPECT_EQ(non_trainable, keras_names(fact.at("non_trainable_weights_after")));
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
}

}  // namespace
}  // namespace strata
