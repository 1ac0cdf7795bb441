// TFOpLambda and SlicingOpLambda beyond what the tf-keras fixtures (tests/interop,
// tf_op_lambda_*) check: the errors a user sees for a function Strata does not map and for
// malformed arguments, delegation of an unmapped function to a layer class the user
// registers, the arguments written back, and a few values computed by hand. Also the
// errors for Lambda and DenseFeatures, which no plugin provides.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "strata/custom_objects.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

// A Keras 2 Functional model: input "a" of shape (None, 3) and the given layer entries
// (with their inbound nodes); the outputs are the listed layers' first outputs.
std::string functional_json(const std::string& layers, const std::string& outputs) {
  return R"({"class_name": "Functional", "config": {"name": "m", "trainable": true, "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 3], "dtype": "float32", "sparse": false,
       "ragged": false, "name": "a"}, "name": "a", "inbound_nodes": []}, )" +
         layers + R"(], "input_layers": [["a", 0, 0]], "output_layers": [)" + outputs + "]}}";
}

std::string op_layer(const std::string& class_name, const std::string& name, const std::string& function,
                     const std::string& node) {
  return R"({"class_name": ")" + class_name + R"(", "config": {"name": ")" + name +
         R"(", "trainable": true, "dtype": "float32", "function": ")" + function + R"("}, "name": ")" + name +
         R"(", "inbound_nodes": [)" + node + "]}";
}

template <class E>
std::string load_error(const std::string& json, const CustomObjects* custom = nullptr) {
  try {
    model_from_json(json, custom);
  } catch (const E& e) {
    return e.what();
  } catch (const Error& e) {
    return std::string("wrong kind ") + e.kind() + ": " + e.what();
  }
  return "loaded without an error";
}

class TFOpLambdaTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

TEST_F(TFOpLambdaTest, ConstantsAndTensorArgumentsOnEitherSide) {
  // 2.0 - a (the constant is the first argument), then (2 - a) * a (a tensor keyword argument).
  const std::string json = functional_json(
      op_layer("TFOpLambda", "tf.math.subtract", "math.subtract",
               R"(["_CONSTANT_VALUE", -1, 2.0, {"y": ["a", 0, 0], "name": null}])") +
          ", " +
          op_layer("TFOpLambda", "tf.math.multiply", "math.multiply",
                   R"(["tf.math.subtract", 0, 0, {"y": ["a", 0, 0], "name": null}])"),
      R"(["tf.math.subtract", 0, 0], ["tf.math.multiply", 0, 0])");
  auto model = model_from_json(json);
  const auto out = (*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3}, Shape{1, 3})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(values(out[0]), (std::vector<float>{1, 0, -1}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{1, 0, -3}));
  // Written back as read: the constant first argument and the tensor keyword argument.
  const Config written = model_config(*model);
  const Config read = Config::parse(json);
  EXPECT_EQ(written["config"]["layers"][1]["inbound_nodes"], read["config"]["layers"][1]["inbound_nodes"]);
  EXPECT_EQ(written["config"]["layers"][2]["inbound_nodes"], read["config"]["layers"][2]["inbound_nodes"]);
}

TEST_F(TFOpLambdaTest, SlicesAndConcatOfAList) {
  const std::string json = functional_json(
      op_layer("SlicingOpLambda", "tf.__operators__.getitem", "__operators__.getitem",
               R"(["a", 0, 0, {"slice_spec": [{"start": null, "stop": null, "step": null}, {"start": null, "stop": null, "step": -1}]}])") +
          ", " +
          op_layer("SlicingOpLambda", "tf.__operators__.getitem_1", "__operators__.getitem",
                   R"(["a", 0, 0, {"slice_spec": [{"start": null, "stop": null, "step": null}, -1]}])") +
          ", " +
          op_layer("TFOpLambda", "tf.concat", "concat",
                   R"([["a", 0, 0, {"axis": -1}], ["tf.__operators__.getitem", 0, 0, {"axis": -1}]])"),
      R"(["tf.__operators__.getitem_1", 0, 0], ["tf.concat", 0, 0])");
  auto model = model_from_json(json);
  const auto out = (*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3}, Shape{1, 3})});
  EXPECT_EQ(out[0].shape(), Shape({1}));
  EXPECT_EQ(values(out[0]), (std::vector<float>{3}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{1, 2, 3, 3, 2, 1}));
  const Config written = model_config(*model);
  EXPECT_EQ(written["config"]["layers"][3]["inbound_nodes"], Config::parse(json)["config"]["layers"][3]["inbound_nodes"]);
  EXPECT_EQ(written["config"]["layers"][3]["config"],
            Config::parse(R"({"name": "tf.concat", "trainable": true, "dtype": "float32", "function": "concat"})"));
}

