// Keras 3's ops as layers (keras_ops.cpp): a Keras 3 functional graph that applies keras.ops to
// symbolic tensors stores each call as a layer of the op's class (module keras.src.ops.*).
//
// Label interop (KerasOpsInterop, skips without the venv): models that
// tests/interop/generate_keras3_ops.py builds with real Keras 3.15 at test time (cached under
// ~/.cache/strata/keras3-ops) load from their .keras archives and predict Keras 3's outputs
// (1e-5) with Keras 3's gradients of sum(y²)/2 w.r.t. the weights (tf.GradientTape, 1e-4);
// Strata saves each as .keras, and Keras 3 loads that and predicts the same (the generator's
// --check mode). An op class Strata lacks (Sort) is an UnknownObjectError naming it.
// Label plugin (KerasOps): hand-written Keras 3 configs, hand-computed values, the config and
// node arguments written back, finite-difference gradients, and bad arguments as typed errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "generated_models.hpp"
#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

namespace fs = std::filesystem;

// ---- interop against real Keras 3 ---------------------------------------------------------

fs::path generated() {
  static const fs::path dir = test::generated_fixtures("keras3-ops", STRATA_KERAS3_OPS_GENERATOR);
  return dir;
}

Device usable_device() {
  return Device(skip_reason("cpu:0").empty() ? "cpu:0" : "ref:0");
}

class KerasOpsInterop : public test::GeneratedModels {
 protected:
  void SetUp() override {
    if (!have_venv()) {
      GTEST_SKIP() << "no Keras 3 venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
    }
    if (!Registry::global().contains(ObjectKind::kFormat, "keras")) GTEST_SKIP() << "format-keras is not built";
    clear_session();
    load_index(generated());
  }
};

TEST_P(KerasOpsInterop, PredictsAndDifferentiatesAsKeras3) {
  for (const std::string& device_name : test_devices()) {
    SCOPED_TRACE(device_name);
    if (const std::string why = skip_reason(device_name); !why.empty()) continue;
    const Device device(device_name);
    DeviceScope scope(device);
    clear_session();
    const auto model = load_model(file("model.keras"));
    const auto inputs = read_all("x", entry_["inputs"].get<std::size_t>(), device);
    const auto n_outputs = entry_["outputs"].get<std::size_t>();
    const auto want = read_all("y", n_outputs, Device::cpu());
    const auto got = model->predict(inputs);
    ASSERT_EQ(got.size(), n_outputs);
    for (std::size_t o = 0; o < n_outputs; ++o) {
      EXPECT_EQ(got[o].shape().to_string(), want[o].shape().to_string()) << "output " << o;
      EXPECT_EQ(dtype_name(got[o].dtype()), dtype_name(want[o].dtype())) << "output " << o;
      EXPECT_EQ(mismatch(values(got[o].to(Device::cpu())), values(want[o]), 1e-5, 1e-5), "") << "output " << o;
    }

    GradientTape tape;
    const auto ys = (*model)(inputs);
    std::vector<Tensor> terms;
    for (const auto& y : ys) {
      if (is_floating(y.dtype())) terms.push_back(sum(square(y)) * 0.5);
    }
    const Tensor loss = terms.size() == 1 ? terms[0] : add_n(terms);
    const auto n_weights = entry_["weights"].get<std::size_t>();
    ASSERT_EQ(model->weights().size(), n_weights);
    const auto grads = tape.gradient(loss, model->weights());
    const auto want_grads = read_all("g", n_weights, Device::cpu());
    for (std::size_t i = 0; i < n_weights; ++i) {
      ASSERT_TRUE(grads[i].defined()) << "no gradient for " << model->weights()[i].name();
      EXPECT_EQ(mismatch(values(grads[i].to(Device::cpu())), values(want_grads[i]), 1e-4, 1e-4), "")
          << "gradient of " << model->weights()[i].name();
    }
  }
}

