// Issue 19: the Keras guide's transfer-learning mistake. The weights of `pretrained` (the
// guide's 784-64-64 Functional model, "pretrained_model") saved with save_weights, then
// loaded into the Sequential model that nests it ([pretrained, Dense(5, "predictions")])
// instead of into `pretrained`: tf-keras 2.17 raises a ValueError about shapes or weight
// counts (a TF checkpoint: "incompatible tensor with shape (64,) ... predictions/bias"; H5:
// "Weight count mismatch for layer #0"); Strata raises a ValueError saying what the
// mistake is: the file holds the weights of the nested model 'pretrained_model', and the
// call that loads it. Loading into the nested instance works (both formats).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "strata/error.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using strata::Config;
using strata::Shape;
using strata::Tensor;

std::shared_ptr<strata::Layer> dense(std::int64_t units, const std::string& name, const char* activation = "linear") {
  return strata::make_layer("Dense", Config{{"units", units}, {"activation", activation}, {"name", name}});
}

// The guide's `pretrained`: 3_layer_mlp without its predictions layer.
std::shared_ptr<strata::Functional> pretrained_model() {
  Tensor inputs = strata::Input(Shape{784}, "digits");
  Tensor x = (*dense(64, "dense_1", "relu"))(inputs);
  x = (*dense(64, "dense_2", "relu"))(x);
  return std::make_shared<strata::Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{x}, "pretrained_model");
}

bool has_format(const char* name) {
  try {
    (void)strata::get_format(name);
    return true;
  } catch (const strata::Error&) {
    return false;
  }
}

class NestedPretrained : public ::testing::TestWithParam<std::string> {};

TEST_P(NestedPretrained, LoadingIntoTheOuterModelNamesTheNestedModelTheFileBelongsTo) {
  const bool h5 = GetParam() == "h5";
  if (!has_format(h5 ? "h5" : "checkpoint")) GTEST_SKIP() << GetParam() << " not loaded";
  const fs::path dir = fs::temp_directory_path() / ("strata_nested_pretrained_" + GetParam() + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path file = dir / (h5 ? "pretrained.h5" : "pretrained_ckpt");
  auto pretrained = pretrained_model();
  for (auto& w : pretrained->weights()) w.assign(strata::random_normal(w.shape()));
  pretrained->save_weights(file);
  const auto trained = pretrained->get_weights();
  for (auto& w : pretrained->weights()) w.assign(strata::zeros(w.shape()));

  strata::Sequential model({pretrained, dense(5, "predictions")});
  // Built, as Keras's Sequential whose first layer has an input shape is at once: the
  // restore then reaches predictions/kernel (a ShapeError about it before issue 19).
  model.build({Shape{Shape::kUnknown, 784}});
  ASSERT_EQ(model.count_params(), 54400 + 325);
  try {
    (void)model.load_weights(file);
    ADD_FAILURE() << "the nested model's weights loaded into the outer model";
  } catch (const strata::ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model 'pretrained_model'"), std::string::npos) << m;
    EXPECT_NE(m.find("nested in model '" + model.name() + "'"), std::string::npos) << m;
    EXPECT_NE(m.find("model.get_layer(\"pretrained_model\").load_weights(\""), std::string::npos) << m;
    EXPECT_NE(m.find(file.string()), std::string::npos) << m;
  } catch (const strata::Error& e) {
    ADD_FAILURE() << "not the ValueError naming the nested model: " << e.kind() << ": " << e.what();
  }
  for (const auto& w : pretrained->get_weights()) {
    for (const float v : w.to_vector<float>()) ASSERT_EQ(v, 0.0f) << "the refused load changed a weight";
  }
  // The guide's call: pretrained.load_weights(...).
  pretrained->load_weights(file).assert_consumed();
  const auto got = model.get_layer("pretrained_model")->get_weights();
  ASSERT_EQ(got.size(), trained.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].to_vector<float>(), trained[i].to_vector<float>());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Formats, NestedPretrained, ::testing::Values("h5", "checkpoint"));

}  // namespace
