// EinsumDense and the attention layers: their einsum against a naive loop over every index
// (written here, independent of the plugin's lowering), on every device; gradients against
// central differences; configs tf-keras refuses give typed errors naming the layer.
// Numerics against tf-keras come from the interop fixtures (tests/interop).
#include <gtest/gtest.h>

#include <unistd.h>
#include <map>
#include <string>

#include <filesystem>

#include "strata/checkpoint.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

// einsum by definition: for every assignment of the labels, out[...] += a[...] * b[...].
// `equation` uses letters only.
std::vector<double> naive_einsum(const std::string& equation, const std::vector<double>& a, const Shape& sa,
                                 const std::vector<double>& b, const Shape& sb, Shape& out_shape) {
  const auto comma = equation.find(','), arrow = equation.find("->");
  const std::string ta = equation.substr(0, comma), tb = equation.substr(comma + 1, arrow - comma - 1),
                    to = equation.substr(arrow + 2);
  std::map<char, std::int64_t> size;
  for (std::size_t i = 0; i < ta.size(); ++i) size[ta[i]] = sa.dims()[i];
  for (std::size_t i = 0; i < tb.size(); ++i) size[tb[i]] = sb.dims()[i];
  std::vector<std::int64_t> od;
  for (char c : to) od.push_back(size[c]);
  out_shape = Shape(od);
  std::vector<double> out(static_cast<std::size_t>(out_shape.num_elements()), 0.0);
  std::vector<char> labels;
  for (const auto& [c, n] : size) labels.push_back(c);
  std::map<char, std::int64_t> idx;
  for (char c : labels) idx[c] = 0;
  auto flat = [&](const std::string& t, const Shape& s) {
    std::int64_t f = 0;
    for (std::size_t i = 0; i < t.size(); ++i) f = f * s.dims()[i] + idx[t[i]];
    return static_cast<std::size_t>(f);
  };
  while (true) {
    out[flat(to, out_shape)] += a[flat(ta, sa)] * b[flat(tb, sb)];
    std::size_t k = 0;
    for (; k < labels.size(); ++k) {
      if (++idx[labels[k]] < size[labels[k]]) break;
      idx[labels[k]] = 0;
    }
    if (k == labels.size()) break;
  }
  return out;
}

class EinsumDenseOnDevice : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    clear_session();
    if (const auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
  }
};

struct EinsumCase {
  std::string equation;  // the layer's
  std::string letters;   // the same with "..." written out, for the naive loop
  Config output_shape;
  Config bias_axes;
  Shape input;
  Shape kernel;  // what tf-keras builds
  Shape bias;    // likewise (rank 0: none)
};

// The equations tf-keras's EinsumDense docs and MultiHeadAttention (_build_proj_equation
// for rank-3 and rank-4 inputs, output projections with 2 bound dims) generate.
std::vector<EinsumCase> einsum_cases() {
  return {
      {"ab,bc->ac", "ab,bc->ac", Config{4}, "c", Shape{2, 3}, Shape{3, 4}, Shape{4}},
      {"abc,cd->abd", "abc,cd->abd", Config{3, 4}, "d", Shape{2, 3, 5}, Shape{5, 4}, Shape{4}},
      {"abc,cde->abde", "abc,cde->abde", Config{Config(), 2, 3}, "de", Shape{2, 3, 4}, Shape{4, 2, 3}, Shape{2, 3}},
      {"abcd,def->abcef", "abcd,def->abcef", Config{Config(), Config(), 2, 3}, "ef", Shape{1, 2, 3, 4}, Shape{4, 2, 3},
       Shape{2, 3}},
      {"abcd,cde->abe", "abcd,cde->abe", Config{Config(), 3}, "e", Shape{2, 3, 2, 4}, Shape{2, 4, 3}, Shape{3}},
      {"abc,cd->abd", "abc,cd->abd", Config{3, 4}, "bd", Shape{2, 3, 5}, Shape{5, 4}, Shape{3, 4}},
      {"abc,cd->abd", "abc,cd->abd", Config{3, 4}, Config(), Shape{2, 3, 5}, Shape{5, 4}, Shape{}},
      {"...b,bc->...c", "xyb,bc->xyc", Config{4}, "c", Shape{2, 3, 5}, Shape{5, 4}, Shape{4}},
      {"ab...,bc->ac...", "abx,bc->acx", Config{4}, "c", Shape{2, 3, 2}, Shape{3, 4}, Shape{4, 1}},
      {"abc,bcd->ad", "abc,bcd->ad", Config{4}, Config(), Shape{2, 3, 2}, Shape{3, 2, 4}, Shape{}},
  };
}