// Strata writes the archive back: the op classes under Keras 3's module and class names, their
// configs and node arguments as Keras 3 wrote them; Keras 3 loads it and predicts the same.
TEST_P(KerasOpsInterop, SavedArchiveLoadsInKeras3) {
  DeviceScope scope(usable_device());
  const auto model = load_model(file("model.keras"));
  const fs::path work = fs::temp_directory_path() / ("strata-keras-ops-" + std::to_string(::getpid())) / GetParam();
  fs::remove_all(work);
  fs::create_directories(work);
  save_model(*model, work / "model.keras");
  for (std::size_t i = 0; i < entry_["inputs"].get<std::size_t>(); ++i)
    fs::copy_file(file(indexed("x", i)), work / indexed("x", i));
  for (std::size_t i = 0; i < entry_["outputs"].get<std::size_t>(); ++i)
    fs::copy_file(file(indexed("y", i)), work / indexed("y", i));

  // The op layers' entries: module, class_name, registered_name and config as Keras 3's.
  const Config mine = model_config_keras3(*model);
  std::set<std::string> classes;
  for (const auto& layer : mine["config"]["layers"]) {
    const std::string module = layer.value("module", std::string());
    if (module.rfind("keras.src.ops.", 0) != 0) continue;
    classes.insert(module + "." + layer["class_name"].get<std::string>());
    EXPECT_FALSE(layer["config"].contains("trainable")) << layer.dump();
  }
  std::set<std::string> want_classes;
  for (const auto& c : entry_["classes"]) want_classes.insert(c.get<std::string>());
  EXPECT_EQ(classes, want_classes);

  std::string out;
  const int rc =
      test::run_capturing("'" + test::venv_python().string() + "' '" STRATA_KERAS3_OPS_GENERATOR "' --check '" +
                              work.parent_path().string() + "'",
                          out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(GetParam() + " keras3: ok"), std::string::npos) << out;
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Models, KerasOpsInterop,
                         ::testing::Values("k3ops_arithmetic", "k3ops_activations", "k3ops_reductions", "k3ops_shapes",
                                           "k3ops_masking_convlstm2d", "k3ops_embedding_mask_lstm", "k3ops_masking_gru",
                                           "k3ops_embedding_mask_pooling", "k3ops_more", "k3ops_numpy_extra",
                                           "k3ops_linalg_nn_image"));

// An op class Strata does not read is an UnknownObjectError naming the class.
TEST(KerasOpsInteropErrors, UnsupportedOpClassIsUnknownObjectErrorNamingIt) {
  if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no Keras 3 venv at " << test::interop_venv();
  if (!Registry::global().contains(ObjectKind::kFormat, "keras")) GTEST_SKIP() << "format-keras is not built";
  try {
    (void)load_model(generated() / "k3ops_unsupported" / "model.keras");
    FAIL() << "loaded a model with keras.ops.sort";
  } catch (const UnknownObjectError& e) {
    EXPECT_NE(std::string(e.what()).find("keras.src.ops.numpy>Sort"), std::string::npos) << e.what();
  }
}

// ---- without the venv -------------------------------------------------------------------

// A Keras 3 layer entry of an op class, its node's arguments given as JSON with "T<i>" for the
// tensor of layer i ("x" and "y", the inputs).
Config op_entry(const std::string& module, const std::string& cls, const std::string& name, Config config, Config args,
                Config kwargs = Config::object()) {
  std::function<Config(const Config&)> refs = [&](const Config& v) -> Config {
    if (v.is_string() && v.get<std::string>().rfind("T:", 0) == 0) {
      return Config{{"class_name", "__keras_tensor__"},
                    {"config", Config{{"shape", nullptr},
                                      {"dtype", "float32"},
                                      {"keras_history", Config::array({v.get<std::string>().substr(2), 0, 0})}}}};
    }
    if (!v.is_structured()) return v;
    Config out = v.is_object() ? Config::object() : Config::array();
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = refs(*it);
    } else {
      for (const auto& e : v) out.push_back(refs(e));
    }
    return out;
  };
  config["name"] = name;
  return Config{{"module", "keras.src.ops." + module},
                {"class_name", cls},
                {"config", config},
                {"registered_name", cls},
                {"name", name},
                {"inbound_nodes", Config::array({Config{{"args", refs(args)}, {"kwargs", refs(kwargs)}}})}};
}

