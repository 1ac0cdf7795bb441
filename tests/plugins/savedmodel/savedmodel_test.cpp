// Tests of the format-savedmodel plugin against SavedModel directories written by
// tf-keras 2.17 (tests/data/savedmodel; expected predictions and losses come from Keras).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/npy.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = STRATA_SAVEDMODEL_FIXTURES;

const nlohmann::json& index_json() {
  static const nlohmann::json j = [] {
    std::ifstream in(kFixtures / "index.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

strata::Tensor npy(const std::string& name) { return strata::read_npy(kFixtures / name); }

class KerasSavedModel : public ::testing::TestWithParam<std::string> {};

TEST_P(KerasSavedModel, PredictsWhatKerasPredicted) {
  auto model = strata::load_model(kFixtures / GetParam());
  const auto got = model->predict(npy(GetParam() + ".x.npy")).to_vector<float>();
  const auto want = npy(GetParam() + ".y.npy").to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
  EXPECT_TRUE(model->is_compiled()) << "training_config was not restored";
}

TEST_P(KerasSavedModel, ResumesTrainingWithKerasOptimizerState) {
  auto model = strata::load_model(kFixtures / GetParam());
  ASSERT_TRUE(model->is_compiled());
  const auto& entry = index_json()["models"][GetParam()];
  EXPECT_EQ(model->optimizer()->iterations().value().to_vector<std::int64_t>().at(0),
            entry["optimizer_iterations"].get<std::int64_t>());
  const double got = model->train_on_batch({npy(GetParam() + ".tx.npy")}, {npy(GetParam() + ".ty.npy")}).at("loss");
  const double ref = entry["loss_after_save"].get<double>();
  EXPECT_LE(std::abs(got - ref), 1e-5 + 1e-4 * std::abs(ref)) << "Strata " << got << ", Keras " << ref;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, KerasSavedModel,
                         ::testing::Values("dense_sequential", "conv_bn_functional", "lstm_sequential"));

}  // namespace
