// StackedRNNCells (stacked_rnn_cells.cpp) as a layer of its own and as an RNN's cell: config
// round trips in tf-keras 2.21's key order, weights as tf-keras names and orders them, one
// step and a whole sequence against tf-keras's numbers, finite-difference gradients, and bad
// configs and inputs as typed errors naming the layer.
//
// The tf-keras constants below were printed by this Python (tf-keras 2.21, TF_USE_LEGACY_KERAS=1):
//
//   import numpy as np, tf_keras as keras, tensorflow as tf
//   def pat(n, salt): return np.array([((i*7+salt*13)%19-9)/8 for i in range(n)], np.float32)
//   def show(name, a): print(name, "=", ", ".join("%.9g" % v for v in np.asarray(a).ravel()))
//   L = keras.layers; T = tf.constant
//   s = L.StackedRNNCells([L.LSTMCell(2), L.GRUCell(3), L.SimpleRNNCell(2)]); s.build((None, 3))
//   s.set_weights([pat(np.prod(w.shape), k + 1).reshape(w.shape) / 2 for k, w in enumerate(s.weights)])
//   x = T(pat(6, 100).reshape(2, 3)); h = T(pat(4, 101).reshape(2, 2)); c = T(pat(4, 102).reshape(2, 2))
//   g = T(pat(6, 103).reshape(2, 3)); r = T(pat(4, 104).reshape(2, 2))
//   y, st = s(x, [[h, c], g, r])
//   show("step_y", y); show("step_h", st[0][0]); show("step_c", st[0][1]); show("step_g", st[1])
//   rnn = L.RNN(L.StackedRNNCells([L.LSTMCell(2), L.GRUCell(3), L.SimpleRNNCell(2)]), return_sequences=True)
//   rnn.build((None, 4, 3))
//   rnn.set_weights([pat(np.prod(w.shape), k + 1).reshape(w.shape) / 2 for k, w in enumerate(rnn.weights)])
//   show("seq_y", rnn(pat(24, 100).reshape(2, 4, 3)))
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/model.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

const std::vector<float> kStepY = {-0.225182906f, -0.239623234f, 0.0115112495f, 0.43365106f};
const std::vector<float> kStepH = {0.164672568f, -0.0617381521f, 0.0324743986f, 0.30175969f};
const std::vector<float> kStepC = {0.42874229f, -0.140084326f, 0.0609854311f, 0.612852812f};
const std::vector<float> kStepG = {0.186979279f, 0.295990646f, -0.385346502f,
                                   0.275351018f, 0.412150979f, -0.404982746f};
const std::vector<float> kSeqY = {-0.326642573f, 0.0185967032f, -0.317049116f, -0.141352326f,
                                  -0.258076221f, -0.171251819f, -0.23993443f,  -0.162717536f,
                                  -0.332827926f, 0.0297364071f, -0.332977086f, -0.117382139f,
                                  -0.277533025f, -0.148722455f, -0.262858689f, -0.136344582f};

// Every test runs on the tests' ref device and on cpu (skipped without its backend plugin).
class StackedLayers : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (const auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    scope_.emplace(Device(GetParam()));
    clear_session();
  }
  std::optional<DeviceScope> scope_;
};

std::vector<std::string> keys(const Config& c) {
  std::vector<std::string> out;
  for (auto it = c.begin(); it != c.end(); ++it) out.push_back(it.key());
  return out;
}

Config cell(const std::string& cls, const Config& config) {
  return Config{{"module", "keras.layers"}, {"class_name", cls}, {"config", config}, {"registered_name", nullptr}};
}

// LSTMCell(2), GRUCell(3), SimpleRNNCell(2), as tf-keras serializes them (defaults left out).
Config three_cells() {
  return Config::array({cell("LSTMCell", {{"name", "lstm_cell"}, {"units", 2}}),
                        cell("GRUCell", {{"name", "gru_cell"}, {"units", 3}}),
                        cell("SimpleRNNCell", {{"name", "simple_rnn_cell"}, {"units", 2}})});
}

// tf-keras's set_weights of the constants: weight k is pat(size, k + 1) / 2.
void set_pattern_weights(Layer& l) {
  std::vector<Tensor> values;
  const auto ws = l.weights();
  for (std::size_t k = 0; k < ws.size(); ++k) {
    auto v = pattern(ws[k].shape().num_elements(), static_cast<std::int64_t>(k) + 1);
    for (auto& e : v) e /= 2.0f;
    values.push_back(Tensor::from_vector<float>(v, ws[k].shape()));
  }
  l.set_weights(values);
}

template <class E>
void expect_error(const std::function<void()>& f, const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming the layer and saying '" << words << "'";
  } catch (const E& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("StackedRNNCells"), std::string::npos) << m;
    EXPECT_NE(m.find(words), std::string::npos) << m;
  }
}