Config input_entry(const std::string& name, std::vector<std::int64_t> shape) {
  Config batch = Config::array({nullptr});
  for (auto d : shape) batch.push_back(d);
  return Config{{"module", "keras.layers"},
                {"class_name", "InputLayer"},
                {"config", Config{{"batch_shape", batch}, {"dtype", "float32"}, {"name", name}}},
                {"registered_name", nullptr},
                {"name", name},
                {"inbound_nodes", Config::array()}};
}

// A Functional model of inputs x (and y) of `shape` and the given op entries; outputs: `outputs`.
std::shared_ptr<Model> functional(const std::vector<Config>& ops, const std::vector<std::string>& outputs,
                                  std::vector<std::int64_t> shape, bool two_inputs = false) {
  Config layers = Config::array({input_entry("x", shape)});
  if (two_inputs) layers.push_back(input_entry("y", shape));
  for (const auto& o : ops) layers.push_back(o);
  Config outs = Config::array();
  for (const auto& o : outputs) outs.push_back(Config::array({o, 0, 0}));
  Config ins =
      two_inputs ? Config::array({Config::array({"x", 0, 0}), Config::array({"y", 0, 0})}) : Config::array({"x", 0, 0});
  const Config model{
      {"module", "keras.src.models.functional"},
      {"class_name", "Functional"},
      {"config",
       Config{{"name", "m"}, {"trainable", true}, {"layers", layers}, {"input_layers", ins}, {"output_layers", outs}}},
      {"registered_name", "Functional"}};
  return model_from_json(model.dump());
}

class KerasOps : public ::testing::Test {
 protected:
  void SetUp() override {
    clear_session();
    device_ = usable_device();
  }
  Tensor t(const std::vector<float>& v, const Shape& s) const { return Tensor::from_vector<float>(v, s, device_); }
  Device device_ = Device::cpu();
};

TEST_F(KerasOps, ArithmeticWithPythonNumbersOnEitherSide) {
  DeviceScope scope(device_);
  const auto model =
      functional({op_entry("numpy", "Multiply", "mul", Config::object(), Config::array({"T:x", 2.0})),
                  op_entry("numpy", "Subtract", "rsub", Config::object(), Config::array({2, "T:x"})),
                  op_entry("numpy", "TrueDivide", "div", Config::object(), Config::array({"T:x", "T:y"})),
                  op_entry("numpy", "Power", "pow", Config::object(), Config::array({"T:x", 2})),
                  op_entry("numpy", "NotEqual", "ne", Config::object(), Config::array({"T:x", 0.0})),
                  op_entry("numpy", "Any", "any", Config{{"axis", -1}, {"keepdims", false}}, Config::array({"T:ne"}))},
                 {"mul", "rsub", "div", "pow", "ne", "any"}, {3}, true);
  const auto y =
      model->predict(std::vector<Tensor>{t({1, -2, 0, 0, 0, 0}, Shape{2, 3}), t({2, 4, 5, 1, 1, 1}, Shape{2, 3})});
  ASSERT_EQ(y.size(), 6u);
  EXPECT_EQ(mismatch(values(y[0]), {2, -4, 0, 0, 0, 0}), "");
  EXPECT_EQ(mismatch(values(y[1]), {1, 4, 2, 2, 2, 2}), "");
  EXPECT_EQ(mismatch(values(y[2]), {0.5f, -0.5f, 0, 0, 0, 0}), "");
  EXPECT_EQ(mismatch(values(y[3]), {1, 4, 0, 0, 0, 0}), "");
  EXPECT_EQ(y[4].dtype(), DType::kBool);
  EXPECT_EQ(mismatch(values(y[4]), {1, 1, 0, 0, 0, 0}), "");
  EXPECT_EQ(y[5].dtype(), DType::kBool);
  EXPECT_EQ(mismatch(values(y[5]), {1, 0}), "");
}

// Ranks up to 254 are allowed, but a strided slice's masks have 64 bits: Flip of a rank-64
// input is a typed error naming the layer (it was a shift by 64, undefined behaviour).
TEST_F(KerasOps, FlipOfARank64TensorIsATypedError) {
  try {
    (void)functional({op_entry("numpy", "Flip", "flip", Config{{"axis", nullptr}}, Config::array({"T:x"}))}, {"flip"},
                     std::vector<std::int64_t>(63, 1));
    FAIL() << "built a Flip of a rank-64 tensor";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("flipping a tensor of rank 64 is not supported (at most 63)"), std::string::npos)
        << e.what();
  }
}

