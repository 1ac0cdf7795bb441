// ConvLSTM1D/2D/3D (plugins/layers/src/conv_lstm.cpp) and LocallyConnected1D/2D
// (plugins/layers/src/locally_connected.cpp), label plugin (no venv): values against tf-keras
// 2.21 (constants below), hand-computed steps, masking, statefulness, data formats,
// finite-difference gradients, config round trips, weight names and shapes, and bad configs
// and inputs as typed errors naming the layer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/graph.hpp"
#include "strata/model.hpp"
#include "strata/plugin/call_arguments.hpp"
#include "strata/stateful.hpp"
#include "test_util.hpp"

namespace strata::layer_tests {
namespace {

constexpr std::int64_t kU = Shape::kUnknown;

class ConvLstmTest : public ::testing::Test {
 protected:
  void SetUp() override { clear_session(); }
  DeviceScope device_{Device("ref:0")};
};

// One layer of tf-keras 2.21, called on pattern(n, 100) * 0.5 with weight i set to
// pattern(n, i + 1) * 0.25 (test_util.hpp's pattern); `outputs` is what it returned:
// [[shape, values], ...]. Produced by this script (tf_keras 2.21, CPU):
//
//   def pattern(n, salt):
//       i = np.arange(n)
//       return (((i*7 + salt*13) % 19) - 9).astype(np.float32) / 8.0
//   layer = getattr(tf_keras.layers, cls)(**config)
//   x = (pattern(int(np.prod(shape)), 100) * 0.5).reshape(shape)
//   layer.build(shape)
//   layer.set_weights([(pattern(int(np.prod(w.shape)), i + 1) * 0.25).reshape(w.shape)
//                      for i, w in enumerate(layer.weights)])
//   outputs = layer(x)   # printed with 7 significant digits
struct KerasCase {
  const char* cls;
  const char* config;
  std::vector<std::int64_t> shape;
  const char* weight_shapes;
  const char* outputs;
};

const KerasCase kKerasCases[] =
    {
        {"ConvLSTM1D",
         R"({"filters": 2, "kernel_size": 2, "return_sequences": true})",
         {2, 3, 5, 2},
         R"([[2, 2, 8], [2, 2, 8], [8]])",
         R"([[[2, 3, 4, 2], [0.007968005, 0.05934655, 0.006963372, 0.06328096, 0.02252206, 0.07048404, 0.01289475, 0.06430392, 0.02698067, 0.08555846, -0.02952149, 0.07745185, -0.01305368, 0.07924958, 0.04057224, 0.09004819, -0.003970366, 0.08913217, -0.02992084, 0.08790774, 0.03960354, 0.09404939, 0.06471244, 0.104015, -0.00475398, 0.0575187, -0.005488611, 0.06125794, 0.01010172, 0.06848644, 0.0008320566, 0.06226563, 0.007894676, 0.0843314, 0.02371339, 0.09431207, 0.022639, 0.08849189, 0.02271598, 0.0880611, -0.02726817, 0.08455888, -0.01018995, 0.08733171, 0.04950644, 0.09428476, 0.04515006, 0.1023452]]])"},
        {"ConvLSTM2D",
         R"({"filters": 2, "kernel_size": 3, "padding": "same", "strides": 2, "return_state": true, "go_backwards": true})",
         {2, 3, 5, 4, 2},
         R"([[3, 3, 2, 8], [3, 3, 2, 8], [8]])",
         R"([[[2, 3, 2, 2], [-0.0009359221, 0.04766365, -0.009473128, 0.1664308, 0.0331557, 0.05544329, -0.03700288, 0.07951751, 0.06782255, 0.08256635, -0.009542012, 0.09698398, -0.009831988, 0.1286251, 4.694741e-05, 0.08151481, -0.04252042, 0.1501974, -0.009157314, 0.1390436, 0.02339839, 0.03738869, 0.01999343, 0.1321112]], [[2, 3, 2, 2], [-0.0009359221, 0.04766365, -0.009473128, 0.1664308, 0.0331557, 0.05544329, -0.03700288, 0.07951751, 0.06782255, 0.08256635, -0.009542012, 0.09698398, -0.009831988, 0.1286251, 4.694741e-05, 0.08151481, -0.04252042, 0.1501974, -0.009157314, 0.1390436, 0.02339839, 0.03738869, 0.01999343, 0.1321112]], [[2, 3, 2, 2], [-0.001961719, 0.09198935, -0.02085774, 0.3307806, 0.06552822, 0.1125379, -0.07458162, 0.1561947, 0.1572842, 0.1480615, -0.0201434, 0.1897883, -0.02050745, 0.2645879, 9.567291e-05, 0.1680956, -0.08993162, 0.2937719, -0.02040029, 0.2809906, 0.04809788, 0.0735459, 0.04070755, 0.2521718]]])"},
        {"ConvLSTM2D",
         R"({"filters": 3, "kernel_size": 2, "dilation_rate": 2, "recurrent_activation": "sigmoid", "use_bias": false, "unit_forget_bias": false})",
         {1, 2, 6, 6, 1},
         R"([[2, 2, 1, 12], [2, 2, 3, 12]])",
         R"([[[1, 4, 4, 3], [-0.002671695, -0.003228171, 0.04292401, -0.04157761, 0.04575105, -0.03848294, 0.01020031, -0.03351967, 0.01450934, -0.000699504, -0.006899783, 0.0505267, 0.01894563, 0.009139771, -0.01829718, -0.003921594, -0.0169684, 0.003914259, -0.009229305, 0.005177252, 0.03822687, -0.04207812, 0.03923763, -0.03565604, -0.009574445, 0.03603238, -0.06949598, 0.008399324, -0.03503013, 0.0115786, 0.02800479, 0.007200423, -0.01781676, 0.001650592, 0.01897691, -0.06519908, 0.002402897, -0.0219816, 0.005172642, -0.01014301, -0.0006613128, 0.04564824, -0.03749324, 0.03925398, -0.03587637, 0.006026187, -0.02714511, 0.006000104]]])"},
        {"ConvLSTM3D",
         R"({"filters": 2, "kernel_size": 2, "padding": "same", "strides": [1, 2, 1], "return_sequences": true})",
         {2, 2, 3, 4, 3, 2},
         R"([[2, 2, 2, 2, 8], [2, 2, 2, 2, 8], [8]])",
         R"([[[2, 2, 3, 2, 3, 2], [-0.0194429, 0.09856313, -0.03181702, 0.05473626, -0.0249792, 0.1038658, -0.05829516, 0.1224581, -0.005912116, 0.03561288, 0.02111668, 0.06398892, 0.04600037, 0.006348229, 0.05790491, 0.05968804, 0.05672145, 0.0211127, 0.01329395, 0.08439053, -0.0194429, 0.09856313, 0.003823375, 0.07320864, -0.00396811, 0.07629859, -0.06958487, 0.0733835, -0.02440968, 0.05923062, -0.004417805, 0.04690146, 0.05318269, 0.0555234, 0.02017625, 0.06804083, -0.003017314, 0.127558, -0.01254324, 0.1172425, -0.04273152, 0.1390521, 0.02227013, 0.05178822, 0.003324854, 0.01530507, -0.01769379, 0.1397206, -0.05555436, 0.1520404, 0.02259822, 0.1232129, 0.04681536, 0.07887945, -0.005905003, 0.0363157, 0.007158869, 0.1127598, 0.05591836, 0.06225851, 0.04788451, 0.08043074, 0.02196191, 0.07171608, 0.01452914, 0.08856017, -0.001539414, 0.09803727, -0.02888427, 0.1017704, -0.009349157, 0.09097143, -0.01446719, 0.09721837, -0.01679093, 0.001850054, -0.03230377, 0.03333796, 0.01558643, 0.1326747, 0.05432532, 0.03892253, 0.02663232, 0.06095923, 0.04966554, 0.002312618, 0.0004379503, 0.005953774, -0.03673549, 0.1100854, 0.01826316, 0.08171465, -0.01446719, 0.09721837, 0.009697058, 0.07011458, -0.004105512, 0.06748274, 0.00378418, 0.07956292, 0.03365963, 0.0682332, -0.004557997, 0.03760401, 0.05503545, 0.0467866, 0.02217443, 0.06355022, 0.04730957, 0.122694, 9.179499e-05, 0.08673094, -0.0437429, 0.1067895, -0.005835861, 0.1507917, 0.002289508, 0.06637177, -0.008915971, 0.1351663, -0.03528231, 0.1307529, -0.01577595, 0.05097821, -0.0001834094, 0.1112744, 0.05838409, 0.03957234, 0.05249272, 0.1045692, 0.06412309, 0.05693751, 0.006976872, 0.1068851, 0.005889068, 0.09679559, 0.0487662, 0.0843006, -0.002055702, 0.08634321, -0.03099168, 0.088972, -0.007044542, 0.0854715]]])"},
        {"LocallyConnected1D",
         R"({"filters": 2, "kernel_size": 3})",
         {2, 6, 3},
         R"([[4, 9, 2], [4, 2]])",
         R"([[[2, 4, 2], [-0.1054688, 0.09570312, -0.2363281, -0.1230469, 0.1054688, 0.05664062, -0.0078125, 0.2265625, -0.2519531, 0.2011719, 0.0703125, -0.08398438, 0.0859375, -0.15625, 0.2402344, 0.2070312]]])"},
        {"LocallyConnected1D",
         R"({"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same", "implementation": 2})",
         {2, 7, 3},
         R"([[7, 3, 4, 2], [4, 2]])",
         R"([[[2, 4, 2], [-0.05859375, -0.0390625, -0.1230469, 0.0546875, 0.2265625, -0.046875, -0.1582031, 0.2675781, -0.07226562, 0.3730469, -0.0390625, -0.01171875, 0.25, -0.2480469, 0.1757812, 0.3027344]]])"},
        {"LocallyConnected1D",
         R"({"filters": 2, "kernel_size": 3, "padding": "same", "implementation": 3, "activation": "tanh"})",
         {2, 5, 2},
         R"([[52], [5, 2]])",
         R"([[[2, 5, 2], [-0.1397053, 0.07796644, -0.385284, -0.1549907, 0.3062538, -0.0760249, -0.1205053, 0.316835, -0.0760249, 0.05268555, -0.1872185, 0.3685281, -0.3481009, -0.09734699, 0.0934763, -0.37526, 0.09541201, 0.2920274, -0.1985013, 0.2776706]]])"},
        {"LocallyConnected1D",
         R"({"filters": 2, "kernel_size": 2, "data_format": "channels_first", "implementation": 1})",
         {2, 3, 5},
         R"([[4, 6, 2], [4, 2]])",
         R"([[[2, 2, 4], [-0.02929688, 0.1386719, -0.05078125, -0.04101562, 0.3964844, -0.1972656, 0.1132812, 0.140625, -0.09765625, 0.3398438, -0.1367188, -0.08007812, -0.0390625, -0.2519531, -0.04296875, 0.5136719]]])"},
        {"LocallyConnected2D", R"({"filters": 3, "kernel_size": [2, 3], "strides": [2, 1]})", {2, 5, 6, 2}, R"([[8, 12, 3], [2, 4, 3]])", R"([[[2, 2, 4, 3], [-0.1308594, 0.0, -0.2773438, 0.06445312, 0.08007812, -0.05273438, 0.1640625, 0.1386719, 0.0390625, 0.1679688, -0.4921875, -0.2246094, 0.03125, -0.2558594, 0.1621094, 0.3515625, -0.05078125, 0.140625, -0.4628906, 0.02148438, 0.2089844, -0.03710938, -0.3359375, 0.4785156, 0.05273438, 0.2519531, -0.4394531, 0.1113281, 0.34375, -0.2773438, 0.3339844, 0.08007812, -0.3222656, 0.05273438, -0.1308594, -0.1660156, 0.1132812, -0.2910156, 0.1582031, 0.59375, -0.03710938, 0.0, -0.2460938, 0.08398438, -0.1054688, -0.1054688, -0.2617188, -0.009765625]]])"},
        {"LocallyConnected2D",
         R"({"filters": 2, "kernel_size": 2, "padding": "same", "data_format": "channels_first", "implementation": 2})",
         {2, 2, 4, 5},
         R"([[2, 4, 5, 2, 4, 5], [4, 5, 2]])",
         R"([[[2, 2, 4, 5], [-0.08203125, 0.3007812, -0.4707031, 0.08984375, -0.05859375, -0.1132812, 0.2304688, 0.140625, -0.1054688, 0.4199219, -0.2207031, -0.1113281, 0.5761719, -0.1542969, 0.1835938, 0.2050781, -0.2402344, 0.296875, -0.5097656, -0.1738281, 0.2421875, -0.4511719, 0.08789062, 0.06640625, -0.1074219, 0.04882812, 0.01367188, -0.2011719, 0.3183594, -0.5058594, 0.03710938, 0.3457031, -0.2421875, 0.2011719, 0.265625, -0.1835938, 0.0, -0.4042969, -0.3339844, 0.1367188, -0.1113281, 0.2890625, -0.00390625, 0.1074219, 0.02929688, -0.1230469, -0.140625, 0.4667969, -0.2695312, 0.0625, -0.06445312, -0.1132812, 0.4179688, -0.4316406, 0.009765625, 0.4160156, 0.015625, 0.09960938, 0.02734375, 0.02148438, 0.2617188, -0.1054688, -0.05273438, 0.2558594, -0.1074219, -0.04882812, 0.171875, -0.2363281, -0.02148438, -0.03710938, -0.1542969, 0.1679688, -0.3164062, -0.1777344, 0.4355469, 0.01367188, 0.005859375, -0.07226562, 0.02734375, 0.3417969]]])"},
        {"LocallyConnected2D",
         R"({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "implementation": 3})",
         {2, 5, 4, 2},
         R"([[140], [3, 2, 2]])",
         R"([[[2, 3, 2, 2], [-0.2167969, 0.009765625, -0.4414062, 0.2070312, 0.4238281, -0.2148438, -0.3320312, 0.6660156, 0.2128906, 0.2636719, -0.3574219, -0.0859375, 0.04296875, 0.2734375, 0.0078125, -0.09570312, 0.1113281, -0.5371094, -0.03125, 0.04492188, -0.2207031, 0.3535156, -0.1132812, 0.1484375]]])"},
        {"LocallyConnected2D",
         R"({"filters": 2, "kernel_size": 2, "data_format": "channels_first", "implementation": 3})",
         {2, 3, 3, 4},
         R"([[144], [2, 3, 2]])",
         R"([[[2, 2, 2, 3], [-0.5605469, -0.1914062, -0.4257812, 0.109375, 0.3144531, -0.1582031, 0.6308594, 0.5625, 0.4101562, 0.1445312, -0.125, -0.0703125, 0.04101562, 0.04882812, -0.4355469, -0.001953125, 0.6210938, 0.1953125, -0.1933594, 0.4902344, 0.2363281, 0.01757812, -0.5019531, -0.2519531]]])"},
        {"LocallyConnected2D",
         R"({"filters": 2, "kernel_size": [3, 2], "data_format": "channels_first", "implementation": 1})",
         {1, 2, 4, 3},
         R"([[4, 12, 2], [2, 2, 2]])",
         R"([[[1, 2, 2, 2], [0.0859375, -0.0390625, -0.125, -0.1132812, 0.3144531, -0.3320312, -0.1621094, 0.5527344]]])"},
};

std::shared_ptr<Layer> layer_with_pattern_weights(const KerasCase& c, DType dtype = DType::kFloat32) {
  Config config = Config::parse(c.config);
  config["dtype"] = std::string(dtype_name(dtype));
  auto layer = make_layer(c.cls, config);
  layer->ensure_built({Shape(c.shape)});
  std::vector<Tensor> init;
  const auto vars = layer->weights();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    init.push_back(cast(pattern_tensor(vars[i].shape(), static_cast<std::int64_t>(i + 1)) * 0.25, dtype));
  }
  layer->set_weights(init);
  return layer;
}

// On the tests' ref device and on cpu (when its backend plugin is loaded).
TEST_F(ConvLstmTest, OutputsMatchTfKeras) {
  for (const auto& device : test_devices()) {
    if (!skip_reason(device).empty()) continue;
    DeviceScope on(Device{device});
    for (const auto& c : kKerasCases) {
      SCOPED_TRACE(device + " " + c.cls + " " + c.config);
      auto layer = layer_with_pattern_weights(c);
      const Config shapes = Config::parse(c.weight_shapes);
      const auto vars = layer->weights();
      ASSERT_EQ(vars.size(), shapes.size());
      for (std::size_t i = 0; i < vars.size(); ++i) EXPECT_EQ(vars[i].shape(), shape_of_json(shapes[i])) << i;
      const Tensor x = pattern_tensor(Shape(c.shape), 100) * 0.5;
      const auto ys = (*layer)(std::vector<Tensor>{x});
      const Config want = Config::parse(c.outputs);
      ASSERT_EQ(ys.size(), want.size());
      for (std::size_t i = 0; i < ys.size(); ++i) {
        EXPECT_EQ(ys[i].shape(), shape_of_json(want[i][0])) << "output " << i;
        EXPECT_EQ(mismatch(values(ys[i]), floats_of_json(want[i][1]), 1e-5, 1e-6), "") << "output " << i;
      }
    }
  }
}

// d sum(y * probe) / d (input, weights) by the tape against central differences, float64.
TEST_F(ConvLstmTest, GradientsMatchFiniteDifferences) {
  for (const auto& c : kKerasCases) {
    SCOPED_TRACE(std::string(c.cls) + " " + c.config);
    auto layer = layer_with_pattern_weights(c, DType::kFloat64);
    const std::vector<Tensor> inputs{cast(pattern_tensor(Shape(c.shape), 100), DType::kFloat64) * 0.5};
    auto objective = [&](const std::vector<Tensor>& xs) {
      const auto ys = (*layer)(xs);
      Tensor total;
      for (std::size_t k = 0; k < ys.size(); ++k) {
        const Tensor term =
            sum(ys[k] * cast(pattern_tensor(ys[k].shape(), 7 + static_cast<std::int64_t>(k)), DType::kFloat64));
        total = total.defined() ? total + term : term;
      }
      return total;
    };
    GradientTape tape(/*persistent=*/true);
    tape.watch(inputs[0]);
    const Tensor loss = objective(inputs);
    const auto dx = tape.gradient(loss, inputs);
    const auto dw = tape.gradient(loss, layer->trainable_weights());
    expect_gradients_match_finite_differences(*layer, objective, inputs, dx, dw);
  }
}

// One step of a ConvLSTM1D with one filter, all-ones kernels and no bias on x = 1:
// every gate sees 1 (h0 = 0); hard_sigmoid(1) = 0.7, so c = 0.7 tanh(1), h = 0.7 tanh(c).
TEST_F(ConvLstmTest, OneStepWithAllOnesKernelsByHand) {
  auto layer = make_layer("ConvLSTM1D", Config{{"filters", 1}, {"kernel_size", 1}, {"return_state", true}});
  layer->ensure_built({Shape{1, 1, 1, 1}});
  layer->set_weights({ones(Shape{1, 1, 4}), ones(Shape{1, 1, 4}), zeros(Shape{4})});
  const auto ys = (*layer)(std::vector<Tensor>{ones(Shape{1, 1, 1, 1})});
  ASSERT_EQ(ys.size(), 3u);
  const double c = 0.7 * std::tanh(1.0), h = 0.7 * std::tanh(c);
  EXPECT_NEAR(values(ys[0])[0], h, 1e-6);
  EXPECT_NEAR(values(ys[1])[0], h, 1e-6);
  EXPECT_NEAR(values(ys[2])[0], c, 1e-6);
  EXPECT_EQ(ys[0].shape(), (Shape{1, 1, 1}));
  // The second step: the recurrent convolution adds h to every gate.
  const auto two = (*layer)(std::vector<Tensor>{ones(Shape{1, 2, 1, 1})});
  auto hs = [](double z) { return std::clamp(0.2 * z + 0.5, 0.0, 1.0); };
  const double z = 1.0 + h, c2 = hs(z) * c + hs(z) * std::tanh(z), h2 = hs(z) * std::tanh(c2);
  EXPECT_NEAR(values(two[0])[0], h2, 1e-6);
  EXPECT_NEAR(values(two[2])[0], c2, 1e-6);
}

// A LocallyConnected1D of any implementation with every kernel entry 1 sums each window.
TEST_F(ConvLstmTest, LocallyConnectedWithAllOnesKernelSumsWindows) {
  for (int implementation : {1, 2, 3}) {
    auto layer =
        make_layer("LocallyConnected1D",
                   Config{{"filters", 1}, {"kernel_size", 2}, {"use_bias", false}, {"implementation", implementation}});
    layer->ensure_built({Shape{1, 4, 1}});
    // Implementation 2's dense kernel: its unconnected entries must not count.
    layer->set_weights({ones(layer->weights()[0].shape())});
    const Tensor y = (*layer)(std::vector<Tensor>{Tensor::from_vector<float>({1, 2, 4, 8}, Shape{1, 4, 1})})[0];
    EXPECT_EQ(values(y), (std::vector<float>{3, 6, 12})) << implementation;
  }
}

// Masked steps keep the states and repeat the previous output.
TEST_F(ConvLstmTest, MaskedStepsKeepTheStates) {
  const KerasCase& c = kKerasCases[0];  // ConvLSTM1D, return_sequences
  auto layer = layer_with_pattern_weights(c);
  const Tensor x = pattern_tensor(Shape(c.shape), 100) * 0.5;  // (2, 3, 5, 2)
  CallContext ctx;
  ctx.masks.push_back(cast(Tensor::from_vector<float>({1, 1, 0, 1, 0, 0}, Shape{2, 3}), DType::kBool));
  const auto masked = layer->call_with_masks({x}, ctx);
  const auto plain = (*layer)(std::vector<Tensor>{x});
  const auto a = values(masked.tensors[0]), b = values(plain[0]);
  const std::size_t step = 4 * 2;  // (4, 2) per step
  for (std::size_t i = 0; i < step; ++i) {
    EXPECT_FLOAT_EQ(a[i], b[i]);                        // sample 0, step 0
    EXPECT_FLOAT_EQ(a[step + i], b[step + i]);          // sample 0, step 1
    EXPECT_FLOAT_EQ(a[2 * step + i], a[step + i]);      // sample 0, step 2 masked: repeats step 1
    EXPECT_FLOAT_EQ(a[3 * step + i], b[3 * step + i]);  // sample 1, step 0
    EXPECT_FLOAT_EQ(a[4 * step + i], a[3 * step + i]);
    EXPECT_FLOAT_EQ(a[5 * step + i], a[3 * step + i]);
  }
  ASSERT_EQ(masked.masks.size(), 1u);
  EXPECT_TRUE(masked.masks[0].defined());
}

// A mask per position (Masking before the layer: (batch, timesteps, rows, cols)) masks each
// position's states; one masking every position of a step equals the step's mask.
TEST_F(ConvLstmTest, MasksPerPosition) {
  auto layer = make_layer(
      "ConvLSTM2D",
      Config{
          {"filters", 2}, {"kernel_size", 3}, {"padding", "same"}, {"return_sequences", true}, {"return_state", true}});
  const Tensor x = pattern_tensor(Shape{2, 3, 4, 4, 2}, 13) * 0.5;
  CallContext by_step, by_position;
  by_step.masks.push_back(cast(Tensor::from_vector<float>({1, 0, 1, 1, 1, 0}, Shape{2, 3}), DType::kBool));
  by_position.masks.push_back(broadcast_to(reshape(by_step.masks[0], Shape{2, 3, 1, 1}), Shape{2, 3, 4, 4}));
  const auto a = layer->call_with_masks({x}, by_step).tensors;
  const auto b = layer->call_with_masks({x}, by_position).tensors;
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(mismatch(values(a[i]), values(b[i])), "") << i;
  // A valid padding changes the spatial shape: such a mask cannot apply (tf-keras fails too).
  auto valid = make_layer("ConvLSTM2D", Config{{"name", "bad"}, {"filters", 2}, {"kernel_size", 3}});
  EXPECT_THROW(valid->call_with_masks({x}, by_position), ShapeError);
}

// channels_first is channels_last with the channels moved: same weights, transposed values.
TEST_F(ConvLstmTest, ChannelsFirstIsTransposedChannelsLast) {
  for (const char* cls : {"ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}) {
    SCOPED_TRACE(cls);
    const std::size_t rank = cls[8] - '0';
    Config base{
        {"filters", 2}, {"kernel_size", 2}, {"padding", "same"}, {"return_sequences", true}, {"return_state", true}};
    Config first = base;
    first["data_format"] = "channels_first";
    auto last_layer = make_layer(cls, base);
    auto first_layer = make_layer(cls, first);
    std::vector<std::int64_t> dims{2, 3};
    for (std::size_t i = 0; i < rank; ++i) dims.push_back(3 + static_cast<std::int64_t>(i));
    dims.push_back(2);
    const Tensor x = pattern_tensor(Shape(dims), 5) * 0.5;
    std::vector<std::int64_t> to_first{0, 1, static_cast<std::int64_t>(rank + 2)};
    for (std::size_t i = 0; i < rank; ++i) to_first.push_back(static_cast<std::int64_t>(i + 2));
    const auto ys = (*last_layer)(std::vector<Tensor>{x});
    first_layer->ensure_built({transpose(x, to_first).shape()});
    first_layer->set_weights(last_layer->get_weights());
    const auto zs = (*first_layer)(std::vector<Tensor>{transpose(x, to_first)});
    EXPECT_EQ(mismatch(values(zs[0]), values(transpose(ys[0], to_first))), "");
    std::vector<std::int64_t> state_first(to_first.begin() + 1, to_first.end());
    for (auto& p : state_first) --p;
    state_first[0] = 0;
    state_first.insert(state_first.begin() + 1, static_cast<std::int64_t>(rank + 1));
    state_first.erase(state_first.begin() + 2);
    EXPECT_EQ(mismatch(values(zs[1]), values(transpose(ys[1], state_first))), "");
    EXPECT_EQ(mismatch(values(zs[2]), values(transpose(ys[2], state_first))), "");
  }
}

// Stateful: the second call continues from the first call's final states.
TEST_F(ConvLstmTest, StatefulCallsContinueTheSequence) {
  Config config{{"filters", 2}, {"kernel_size", 2}, {"padding", "same"}, {"return_state", true}};
  auto once = make_layer("ConvLSTM2D", config);
  config["stateful"] = true;
  auto twice = make_layer("ConvLSTM2D", config);
  const Tensor x = pattern_tensor(Shape{2, 2, 3, 3, 1}, 3) * 0.5;
  const auto whole = (*once)(std::vector<Tensor>{concat({x, x}, 1)});
  twice->ensure_built({x.shape()});
  twice->set_weights(once->get_weights());
  (*twice)(std::vector<Tensor>{x});
  const auto second = (*twice)(std::vector<Tensor>{x});
  EXPECT_EQ(mismatch(values(second[0]), values(whole[0])), "");
  EXPECT_EQ(mismatch(values(second[2]), values(whole[2])), "");
  reset_states(*twice);
  const auto fresh = (*twice)(std::vector<Tensor>{x});
  const auto first = (*once)(std::vector<Tensor>{x});
  EXPECT_EQ(mismatch(values(fresh[0]), values(first[0])), "");
  // Initial states given as inputs take the place of zeros.
  const auto from_states = (*once)(std::vector<Tensor>{x, first[1], first[2]});
  EXPECT_EQ(mismatch(values(from_states[0]), values(whole[0])), "");
}

// In a Functional model, with the number of steps known and unknown (a deferred call).
TEST_F(ConvLstmTest, FunctionalModelsOfKnownAndUnknownLength) {
  for (std::int64_t steps : {std::int64_t{3}, kU}) {
    clear_session();
    const Tensor in = Input(Shape{steps, 5, 2});
    auto layer = make_layer("ConvLSTM1D", Config{{"filters", 2}, {"kernel_size", 2}, {"return_sequences", true}});
    const Tensor y = (*layer)(in);
    EXPECT_EQ(y.shape().to_string(), steps < 0 ? "(None, None, 4, 2)" : "(None, 3, 4, 2)");
    auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{y}, "m");
    const Tensor x = pattern_tensor(Shape{2, 3, 5, 2}, 9) * 0.5;
    const Tensor got = model->predict(x);
    EXPECT_EQ(mismatch(values(got), values((*layer)(std::vector<Tensor>{x})[0])), "");
  }
}

// dropout / recurrent_dropout: identity in inference; in training a new draw per call, the
// same masks at every step (so a zero dropout mask on an input channel removes it from every
// step's input convolution).
TEST_F(ConvLstmTest, DropoutOnlyInTraining) {
  auto layer = make_layer(
      "ConvLSTM2D",
      Config{{"filters", 2}, {"kernel_size", 2}, {"padding", "same"}, {"dropout", 0.5}, {"recurrent_dropout", 0.5}});
  auto plain = make_layer("ConvLSTM2D", Config{{"filters", 2}, {"kernel_size", 2}, {"padding", "same"}});
  const Tensor x = pattern_tensor(Shape{2, 3, 4, 4, 2}, 11) * 0.5;
  layer->ensure_built({x.shape()});
  plain->ensure_built({x.shape()});
  plain->set_weights(layer->get_weights());
  const auto want = values((*plain)(std::vector<Tensor>{x})[0]);
  EXPECT_EQ(values((*layer)(std::vector<Tensor>{x})[0]), want);
  CallContext training;
  training.training = true;
  const auto a = values(layer->call_with_masks({x}, training).tensors[0]);
  const auto b = values(layer->call_with_masks({x}, training).tensors[0]);
  EXPECT_NE(a, want);
  EXPECT_NE(a, b);
  for (const float v : a) EXPECT_TRUE(std::isfinite(v));
}

// Keras 3's node (initial_state by keyword) is read and written back in tf-keras's form.
TEST_F(ConvLstmTest, CallArgumentsInBothDialects) {
  auto layer = make_layer("ConvLSTM1D", Config{{"name", "bad"}, {"filters", 2}, {"kernel_size", 2}});
  auto* arguments = dynamic_cast<CallArgumentsLayer*>(layer.get());
  ASSERT_NE(arguments, nullptr);
  const Config t0{{"strata.tensor", 0}}, t1{{"strata.tensor", 1}}, t2{{"strata.tensor", 2}};
  arguments->set_call_arguments(
      Config{{"args", Config::array({t0})}, {"kwargs", Config{{"initial_state", Config::array({t1, t2})}}}});
  const Tensor in = Input(Shape{3, 5, 2}), h = Input(Shape{4, 2}), c = Input(Shape{4, 2});
  (*layer)(std::vector<Tensor>{in, h, c});
  EXPECT_EQ(arguments->call_arguments(),
            (Config{{"args", Config::array({Config::array({t0, t1, t2})})}, {"kwargs", Config::object()}}));
  EXPECT_THROW(arguments->set_call_arguments(
                   Config{{"args", Config::array({t0})}, {"kwargs", Config{{"constants", Config::array({t1})}}}}),
               FormatError);
  EXPECT_THROW(arguments->set_call_arguments(
                   Config{{"args", Config::array({Config::array({t0, t1})})}, {"kwargs", Config::object()}}),
               FormatError);
}

// A model of both families trains with fit (batches of unknown size, dropout in training,
// timesteps known or not): the loss falls.
TEST_F(ConvLstmTest, ModelOfBothFamiliesTrains) {
  for (const std::int64_t steps : {std::int64_t{3}, kU}) {  // unknown: the ConvLSTM's call is deferred
    SCOPED_TRACE(steps);
    clear_session();
    if (!Registry::global().contains(ObjectKind::kOptimizer, "Adam")) GTEST_SKIP() << "no training plugin";
    const Tensor in = Input(Shape{steps, 6, 2});
    Tensor h = (*make_layer(
        "ConvLSTM1D",
        Config{{"filters", 3}, {"kernel_size", 2}, {"padding", "same"}, {"dropout", 0.1}, {"recurrent_dropout", 0.1}}))(
        in);
    h = (*make_layer("LocallyConnected1D",
                     Config{{"filters", 2}, {"kernel_size", 3}, {"implementation", 3}, {"padding", "same"}}))(h);
    h = (*make_layer("LocallyConnected1D", Config{{"filters", 1}, {"kernel_size", 2}, {"strides", 2}}))(h);
    auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{h}, "both");
    model->compile(Config{{"class_name", "Adam"}, {"config", Config{{"learning_rate", 0.03}}}}, Config("mse"));
    const Tensor x = pattern_tensor(Shape{8, 3, 6, 2}, 4) * 0.5;
    const Tensor y = pattern_tensor(Shape{8, 3, 1}, 6) * 0.5;
    const double before = model->evaluate(x, y).at("loss");
    FitOptions options;
    options.epochs = 30;
    options.batch_size = 4;
    options.verbose = 0;
    model->fit(x, y, options);
    const double after = model->evaluate(x, y).at("loss");
    EXPECT_LT(after, before * 0.8) << before << " -> " << after;
  }
}

