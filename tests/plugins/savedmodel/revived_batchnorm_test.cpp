// Issue 19 (stop 22): a Strata-written SavedModel with BatchNormalization layers, revived
// without its classes, predicts and trains bit for bit as the class-built model from the
// same file, on the CPU backend. Before, the importer passed StopGradient through as an
// Identity, so the revived model's gradient also flowed through the batch mean into the
// variance (tf.nn.moments stops it, as Strata's layer does): a rounding-noise term that
// made the weights feeding the normalization differ in their last bits after a step.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "strata/config.hpp"
#include "strata/graph.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/revived.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using strata::Config;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("strata_revived_bn_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

strata::Tensor values(const strata::Shape& shape, float scale, float offset) {
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>((i * 7) % 11) + offset;
  return strata::Tensor::from_vector(v, shape);
}

// Dense (with its bias) -> BatchNormalization -> Dense -> BatchNormalization (no scale) ->
// Dense: biases feeding normalizations included, whose gradients are pure rounding noise,
// so any difference in the ops shows after a step.
std::shared_ptr<strata::Model> net() {
  const strata::Tensor in = strata::Input(strata::Shape({6}), "features");
  auto layer = [](const char* cls, const char* json) { return strata::make_layer(cls, Config::parse(json)); };
  strata::Tensor h = (*layer("Dense", R"({"name": "hidden", "units": 5, "activation": "relu"})"))(in);
  h = (*layer("BatchNormalization", R"({"name": "norm"})"))(h);
  h = (*layer("Dense", R"({"name": "hidden2", "units": 4})"))(h);
  h = (*layer("BatchNormalization", R"({"name": "norm2", "scale": false, "momentum": 0.9})"))(h);
  h = (*layer("Dense", R"({"name": "scores", "units": 2})"))(h);
  return std::make_shared<strata::Functional>(std::vector<strata::Tensor>{in}, std::vector<strata::Tensor>{h}, "bn_net");
}

void expect_bit_equal(const std::vector<strata::Tensor>& got, const std::vector<strata::Tensor>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i].to_vector<float>(), want[i].to_vector<float>()) << what << " " << i;
}

TEST(RevivedBatchNorm, PredictsAndTrainsBitForBitAsTheClassBuiltModel) {
  auto original = net();
  original->compile(Config("adam"), Config("mse"));
  const strata::Tensor x = values(strata::Shape({8, 6}), 0.13f, -0.6f);
  const strata::Tensor y = values(strata::Shape({8, 2}), 0.05f, -0.2f);
  for (int i = 0; i < 2; ++i) (void)original->train_on_batch({x}, {y});
  const fs::path dir = fresh_dir("net") / "model";
  strata::save_model(*original, dir);
  auto built = strata::load_model(dir);
  strata::LoadOptions o;
  o.revive_from_traces = true;
  auto revived = strata::load_model(dir, o);
  ASSERT_TRUE(strata::is_revived(*revived));
  ASSERT_FALSE(strata::is_revived(*built));

  const strata::Tensor x2 = values(strata::Shape({3, 6}), -0.09f, 0.4f);
  EXPECT_EQ(revived->predict(x2).to_vector<float>(), built->predict(x2).to_vector<float>()) << "inference";
  EXPECT_EQ(revived->predict(x).to_vector<float>(), built->predict(x).to_vector<float>()) << "inference";

  // Training: the same loss and, after each step, the same weights (moving statistics
  // included) and optimizer state.
  for (int step = 0; step < 2; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const double lb = built->train_on_batch({x}, {y}).at("loss");
    const double lr = revived->train_on_batch({x}, {y}).at("loss");
    EXPECT_EQ(lr, lb);
    expect_bit_equal(revived->get_weights(), built->get_weights(), "weight");
    std::vector<strata::Tensor> ob, orv;
    for (const auto& v : built->optimizer()->variables()) {
      if (v.dtype() == strata::DType::kFloat32) ob.push_back(v.value());
    }
    for (const auto& v : revived->optimizer()->variables()) {
      if (v.dtype() == strata::DType::kFloat32) orv.push_back(v.value());
    }
    expect_bit_equal(orv, ob, "optimizer variable");
  }
  EXPECT_EQ(revived->predict(x2).to_vector<float>(), built->predict(x2).to_vector<float>()) << "inference after training";
  fs::remove_all(dir.parent_path());
}

}  // namespace