TEST_P(EinsumDenseOnDevice, ComputesEinsumAsDefined) {
  DeviceScope scope{Device(GetParam())};
  for (const auto& c : einsum_cases()) {
    SCOPED_TRACE(c.equation + " bias " + c.bias_axes.dump());
    clear_session();
    auto layer = make_layer(
        "EinsumDense", Config{{"equation", c.equation}, {"output_shape", c.output_shape}, {"bias_axes", c.bias_axes}});
    layer->ensure_built({c.input});
    const auto w = layer->weights();
    ASSERT_EQ(w.size(), c.bias.rank() > 0 ? 2u : 1u);
    EXPECT_EQ(w[0].shape(), c.kernel);
    if (c.bias.rank() > 0) {
      EXPECT_EQ(w[1].shape(), c.bias);
    }
    std::vector<Tensor> values_in = {pattern_tensor(c.kernel, 3)};
    if (c.bias.rank() > 0) values_in.push_back(pattern_tensor(c.bias, 5));
    layer->set_weights(values_in);
    const Tensor x = pattern_tensor(c.input, 1);
    const Tensor y = (*layer)(x);
    std::vector<double> xa, ka;
    for (float v : values(x)) xa.push_back(v);
    for (float v : values(values_in[0])) ka.push_back(v);
    Shape want_shape;
    std::vector<double> want = naive_einsum(c.letters, xa, c.input, ka, c.kernel, want_shape);
    if (c.bias.rank() > 0) {
      // Broadcast the bias (right-aligned) by hand.
      const auto bias = values(values_in[1]);
      const auto& od = want_shape.dims();
      const auto& bd = c.bias.dims();
      for (std::size_t i = 0; i < want.size(); ++i) {
        std::size_t rest = i, bi = 0, stride = 1;
        for (std::size_t k = od.size(); k-- > 0;) {
          const auto coord = static_cast<std::size_t>(rest % od[k]);
          rest /= static_cast<std::size_t>(od[k]);
          const std::size_t from_end = od.size() - 1 - k;
          if (from_end < bd.size()) {
            const auto n = static_cast<std::size_t>(bd[bd.size() - 1 - from_end]);
            bi += (n == 1 ? 0 : coord) * stride;
            stride *= n;
          }
        }
        want[i] += bias[bi];
      }
    }
    EXPECT_EQ(y.shape(), want_shape);
    std::vector<float> wf(want.begin(), want.end());
    EXPECT_EQ(mismatch(values(y), wf), "");
  }
}

TEST_P(EinsumDenseOnDevice, SymbolicInputsWithUnknownDimensions) {
  DeviceScope scope{Device(GetParam())};
  // Two unknown dimensions merged into one matmul row axis: the reshape is computed at run
  // time; the result equals the eager call.
  const Tensor in = Input(Shape{Shape::kUnknown, 5});
  auto layer = make_layer(
      "EinsumDense", Config{{"equation", "abc,cde->abde"}, {"output_shape", {Config(), 2, 3}}, {"bias_axes", "de"}});
  const Tensor out = (*layer)(in);
  EXPECT_EQ(out.shape(), (Shape{Shape::kUnknown, Shape::kUnknown, 2, 3}));
  auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out});
  const Tensor x = pattern_tensor(Shape{2, 4, 5}, 2);
  EXPECT_EQ(mismatch(values((*model)(x)), values((*layer)(x))), "");
}

INSTANTIATE_TEST_SUITE_P(Devices, EinsumDenseOnDevice, ::testing::ValuesIn(test_devices()), device_param_name);

class AttentionLayers : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

