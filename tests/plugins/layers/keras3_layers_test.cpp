// Keras 3's layers that tf-keras lacks (keras3_layers.cpp, grouped_query_attention.cpp):
// RMSNormalization, AdaptiveAveragePooling1D/2D/3D, AdaptiveMaxPooling1D/2D/3D,
// ReversibleEmbedding, GroupQueryAttention.
//
// Label interop (Keras3LayersInterop, skips without the venv): small Keras 3 models that
// tests/interop/generate_keras3_layers.py builds with real Keras 3.15 at test time (cached
// under ~/.cache/strata/keras3-layers): each is rebuilt from Keras 3's model.to_json(), gets
// Keras 3's weights, and must predict Keras 3's outputs (1e-5) and give the gradients of
// sum(y²)/2 w.r.t. the weights that tf.GradientTape gave (1e-4); Strata's own config of the
// model must rebuild one that predicts the same, and each Keras 3 layer's config keys must
// come back in Keras 3's order.
// Label plugin (the rest): config round trips, hand-computed values, and bad configs and
// shapes as typed errors naming the layer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "generated_models.hpp"
#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

namespace fs = std::filesystem;

// ---- interop against real Keras 3 ---------------------------------------------------------

fs::path generated() {
  static const fs::path dir = test::generated_fixtures("keras3-layers", STRATA_KERAS3_LAYERS_GENERATOR);
  return dir;
}

const std::set<std::string> kKeras3Classes = {
    "RMSNormalization",         "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D", "AdaptiveMaxPooling1D",     "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",     "ReversibleEmbedding",      "GroupQueryAttention"};

// cpu when its backend plugin is loaded, else the tests' ref device.
Device usable_device() {
  return Device(skip_reason("cpu:0").empty() ? "cpu:0" : "ref:0");
}

class Keras3LayersInterop : public test::GeneratedModels {
 protected:
  void SetUp() override {
    if (!have_venv()) {
      GTEST_SKIP() << "no Keras 3 venv at " << test::interop_venv() << " (set STRATA_INTEROP_VENV)";
    }
    clear_session();
    load_index(generated());
  }
};

TEST_P(Keras3LayersInterop, PredictsAndDifferentiatesAsKeras3) {
  for (const std::string& device_name : test_devices()) {
    SCOPED_TRACE(device_name);
    if (const std::string why = skip_reason(device_name); !why.empty()) continue;
    const Device device(device_name);
    DeviceScope scope(device);
    clear_session();
    const auto model = model_from_json(test::read_text(file("model.json")));
    const auto n_weights = entry_["weights"].get<std::size_t>();
    ASSERT_EQ(model->weights().size(), n_weights);
    for (std::size_t i = 0; i < n_weights; ++i) {
      EXPECT_EQ(model->weights()[i].name().find(entry_["weight_paths"][i].get<std::string>()), 0u)
          << "weight " << i << ": Strata " << model->weights()[i].name() << ", Keras 3 " << entry_["weight_paths"][i];
    }
    model->set_weights(read_all("w", n_weights, device));
    const auto inputs = read_all("x", entry_["inputs"].get<std::size_t>(), device);
    const auto n_outputs = entry_["outputs"].get<std::size_t>();
    const auto want = read_all("y", n_outputs, Device::cpu());

    const auto got = model->predict(inputs);
    ASSERT_EQ(got.size(), n_outputs);
    for (std::size_t o = 0; o < n_outputs; ++o) {
      EXPECT_EQ(got[o].shape().to_string(), want[o].shape().to_string()) << "output " << o;
      EXPECT_EQ(mismatch(values(got[o].to(Device::cpu())), values(want[o])), "") << "output " << o;
    }

    {  // activity regularizers: the sum of the losses the call adds
      LossCollector collector;
      (void)(*model)(inputs);
      ASSERT_EQ(collector.losses().size(), entry_["activity_loss_terms"].get<std::size_t>());
      double total = 0;
      for (const auto& l : collector.losses()) total += values(l.to(Device::cpu()))[0];
      const double want_total = entry_["activity_losses"].get<double>();
      EXPECT_NEAR(total, want_total, 1e-5 + 1e-5 * std::fabs(want_total));
    }

    GradientTape tape;
    const auto ys = (*model)(inputs);
    std::vector<Tensor> terms;
    for (const auto& y : ys) terms.push_back(sum(square(y)) * 0.5);
    const Tensor loss = terms.size() == 1 ? terms[0] : add_n(terms);
    const auto grads = tape.gradient(loss, model->weights());
    const auto want_grads = read_all("g", n_weights, Device::cpu());
    for (std::size_t i = 0; i < n_weights; ++i) {
      if (!grads[i].defined()) {  // the loss does not depend on it: Keras 3's gradient is None (zeros here)
        EXPECT_EQ(mismatch(values(want_grads[i]), std::vector<float>(want_grads[i].shape().num_elements(), 0.0f)), "")
            << "no gradient for " << model->weights()[i].name();
        continue;
      }
      EXPECT_EQ(mismatch(values(grads[i].to(Device::cpu())), values(want_grads[i]), 1e-4, 1e-4), "")
          << "gradient of " << model->weights()[i].name();
    }

    // Strata's own config (tf-keras's node dialect) rebuilds a model that predicts the same.
    const auto again = model_from_config(model_config(*model));
    again->set_weights(model->get_weights());
    const auto got_again = again->predict(inputs);
    ASSERT_EQ(got_again.size(), n_outputs);
    for (std::size_t o = 0; o < n_outputs; ++o) {
      EXPECT_EQ(mismatch(values(got_again[o].to(Device::cpu())), values(want[o])), "") << "rebuilt, output " << o;
    }
  }
}

