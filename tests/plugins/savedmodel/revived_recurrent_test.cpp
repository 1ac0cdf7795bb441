// Recurrent models revived from tf-keras's traced functions train (issue 23). tf-keras traces
// a recurrent layer's loop as a While over TensorList ops, with If in the cells; Strata
// unrolls them while reviving (plugins/format-savedmodel/src/function_graph.cpp), so the
// gradients of the revived model are those of the unrolled ops. The SavedModels and what
// tf-keras's own training did with them come from tests/interop/generate_recurrent_savedmodels.py
// at test time (cached; label interop, skips without the venv). Expected values come from
// tf-keras: its predictions, its losses and its weights after each train_on_batch step.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "compare.hpp"
#include "interop_venv.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata;

fs::path generated() { return test::generated_fixtures("recurrent-savedmodels", STRATA_RECURRENT_GENERATOR); }

// The largest |a - b| / (1 + |b|).
double worst(const Tensor& a, const Tensor& b) { return test::worst_relative(a, b); }

class RevivedRecurrentInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv();
    dir_ = generated() / GetParam();
    ASSERT_TRUE(fs::exists(dir_ / "x.npy")) << "the generator wrote nothing for " << GetParam();
  }
  Tensor npy(const std::string& name) const { return read_npy(dir_ / (name + ".npy")); }
  fs::path dir_;
};

// Revived from the traces (no classes): predicts what TensorFlow's restored call predicts,
// and, where those traces compute what tf-keras's class computes, two SGD steps give tf-keras's
// losses and weights; the model built from its classes takes the same steps.
TEST_P(RevivedRecurrentInterop, TrainsThroughTheTracedLoopsAsTfKeras) {
  LoadOptions o;
  o.revive_from_traces = true;
  const auto revived = load_model(dir_ / "model", o);
  ASSERT_TRUE(is_revived(*revived));
  ASSERT_TRUE(revived->is_compiled());
  const auto from_classes = load_model(dir_ / "model");
  const Tensor x = npy("x"), y = npy("y");
  const Config entry = Config::parse(test::read_text(generated() / "index.json"))["models"][GetParam()];
  // The revived model runs the traces: what TensorFlow's restored call gives.
  EXPECT_LT(worst(revived->predict(x), npy("traced")), 1e-5);
  EXPECT_LT(worst(from_classes->predict(x), npy("pred")), 1e-5);
  if (!entry["traces_match_keras"].get<bool>()) {
    // tf-keras traced this model's call differently from what its class computes (a masked
    // LSTM's trace drops the mask): Strata's revived model is TensorFlow's, not tf-keras's.
    EXPECT_GT(worst(revived->predict(x), npy("pred")), 1e-4) << "the traces now match tf-keras: update the generator";
    return;
  }
  const auto n = entry["trainable"].get<std::size_t>();
  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const double want = npy("loss" + std::to_string(step)).item<double>();
    EXPECT_NEAR(revived->train_on_batch({x}, {y}).at("loss"), want, 1e-5 * (1 + std::fabs(want)));
    EXPECT_NEAR(from_classes->train_on_batch({x}, {y}).at("loss"), want, 1e-5 * (1 + std::fabs(want)));
    ASSERT_EQ(revived->trainable_weights().size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor keras = npy("w" + std::to_string(step) + "_" + std::to_string(i));
      EXPECT_LT(worst(revived->trainable_weights()[i].value(), keras), 1e-5) << revived->trainable_weights()[i].name();
      EXPECT_LT(worst(from_classes->trainable_weights()[i].value(), keras), 1e-5)
          << from_classes->trainable_weights()[i].name();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, RevivedRecurrentInterop,
                         ::testing::Values("lstm", "gru", "gru_reset_before", "simple_rnn_sequences", "bidirectional_lstm",
                                           "stacked_lstm_backwards", "masked_lstm"));

}  // namespace
