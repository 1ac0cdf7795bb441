// The cells SimpleRNNCell, LSTMCell and GRUCell as layers of their own (tf-keras 2.17 lets a
// cell be called on (inputs, states) in a Functional model and saves it as a node whose
// states are the keyword argument `states`), and an RNN of [LSTMCell, GRUCell] with
// return_state, initial states, a mask and go_backwards. Expected configs, weight names and
// outputs come from tf-keras (make_cell_expected.py -> cell_expected.inc). (Written before
// Strata's summary nested outputs; the interop fixture cells_as_layers covers cells since.)
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "load_error.hpp"
#include "recurrent_test_util.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

#include "cell_expected.inc"

using recurrent_tests::arr64;
using recurrent_tests::check_gradients;

class CellLayersTest : public recurrent_tests::OnEachDevice {};

Tensor f32(const Tensor& t) { return cast(t, DType::kFloat32); }

void expect_outputs(const std::vector<Tensor>& got, const std::vector<std::vector<float>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t o = 0; o < want.size(); ++o) {
    const auto g = got[o].to_vector<float>();
    ASSERT_EQ(g.size(), want[o].size()) << "output " << o;
    for (std::size_t i = 0; i < g.size(); ++i) {
      EXPECT_NEAR(g[i], want[o][i], 1e-5 + 1e-5 * std::abs(want[o][i])) << "output " << o << " element " << i;
    }
  }
}

std::vector<Tensor> pattern_weights(const Layer& layer) {
  std::vector<Tensor> out;
  const auto vars = layer.weights();
  for (std::size_t i = 0; i < vars.size(); ++i) out.push_back(f32(arr64(vars[i].shape(), static_cast<int>(i) + 2, 0.6)));
  return out;
}

// A model config without what tf-keras's H5 writer adds to each layer entry (module,
// registered_name, build_config), which Strata's model_config leaves to the H5 format.
Config plain(Config c) {
  for (auto& l : c["config"]["layers"]) {
    l.erase("module");
    l.erase("registered_name");
    l.erase("build_config");
  }
  return c;
}

TEST_P(CellLayersTest, CellsCalledOnStatesLoadPredictAndWriteTheConfigAsTfKeras) {
  const Config want = plain(Config::parse(kCellsConfig));
  const auto model = model_from_config(Config::parse(kCellsConfig));
  EXPECT_EQ(model_config(*model), want);  // call arguments (the `states` keyword) included, key for key
  std::vector<std::string> names;
  for (const auto& w : model->weights()) names.push_back(w.name());
  EXPECT_EQ(names, kCellsWeightNames);
  model->set_weights(pattern_weights(*model));
  const auto outs = model->predict(std::vector<Tensor>{f32(arr64({2, 2}, 40, 1.0)), f32(arr64({2, 3}, 41, 0.5)), f32(arr64({2, 3}, 42, 0.5))});
  expect_outputs(outs, kCellsOutputs);
  // a model built in C++ writes the same nodes
  const Config again = model_config(*model_from_config(model_config(*model)));
  EXPECT_EQ(again, want);
}

TEST_P(CellLayersTest, CellCalledInCppWritesTfKerasNode) {
  const Tensor x = Input(Shape{2}, "step");
  const Tensor h = Input(Shape{3}, "h");
  const Tensor c = Input(Shape{3}, "c");
  auto lstm = make_layer("LSTMCell", Config{{"units", 3}});
  const auto outs = (*lstm)({x, h, c});
  ASSERT_EQ(outs.size(), 3u);
  Functional model({x, h, c}, outs, "m");
  const Config node = model.get_config()["layers"][3]["inbound_nodes"];
  EXPECT_EQ(node.dump(), R"([[["step",0,0,{"states":[["h",0,0],["c",0,0]]}]]])");
}