// Keras 3's legacy H5 of the same model (its config and weights) loads and predicts the same.
TEST_P(Keras3LayersInterop, LoadsKeras3LegacyH5) {
  if (!Registry::global().contains(ObjectKind::kFormat, "h5")) GTEST_SKIP() << "the format-h5 plugin is not built";
  DeviceScope scope(usable_device());
  const auto model = load_model(file("model.h5"));
  const auto inputs = read_all("x", entry_["inputs"].get<std::size_t>(), usable_device());
  const auto n_outputs = entry_["outputs"].get<std::size_t>();
  const auto want = read_all("y", n_outputs, Device::cpu());
  const auto got = model->predict(inputs);
  ASSERT_EQ(got.size(), n_outputs);
  for (std::size_t o = 0; o < n_outputs; ++o) {
    EXPECT_EQ(mismatch(values(got[o].to(Device::cpu())), values(want[o])), "") << "output " << o;
  }
}

// The layer-specific keys Strata writes are Keras 3's, in Keras 3's order, with Keras 3's
// plain values (nested objects are written in tf-keras's dialect, so only their presence counts).
TEST_P(Keras3LayersInterop, WritesKeras3sConfigKeys) {
  DeviceScope scope(usable_device());
  const Config keras = Config::parse(test::read_text(file("model.json")));
  const auto model = model_from_json(test::read_text(file("model.json")));
  const Config strata = model_config(*model);
  std::size_t seen = 0;
  for (const auto& layer : keras["config"]["layers"]) {
    const std::string cls = layer["class_name"].get<std::string>();
    if (!kKeras3Classes.count(cls)) continue;
    ++seen;
    const Config* mine = nullptr;
    for (const auto& l : strata["config"]["layers"]) {
      if (l["config"]["name"] == layer["config"]["name"]) mine = &l;
    }
    ASSERT_NE(mine, nullptr) << layer["config"]["name"];
    EXPECT_EQ((*mine)["class_name"], cls);
    std::vector<std::string> want_keys, got_keys;
    for (const auto& [k, v] : layer["config"].items()) {
      if (k == "name" || k == "trainable" || k == "dtype") continue;
      want_keys.push_back(k);
      if (!v.is_object()) {
        EXPECT_EQ((*mine)["config"].value(k, Config()).dump(), v.dump()) << cls << " key " << k;
      }
    }
    for (const auto& [k, v] : (*mine)["config"].items()) {
      if (k != "name" && k != "trainable" && k != "dtype" && k != "batch_input_shape") got_keys.push_back(k);
    }
    EXPECT_EQ(got_keys, want_keys) << cls;
  }
  EXPECT_GT(seen, 0u);
}

INSTANTIATE_TEST_SUITE_P(Models, Keras3LayersInterop,
                         ::testing::Values("rms_default", "rms_axes_list", "rms_negative_axes", "adaptive_avg1d",
                                           "adaptive_avg1d_up", "adaptive_max1d", "adaptive_max1d_first",
                                           "adaptive_avg2d", "adaptive_avg2d_first", "adaptive_max2d",
                                           "adaptive_max2d_first", "adaptive_avg3d", "adaptive_avg3d_first",
                                           "adaptive_max3d", "adaptive_max3d_first", "reversible_tied",
                                           "reversible_untied_cap", "reversible_mask_zero", "reversible_reverse_only",
                                           "gqa_basic", "gqa_key_mask_scores", "gqa_masked_row_fast_path",
                                           "gqa_causal_gate_nobias", "gqa_sliding_unknown_length", "gqa_keras_masks",
                                           "activity_regularizers"));