// tf.math.cumsum(a, axis=1, exclusive=True, reverse=True), then tf.math.atan2(a, x=that):
// the keyword names tf-keras writes, values by hand.
TEST_F(TFOpLambdaTest, CumsumAndAtan2WithTheirKeywordArguments) {
  const std::string json = functional_json(
      op_layer("TFOpLambda", "tf.math.cumsum", "math.cumsum",
               R"(["a", 0, 0, {"axis": 1, "exclusive": true, "reverse": true}])") +
          ", " +
          op_layer("TFOpLambda", "tf.math.atan2", "math.atan2",
                   R"(["a", 0, 0, {"x": ["tf.math.cumsum", 0, 0], "name": null}])") +
          ", " + op_layer("TFOpLambda", "tf.math.cumsum_1", "math.cumsum", R"(["a", 0, 0, {}])"),
      R"(["tf.math.cumsum", 0, 0], ["tf.math.atan2", 0, 0], ["tf.math.cumsum_1", 0, 0])");
  auto model = model_from_json(json);
  const auto out = (*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(values(out[0]), (std::vector<float>{5, 3, 0, 11, 6, 0}));
  const auto angles = values(out[1]);
  const std::vector<double> want{std::atan2(1.0, 5.0), std::atan2(2.0, 3.0), std::atan2(3.0, 0.0),
                                 std::atan2(4.0, 11.0), std::atan2(5.0, 6.0), std::atan2(6.0, 0.0)};
  ASSERT_EQ(angles.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(angles[i], want[i], 1e-6) << i;
  // axis defaults to 0, as tf.math.cumsum's.
  EXPECT_EQ(values(out[2]), (std::vector<float>{1, 2, 3, 5, 7, 9}));
}

// An axis outside the input's rank is a typed error naming it.
TEST_F(TFOpLambdaTest, CumsumAxisOutOfRangeIsAnError) {
  const std::string json = functional_json(
      op_layer("TFOpLambda", "tf.math.cumsum", "math.cumsum", R"(["a", 0, 0, {"axis": 4}])"),
      R"(["tf.math.cumsum", 0, 0])");
  try {
    auto model = model_from_json(json);
    (void)(*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3}, Shape{1, 3})});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("axis 4"), std::string::npos) << e.what();
  }
}

// tf.math.reduce_sum(a) (no axis: every axis, the batch's too, as TensorFlow) and
// tf.math.reduce_max(a, axis=[1], keepdims=True).
TEST_F(TFOpLambdaTest, ReductionsOverEveryAxisOrSome) {
  const std::string json = functional_json(
      op_layer("TFOpLambda", "tf.math.reduce_sum", "math.reduce_sum", R"(["a", 0, 0, {}])") + ", " +
          op_layer("TFOpLambda", "tf.math.reduce_max", "math.reduce_max", R"(["a", 0, 0, {"axis": [1], "keepdims": true}])"),
      R"(["tf.math.reduce_sum", 0, 0], ["tf.math.reduce_max", 0, 0])");
  auto model = model_from_json(json);
  const auto out = (*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 5, 3, -1, 0, 2}, Shape{2, 3})});
  EXPECT_EQ(out[0].shape(), Shape(std::vector<std::int64_t>{}));
  EXPECT_EQ(values(out[0]), (std::vector<float>{10}));
  EXPECT_EQ(out[1].shape(), Shape({2, 1}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{5, 2}));
}