const char* const kConvLstmKeys[] = {"name",
                                     "trainable",
                                     "dtype",
                                     "return_sequences",
                                     "return_state",
                                     "go_backwards",
                                     "stateful",
                                     "unroll",
                                     "time_major",
                                     "filters",
                                     "kernel_size",
                                     "strides",
                                     "padding",
                                     "data_format",
                                     "dilation_rate",
                                     "activation",
                                     "recurrent_activation",
                                     "use_bias",
                                     "kernel_initializer",
                                     "recurrent_initializer",
                                     "bias_initializer",
                                     "unit_forget_bias",
                                     "kernel_regularizer",
                                     "recurrent_regularizer",
                                     "bias_regularizer",
                                     "activity_regularizer",
                                     "kernel_constraint",
                                     "recurrent_constraint",
                                     "bias_constraint",
                                     "dropout",
                                     "recurrent_dropout"};
const char* const kLocallyConnectedKeys[] = {"name",
                                             "trainable",
                                             "dtype",
                                             "filters",
                                             "kernel_size",
                                             "strides",
                                             "padding",
                                             "data_format",
                                             "activation",
                                             "use_bias",
                                             "kernel_initializer",
                                             "bias_initializer",
                                             "kernel_regularizer",
                                             "bias_regularizer",
                                             "activity_regularizer",
                                             "kernel_constraint",
                                             "bias_constraint",
                                             "implementation"};