// ---- without the venv -------------------------------------------------------------------

class Keras3Layers : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

std::shared_ptr<Layer> layer(const char* cls, Config c) {
  return make_layer(cls, c);
}

// Built once on `shapes`, then its config rebuilds a layer whose config is the same.
void expect_round_trip(const char* cls, const Config& c, const std::vector<Shape>& shapes) {
  const auto first = layer(cls, c);
  first->ensure_built(shapes);
  const Config written = first->get_config();
  const auto second = layer(cls, written);
  second->ensure_built(shapes);
  EXPECT_EQ(second->get_config().dump(), written.dump()) << cls;
  EXPECT_EQ(second->weights().size(), first->weights().size()) << cls;
}

TEST_F(Keras3Layers, ConfigsRoundTrip) {
  expect_round_trip("RMSNormalization", {{"name", "r"}, {"axis", Config::array({2, 1})}, {"epsilon", 0.25}},
                    {Shape{2, 3, 4}});
  expect_round_trip("AdaptiveMaxPooling2D", {{"name", "p"}, {"output_size", 3}, {"data_format", "channels_first"}},
                    {Shape{1, 2, 5, 5}});
  expect_round_trip("AdaptiveAveragePooling3D", {{"name", "p"}, {"output_size", Config::array({1, 2, 3})}},
                    {Shape{1, 4, 4, 4, 2}});
  expect_round_trip("ReversibleEmbedding",
                    {{"name", "e"},
                     {"input_dim", 7},
                     {"output_dim", 3},
                     {"tie_weights", false},
                     {"mask_zero", true},
                     {"logit_soft_cap", 30.0},
                     {"reverse_dtype", "float32"}},
                    {Shape{2, 4}});
  expect_round_trip("GroupQueryAttention",
                    {{"name", "g"},
                     {"head_dim", 2},
                     {"num_query_heads", 4},
                     {"num_key_value_heads", 2},
                     {"use_gate", true},
                     {"sliding_window", 3},
                     {"dropout", 0.5},
                     {"seed", 3}},
                    {Shape{2, 3, 4}, Shape{2, 5, 4}});
}

TEST_F(Keras3Layers, ConfigDefaultsAreKeras3s) {
  const Config rms = layer("RMSNormalization", Config::object())->get_config();
  EXPECT_EQ(rms["axis"], -1);
  EXPECT_DOUBLE_EQ(rms["epsilon"].get<double>(), 1e-6);
  const Config pool = layer("AdaptiveAveragePooling1D", {{"output_size", 4}})->get_config();
  EXPECT_EQ(pool["output_size"].dump(), "[4]");
  EXPECT_EQ(pool["data_format"], "channels_last");
  const Config emb = layer("ReversibleEmbedding", {{"input_dim", 5}, {"output_dim", 2}})->get_config();
  EXPECT_EQ(emb["tie_weights"], true);
  EXPECT_EQ(emb["mask_zero"], false);
  EXPECT_TRUE(emb["logit_soft_cap"].is_null());
  EXPECT_EQ(emb["embeddings_initializer"]["class_name"], "RandomUniform");
  const Config gqa =
      layer("GroupQueryAttention", {{"head_dim", 2}, {"num_query_heads", 2}, {"num_key_value_heads", 1}})->get_config();
  EXPECT_EQ(gqa["use_bias"], true);
  EXPECT_EQ(gqa["use_gate"], false);
  EXPECT_TRUE(gqa["sliding_window"].is_null());
  EXPECT_EQ(gqa["kernel_initializer"]["class_name"], "GlorotUniform");
}