// d sum(layer(inputs) * probe) / d (inputs, weights) by the tape against central differences,
// in float64.
void check_gradients(const std::string& cls, Config config, const std::vector<Shape>& shapes) {
  SCOPED_TRACE(cls + " " + config.dump());
  config["dtype"] = "float64";
  auto layer = make_layer(cls, config);
  layer->ensure_built(shapes);
  std::vector<Tensor> inputs;
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    inputs.push_back(cast(pattern_tensor(shapes[k], 100 + static_cast<std::int64_t>(k)), DType::kFloat64) * 0.7);
  }
  std::vector<Tensor> init;
  const auto vars = layer->weights();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    init.push_back(cast(pattern_tensor(vars[i].shape(), static_cast<std::int64_t>(i + 1)), DType::kFloat64));
  }
  layer->set_weights(init);
  auto objective = [&](const std::vector<Tensor>& xs) {
    const Tensor y = (*layer)(xs)[0];
    return sum(y * cast(pattern_tensor(y.shape(), 7), DType::kFloat64));
  };
  GradientTape tape(/*persistent=*/true);
  for (const auto& in : inputs) tape.watch(in);
  const Tensor loss = objective(inputs);
  const auto dx = tape.gradient(loss, inputs);
  const auto dw = tape.gradient(loss, layer->trainable_weights());
  expect_gradients_match_finite_differences(*layer, objective, inputs, dx, dw);
}

TEST_F(AttentionLayers, EinsumDenseGradientsMatchFiniteDifferences) {
  check_gradients(
      "EinsumDense",
      Config{{"equation", "abc,cde->abde"}, {"output_shape", {3, 2, 2}}, {"bias_axes", "de"}, {"activation", "tanh"}},
      {Shape{2, 3, 4}});
  check_gradients("EinsumDense", Config{{"equation", "...b,bc->...c"}, {"output_shape", 3}, {"bias_axes", "c"}},
                  {Shape{2, 2, 4}});
  check_gradients("EinsumDense", Config{{"equation", "abcd,cde->abe"}, {"output_shape", {Config(), 3}}},
                  {Shape{2, 3, 2, 2}});
}

// The messages are tf-keras's where it has one, with the layer named.
TEST_F(AttentionLayers, EinsumDenseConfigErrors) {
  auto error_of = [](const Config& c) -> std::string {
    try {
      make_layer("EinsumDense", c)->ensure_built({Shape{Shape::kUnknown, 3, 4}});
    } catch (const ValueError& e) {
      return e.message();
    } catch (const Error& e) {
      return std::string("wrong kind ") + e.kind() + ": " + e.message();
    }
    return "no error";
  };
  EXPECT_EQ(error_of(Config{{"name", "ed"}, {"equation", "ab,bc"}, {"output_shape", 4}}),
            "layer 'ed' (EinsumDense): invalid einsum equation 'ab,bc'. Equations must be in the form "
            "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...");
  EXPECT_EQ(error_of(Config{{"name", "ed"}, {"equation", "abc,cd->abe"}, {"output_shape", {3, 4}}}),
            "layer 'ed' (EinsumDense): dimension 'e' of the output 'abe' is in neither the input spec 'abc' nor the "
            "weight spec 'cd'");
  EXPECT_EQ(error_of(Config{{"name", "ed"}, {"equation", "abc,cd->abd"}, {"output_shape", {3, 4}}, {"bias_axes", "x"}}),
            "layer 'ed' (EinsumDense): bias dimension 'x' was requested, but is not part of the output spec 'abd'");
  EXPECT_EQ(error_of(Config{{"name", "ed"}, {"equation", "abc,cd->abd"}, {"output_shape", {3, -4}}}),
            "layer 'ed' (EinsumDense): 'output_shape' entries must be positive integers or null, got [3,-4]");
  try {
    make_layer("EinsumDense", Config{{"name", "ed"}, {"equation", "abc,cd->abd"}, {"output_shape", {5, 4}}})
        ->ensure_built({Shape{Shape::kUnknown, 3, 4}});
    ADD_FAILURE() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_EQ(e.message(),
              "layer 'ed' (EinsumDense): input shape and output shape do not match at shared dimension "
              "'b'. Input shape is 3, and output shape is 5");
  }
  try {
    make_layer("EinsumDense", Config{{"name", "ed"}, {"output_shape", 4}});
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(e.message().find("'equation'"), std::string::npos) << e.message();
  }
}