TEST_F(ConvLstmTest, ConfigsRoundTripInTfKerasOrder) {
  for (const char* cls : {"ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "LocallyConnected1D", "LocallyConnected2D"}) {
    SCOPED_TRACE(cls);
    const bool lstm = std::string(cls).rfind("ConvLSTM", 0) == 0;
    const std::size_t rank = static_cast<std::size_t>(cls[std::string(cls).size() - 2] - '0');
    const Config config = make_layer(cls, Config{{"filters", 3}, {"kernel_size", 2}})->get_config();
    std::vector<std::string> keys;
    for (auto it = config.begin(); it != config.end(); ++it) keys.push_back(it.key());
    std::vector<std::string> want;
    if (lstm) {
      want.assign(std::begin(kConvLstmKeys), std::end(kConvLstmKeys));
    } else {
      want.assign(std::begin(kLocallyConnectedKeys), std::end(kLocallyConnectedKeys));
    }
    EXPECT_EQ(keys, want);
    EXPECT_EQ(config["kernel_size"], Config(std::vector<int>(rank, 2)));
    EXPECT_EQ(config["strides"], Config(std::vector<int>(rank, 1)));
    EXPECT_EQ(config["padding"], "valid");
    EXPECT_EQ(config["data_format"], "channels_last");
    if (lstm) {
      EXPECT_EQ(config["activation"], "tanh");
      EXPECT_EQ(config["recurrent_activation"], "hard_sigmoid");
      EXPECT_EQ(config["recurrent_initializer"]["class_name"], "Orthogonal");
      EXPECT_EQ(config["unit_forget_bias"], true);
      EXPECT_EQ(config["dropout"], 0.0);
    } else {
      EXPECT_EQ(config["activation"], "linear");
      EXPECT_EQ(config["implementation"], 1);
    }
    EXPECT_EQ(make_layer(cls, config)->get_config(), config);
  }
  // A full config survives too, and Keras 3's seed is written back as read.
  const Config full{{"name", "c"},
                    {"filters", 2},
                    {"kernel_size", {2, 3}},
                    {"strides", {2, 1}},
                    {"padding", "same"},
                    {"data_format", "channels_first"},
                    {"go_backwards", true},
                    {"return_state", true},
                    {"recurrent_activation", "sigmoid"},
                    {"dropout", 0.25},
                    {"use_bias", false},
                    {"seed", 7},
                    {"zero_output_for_mask", true}};
  const Config written = make_layer("ConvLSTM2D", full)->get_config();
  EXPECT_EQ(make_layer("ConvLSTM2D", written)->get_config(), written);
  EXPECT_EQ(written["seed"], 7);
  EXPECT_EQ(written["zero_output_for_mask"], true);
  EXPECT_EQ(written["strides"], Config({2, 1}));
}

TEST_F(ConvLstmTest, WeightNamesShapesAndForgetBias) {
  const Tensor in = Input(Shape{3, 5, 4, 2});
  auto layer = make_layer("ConvLSTM2D", Config{{"name", "conv_lstm2d"}, {"filters", 3}, {"kernel_size", 2}});
  (*layer)(in);
  const auto ws = layer->weights();
  ASSERT_EQ(ws.size(), 3u);
  EXPECT_EQ(ws[0].name(), "conv_lstm2d/kernel");
  EXPECT_EQ(ws[1].name(), "conv_lstm2d/recurrent_kernel");
  EXPECT_EQ(ws[2].name(), "conv_lstm2d/bias");
  EXPECT_EQ(ws[0].shape(), (Shape{2, 2, 2, 12}));
  EXPECT_EQ(ws[1].shape(), (Shape{2, 2, 3, 12}));
  EXPECT_EQ(ws[2].shape(), (Shape{12}));
  EXPECT_EQ(values(ws[2].value()), (std::vector<float>{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0}));
  // tf-keras tracks them on the child "cell" (checkpoint keys cell/kernel).
  ASSERT_EQ(layer->children().size(), 1u);
  EXPECT_EQ(layer->children()[0].name, "cell");

  const std::pair<int, std::vector<std::int64_t>> kernels[] = {
      {1, {20, 8, 3}}, {2, {5, 6, 2, 4, 5, 3}}, {3, {4 * 5 * 4 * 2 * 3}}};
  for (const auto& [implementation, shape] : kernels) {
    auto lc =
        make_layer("LocallyConnected2D",
                   Config{{"name", "lc"}, {"filters", 3}, {"kernel_size", 2}, {"implementation", implementation}});
    lc->ensure_built({Shape{kU, 5, 6, 2}});
    ASSERT_EQ(lc->weights().size(), 2u);
    EXPECT_EQ(lc->weights()[0].name(), "lc/kernel");
    EXPECT_EQ(lc->weights()[0].shape(), Shape(shape)) << implementation;
    EXPECT_EQ(lc->weights()[1].shape(), (Shape{4, 5, 3}));
  }
}

template <typename E>
void expect_error_naming(const std::string& cls, const Config& config, const std::vector<Shape>& shapes,
                         const std::string& what) {
  SCOPED_TRACE(cls + " " + config.dump());
  try {
    auto layer = make_layer(cls, config);
    if (!shapes.empty()) layer->ensure_built(shapes);
    ADD_FAILURE() << "no error";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find("'bad'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST_F(ConvLstmTest, BadConfigsAndShapesAreTypedErrorsNamingTheLayer) {
  const Config base{{"name", "bad"}, {"filters", 2}, {"kernel_size", 2}};
  auto with = [&](const char* key, Config value) {
    Config c = base;
    c[key] = std::move(value);
    return c;
  };
  for (const char* cls : {"ConvLSTM2D", "LocallyConnected2D"}) {
    // The config reader's errors (FormatError or ValueError, as for every layer).
    expect_error_naming<Error>(cls, with("filters", 0), {}, "filters");
    expect_error_naming<Error>(cls, with("kernel_size", Config({2, 2, 2})), {}, "kernel_size");
    expect_error_naming<Error>(cls, with("padding", "causal"), {}, "padding");
    expect_error_naming<Error>(cls, with("data_format", "nhwc"), {}, "data_format");
    expect_error_naming<ShapeError>(cls, base, {Shape{2, 3, 4}}, "rank");
  }
  expect_error_naming<ValueError>("ConvLSTM2D", with("unroll", true), {}, "unroll");
  expect_error_naming<ValueError>("ConvLSTM2D", with("time_major", true), {}, "time_major");
  expect_error_naming<ValueError>("ConvLSTM2D", with("stateful", true), {Shape{kU, 3, 4, 4, 1}}, "batch size");
  expect_error_naming<ShapeError>("ConvLSTM2D", base, {Shape{2, 3, 4, 4, kU}}, "channel");
  expect_error_naming<ValueError>("LocallyConnected1D", with("implementation", 4), {}, "implementation");
  expect_error_naming<ValueError>("LocallyConnected1D", with("padding", "same"), {}, "implementation");
  expect_error_naming<ShapeError>("LocallyConnected1D", base, {Shape{2, kU, 3}}, "known");
  expect_error_naming<ValueError>("LocallyConnected1D", with("kernel_size", 5), {Shape{2, 3, 3}}, "<= 0");
  // Inputs of the wrong rank when called.
  auto layer = make_layer("ConvLSTM1D", base);
  EXPECT_THROW((*layer)(std::vector<Tensor>{ones(Shape{2, 3, 4})}), ShapeError);
  EXPECT_THROW((*layer)(std::vector<Tensor>{ones(Shape{2, 3, 4, 1}), ones(Shape{2, 3, 2})}), ValueError);
}

}  // namespace
}  // namespace strata::layer_tests
