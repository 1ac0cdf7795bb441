// RNN of a list of cells (StackedRNNCells) and stateful recurrent layers (issue 18, second
// part). Forward values, configs, weight names and summaries against tf-keras 2.17 are
// checked by the interop fixtures rnn_stacked_cells and rnn_stateful
// (tests/interop/generate_fixtures.py); here: gradients by central differences, tf-keras's
// weight names and checkpoint tracking of the stacked cells (read from files tf-keras 2.17
// wrote: "rnn/stacked_rnn_cells/lstm_cell/kernel:0" and "layer_with_weights-0/cell/cells/0/
// kernel"), TimeDistributed's folded mask, and the stateful fixture predicted batch by batch,
// with reset_states.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "recurrent_test_util.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"
#include "strata/stateful.hpp"

namespace strata {
namespace {

using recurrent_tests::arr64;
using recurrent_tests::check_gradients;
using recurrent_tests::mask_of;

class StackedStatefulTest : public recurrent_tests::OnEachDevice {};

Config cell(const char* cls, Config config) { return Config{{"class_name", cls}, {"config", std::move(config)}}; }

TEST_P(StackedStatefulTest, StackedCellsGradientsMatchFiniteDifferences) {
  CallContext masked;
  masked.masks = {mask_of({{1, 1, 0, 1}, {1, 1, 1, 0}})};
  for (const bool backwards : {false, true}) {
    SCOPED_TRACE(backwards ? "go_backwards" : "forwards");
    auto layer = make_layer(
        "RNN", Config{{"dtype", "float64"},
                      {"return_sequences", true},
                      {"return_state", true},
                      {"go_backwards", backwards},
                      {"cell", Config::array({cell("LSTMCell", Config{{"units", 2}, {"dtype", "float64"}}),
                                              cell("GRUCell", Config{{"units", 3}, {"reset_after", backwards},
                                                                     {"dtype", "float64"}}),
                                              cell("SimpleRNNCell", Config{{"units", 2}, {"dtype", "float64"}})})}});
    check_gradients(*layer, {arr64({2, 4, 3}, 28, 1.0)}, masked);
  }
  // initial states: every cell's, in cell order (h, c of the LSTM, then h of the GRU)
  auto layer = make_layer(
      "RNN", Config{{"dtype", "float64"},
                    {"cell", Config{{"class_name", "StackedRNNCells"},
                                    {"config", {{"cells", Config::array({cell("LSTMCell", Config{{"units", 2}, {"dtype", "float64"}}),
                                                                         cell("GRUCell", Config{{"units", 3}, {"dtype", "float64"}})})}}}}}});
  check_gradients(*layer, {arr64({2, 3, 2}, 29, 1.0), arr64({2, 2}, 5, 0.5), arr64({2, 2}, 6, 0.5), arr64({2, 3}, 7, 0.5)},
                  CallContext{});
}

// tf-keras 2.17: RNN([LSTMCell(4), GRUCell(3), SimpleRNNCell(2)]) on (None, 3, 2).
TEST_P(StackedStatefulTest, StackedCellsHaveTfKerasNamesAndTracking) {
  auto rnn = make_layer("RNN", Config{{"return_state", true},
                                      {"cell", Config::array({cell("LSTMCell", Config{{"units", 4}}),
                                                              cell("GRUCell", Config{{"units", 3}}),
                                                              cell("SimpleRNNCell", Config{{"units", 2}})})}});
  rnn->ensure_built({Shape{Shape::kUnknown, 3, 2}});
  std::vector<std::string> names;
  std::vector<std::string> shapes;
  for (const auto& w : rnn->weights()) {
    names.push_back(w.name());
    shapes.push_back(w.shape().to_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "rnn/stacked_rnn_cells/lstm_cell/kernel", "rnn/stacked_rnn_cells/lstm_cell/recurrent_kernel",
                       "rnn/stacked_rnn_cells/lstm_cell/bias", "rnn/stacked_rnn_cells/gru_cell/kernel",
                       "rnn/stacked_rnn_cells/gru_cell/recurrent_kernel", "rnn/stacked_rnn_cells/gru_cell/bias",
                       "rnn/stacked_rnn_cells/simple_rnn_cell/kernel",
                       "rnn/stacked_rnn_cells/simple_rnn_cell/recurrent_kernel",
                       "rnn/stacked_rnn_cells/simple_rnn_cell/bias"}));
  EXPECT_EQ(shapes, (std::vector<std::string>{"(2, 16)", "(4, 16)", "(16,)", "(4, 9)", "(3, 9)", "(2, 9)", "(3, 2)",
                                              "(2, 2)", "(2,)"}));
  // checkpoint keys layer_with_weights-0/cell/cells/0/kernel, ...
  const auto children = rnn->children();
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].name, "cell");
  EXPECT_EQ(children[0].layer->class_name(), "StackedRNNCells");
  const auto cells = children[0].layer->children();
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[0].name, "cells/0");
  EXPECT_EQ(cells[2].name, "cells/2");
  EXPECT_EQ(cells[1].layer->own_weights()[0].name, "kernel");
  // outputs: the last cell's output, then every cell's states in cell order
  const auto out = rnn->compute_output_shape({Shape{Shape::kUnknown, 3, 2}});
  std::vector<std::string> out_shapes;
  for (const auto& s : out) out_shapes.push_back(s.to_string());
  EXPECT_EQ(out_shapes, (std::vector<std::string>{"(None, 2)", "(None, 4)", "(None, 4)", "(None, 3)", "(None, 2)"}));
}

