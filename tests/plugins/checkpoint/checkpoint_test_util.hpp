// Helpers shared by the checkpoint tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "fixture_dir.hpp"
#include "strata/checkpoint.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/plugins.hpp"
#include "strata/saving.hpp"

namespace strata::ckpt_test {

// The TensorFlow checkpoints: tests/data/checkpoint (2.17, compiled in) or
// $STRATA_CHECKPOINT_FIXTURE_DIR (the second version: tests/interop/fixture_set_current_venv.sh).
inline const std::filesystem::path kFixtures =
    strata::test::fixture_dir("STRATA_CHECKPOINT_FIXTURE_DIR", STRATA_CHECKPOINT_FIXTURES);

inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("strata_ckpt_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void load_custom_plugin() { PluginManager::global().load(STRATA_TEST_CUSTOM_PLUGIN); }

// |got - want| <= atol + rtol |want| for every element (float32).
inline void expect_close(const Tensor& got, const Tensor& want, double atol = 1e-5, double rtol = 1e-5,
                         const std::string& what = "") {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_vector<float>();
  const auto w = want.to_vector<float>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    ASSERT_LE(std::fabs(static_cast<double>(g[i]) - w[i]), atol + rtol * std::fabs(static_cast<double>(w[i])))
        << what << " element " << i << ": got " << g[i] << ", want " << w[i];
  }
}

// The saving guide's custom layer: a variable tracked as `var` (TensorFlow names the variable
// itself `var_a`; the key says `var`).
class VarLayer final : public Layer {
 public:
  explicit VarLayer(std::int32_t a) : Layer("CustomLayer") {
    WeightSpec spec;
    spec.name = "var";
    spec.shape = Shape{};
    spec.dtype = DType::kInt32;
    var_ = add_weight(spec);
    var_.assign(Tensor::scalar<std::int32_t>(a));
  }
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override { return inputs; }
  const Variable& var() const { return var_; }

 private:
  Variable var_;
};

inline std::shared_ptr<Layer> dense(std::int64_t units, const std::string& name, const char* activation = "linear") {
  return make_layer("Dense", Config{{"units", units}, {"activation", activation}, {"name", name}});
}

// The guide's 784-64-64-N model.
inline std::shared_ptr<Functional> guide_mlp(std::int64_t outputs = 10, const std::string& name = "3_layer_mlp") {
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = (*dense(64, "dense_1", "relu"))(inputs);
  x = (*dense(64, "dense_2", "relu"))(x);
  Tensor out = (*dense(outputs, "predictions"))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{out}, name);
}

inline Variable weight_of(const Layer& layer, const std::string& name) {
  for (const auto& w : layer.own_weights()) {
    if (w.name == name) return w.variable;
  }
  ADD_FAILURE() << "layer " << layer.name() << " has no weight " << name;
  return {};
}

}  // namespace strata::ckpt_test