TEST_F(KerasOps, ShapesAndIndexingByHand) {
  DeviceScope scope(device_);
  const Config slice_1 =
      Config{{"class_name", "__slice__"}, {"config", Config{{"start", 1}, {"stop", nullptr}, {"step", nullptr}}}};
  const Config all =
      Config{{"class_name", "__slice__"}, {"config", Config{{"start", nullptr}, {"stop", nullptr}, {"step", nullptr}}}};
  const auto model = functional(
      {op_entry("numpy", "GetItem", "item", Config::object(), Config::array({"T:x", Config::array({all, slice_1})})),
       op_entry("numpy", "Take", "take", Config{{"axis", 1}}, Config::array({"T:x", Config::array({2, -3})})),
       op_entry(
           "numpy", "Pad", "pad",
           Config{{"pad_width", Config::array({Config::array({0, 0}), Config::array({1, 0})})}, {"mode", "constant"}},
           Config::array({"T:x"}), Config{{"constant_values", 9}}),
       op_entry("numpy", "Concatenate", "cat", Config{{"axis", -1}}, Config::array({Config::array({"T:x", "T:x"})})),
       op_entry("numpy", "Sum", "sum", Config{{"axis", nullptr}, {"keepdims", false}}, Config::array({"T:x"})),
       op_entry("numpy", "Argmax", "argmax", Config{{"axis", -1}, {"keepdims", false}}, Config::array({"T:x"})),
       op_entry("numpy", "Where", "where", Config::object(), Config::array({"T:x", "T:x", -1.0})),
       op_entry("numpy", "Clip", "clip", Config{{"x_min", 0}, {"x_max", 1.5}}, Config::array({"T:x"}))},
      {"item", "take", "pad", "cat", "sum", "argmax", "where", "clip"}, {3});
  const auto y = model->predict(std::vector<Tensor>{t({1, 2, 3, 0, 5, -4}, Shape{2, 3})});
  EXPECT_EQ(mismatch(values(y[0]), {2, 3, 5, -4}), "");
  EXPECT_EQ(y[1].shape().to_string(), Shape({2, 2}).to_string());
  EXPECT_EQ(mismatch(values(y[1]), {3, 1, -4, 0}), "");
  EXPECT_EQ(mismatch(values(y[2]), {9, 1, 2, 3, 9, 0, 5, -4}), "");
  EXPECT_EQ(mismatch(values(y[3]), {1, 2, 3, 1, 2, 3, 0, 5, -4, 0, 5, -4}), "");
  EXPECT_EQ(mismatch(values(y[4]), {7}), "");
  EXPECT_EQ(y[5].dtype(), DType::kInt32);
  EXPECT_EQ(mismatch(values(y[5]), {2, 1}), "");
  EXPECT_EQ(mismatch(values(y[6]), {1, 2, 3, -1, 5, -4}), "");
  EXPECT_EQ(mismatch(values(y[7]), {1, 1.5f, 1.5f, 0, 1.5f, 0}), "");
}