// TimeDistributed gives the wrapped layer the mask folded to [B*T, ...] (tf-keras's reshape
// path): an LSTM inside skips its masked inner steps; the output mask is the wrapped layer's
// (return_sequences) unfolded, else the input mask reduced to [B, T].
TEST_P(StackedStatefulTest, TimeDistributedPassesTheFoldedMaskAndDifferentiates) {
  auto wrapped = [](bool sequences) {
    return make_layer("TimeDistributed",
                      Config{{"dtype", "float64"},
                             {"layer", Config{{"class_name", "LSTM"},
                                              {"config", {{"units", 2}, {"dtype", "float64"}, {"return_sequences", sequences}}}}}});
  };
  std::vector<std::uint8_t> bits{1, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0};  // [B=2, T=2, T2=3]
  CallContext masked;
  masked.masks = {Tensor::from_bools(bits, Shape{2, 2, 3})};
  const Tensor x = arr64({2, 2, 3, 2}, 60, 1.0);
  auto td = wrapped(false);
  check_gradients(*td, {x}, masked);
  // the masked inner steps are skipped: changing the input there changes nothing
  std::vector<double> changed = x.to_vector<double>();
  changed[(0 * 3 + 2) * 2] += 5.0;  // sample 0, outer step 0, inner step 2 (masked)
  const auto a = td->call_with_masks({x}, masked);
  const auto b = td->call_with_masks({Tensor::from_vector<double>(changed, x.shape())}, masked);
  EXPECT_EQ(a.tensors[0].to_vector<double>(), b.tensors[0].to_vector<double>());
  // output masks: [B, T] reduced with any, or [B, T, T2] unfolded from the LSTM's
  ASSERT_EQ(a.masks.size(), 1u);
  EXPECT_EQ(a.masks[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(cast(a.masks[0], DType::kFloat32).to_vector<float>(), (std::vector<float>{1, 1, 1, 0}));  // sample 1, step 1 is all masked
  auto seq = wrapped(true);
  const auto c = seq->call_with_masks({x}, masked);
  ASSERT_EQ(c.masks.size(), 1u);
  EXPECT_EQ(c.masks[0].shape(), (Shape{2, 2, 3}));
  std::vector<float> want(bits.begin(), bits.end());
  EXPECT_EQ(cast(c.masks[0], DType::kFloat32).to_vector<float>(), want);
}

// ---- stateful ------------------------------------------------------------------------------

const std::filesystem::path kFixtures = std::filesystem::path(STRATA_SOURCE_DIR) / "tests/data/keras";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The tensors index.json lists under `key` for fixture `name` (files may be shared).
std::vector<Tensor> read_list(const std::string& name, const char* key) {
  std::vector<Tensor> out;
  const Config index = Config::parse(read_text(kFixtures / "index.json"));
  for (const auto& model : index["models"]) {
    if (model["name"] != name) continue;
    for (const auto& entry : model[key]) out.push_back(read_npy(kFixtures / entry["file"].get<std::string>()).to(default_device()));
  }
  return out;
}

Tensor rows(const Tensor& t, std::int64_t begin, std::int64_t count) {
  std::vector<std::int64_t> b(t.shape().rank(), 0), size(t.shape().rank(), -1);
  b[0] = begin;
  size[0] = count;
  return slice(t, b, size);
}

void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(got[o].shape(), want[o].shape()) << what << ", output " << o;
    const auto g = got[o].to_vector<float>();
    const auto w = want[o].to_vector<float>();
    for (std::size_t i = 0; i < w.size(); ++i) {
      EXPECT_NEAR(g[i], w[i], 1e-5 + 1e-5 * std::abs(w[i])) << what << ", output " << o << " element " << i;
    }
  }
}

bool all_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  for (std::size_t o = 0; o < want.size(); ++o) {
    const auto g = got[o].to_vector<float>();
    const auto w = want[o].to_vector<float>();
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (std::abs(g[i] - w[i]) > 1e-5 + 1e-5 * std::abs(w[i])) return false;
    }
  }
  return true;
}