// tf.image.resize([0, 1] -> 4 samples), half-pixel centres: sources -0.25, 0.25, 0.75, 1.25
// give 0, 0.25, 0.75, 1 (clamped at both ends); nearest picks floor((o + 0.5) / 2): 0, 0, 1, 1.
TEST_F(TFOpLambdaTest, ImageResizeBilinearAndNearestByHand) {
  const std::string json = R"({"class_name": "Functional", "config": {"name": "m", "trainable": true, "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 1, 2, 1], "dtype": "float32", "name": "img"},
       "name": "img", "inbound_nodes": []},
      {"class_name": "TFOpLambda", "config": {"name": "r1", "trainable": true, "dtype": "float32", "function": "image.resize"},
       "name": "r1", "inbound_nodes": [["img", 0, 0, {"size": [1, 4]}]]},
      {"class_name": "TFOpLambda", "config": {"name": "r2", "trainable": true, "dtype": "float32", "function": "image.resize"},
       "name": "r2", "inbound_nodes": [["img", 0, 0, {"size": [1, 4], "method": "nearest"}]]}],
      "input_layers": [["img", 0, 0]], "output_layers": [["r1", 0, 0], ["r2", 0, 0]]}})";
  auto model = model_from_json(json);
  const auto out = (*model)(std::vector<Tensor>{Tensor::from_vector<float>({0, 1}, Shape{1, 1, 2, 1})});
  EXPECT_EQ(out[0].shape(), Shape({1, 1, 4, 1}));
  EXPECT_EQ(mismatch(values(out[0]), {0, 0.25f, 0.75f, 1}), "");
  EXPECT_EQ(values(out[1]), (std::vector<float>{0, 0, 1, 1}));
}

TEST_F(TFOpLambdaTest, UnmappedFunctionIsUnknownObjectErrorSayingWhatToDo) {
  const std::string text = load_error<UnknownObjectError>(functional_json(
      op_layer("TFOpLambda", "tf.math.bessel_i0", "math.bessel_i0", R"(["a", 0, 0, {"name": null}])"),
      R"(["tf.math.bessel_i0", 0, 0])"));
  EXPECT_NE(text.find("Unknown TensorFlow function: 'tf.math.bessel_i0' (needed by layer 'tf.math.bessel_i0' (TFOpLambda))"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("register a layer class named 'tf.math.bessel_i0' in a plugin or pass one in custom_objects"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("SavedModel"), std::string::npos) << text;
}

// The user's class for an unmapped function: doubles its input.
class Doubler : public Layer {
 public:
  explicit Doubler(const Config& c) : Layer("tf.math.bessel_i0", c) {}
  std::vector<Tensor> call(const std::vector<Tensor>& inputs, const CallContext&) const override {
    return {inputs.at(0) * 2.0};
  }
};

TEST_F(TFOpLambdaTest, UnmappedFunctionDelegatesToALayerClassRegisteredUnderItsName) {
  CustomObjects custom;
  custom.add<ObjectKind::kLayer>("tf.math.bessel_i0",
                                 [](const Config& c) -> std::shared_ptr<Layer> { return std::make_shared<Doubler>(c); });
  const std::string json = functional_json(
      op_layer("TFOpLambda", "tf.math.bessel_i0", "math.bessel_i0", R"(["a", 0, 0, {"name": null}])"),
      R"(["tf.math.bessel_i0", 0, 0])");
  auto model = model_from_json(json, &custom);
  const auto out = (*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3}, Shape{1, 3})});
  EXPECT_EQ(values(out[0]), (std::vector<float>{2, 4, 6}));
  // Still written as the TFOpLambda tf-keras wrote.
  EXPECT_EQ(model_config(*model)["config"]["layers"][1]["class_name"], "TFOpLambda");
}

