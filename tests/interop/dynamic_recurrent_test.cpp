// A recurrent model revived from its SavedModel traces (no classes) whose input has an
// unknown sequence length (issue 23): the While loop's trip count is known only at run time,
// so the revived model imports its call again for each input shape (cached) and predicts
// what TensorFlow's restored call gives. Against real tf-keras (label interop; skips without
// the venv): files from tests/interop/generate_dynamic_recurrent.py at test time.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "compare.hpp"
#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/registry.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

namespace fs = std::filesystem;

const fs::path kGenerator = fs::path(STRATA_SOURCE_DIR) / "tests/interop/generate_dynamic_recurrent.py";

fs::path generated() {
  return test::generated_fixtures("dynamic-recurrent", kGenerator);
}

// The largest |a - b| / (1 + |b|).
double worst(const Tensor& a, const Tensor& b) { return test::worst_relative(a, b); }

class DynamicRecurrentInterop : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(test::venv_python())) GTEST_SKIP() << "no interop venv at " << test::interop_venv();
    if (!Registry::global().contains(ObjectKind::kFormat, "savedmodel")) GTEST_SKIP() << "no savedmodel format";
    dir_ = generated() / GetParam();
  }
  fs::path dir_;
};

TEST_P(DynamicRecurrentInterop, RevivedModelPredictsEveryLengthAsTensorFlow) {
  LoadOptions o;
  o.revive_from_traces = true;
  const auto revived = load_model(dir_ / "model", o);
  ASSERT_TRUE(is_revived(*revived));
  // The model's input keeps the trace's unknown length.
  ASSERT_EQ(revived->inputs().size(), 1u);
  EXPECT_EQ(revived->inputs()[0].shape().dims()[1], Shape::kUnknown);
  for (int round = 0; round < 2; ++round) {  // the second round runs the cached imports
    for (const int length : {2, 5, 7}) {
      const std::string k = std::to_string(length);
      const Tensor x = read_npy(dir_ / ("x" + k + ".npy"));
      EXPECT_LT(worst(revived->predict(x), read_npy(dir_ / ("traced" + k + ".npy"))), 1e-5) << "length " << k;
    }
  }
  // Training needs the classes (the training call is not re-imported): a typed error.
  const Tensor x = read_npy(dir_ / "x5.npy");
  CallContext training;
  training.training = true;
  EXPECT_THROW((void)(*revived)(std::vector<Tensor>{x}, training), ValueError);
}

INSTANTIATE_TEST_SUITE_P(Models, DynamicRecurrentInterop, ::testing::Values("lstm", "gru_sequences"));

}  // namespace
}  // namespace strata