// get_config writes tf-keras's keys in tf-keras's order; an int output_shape becomes a list.
TEST_F(AttentionLayers, EinsumDenseConfigIsTfKeras) {
  auto layer = make_layer("EinsumDense", Config{{"name", "ed"}, {"equation", "abc,cd->abd"}, {"output_shape", 4}});
  const Config c = layer->get_config();
  std::vector<std::string> keys;
  for (const auto& [k, v] : c.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "trainable", "dtype", "output_shape", "equation", "activation",
                                            "bias_axes", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                                            "bias_regularizer", "activity_regularizer", "kernel_constraint",
                                            "bias_constraint"}));
  EXPECT_EQ(c["output_shape"], Config({4}));
  EXPECT_TRUE(c["bias_axes"].is_null());
}

TEST_F(AttentionLayers, AttentionLayersGradientsMatchFiniteDifferences) {
  check_gradients("MultiHeadAttention", Config{{"num_heads", 2}, {"key_dim", 2}}, {Shape{2, 3, 4}, Shape{2, 2, 4}});
  check_gradients(
      "MultiHeadAttention",
      Config{{"num_heads", 2}, {"key_dim", 2}, {"value_dim", 3}, {"attention_axes", {1, 2}}, {"output_shape", 3}},
      {Shape{1, 2, 2, 3}, Shape{1, 2, 1, 2}, Shape{1, 2, 1, 3}});
  check_gradients("Attention", Config{{"use_scale", true}}, {Shape{2, 3, 4}, Shape{2, 2, 4}});
  check_gradients("Attention", Config{{"use_scale", true}, {"score_mode", "concat"}},
                  {Shape{2, 3, 4}, Shape{2, 2, 4}, Shape{2, 2, 4}});
  check_gradients("AdditiveAttention", Config::object(), {Shape{2, 3, 4}, Shape{2, 2, 4}});
  check_gradients("Dot", Config{{"axes", -1}, {"normalize", true}}, {Shape{2, 3, 4}, Shape{2, 2, 4}});
  check_gradients("Dot", Config{{"axes", {1, 1}}}, {Shape{2, 3, 4}, Shape{2, 3, 2}});
  check_gradients("LayerScale", Config{{"init_values", 0.1}, {"projection_dim", 3}}, {Shape{2, 2, 3}});
}

// An attention mask of zeros where a key must be ignored gives the same output as leaving
// that key out (tf-keras adds -1e9 to its score: its weight is exactly 0 in float32).
TEST_F(AttentionLayers, MultiHeadAttentionMaskIgnoresMaskedKeys) {
  auto layer = make_layer("MultiHeadAttention", Config{{"num_heads", 2}, {"key_dim", 3}});
  const Tensor q = pattern_tensor(Shape{1, 2, 4}, 1);
  const Tensor v = pattern_tensor(Shape{1, 3, 4}, 2);
  const Tensor mask = Tensor::from_vector<float>({1, 1, 0, 1, 1, 0}, Shape{1, 2, 3});
  const Tensor masked = (*layer)({q, v, v, mask})[0];
  const Tensor first_two = slice(v, {0, 0, 0}, {1, 2, 4});
  const Tensor shorter = (*layer)({q, first_two})[0];
  EXPECT_EQ(mismatch(values(masked), values(shorter), 1e-6, 1e-6), "");
}

TEST_F(AttentionLayers, StochasticDepthDropsWholeSamplesInTraining) {
  auto layer = make_layer("StochasticDepth", Config{{"drop_path_rate", 0.5}});
  const Tensor x = ones(Shape{64, 2, 3});
  EXPECT_EQ(values((*layer)(x)), values(x));
  const auto y = values((*layer)(x, CallContext{true, {}}));
  std::size_t dropped = 0;
  for (std::size_t b = 0; b < 64; ++b) {
    const float first = y[b * 6];
    ASSERT_TRUE(first == 0.0f || first == 2.0f) << first;
    for (std::size_t i = 1; i < 6; ++i) ASSERT_EQ(y[b * 6 + i], first) << "sample " << b;
    dropped += first == 0.0f;
  }
  EXPECT_GT(dropped, 10u);
  EXPECT_LT(dropped, 54u);
}

