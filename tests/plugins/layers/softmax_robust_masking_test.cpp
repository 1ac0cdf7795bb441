// Softmax's `robust_masking` (tf-keras 2.21; 2.17 has no such key): masked logits are
// replaced by -1e9 instead of having -1e9 added, so a huge masked logit cannot win; a
// non-boolean mask keeps the positions above 0.5. The expected values are tf-keras 2.21.0's,
// printed by (TF_USE_LEGACY_KERAS=1, the interop venv of tests/interop/setup_venv.sh):
//   x = np.array([[1, 2, 1e10], [3, 1, 0.5]], np.float32)
//   m = tf.constant([[1, 1, 0], [1, 0, 1]], tf.bool)
//   tf_keras.layers.Softmax(robust_masking=True)(x, mask=m)   # and =False; and the float
//   mask [[0.9, 0.7, 0.2], [1, 0.4, 0.6]] with robust_masking=True
#include <gtest/gtest.h>

#include "strata/ops.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

Tensor logits() { return Tensor::from_vector<float>({1, 2, 1e10f, 3, 1, 0.5f}, Shape{2, 3}); }

std::vector<float> softmax_with_mask(bool robust, const Tensor& mask) {
  Config c{{"axis", -1}};
  if (robust) c["robust_masking"] = true;
  auto layer = make_layer("Softmax", c);
  return layer->call_with_masks({logits()}, CallContext{false, {mask}}).tensors.at(0).to_vector<float>();
}

void expect_values(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "element " << i;
}

TEST(SoftmaxRobustMasking, ReplacesMaskedLogitsAsTfKeras221) {
  const Tensor mask = Tensor::from_bools({1, 1, 0, 1, 0, 1}, Shape{2, 3});
  expect_values(softmax_with_mask(true, mask), {0.26894143f, 0.73105854f, 0.f, 0.9241418f, 0.f, 0.07585819f});
  // Without it (tf-keras 2.17's only behaviour) the huge masked logit wins.
  expect_values(softmax_with_mask(false, mask), {0.f, 0.f, 1.f, 0.9241418f, 0.f, 0.07585819f});
}

TEST(SoftmaxRobustMasking, AFloatMaskKeepsThePositionsAboveOneHalf) {
  const Tensor mask = Tensor::from_vector<float>({0.9f, 0.7f, 0.2f, 1.f, 0.4f, 0.6f}, Shape{2, 3});
  expect_values(softmax_with_mask(true, mask), {0.26894143f, 0.73105854f, 0.f, 0.9241418f, 0.f, 0.07585819f});
}

TEST(SoftmaxRobustMasking, ConfigKeyIsWrittenOnlyWhenTrueAsTfKeras221WritesIt) {
  EXPECT_EQ(make_layer("Softmax", Config{{"axis", -1}, {"robust_masking", true}})->get_config().at("robust_masking"),
            Config(true));
  EXPECT_FALSE(make_layer("Softmax", Config{{"axis", -1}, {"robust_masking", false}})->get_config().contains("robust_masking"));
  EXPECT_FALSE(make_layer("Softmax", Config{{"axis", -1}})->get_config().contains("robust_masking"));
  EXPECT_THROW(make_layer("Softmax", Config{{"axis", -1}, {"robust_masking", "yes"}}), FormatError);
}

}  // namespace
}  // namespace strata::layer_tests