TEST_F(TFOpLambdaTest, MalformedArgumentsAreTypedErrorsNamingTheLayer) {
  EXPECT_NE(load_error<FormatError>(functional_json(op_layer("TFOpLambda", "tf.math.reduce_mean", "math.reduce_mean",
                                                             R"(["a", 0, 0, {"axis": "one"}])"),
                                                    R"(["tf.math.reduce_mean", 0, 0])"))
                .find("layer 'tf.math.reduce_mean' (TFOpLambda): 'axis'"),
            std::string::npos);
  EXPECT_NE(load_error<FormatError>(functional_json(op_layer("TFOpLambda", "tf.math.multiply", "math.multiply",
                                                             R"(["a", 0, 0, {"y": "two"}])"),
                                                    R"(["tf.math.multiply", 0, 0])"))
                .find("layer 'tf.math.multiply' (TFOpLambda): y of tf.math.multiply must be a tensor or a number, got \"two\""),
            std::string::npos);
  EXPECT_NE(load_error<FormatError>(functional_json(op_layer("TFOpLambda", "tf.math.multiply", "math.multiply",
                                                             R"(["a", 0, 0, {}])"),
                                                    R"(["tf.math.multiply", 0, 0])"))
                .find("layer 'tf.math.multiply' (TFOpLambda): tf.math.multiply needs the argument 'y'"),
            std::string::npos);
  EXPECT_NE(load_error<FormatError>(functional_json(op_layer("SlicingOpLambda", "s", "__operators__.getitem",
                                                             R"(["a", 0, 0, {"slice_spec": ["x"]}])"),
                                                    R"(["s", 0, 0])"))
                .find("layer 's' (SlicingOpLambda): unsupported subscript item \"x\""),
            std::string::npos);
  // 64 items would need a 65th mask bit (the json_config fuzzer's UBSan finding at b9dce8d:
  // a shift by 64).
  std::string items;
  for (int i = 0; i < 64; ++i) items += std::string(i ? ", " : "") + "null";
  EXPECT_NE(load_error<FormatError>(functional_json(op_layer("SlicingOpLambda", "s", "__operators__.getitem",
                                                             R"(["a", 0, 0, {"slice_spec": [)" + items + "]}]"),
                                                    R"(["s", 0, 0])"))
                .find("layer 's' (SlicingOpLambda): a subscript of 64 items is not supported (at most 63)"),
            std::string::npos);
}

// tf-keras makes one TFOpLambda per call; a layer shared by two calls works when both pass
// the same arguments, and is refused, naming it, when they differ.
TEST_F(TFOpLambdaTest, ASharedLayerNeedsTheSameArgumentsInEveryCall) {
  auto shared = [](const std::string& second_y) {
    return functional_json(op_layer("TFOpLambda", "tf.math.multiply", "math.multiply",
                                    R"(["a", 0, 0, {"y": 2.0, "name": null}], ["tf.math.multiply", 0, 0, {"y": )" +
                                        second_y + R"(, "name": null}])"),
                           R"(["tf.math.multiply", 1, 0])");
  };
  auto model = model_from_json(shared("2.0"));
  EXPECT_EQ(values((*model)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 3}, Shape{1, 3})})[0]),
            (std::vector<float>{4, 8, 12}));
  EXPECT_NE(load_error<ValueError>(shared("3.0")).find("layer 'tf.math.multiply' (TFOpLambda) is called with different "
                                                       "arguments in two places of the model"),
            std::string::npos);
}

TEST_F(TFOpLambdaTest, LambdaAndDenseFeaturesSayWhatToDo) {
  for (const std::string cls : {"Lambda", "DenseFeatures"}) {
    const std::string json = functional_json(
        R"({"class_name": ")" + cls + R"(", "config": {"name": "my_layer", "trainable": true, "dtype": "float32"},
            "name": "my_layer", "inbound_nodes": [[["a", 0, 0, {}]]]})",
        R"(["my_layer", 0, 0])");
    const std::string text = load_error<UnknownObjectError>(json);
    EXPECT_NE(text.find("Unknown layer: '" + cls + "' (needed by layer 'my_layer' of model 'm')."), std::string::npos)
        << text;
    EXPECT_NE(text.find("register a layer class named '" + cls + "' in a plugin"), std::string::npos) << text;
    EXPECT_NE(text.find("strata::saved_model::load"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace strata::layer_tests