template <class E>
std::string error_of(const std::string& cls, const Config& c, const std::vector<Shape>& shapes) {
  try {
    make_layer(cls, c)->ensure_built(shapes);
  } catch (const E& e) {
    return e.message();
  } catch (const Error& e) {
    return std::string("wrong kind ") + e.kind() + ": " + e.message();
  }
  return "no error";
}

TEST_F(AttentionLayers, AttentionConfigErrors) {
  const std::vector<Shape> two = {Shape{Shape::kUnknown, 3, 4}, Shape{Shape::kUnknown, 2, 4}};
  EXPECT_EQ(error_of<ValueError>("MultiHeadAttention", Config{{"name", "m"}, {"num_heads", 0}, {"key_dim", 2}}, two),
            "layer 'm' (MultiHeadAttention): 'num_heads' must be a positive integer, got 0");
  EXPECT_EQ(error_of<FormatError>("MultiHeadAttention", Config{{"name", "m"}, {"num_heads", 2}}, two).find("key_dim") !=
                std::string::npos,
            true);
  EXPECT_EQ(error_of<ValueError>("MultiHeadAttention",
                                 Config{{"name", "m"}, {"num_heads", 2}, {"key_dim", 2}, {"dropout", 1.5}}, two),
            "layer 'm' (MultiHeadAttention): 'dropout' must be a number in [0, 1], got 1.5");
  EXPECT_EQ(error_of<ValueError>("Attention", Config{{"name", "a"}, {"score_mode", "cosine"}}, two),
            "layer 'a' (Attention): received score_mode=cosine. Acceptable values are: [\"dot\", \"concat\"]");
  EXPECT_EQ(error_of<ValueError>("Dot", Config{{"name", "d"}, {"axes", {1, 2, 3}}}, two),
            "layer 'd' (Dot): 'axes' must be an integer or a list of two integers, got [1,2,3]");
  EXPECT_EQ(error_of<ValueError>("Dot", Config{{"name", "d"}, {"axes", 1}}, two),
            "layer 'd' (Dot): incompatible input shapes: axis values 3 (at axis 1) != 2 (at axis 1). Full input "
            "shapes: (None, 3, 4), (None, 2, 4)");
  EXPECT_EQ(error_of<ValueError>("StochasticDepth", Config{{"name", "s"}, {"drop_path_rate", 2}}, {two[0]}),
            "layer 's' (StochasticDepth): 'drop_path_rate' must be a number in [0, 1], got 2");
  EXPECT_EQ(
      error_of<ValueError>("LayerScale", Config{{"name", "l"}, {"init_values", 0.1}, {"projection_dim", -1}}, {two[0]}),
      "layer 'l' (LayerScale): 'projection_dim' must be a positive integer, got -1");
}