// Bins by hand: length 5 into 3 bins pools [0, 2), [1, 4), [3, 5).
TEST_F(Keras3Layers, AdaptivePoolingBinsByHand) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5}, Shape{1, 5, 1});
  const Tensor avg = (*layer("AdaptiveAveragePooling1D", {{"output_size", 3}}))(x);
  EXPECT_EQ(mismatch(values(avg), {1.5f, 3.0f, 4.5f}), "");
  const Tensor mx = (*layer("AdaptiveMaxPooling1D", {{"output_size", 3}}))(x);
  EXPECT_EQ(mismatch(values(mx), {2.0f, 4.0f, 5.0f}), "");
  // Upsampling: length 3 into 4 bins pools [0, 1), [0, 2), [1, 3), [2, 3).
  const Tensor y = Tensor::from_vector<float>({1, 2, 4}, Shape{1, 1, 3});
  const Tensor up = (*layer("AdaptiveAveragePooling1D", {{"output_size", 4}, {"data_format", "channels_first"}}))(y);
  EXPECT_EQ(up.shape().to_string(), Shape({1, 1, 4}).to_string());
  EXPECT_EQ(mismatch(values(up), {1.0f, 1.5f, 3.0f, 4.0f}), "");
}

TEST_F(Keras3Layers, RMSNormalizationByHand) {
  const auto l = layer("RMSNormalization", {{"epsilon", 0.0}});
  const Tensor x = Tensor::from_vector<float>({3, 4, 0, -2}, Shape{2, 2});
  // rows: rms sqrt(12.5), sqrt(2); scale ones.
  const float a = 1.0f / std::sqrt(12.5f), b = 1.0f / std::sqrt(2.0f);
  EXPECT_EQ(mismatch(values((*l)(x)), {3 * a, 4 * a, 0.0f, -2 * b}), "");
  ASSERT_EQ(l->weights().size(), 1u);
  EXPECT_EQ(l->weights()[0].shape().to_string(), Shape({2}).to_string());
}

TEST_F(Keras3Layers, ReversibleEmbeddingReverseCallAndMask) {
  const auto l = layer("ReversibleEmbedding", {{"input_dim", 3}, {"output_dim", 2}, {"mask_zero", true}});
  const Tensor ids = Tensor::from_vector<std::int32_t>({0, 2}, Shape{1, 2});
  const auto forward = l->call_with_masks({ids});
  l->set_weights({Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{3, 2})});
  ASSERT_EQ(forward.masks.size(), 1u);
  ASSERT_TRUE(forward.masks[0].defined());
  EXPECT_EQ(mismatch(values(cast(forward.masks[0], DType::kFloat32)), {0.0f, 1.0f}), "");
  auto* arguments = dynamic_cast<CallArgumentsLayer*>(l.get());
  ASSERT_NE(arguments, nullptr);
  arguments->set_call_arguments(
      Config{{"args", Config::array({Config{{"strata.tensor", 0}}})}, {"kwargs", {{"reverse", true}}}});
  const auto reverse = l->call_with_masks({Tensor::from_vector<float>({1, -1}, Shape{1, 2})});
  // h @ embeddings^T: [1-2, 3-4, 5-6].
  EXPECT_EQ(mismatch(values(reverse.tensors[0]), {-1.0f, -1.0f, -1.0f}), "");
  EXPECT_TRUE(reverse.masks.empty() || !reverse.masks[0].defined());
}

// Dropout applies in training only: with rate 1 every attention weight is dropped, so the
// output is the output projection's bias; in inference the same layer attends.
TEST_F(Keras3Layers, GroupQueryAttentionDropsOutInTrainingOnly) {
  const auto l = layer("GroupQueryAttention",
                       {{"head_dim", 2}, {"num_query_heads", 2}, {"num_key_value_heads", 1}, {"dropout", 1.0}});
  const Tensor q = pattern_tensor(Shape{1, 3, 4}, 1), v = pattern_tensor(Shape{1, 2, 4}, 2);
  (void)(*l)({q, v});
  ASSERT_EQ(l->weights().size(), 8u);  // query, key, value, attention_output: kernel and bias each
  std::vector<Tensor> weights;
  for (std::size_t i = 0; i < 8; ++i)
    weights.push_back(pattern_tensor(l->weights()[i].shape(), 10 + static_cast<std::int64_t>(i)));
  l->set_weights(weights);
  CallContext training;
  training.training = true;
  const Tensor dropped = (*l)({q, v}, training)[0];
  const auto bias = values(weights[7]);
  std::vector<float> want;
  for (int step = 0; step < 3; ++step) want.insert(want.end(), bias.begin(), bias.end());
  EXPECT_EQ(mismatch(values(dropped), want), "");
  EXPECT_NE(mismatch(values((*l)({q, v})[0]), want), "");
}