// Cumsum / Cumprod: axis None flattens (the batch too, as Keras 3), dtype casts first, integers
// stay integers; Arctan2 with a number. Values by hand.
TEST_F(KerasOps, CumulativeOpsAndArctan2ByHand) {
  DeviceScope scope(device_);
  const auto model = functional(
      {op_entry("core", "Cast", "ints", Config{{"dtype", "int32"}}, Config::array({"T:x"})),
       op_entry("numpy", "Cumsum", "flat", Config{{"axis", nullptr}, {"dtype", nullptr}}, Config::array({"T:x"})),
       op_entry("numpy", "Cumsum", "rows", Config{{"axis", 1}, {"dtype", nullptr}}, Config::array({"T:ints"})),
       op_entry("numpy", "Cumsum", "wide", Config{{"axis", -1}, {"dtype", "float64"}}, Config::array({"T:x"})),
       op_entry("numpy", "Cumprod", "prod", Config{{"axis", 1}, {"dtype", nullptr}}, Config::array({"T:ints"})),
       op_entry("numpy", "Arctan2", "angle", Config::object(), Config::array({"T:x", 2.0}))},
      {"flat", "rows", "wide", "prod", "angle"}, {3});
  const auto y = model->predict(std::vector<Tensor>{t({1, 2, 3, 0, 5, -4}, Shape{2, 3})});
  ASSERT_EQ(y.size(), 5u);
  EXPECT_EQ(y[0].shape().to_string(), Shape({6}).to_string());
  EXPECT_EQ(mismatch(values(y[0]), {1, 3, 6, 6, 11, 7}), "");
  EXPECT_EQ(y[1].dtype(), DType::kInt32);
  EXPECT_EQ(mismatch(values(y[1]), {1, 3, 6, 0, 5, 1}), "");
  EXPECT_EQ(y[2].dtype(), DType::kFloat64);
  EXPECT_EQ(mismatch(values(y[2]), {1, 3, 6, 0, 5, 1}), "");
  EXPECT_EQ(y[3].dtype(), DType::kInt32);
  EXPECT_EQ(mismatch(values(y[3]), {1, 2, 6, 0, 0, 0}), "");
  EXPECT_EQ(mismatch(values(y[4]), {0.4636476f, 0.7853982f, 0.9827937f, 0.0f, 1.1902899f, -1.1071487f}), "");
}

// The Keras 3 config Strata writes: Keras 3's module, class name and config keys, the node's
// constants as Keras 3 wrote them, no build_config.
TEST_F(KerasOps, WritesKeras3sEntries) {
  DeviceScope scope(device_);
  const auto model =
      functional({op_entry("numpy", "Multiply", "mul", Config::object(), Config::array({"T:x", 2.0})),
                  op_entry("numpy", "Mean", "mean", Config{{"axis", 1}, {"keepdims", true}}, Config::array({"T:mul"})),
                  op_entry("nn", "Softmax", "softmax", Config{{"axis", -1}}, Config::array({"T:mean"}))},
                 {"softmax"}, {3});
  const Config c = model_config_keras3(*model);
  std::map<std::string, Config> by_name;
  for (const auto& l : c["config"]["layers"]) by_name[l["name"].get<std::string>()] = l;
  EXPECT_EQ(by_name["mul"]["module"], "keras.src.ops.numpy");
  EXPECT_EQ(by_name["mul"]["class_name"], "Multiply");
  EXPECT_EQ(by_name["mul"]["config"].dump(), (Config{{"name", "mul"}}.dump()));
  EXPECT_EQ(by_name["mul"]["inbound_nodes"][0]["args"][1], 2.0);
  EXPECT_EQ(by_name["mul"]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0], "x");
  EXPECT_EQ(by_name["mean"]["config"].dump(), (Config{{"name", "mean"}, {"axis", 1}, {"keepdims", true}}.dump()));
  EXPECT_EQ(by_name["softmax"]["module"], "keras.src.ops.nn");
  EXPECT_EQ(by_name["softmax"]["class_name"], "Softmax");
  // The runtime's own Softmax layer is not confused with the op.
  EXPECT_EQ(model->get_layer("softmax")->class_name(), "keras.src.ops.nn>Softmax");
}