// tf-keras writes mha(q, v, attention_mask=m) as one node whose kwargs hold the value and
// mask; Strata reads them in, and writes the node back as it was.
TEST_F(AttentionLayers, FunctionalConfigWithKeywordTensors) {
  const std::string json = R"({"class_name": "Functional", "config": {"name": "m", "trainable": true, "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 6], "dtype": "float32", "sparse": false,
     "ragged": false, "name": "q"}, "name": "q", "inbound_nodes": []},
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 4], "dtype": "float32", "sparse": false,
     "ragged": false, "name": "mask"}, "name": "mask", "inbound_nodes": []},
    {"class_name": "MultiHeadAttention", "config": {"name": "mha", "num_heads": 2, "key_dim": 3},
     "name": "mha", "inbound_nodes": [[["q", 0, 0, {"value": ["q", 0, 0], "attention_mask": ["mask", 0, 0]}]]]}],
    "input_layers": [["q", 0, 0], ["mask", 0, 0]], "output_layers": [["mha", 0, 0]]}})";
  const auto model = model_from_json(json);
  const Config c = model->get_config();
  const Config& nodes = c["layers"][2]["inbound_nodes"];
  EXPECT_EQ(nodes, Config::parse(R"([[["q", 0, 0, {"value": ["q", 0, 0], "attention_mask": ["mask", 0, 0]}]]])"));
  // The mask reached the layer: masking every key but the first makes each query attend to it.
  const Tensor q = pattern_tensor(Shape{1, 4, 6}, 3);
  const Tensor only_first =
      Tensor::from_vector<float>(std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, Shape{1, 4, 4});
  const Tensor all = ones(Shape{1, 4, 4});
  const auto masked = values((*model)({q, only_first})[0]);
  const auto unmasked = values((*model)({q, all})[0]);
  EXPECT_NE(mismatch(masked, unmasked), "");
  for (std::size_t t = 1; t < 4; ++t) {
    for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(masked[t * 6 + i], masked[i], 1e-6) << "query " << t;
  }
  // Flags among the keyword arguments reach the layer too, and are written back as read.
  std::string causal = json;
  causal.replace(causal.find(R"("attention_mask")"), 0, R"("use_causal_mask": true, )");
  EXPECT_EQ(model_from_json(causal)->get_config()["layers"][2]["inbound_nodes"],
            Config::parse(R"([[["q", 0, 0, {"value": ["q", 0, 0], "use_causal_mask": true,
                                            "attention_mask": ["mask", 0, 0]}]]])"));
}

// The keys tf-keras 2.17 writes for Model(x, MultiHeadAttention(2, 3)(x, x)).save_weights
// (tf.train.list_variables): the sublayers are tracked as its attributes _query_dense, ...
TEST_F(AttentionLayers, MultiHeadAttentionCheckpointKeysAreTfKeras) {
  const Tensor x = Input(Shape{4, 6});
  auto mha = make_layer("MultiHeadAttention", Config{{"num_heads", 2}, {"key_dim", 3}});
  const Tensor y = (*mha)({x, x})[0];
  auto model = std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{y});
  const auto dir = std::filesystem::temp_directory_path() / ("strata_mha_ckpt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const WrittenCheckpoint written = Checkpoint::with_root(model).write_with_graph(dir / "ck");
  std::map<std::string, std::string> got;
  for (const auto& [key, value] : written.values) got[key] = value.shape.to_string();
  std::filesystem::remove_all(dir);
  const std::string p = "layer_with_weights-0/", v = "/.ATTRIBUTES/VARIABLE_VALUE";
  EXPECT_EQ(got, (std::map<std::string, std::string>{{p + "_key_dense/bias" + v, "(2, 3)"},
                                                     {p + "_key_dense/kernel" + v, "(6, 2, 3)"},
                                                     {p + "_output_dense/bias" + v, "(6,)"},
                                                     {p + "_output_dense/kernel" + v, "(2, 3, 6)"},
                                                     {p + "_query_dense/bias" + v, "(2, 3)"},
                                                     {p + "_query_dense/kernel" + v, "(6, 2, 3)"},
                                                     {p + "_value_dense/bias" + v, "(2, 3)"},
                                                     {p + "_value_dense/kernel" + v, "(6, 2, 3)"}}));
}

// tf-keras 2.17's ConvNeXtTiny() config names its LayerScale layers "LayerScale" with
// config {..., "init_values": 1e-06, "projection_dim": 96}; gamma starts at init_values.
TEST_F(AttentionLayers, LayerScaleIsWrittenAsConvNeXtWritesIt) {
  const Tensor x = Input(Shape{2, 96});
  auto scale = make_layer("LayerScale", Config{{"name", "ls"}, {"init_values", 1e-06}, {"projection_dim", 96}});
  auto model = std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{(*scale)(x)});
  const Config layer = Config::parse(model_to_json(*model))["config"]["layers"][1];
  EXPECT_EQ(layer["class_name"], "LayerScale");
  EXPECT_EQ(layer["config"].dump(),
            R"({"name":"ls","trainable":true,"dtype":"float32","init_values":1e-06,"projection_dim":96})");
  EXPECT_EQ(values(scale->weights()[0].value()), std::vector<float>(96, 1e-06f));
}

}  // namespace
}  // namespace strata::layer_tests