TEST_P(StackedLayers, ConfigIsTfKerasAndRoundTrips) {
  auto l = make_layer("StackedRNNCells", {{"cells", three_cells()}});
  const Config c = l->get_config();
  EXPECT_EQ(keys(c), (std::vector<std::string>{"name", "trainable", "dtype", "cells"}));
  EXPECT_EQ(c["name"], "stacked_rnn_cells");
  ASSERT_EQ(c["cells"].size(), 3u);
  EXPECT_EQ(c["cells"][0]["class_name"], "LSTMCell");
  EXPECT_EQ(c["cells"][1]["class_name"], "GRUCell");
  EXPECT_EQ(c["cells"][2]["class_name"], "SimpleRNNCell");
  EXPECT_EQ(keys(c["cells"][0]), (std::vector<std::string>{"module", "class_name", "config", "registered_name"}));
  EXPECT_EQ(c["cells"][1]["config"]["units"], 3);
  EXPECT_EQ(c["cells"][1]["config"]["reset_after"], true);
  const auto again = make_layer("StackedRNNCells", c);
  EXPECT_EQ(again->get_config().dump(), c.dump());
}

TEST_P(StackedLayers, WeightsInCellOrderWithTfKerasNames) {
  auto l = make_layer("StackedRNNCells", {{"cells", three_cells()}});
  const Tensor x = pattern_tensor(Shape{2, 3}, 100);
  (*l)(std::vector<Tensor>{x, pattern_tensor(Shape{2, 2}, 101), pattern_tensor(Shape{2, 2}, 102),
                           pattern_tensor(Shape{2, 3}, 103), pattern_tensor(Shape{2, 2}, 104)});
  // tf-keras's names when the stack is called in a Functional model ("stacked_rnn_cells/...").
  const std::vector<std::pair<std::string, Shape>> want = {
      {"stacked_rnn_cells/lstm_cell/kernel", Shape{3, 8}},
      {"stacked_rnn_cells/lstm_cell/recurrent_kernel", Shape{2, 8}},
      {"stacked_rnn_cells/lstm_cell/bias", Shape{8}},
      {"stacked_rnn_cells/gru_cell/kernel", Shape{2, 9}},
      {"stacked_rnn_cells/gru_cell/recurrent_kernel", Shape{3, 9}},
      {"stacked_rnn_cells/gru_cell/bias", Shape{2, 9}},
      {"stacked_rnn_cells/simple_rnn_cell/kernel", Shape{3, 2}},
      {"stacked_rnn_cells/simple_rnn_cell/recurrent_kernel", Shape{2, 2}},
      {"stacked_rnn_cells/simple_rnn_cell/bias", Shape{2}}};
  const auto ws = l->weights();
  ASSERT_EQ(ws.size(), want.size());
  for (std::size_t i = 0; i < ws.size(); ++i) {
    EXPECT_EQ(ws[i].name(), want[i].first) << i;
    EXPECT_EQ(ws[i].shape(), want[i].second) << i;
  }
}

TEST_P(StackedLayers, OneStepIsTfKeras) {
  auto l = make_layer("StackedRNNCells", {{"cells", three_cells()}});
  const std::vector<Tensor> in{pattern_tensor(Shape{2, 3}, 100), pattern_tensor(Shape{2, 2}, 101),
                               pattern_tensor(Shape{2, 2}, 102), pattern_tensor(Shape{2, 3}, 103),
                               pattern_tensor(Shape{2, 2}, 104)};
  l->ensure_built({Shape{-1, 3}, Shape{-1, 2}, Shape{-1, 2}, Shape{-1, 3}, Shape{-1, 2}});
  set_pattern_weights(*l);
  const auto out = (*l)(in);
  ASSERT_EQ(out.size(), 5u);  // output, h, c, g, r
  EXPECT_EQ(mismatch(values(out[0]), kStepY), "");
  EXPECT_EQ(mismatch(values(out[1]), kStepH), "");
  EXPECT_EQ(mismatch(values(out[2]), kStepC), "");
  EXPECT_EQ(mismatch(values(out[3]), kStepG), "");
  EXPECT_EQ(mismatch(values(out[4]), kStepY), "");  // the SimpleRNNCell's state is its output
}