// tf-keras's node dialect (H5, to_json) holds one positional argument: a model whose op layers
// take one writes and reads back its config; a second positional argument (x * 2.0) is a
// ValueError naming the layer (Keras 3's archive is the format for such models).
TEST_F(KerasOps, TfKerasDialectTakesOneArgumentOps) {
  DeviceScope scope(device_);
  const auto one =
      functional({op_entry("numpy", "Sum", "sum", Config{{"axis", 1}, {"keepdims", false}}, Config::array({"T:x"})),
                  op_entry("nn", "Softmax", "softmax", Config{{"axis", -1}}, Config::array({"T:x"}))},
                 {"sum", "softmax"}, {3});
  const auto again = model_from_config(model_config(*one));
  const std::vector<Tensor> x{t({1, 2, 3, 4, 5, 6}, Shape{2, 3})};
  const auto a = one->predict(x), b = again->predict(x);
  ASSERT_EQ(b.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(mismatch(values(b[i]), values(a[i])), "");
  EXPECT_EQ(again->get_layer("softmax")->class_name(), "keras.src.ops.nn>Softmax");

  const auto two =
      functional({op_entry("numpy", "Multiply", "mul", Config::object(), Config::array({"T:x", 2.0}))}, {"mul"}, {3});
  try {
    (void)model_config(*two);
    ADD_FAILURE() << "wrote a two-argument op in tf-keras's dialect";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'mul'"), std::string::npos) << e.what();
  }
}

TEST_F(KerasOps, GradientsMatchFiniteDifferences) {
  DeviceScope scope(device_);
  const auto model = functional(
      {op_entry("numpy", "Multiply", "mul", Config::object(), Config::array({"T:x", "T:x"})),
       op_entry("numpy", "Take", "take", Config{{"axis", 1}}, Config::array({"T:mul", Config::array({0, 2})})),
       op_entry("nn", "Gelu", "gelu", Config{{"approximate", true}}, Config::array({"T:take"})),
       op_entry("numpy", "Max", "max", Config{{"axis", -1}, {"keepdims", false}, {"initial", nullptr}},
                Config::array({"T:gelu"}))},
      {"max"}, {3});
  const std::vector<float> x0 = {0.3f, -0.7f, 1.1f, -0.4f, 0.9f, 0.2f};
  auto loss = [&](const std::vector<float>& xv) {
    const auto y = (*model)(std::vector<Tensor>{t(xv, Shape{2, 3})});
    return sum(square(y[0])) * 0.5;
  };
  const Tensor x = t(x0, Shape{2, 3});
  GradientTape tape;
  tape.watch(x);
  const auto y = (*model)(std::vector<Tensor>{x});
  const auto g = tape.gradient(sum(square(y[0])) * 0.5, std::vector<Tensor>{x});
  const auto analytic = values(g[0].to(Device::cpu()));
  for (std::size_t i = 0; i < x0.size(); ++i) {
    auto up = x0, down = x0;
    up[i] += 1e-2f, down[i] -= 1e-2f;
    const double numeric = (values(loss(up))[0] - values(loss(down))[0]) / 2e-2;
    EXPECT_NEAR(analytic[i], numeric, 2e-3) << "x[" << i << "]";
  }
}

TEST_F(KerasOps, BadArgumentsAreTypedErrorsNamingTheLayer) {
  DeviceScope scope(device_);
  auto expect_error = [](const std::function<void()>& f, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'bad'"), std::string::npos) << e.what();
    }
  };
  expect_error(
      [] {
        (void)functional(
            {op_entry("numpy", "Pad", "bad", Config{{"pad_width", 1}, {"mode", "reflect"}}, Config::array({"T:x"}))},
            {"bad"}, {3});
      },
      "Pad mode reflect");
  expect_error(
      [] {
        (void)functional(
            {op_entry("numpy", "Take", "bad", Config{{"axis", 1}}, Config::array({"T:x", Config::array({5})}))},
            {"bad"}, {3});
      },
      "Take out of range");
  expect_error(
      [] {
        (void)functional(
            {op_entry("numpy", "Max", "bad", Config{{"axis", 1}, {"initial", 2.0}}, Config::array({"T:x"}))}, {"bad"},
            {3});
      },
      "Max initial");
  expect_error(
      [] {
        (void)functional({op_entry("numpy", "Multiply", "bad", Config::object(), Config::array({"T:x", "two"}))},
                         {"bad"}, {3});
      },
      "Multiply by a string");
  expect_error(
      [] {
        (void)functional({op_entry("numpy", "GetItem", "bad", Config::object(), Config::array({"T:x", "T:x"}))},
                         {"bad"}, {3});
      },
      "GetItem with a tensor key");
  try {
    (void)functional({op_entry("numpy", "Bincount", "bad", Config::object(), Config::array({"T:x"}))}, {"bad"}, {3});
    ADD_FAILURE() << "no error for Bincount";
  } catch (const UnknownObjectError& e) {
    EXPECT_NE(std::string(e.what()).find("Bincount"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::layer_tests