TEST_P(CellLayersTest, StackedCellsWithStatesMaskAndGoBackwardsMatchTfKeras) {
  // the RNN layer entry of tf-keras's model, run on [sequence, h0, c0, g0] with Masking's mask
  Config rnn_entry;
  const Config stacked = Config::parse(kStackedConfig);
  for (const auto& l : stacked["config"]["layers"]) {
    if (l["class_name"] == "RNN") rnn_entry = l;
  }
  ASSERT_FALSE(rnn_entry.is_null());
  const auto rnn = deserialize_layer(Config{{"class_name", "RNN"}, {"config", rnn_entry["config"]}});
  std::vector<double> seq = arr64({2, 4, 3}, 43, 1.0).to_vector<double>();
  for (int k = 0; k < 3; ++k) seq[static_cast<std::size_t>((1 * 4 + 3) * 3 + k)] = 0.0;  // sample 1, last step
  const Tensor x = f32(Tensor::from_vector<double>(seq, Shape{2, 4, 3}));
  const std::vector<Tensor> inputs{x, f32(arr64({2, 2}, 44, 0.5)), f32(arr64({2, 2}, 45, 0.5)), f32(arr64({2, 3}, 46, 0.5))};
  rnn->ensure_built({Shape{Shape::kUnknown, 4, 3}, Shape{Shape::kUnknown, 2}, Shape{Shape::kUnknown, 2},
                     Shape{Shape::kUnknown, 3}});
  std::vector<std::string> names;
  for (const auto& w : rnn->weights()) names.push_back(w.name());
  EXPECT_EQ(names, kStackedWeightNames);
  rnn->set_weights(pattern_weights(*rnn));
  CallContext ctx;
  ctx.masks = {Tensor::from_bools({1, 1, 1, 1, 1, 1, 1, 0}, Shape{2, 4})};
  expect_outputs(rnn->call_with_masks(inputs, ctx).tensors, kStackedOutputs);
  // and its config is tf-keras's, key for key
  Config want = rnn_entry["config"];
  EXPECT_EQ(rnn->get_config(), want);
}

TEST_P(CellLayersTest, CellGradientsMatchFiniteDifferences) {
  for (const char* cls : {"SimpleRNNCell", "LSTMCell", "GRUCell"}) {
    SCOPED_TRACE(cls);
    auto cell = make_layer(cls, Config{{"units", 3}, {"dtype", "float64"}});
    std::vector<Tensor> inputs{arr64({2, 4}, 50, 1.0), arr64({2, 3}, 51, 0.5)};
    if (std::string(cls) == "LSTMCell") inputs.push_back(arr64({2, 3}, 52, 0.5));
    check_gradients(*cell, inputs, CallContext{});
  }
  auto gru = make_layer("GRUCell", Config{{"units", 2}, {"reset_after", false}, {"dtype", "float64"}});
  check_gradients(*gru, {arr64({2, 3}, 53, 1.0), arr64({2, 2}, 54, 0.5)}, CallContext{});
}

INSTANTIATE_TEST_SUITE_P(Ref, CellLayersTest, ::testing::Values("ref:0"));
INSTANTIATE_TEST_SUITE_P(Cpu, CellLayersTest, ::testing::Values("cpu:0"));

// ---- config errors -----------------------------------------------------------------------

using test::load_error;

std::string cell_model(const std::string& cell_config, const std::string& kwargs) {
  return R"({"class_name": "Functional", "config": {"name": "m", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 2], "name": "x"}, "name": "x", "inbound_nodes": []},
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "name": "h"}, "name": "h", "inbound_nodes": []},
      {"class_name": "GRUCell", "config": {"name": "g", )" +
         cell_config + R"(}, "name": "g", "inbound_nodes": [[["x", 0, 0, )" + kwargs + R"(]]]}],
      "input_layers": [["x", 0, 0], ["h", 0, 0]], "output_layers": [["g", 0, 0]]}})";
}

class CellConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

TEST_F(CellConfigErrors, BadCellsAndCalls) {
  EXPECT_EQ(load_error<ValueError>(cell_model(R"("units": 0)", R"({"states": ["h", 0, 0]})")),
            "layer 'g' (GRUCell): 'units' must be a positive integer, got 0");
  EXPECT_EQ(load_error<FormatError>(cell_model(R"("units": 3, "reset_after": "no")", R"({"states": ["h", 0, 0]})")),
            "layer 'g' (GRUCell): 'reset_after' must be true or false, got \"no\"");
  EXPECT_EQ(load_error<FormatError>(cell_model(R"("units": 3)", R"({"states": ["h", 0, 0], "constants": 1})")),
            "layer 'g' (GRUCell) is called with the argument 'constants'; a cell takes its inputs and 'states'");
  EXPECT_EQ(load_error<ValueError>(cell_model(R"("units": 3)", R"({})")),
            "layer 'g' (GRUCell) takes the step inputs and its 1 state(s); got 1 inputs");
  EXPECT_EQ(load_error<ShapeError>(cell_model(R"("units": 2)", R"({"states": ["h", 0, 0]})")),
            "layer 'g' (GRUCell): state 0 must have shape (batch, 2), got (None, 3)");
}

}  // namespace
}  // namespace strata