TEST_P(StackedLayers, RnnOfStackIsTfKerasAndItsCellIsTheRegisteredLayer) {
  const Config stack = Config{{"module", "keras.layers"},
                              {"class_name", "StackedRNNCells"},
                              {"config", {{"name", "stacked_rnn_cells"}, {"cells", three_cells()}}},
                              {"registered_name", nullptr}};
  auto rnn = make_layer("RNN", {{"name", "rnn"}, {"cell", stack}, {"return_sequences", true}});
  const Tensor x = pattern_tensor(Shape{2, 4, 3}, 100);
  rnn->ensure_built({Shape{-1, 4, 3}});
  set_pattern_weights(*rnn);
  EXPECT_EQ(rnn->weights()[3].name(), "rnn/stacked_rnn_cells/gru_cell/kernel");
  EXPECT_EQ(mismatch(values((*rnn)(x)), kSeqY), "");
  const Config c = rnn->get_config();
  EXPECT_EQ(c["cell"]["class_name"], "StackedRNNCells");
  EXPECT_EQ(keys(c["cell"]["config"]), (std::vector<std::string>{"name", "trainable", "dtype", "cells"}));
  // The RNN's cell config is what the registered layer writes for the same cells.
  Config own = c["cell"]["config"];
  for (auto& e : own["cells"]) e.erase("build_config");
  const auto standalone = make_layer("StackedRNNCells", own);
  EXPECT_EQ(standalone->get_config().dump(), own.dump());
}

TEST_P(StackedLayers, GradientsMatchFiniteDifferences) {
  if (GetParam() != "ref:0") GTEST_SKIP() << "float64 finite differences on ref only";
  Config cells = Config::array(
      {cell("GRUCell", {{"units", 2}, {"dtype", "float64"}}), cell("LSTMCell", {{"units", 2}, {"dtype", "float64"}})});
  auto l = make_layer("StackedRNNCells", {{"cells", cells}, {"dtype", "float64"}});
  auto d = [](const Shape& s, std::int64_t salt) { return cast(pattern_tensor(s, salt), DType::kFloat64); };
  const std::vector<Tensor> in{d(Shape{2, 3}, 100), d(Shape{2, 2}, 101), d(Shape{2, 2}, 102), d(Shape{2, 2}, 103)};
  l->ensure_built({Shape{2, 3}, Shape{2, 2}, Shape{2, 2}, Shape{2, 2}});
  std::vector<Tensor> w;
  for (std::size_t k = 0; k < l->weights().size(); ++k)
    w.push_back(d(l->weights()[k].shape(), static_cast<std::int64_t>(k) + 1) * 0.5);
  l->set_weights(w);
  auto objective = [&](const std::vector<Tensor>& xs) {
    Tensor total;
    for (const auto& y : (*l)(xs)) {
      const Tensor s = sum(y * y) * 0.5;
      total = total.defined() ? total + s : s;
    }
    return total;
  };
  std::vector<Tensor> dx, dw;
  {
    GradientTape tape(/*persistent=*/true);
    for (const auto& x : in) tape.watch(x);
    const Tensor loss = objective(in);
    const std::vector<Variable> vars = l->trainable_weights();
    dx = tape.gradient(loss, in);
    dw = tape.gradient(loss, vars);
  }
  expect_gradients_match_finite_differences(*l, objective, in, dx, dw);
}

TEST_P(StackedLayers, BadConfigsAndInputsNameTheLayer) {
  expect_error<FormatError>([] { make_layer("StackedRNNCells", {{"name", "s"}}); }, "'cells' is missing");
  expect_error<ValueError>([] { make_layer("StackedRNNCells", {{"name", "s"}, {"cells", Config::array()}}); }, "empty");
  expect_error<FormatError>(
      [] {
        make_layer("StackedRNNCells", {{"name", "s"}, {"cells", 3}});
      },
      "must be a list of serialized cells");
  expect_error<ValueError>(
      [] {
        make_layer("StackedRNNCells", {{"name", "s"}, {"cells", Config::array({cell("Dense", {{"units", 2}})})}});
      },
      "must be a SimpleRNNCell, LSTMCell or GRUCell");
  expect_error<ValueError>(
      [] {
        make_layer("StackedRNNCells", {{"name", "s"}, {"cells", three_cells()}, {"reverse_state_order", true}});
      },
      "reverse_state_order");
  auto l = make_layer("StackedRNNCells", {{"name", "s"}, {"cells", three_cells()}});
  expect_error<ValueError>([&] { (*l)(std::vector<Tensor>{pattern_tensor(Shape{2, 3}, 1)}); }, "4 state(s)");
  expect_error<ShapeError>(
      [&] {
        (*l)(std::vector<Tensor>{pattern_tensor(Shape{2, 2, 3}, 1), pattern_tensor(Shape{2, 2}, 2),
                                 pattern_tensor(Shape{2, 2}, 3), pattern_tensor(Shape{2, 3}, 4),
                                 pattern_tensor(Shape{2, 2}, 5)});
      },
      "rank 2");
}

INSTANTIATE_TEST_SUITE_P(Devices, StackedLayers, ::testing::ValuesIn(test_devices()), device_param_name);

}  // namespace
}  // namespace strata::layer_tests