// tf-keras predicted the fixture's 6 samples in batches of 3 with the states carried from
// the first batch to the second (stateful LSTM, GRU, RNN of two cells, Bidirectional).
TEST_P(StackedStatefulTest, StatefulFixtureCarriesStatesFromBatchToBatchUntilReset) {
  const auto config_path = kFixtures / "rnn_stateful.config.json";
  if (!std::filesystem::exists(config_path)) GTEST_SKIP() << "no fixture " << config_path;
  auto model = model_from_config(Config::parse(read_text(config_path)));
  model->set_weights(read_list("rnn_stateful", "weights"));
  const Tensor x = read_list("rnn_stateful", "inputs").at(0);
  const auto y = read_list("rnn_stateful", "outputs");
  ASSERT_EQ(x.shape().dim(0), 6);
  auto first_rows = [&](const std::vector<Tensor>& ts, std::int64_t begin) {
    std::vector<Tensor> out;
    for (const auto& t : ts) out.push_back(rows(t, begin, 3));
    return out;
  };

  // one predict over both batches, as tf-keras ran it
  expect_close(model->predict(std::vector<Tensor>{x}, 3), y, "predict(x, batch_size = 3)");
  // the states now continue from the second batch: the first batch again gives other values
  EXPECT_FALSE(all_close(model->predict(std::vector<Tensor>{rows(x, 0, 3)}, 3), first_rows(y, 0)));
  // reset_states on the model: a fresh run, batch by batch
  reset_states(*model);
  expect_close(model->predict(std::vector<Tensor>{rows(x, 0, 3)}, 3), first_rows(y, 0), "first batch after reset_states(model)");
  expect_close(model->predict(std::vector<Tensor>{rows(x, 3, 3)}, 3), first_rows(y, 3), "second batch");
  // reset_states on the layers one by one does the same
  for (const auto& layer : model->layers()) reset_states(*layer);
  expect_close(model->predict(std::vector<Tensor>{rows(x, 0, 3)}, 3), first_rows(y, 0), "first batch after reset_states(layer)");

  // Model::to moves the weights; the states follow the inputs to the new device
  if (GetParam() == "cpu:0") {
    const Device ref("ref:0");
    model->to(ref);
    DeviceScope on_ref(ref);
    expect_close(model->predict(std::vector<Tensor>{rows(x, 3, 3).to(ref)}, 3), first_rows(y, 3),
                 "second batch, after moving the model to ref:0");
    reset_states(*model);
    expect_close(model->predict(std::vector<Tensor>{rows(x, 0, 3).to(ref)}, 3), first_rows(y, 0),
                 "first batch on ref:0 after reset_states");
    model->to(Device("cpu:0"));
  }

  // the states are not weights: H5 files and checkpoints do not hold them (as tf-keras)
  std::int64_t state_variables = 0;
  for (const auto& layer : model->layers()) {
    if (auto rnn = dynamic_cast<const StatefulLayer*>(layer.get())) (void)rnn, ++state_variables;
  }
  EXPECT_EQ(state_variables, 4);  // lstm, gru, rnn, gru_1 (Bidirectional holds two stateful copies)
  EXPECT_EQ(model->weights().size(), read_list("rnn_stateful", "weights").size());

  // Keras requires the batch size the model was built with; the layer says so when called
  // outside the model
  auto lstm = model->get_layer("lstm");
  try {
    (*lstm)(x);
    ADD_FAILURE() << "a batch of 6 ran on a stateful layer built for 3";
  } catch (const ValueError& e) {
    EXPECT_EQ(e.message(), "LSTM layer 'lstm' is stateful with batch size 3 and cannot run on a batch of 6 samples "
                           "(Keras requires the batch size the model was built with)");
  }
}

// Training steps carry the states too (tf-keras assigns them in every call).
TEST_P(StackedStatefulTest, TrainingStepsCarryTheStatesAndResetClearsThem) {
  auto model = model_from_config(Config::parse(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [2, 3, 2], "dtype": "float32", "name": "in"}},
      {"class_name": "GRU", "config": {"name": "g", "units": 2, "stateful": true}}]}})"));
  try {
    model->compile(Config("sgd"), Config("mse"));
  } catch (const UnknownObjectError& e) {
    GTEST_SKIP() << "no training plugin in this build: " << e.message();
  }
  auto* gru = dynamic_cast<StatefulLayer*>(model->get_layer("g").get());
  ASSERT_NE(gru, nullptr);
  const Tensor x = cast(arr64({2, 3, 2}, 3, 1.0), DType::kFloat32);
  const Tensor y = cast(arr64({2, 2}, 4, 0.5), DType::kFloat32);
  const auto fresh = model->predict(std::vector<Tensor>{x}, 2);
  reset_states(*model);
  model->train_on_batch({x}, {y});
  const auto before_reset = model->predict(std::vector<Tensor>{x}, 2);
  reset_states(*model);
  const auto after_reset = model->predict(std::vector<Tensor>{x}, 2);
  // the step changed the weights; after a reset only that change remains, so the output
  // differs from the carried-state run
  EXPECT_FALSE(all_close(before_reset, after_reset));
  EXPECT_FALSE(all_close(fresh, after_reset));
}

INSTANTIATE_TEST_SUITE_P(Ref, StackedStatefulTest, ::testing::Values("ref:0"));
INSTANTIATE_TEST_SUITE_P(Cpu, StackedStatefulTest, ::testing::Values("cpu:0"));

}  // namespace
}  // namespace strata