TEST_F(Keras3Layers, BadConfigsAreValueErrorsNamingTheLayer) {
  expect_error<ValueError>(
      [] {
        layer("GroupQueryAttention",
              {{"name", "gq"}, {"head_dim", 2}, {"num_query_heads", 3}, {"num_key_value_heads", 2}});
      },
      "gq", "divisible");
  expect_error<ValueError>(
      [] {
        layer("GroupQueryAttention",
              {{"name", "gq"}, {"head_dim", 0}, {"num_query_heads", 2}, {"num_key_value_heads", 2}});
      },
      "gq", "head_dim");
  expect_error<ValueError>(
      [] {
        layer("GroupQueryAttention", {{"name", "gq"},
                                      {"head_dim", 2},
                                      {"num_query_heads", 2},
                                      {"num_key_value_heads", 2},
                                      {"sliding_window", 0}});
      },
      "gq", "sliding_window");
  expect_error<ValueError>(
      [] {
        layer("GroupQueryAttention",
              {{"name", "gq"}, {"head_dim", 2}, {"num_query_heads", 2}, {"num_key_value_heads", 2}, {"dropout", 1.5}});
      },
      "gq", "dropout");
  expect_error<ValueError>(
      [] {
        layer("AdaptiveMaxPooling2D", {{"name", "ap"}, {"output_size", 0}});
      },
      "ap", "output_size");
  expect_error<ValueError>([] { layer("AdaptiveMaxPooling2D", {{"name", "ap"}}); }, "ap", "output_size");
  expect_error<ValueError>(
      [] {
        layer("ReversibleEmbedding", {{"name", "re"}, {"input_dim", 0}, {"output_dim", 2}});
      },
      "re", "input_dim");
  // Every Keras 3 quantized layer is refused by the layer base, as a FormatError naming the mode.
  expect_error<FormatError>(
      [] {
        layer("ReversibleEmbedding",
              {{"name", "re"}, {"input_dim", 3}, {"output_dim", 2}, {"quantization_config", {{"mode", "int8"}}}});
      },
      "re", "int8 quantiz");
  expect_error<ValueError>(
      [] {
        layer("ReversibleEmbedding", {{"name", "re"}, {"input_dim", 3}, {"output_dim", 2}, {"logit_soft_cap", -1.0}});
      },
      "re", "logit_soft_cap");
  expect_error<ValueError>([] { layer("RMSNormalization", {{"name", "rn"}, {"epsilon", -1.0}}); }, "rn", "epsilon");
  expect_error<FormatError>(
      [] {
        layer("AdaptiveAveragePooling1D", {{"name", "ap"}, {"output_size", 2}, {"data_format", "nchw"}});
      },
      "ap", "data_format");
  expect_error<FormatError>(
      [] {
        layer("AdaptiveAveragePooling2D", {{"name", "ap"}, {"output_size", Config::array({1, 2, 3})}});
      },
      "ap", "output_size");
}

TEST_F(Keras3Layers, BadShapesAreTypedErrorsNamingTheLayer) {
  expect_error<ShapeError>(
      [] {
        (void)(*layer("AdaptiveAveragePooling2D", {{"name", "ap"}, {"output_size", 2}}))(zeros(Shape{1, 4, 4}));
      },
      "ap", "rank");
  expect_error<ValueError>(
      [] {
        (void)(*layer("RMSNormalization", {{"name", "rn"}, {"axis", 3}}))(zeros(Shape{1, 4}));
      },
      "rn", "axis");
  auto gqa = [] {
    return layer("GroupQueryAttention",
                 {{"name", "gq"}, {"head_dim", 2}, {"num_query_heads", 2}, {"num_key_value_heads", 1}});
  };
  expect_error<ShapeError>([&] { (void)(*gqa())({zeros(Shape{1, 4}), zeros(Shape{1, 4})}); }, "gq", "rank 3");
  expect_error<ValueError>(
      [&] {
        (void)(*gqa())({zeros(Shape{1, 3, 4}), zeros(Shape{1, 2, 5})});
      },
      "gq", "last dimension");
  const auto e = layer("ReversibleEmbedding", {{"name", "re"}, {"input_dim", 3}, {"output_dim", 2}});
  (void)(*e)(Tensor::from_vector<std::int32_t>({1}, Shape{1, 1}));
  dynamic_cast<CallArgumentsLayer&>(*e).set_call_arguments(
      Config{{"args", Config::array({Config{{"strata.tensor", 0}}})}, {"kwargs", {{"reverse", true}}}});
  expect_error<ShapeError>([&] { (void)(*e)(zeros(Shape{1, 5})); }, "re", "output_dim");
}

}  // namespace
}  // namespace strata::layer_tests
