// The model-level half of the backend conformance suite: a few models of the layers
// plugin (dense, convolutional with batch normalization and pooling, recurrent over an
// embedding, recurrent over a masked embedding, two-input functional) built, run and trained on each backend device and on
// the tests' `ref` device from the same seed and data. Checked per device:
//   - seeded initializers draw the same weights;
//   - inference outputs;
//   - the gradients of a scalar of the outputs with respect to every trainable weight;
//   - three compiled training steps (losses and every weight afterwards, with Dropout and
//     BatchNormalization in training mode and the optimizer of the case);
//   - Layer::to(): a model moved onto the device and back keeps its weights exactly and
//     predicts there what it predicted before;
//   - weights saved from the device (through the backend's host copies) load on the host.
// Registered for every device of every loaded backend except the ref oracle (kit.hpp); a
// backend without a usable device (cuda on CI) gets its cases registered and skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>

#include "kit.hpp"
#include "op_cases.hpp"
#include "ref_backend.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/metrics.hpp"
#include "strata/model.hpp"
#include "strata/optimizer.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata::testing {
namespace {

const Device kRef("ref:0");

struct ModelCase {
  std::string name;
  std::function<std::shared_ptr<Model>()> build;
  // Host tensors: the inputs and the targets of the compiled loss.
  std::function<std::vector<Tensor>()> inputs;
  std::function<Tensor()> targets;
  Config loss;
  Config optimizer;
  // Tolerances, |got - ref| <= atol + rtol |ref|. Outputs are held to the op suite's
  // float32 tolerance; gradients and weights after training sum longer chains of
  // differently ordered float32 reductions (docs/DECISIONS.md, issue 9).
  double rtol = 1e-5, atol = 1e-5;
  double train_rtol = 1e-4, train_atol = 1e-5;
};

std::shared_ptr<Layer> layer(std::string_view cls, Config config) { return make_layer(cls, config); }

Tensor uniform(const Shape& shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& x : v) x = u(rng);
  return Tensor::from_vector<float>(v, shape, Device::cpu());
}

template <typename T>
Tensor integers(const Shape& shape, std::uint32_t seed, int below) {
  std::mt19937 rng(seed);
  std::vector<T> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& x : v) x = static_cast<T>(rng() % static_cast<std::uint32_t>(below));
  return Tensor::from_vector<T>(v, shape, Device::cpu());
}

constexpr std::int64_t kBatch = 16;

std::vector<ModelCase> model_cases() {
  std::vector<ModelCase> out;
  out.push_back({"mlp",
                 [] {
                   return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
                       layer("Dense", {{"units", 48}, {"activation", "relu"}, {"input_shape", {20}}}),
                       layer("Dropout", {{"rate", 0.25}, {"seed", 11}}),
                       layer("Dense", {{"units", 32}, {"activation", "gelu"}}),
                       layer("Dense", {{"units", 5}, {"activation", "softmax"}})});
                 },
                 [] { return std::vector<Tensor>{uniform(Shape{kBatch, 20}, 1)}; },
                 [] { return integers<std::int32_t>(Shape{kBatch}, 2, 5); },
                 Config("sparse_categorical_crossentropy"),
                 Config{{"class_name", "adam"}, {"config", {{"learning_rate", 0.01}}}}});
  out.push_back({"cnn",
                 [] {
                   Tensor x = Input(Shape{12, 12, 3}, "image");
                   Tensor h = (*layer("Conv2D", {{"filters", 8}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}}))(x);
                   h = (*layer("BatchNormalization", {}))(h);
                   h = (*layer("MaxPooling2D", {{"pool_size", 2}}))(h);
                   h = (*layer("DepthwiseConv2D", {{"kernel_size", 3}, {"strides", 2}, {"padding", "same"}, {"depth_multiplier", 2}}))(h);
                   h = (*layer("AveragePooling2D", {{"pool_size", 2}, {"padding", "same"}}))(h);
                   h = (*layer("Conv2D", {{"filters", 6}, {"kernel_size", 1}, {"activation", "tanh"}}))(h);
                   h = (*layer("GlobalAveragePooling2D", {}))(h);
                   h = (*layer("Dense", {{"units", 4}}))(h);
                   return std::make_shared<Functional>(std::vector<Tensor>{x}, std::vector<Tensor>{h}, "cnn");
                 },
                 [] { return std::vector<Tensor>{uniform(Shape{kBatch, 12, 12, 3}, 3)}; },
                 [] { return uniform(Shape{kBatch, 4}, 4); },
                 Config("mse"),
                 Config{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.05}, {"momentum", 0.9}, {"nesterov", true}}}}});
  out.push_back({"rnn",
                 [] {
                   Tensor tokens = Input(Shape{7}, "tokens", DType::kInt32);
                   Tensor h = (*layer("Embedding", {{"input_dim", 30}, {"output_dim", 8}}))(tokens);
                   h = (*layer("LSTM", {{"units", 12}, {"return_sequences", true}}))(h);
                   h = (*layer("GRU", {{"units", 10}}))(h);
                   h = (*layer("Dense", {{"units", 3}, {"activation", "sigmoid"}}))(h);
                   return std::make_shared<Functional>(std::vector<Tensor>{tokens}, std::vector<Tensor>{h}, "rnn");
                 },
                 [] { return std::vector<Tensor>{integers<std::int32_t>(Shape{kBatch, 7}, 5, 30)}; },
                 [] { return integers<float>(Shape{kBatch, 3}, 6, 2); },
                 Config("binary_crossentropy"),
                 Config{{"class_name", "rmsprop"}, {"config", {{"learning_rate", 0.01}}}}});
  out.push_back({"masked_rnn",
                 [] {
                   // Token 0 is padding: the mask (bool ops on the device) skips those steps.
                   Tensor tokens = Input(Shape{9}, "tokens", DType::kInt32);
                   Tensor h = (*layer("Embedding", {{"input_dim", 20}, {"output_dim", 6}, {"mask_zero", true}}))(tokens);
                   h = (*layer("LSTM", {{"units", 8}, {"return_sequences", true}}))(h);
                   h = (*layer("SimpleRNN", {{"units", 5}}))(h);
                   h = (*layer("Dense", {{"units", 2}, {"activation", "softmax"}}))(h);
                   return std::make_shared<Functional>(std::vector<Tensor>{tokens}, std::vector<Tensor>{h}, "masked_rnn");
                 },
                 [] {
                   // Sequences of 3..9 tokens, zero-padded at the end.
                   std::vector<std::int32_t> v(static_cast<std::size_t>(kBatch * 9), 0);
                   for (std::int64_t b = 0; b < kBatch; ++b) {
                     for (std::int64_t t = 0; t < 3 + b % 7; ++t) v[static_cast<std::size_t>(b * 9 + t)] = static_cast<std::int32_t>(1 + (b * 5 + t * 3) % 19);
                   }
                   return std::vector<Tensor>{Tensor::from_vector<std::int32_t>(v, Shape{kBatch, 9}, Device::cpu())};
                 },
                 [] { return integers<std::int32_t>(Shape{kBatch}, 10, 2); },
                 Config("sparse_categorical_crossentropy"),
                 Config{{"class_name", "sgd"}, {"config", {{"learning_rate", 0.1}}}}});
  out.push_back({"two_inputs",
                 [] {
                   Tensor seq = Input(Shape{10, 3}, "sequence");
                   Tensor vec = Input(Shape{4}, "features");
                   Tensor a = (*layer("Conv1D", {{"filters", 5}, {"kernel_size", 3}, {"padding", "causal"}, {"activation", "elu"}}))(seq);
                   a = (*layer("MaxPooling1D", {{"pool_size", 2}}))(a);
                   a = (*layer("SimpleRNN", {{"units", 6}}))(a);
                   Tensor b = (*layer("Dense", {{"units", 5}, {"activation", "tanh"}}))(vec);
                   Tensor h = (*layer("Concatenate", {}))({a, b})[0];
                   h = (*layer("LayerNormalization", {}))(h);
                   h = (*layer("Dense", {{"units", 1}}))(h);
                   return std::make_shared<Functional>(std::vector<Tensor>{seq, vec}, std::vector<Tensor>{h}, "two_inputs");
                 },
                 [] { return std::vector<Tensor>{uniform(Shape{kBatch, 10, 3}, 7), uniform(Shape{kBatch, 4}, 8)}; },
                 [] { return uniform(Shape{kBatch, 1}, 9); },
                 Config("mse"),
                 Config{{"class_name", "adamw"}, {"config", {{"learning_rate", 0.01}}}}});
  return out;
}

struct Param {
  std::string device;
  ModelCase c;
};


std::vector<Tensor> on(const std::vector<Tensor>& xs, const Device& d) {
  std::vector<Tensor> out;
  for (const auto& x : xs) out.push_back(x.to(d));
  return out;
}

// The largest |got - ref| / (atol + rtol |ref|) over all elements: <= 1 passes.
double worst_ratio(const Tensor& got, const Tensor& ref, double rtol, double atol) {
  const auto g = cast(got.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  const auto r = cast(ref.to(Device::cpu()), DType::kFloat64).to_vector<double>();
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(g.size(), r.size()); ++i) {
    worst = std::max(worst, std::abs(g[i] - r[i]) / (atol + rtol * std::abs(r[i])));
  }
  return worst;
}

std::shared_ptr<Model> build_on(const ModelCase& c, const Device& d) {
  clear_session();
  set_random_seed(1234);
  DeviceScope scope(d);
  return c.build();
}

// The gradients of a scalar that weighs every output differently (so that no gradient
// cancels by symmetry) with respect to the trainable weights, in inference mode.
std::vector<Tensor> gradients(const ModelCase& c, Model& m, const Device& d) {
  DeviceScope scope(d);
  GradientTape tape;
  const Tensor y = m(on(c.inputs(), d))[0];
  const Tensor target = sum(mul(y, uniform(y.shape(), 99).to(d)));
  return tape.gradient(target, m.trainable_weights());
}

// Runs `steps` training steps of the compiled `m` on one batch on `d`; returns the losses
// (host scalars).
std::vector<Tensor> steps(const ModelCase& c, Model& m, const Device& d, int steps) {
  DeviceScope scope(d);
  const auto x = on(c.inputs(), d);
  const Tensor y = c.targets().to(d);
  std::vector<Tensor> losses;
  for (int step = 0; step < steps; ++step) {
    losses.push_back(Tensor::scalar<float>(static_cast<float>(m.train_on_batch(x, {y}).at("loss")), Device::cpu()));
  }
  return losses;
}

// Compiles `m` on `d` with the case's optimizer and loss, then trains it (steps()).
std::vector<Tensor> train(const ModelCase& c, Model& m, const Device& d, int n = 3) {
  {
    DeviceScope scope(d);
    m.compile(c.optimizer, c.loss);
  }
  return steps(c, m, d, n);
}

// One test of a model case on one device: `body` is one of the checks below.
class ModelConformance : public ::testing::Test {
 public:
  using Body = void (ModelConformance::*)();
  ModelConformance(Param p, Body body) : param_(std::move(p)), body_(body) {}
  void TestBody() override { (this->*body_)(); }
  const Param& param() const { return param_; }

  void SeededInitializersDrawTheSameWeights();
  void InferenceMatchesTheReferenceDevice();
  void GradientsMatchTheReferenceDevice();
  void TrainingStepsMatchTheReferenceDevice();
  void MovesOntoTheDeviceAndBack();
  void TrainingResumesOnTheDeviceAfterTo();
  void WeightsSavedFromTheDeviceLoadOnTheHost();

 protected:
  void SetUp() override {
    device_ = Device(param().device);
    if (!is_device_available(device_)) GTEST_SKIP() << "no usable " << param().device << " device on this machine";
    if (!Registry::global().contains(ObjectKind::kKernel, kernel_key("MatMul", device_.type(), DType::kFloat32))) {
      GTEST_SKIP() << "no kernels for " << param().device << " (its backend plugin is not loaded)";
    }
    if (!Registry::global().contains(ObjectKind::kLayer, "Dense") ||
        !Registry::global().contains(ObjectKind::kOptimizer, "adam")) {
      GTEST_SKIP() << "the layers and training plugins are not loaded";
    }
    ref_ = build_on(param().c, kRef);
    dut_ = build_on(param().c, device_);
  }

  // Expects every pair of tensors equal within the tolerance; records the worst ratio.
  void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double rtol, double atol,
                    const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double worst = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].defined(), want[i].defined()) << what << " " << i;
      if (!got[i].defined()) continue;
      EXPECT_EQ(got[i].dtype(), want[i].dtype()) << what << " " << i;
      const std::string diff = compare_tensors(got[i].to(Device::cpu()), want[i].to(Device::cpu()), rtol, atol);
      EXPECT_TRUE(diff.empty()) << param().c.name << " " << what << " " << i << ": " << diff;
      worst = std::max(worst, worst_ratio(got[i], want[i], rtol, atol));
    }
    std::cout << "[ conform  ] " << param().device << " " << param().c.name << " " << what
              << ": worst |diff| / (atol + rtol |ref|) = " << worst << " (rtol " << rtol << ", atol " << atol << ")\n";
  }

  Param param_;
  Body body_;
  Device device_;
  std::shared_ptr<Model> ref_, dut_;
};

void ModelConformance::SeededInitializersDrawTheSameWeights() {
  for (const auto& w : dut_->weights()) EXPECT_EQ(w.value().device(), device_) << w.name();
  expect_close(dut_->get_weights(), ref_->get_weights(), 1e-6, 1e-7, "initial weights");
}

void ModelConformance::InferenceMatchesTheReferenceDevice() {
  const ModelCase& c = param().c;
  dut_->set_weights(ref_->get_weights());
  const auto x = c.inputs();
  const auto got = dut_->predict(on(x, device_), kBatch);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].device(), device_);
  expect_close(got, ref_->predict(on(x, kRef), kBatch), c.rtol, c.atol, "predict");
}

void ModelConformance::GradientsMatchTheReferenceDevice() {
  const ModelCase& c = param().c;
  dut_->set_weights(ref_->get_weights());
  const auto want = gradients(c, *ref_, kRef);
  const auto got = gradients(c, *dut_, device_);
  for (const auto& g : got) {
    if (g.defined()) {
      EXPECT_EQ(g.device(), device_);
    }
  }
  expect_close(got, want, c.train_rtol, c.train_atol, "gradients");
}

void ModelConformance::TrainingStepsMatchTheReferenceDevice() {
  const ModelCase& c = param().c;
  dut_->set_weights(ref_->get_weights());
  const auto want = train(c, *ref_, kRef);
  const auto got = train(c, *dut_, device_);
  expect_close(got, want, c.train_rtol, c.train_atol, "training losses");
  for (const auto& w : dut_->weights()) EXPECT_EQ(w.value().device(), device_) << w.name();
  expect_close(dut_->get_weights(), ref_->get_weights(), c.train_rtol, c.train_atol, "weights after 3 steps");
}

void ModelConformance::MovesOntoTheDeviceAndBack() {
  const ModelCase& c = param().c;
  const auto x = c.inputs();
  const auto before = ref_->get_weights();
  const auto predicted_on_ref = ref_->predict(on(x, kRef), kBatch);
  ref_->to(device_);
  for (const auto& w : ref_->weights()) EXPECT_EQ(w.value().device(), device_) << w.name();
  expect_close(ref_->get_weights(), before, 0.0, 0.0, "weights moved onto the device");
  expect_close(ref_->predict(on(x, device_), kBatch), predicted_on_ref, c.rtol, c.atol, "predict after to()");
  ref_->to(kRef);
  for (const auto& w : ref_->weights()) EXPECT_EQ(w.value().device(), kRef) << w.name();
  expect_close(ref_->get_weights(), before, 0.0, 0.0, "weights moved back");
}

// A model trained on the ref device, moved with to() (weights, optimizer slots, metric
// states) and trained on: the same as training on the ref device throughout.
void ModelConformance::TrainingResumesOnTheDeviceAfterTo() {
  const ModelCase& c = param().c;
  auto moved = build_on(c, kRef);
  moved->set_weights(ref_->get_weights());
  const auto want = train(c, *ref_, kRef, 3);
  auto got = train(c, *moved, kRef, 1);
  moved->to(device_);
  for (const auto& v : moved->optimizer()->variables()) EXPECT_EQ(v.value().device(), device_) << v.name();
  for (const auto& m : moved->metrics()) {
    for (const auto& v : m->variables()) EXPECT_EQ(v.value().device(), device_) << v.name();
  }
  for (const auto& loss : steps(c, *moved, device_, 2)) got.push_back(loss);
  expect_close(got, want, c.train_rtol, c.train_atol, "losses, 1 step on ref then 2 after to()");
  expect_close(moved->get_weights(), ref_->get_weights(), c.train_rtol, c.train_atol, "weights after to() and training");
}

void ModelConformance::WeightsSavedFromTheDeviceLoadOnTheHost() {
  // Every weights format that is loaded: CI has both, the GPU machine's pack carries the
  // checkpoint plugin only.
  std::vector<std::string> suffixes;
  if (Registry::global().contains(ObjectKind::kFormat, "h5")) suffixes.push_back(".weights.h5");
  if (Registry::global().contains(ObjectKind::kCheckpointStore, "checkpoint")) suffixes.push_back(".ckpt");
  if (suffixes.empty()) GTEST_SKIP() << "no weights format plugin (h5, checkpoint) is loaded";
  const ModelCase& c = param().c;
  // Weights the device computed, not copies of the ref model's.
  train(c, *dut_, device_, 1);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("strata-model-conformance-" + std::to_string(::getpid()) + "-" + kit_case_prefix(device_) + "_" + c.name);
  std::filesystem::create_directories(dir);
  for (const auto& suffix : suffixes) {
    const auto path = dir / ("model" + suffix);
    dut_->save_weights(path);
    auto host = build_on(c, kRef);
    // The checkpoint also holds the optimizer's slots, which the host model has no use for.
    EXPECT_NO_THROW(host->load_weights(path).assert_existing_objects_matched()) << suffix;
    expect_close(host->get_weights(), dut_->get_weights(), 0.0, 0.0, "weights saved from the device as " + suffix);
  }
  std::filesystem::remove_all(dir);
}


// Without a GPU (CI) the Cuda/ instances above skip, so a model case needing an op the
// CUDA plugin lacks would go unnoticed until a GPU machine ran them. This runs every case
// on the ref device, notes each (op, dtype) kernel it used, and asks the registry for the
// kernel the dispatcher would pick on cuda (the fused optimizer updates cuda uses instead
// of the composed ones only make the check stricter).
TEST(CudaKernelCoverage, EveryKernelTheModelCasesRunHasACudaKernel) {
  if (!Registry::global().contains(ObjectKind::kKernel, kernel_key("MatMul", "cuda", DType::kFloat32))) {
    GTEST_SKIP() << "the CUDA backend plugin is not loaded";
  }
  if (!Registry::global().contains(ObjectKind::kLayer, "Dense")) GTEST_SKIP() << "the layers plugin is not loaded";
  const auto& registry = Registry::global();
  for (const auto& c : model_cases()) {
    std::set<std::pair<std::string, DType>> used;
    {
      RefKernelLog log;
      auto m = build_on(c, kRef);
      m->predict(on(c.inputs(), kRef), kBatch);
      gradients(c, *m, kRef);
      train(c, *m, kRef);
      used = log.kernels();
    }
    EXPECT_GT(used.size(), 10u) << c.name << ": the ref kernels were not logged";
    for (const auto& [op, dtype] : used) {
      const bool found = registry.contains(ObjectKind::kKernel, kernel_key(op, "cuda", dtype)) ||
                         registry.contains(ObjectKind::kKernel, kernel_key(op, "cuda", DType::kInvalid)) ||
                         registry.contains(ObjectKind::kKernel, kernel_key(op, "", DType::kInvalid));
      EXPECT_TRUE(found) << c.name << " runs " << op << " on " << (dtype == DType::kInvalid ? "any dtype" : dtype_name(dtype))
                         << ", which has no cuda kernel";
    }
  }
}

}  // namespace

void register_model_conformance_tests(const std::vector<Device>& devices) {
  const std::pair<const char*, ModelConformance::Body> checks[] = {
      {"SeededInitializersDrawTheSameWeights", &ModelConformance::SeededInitializersDrawTheSameWeights},
      {"InferenceMatchesTheReferenceDevice", &ModelConformance::InferenceMatchesTheReferenceDevice},
      {"GradientsMatchTheReferenceDevice", &ModelConformance::GradientsMatchTheReferenceDevice},
      {"TrainingStepsMatchTheReferenceDevice", &ModelConformance::TrainingStepsMatchTheReferenceDevice},
      {"MovesOntoTheDeviceAndBack", &ModelConformance::MovesOntoTheDeviceAndBack},
      {"TrainingResumesOnTheDeviceAfterTo", &ModelConformance::TrainingResumesOnTheDeviceAfterTo},
      {"WeightsSavedFromTheDeviceLoadOnTheHost", &ModelConformance::WeightsSavedFromTheDeviceLoadOnTheHost},
  };
  for (const auto& device : devices) {
    for (const auto& c : model_cases()) {
      for (const auto& [name, body] : checks) {
        const Param p{device.to_string(), c};
        register_kit_test("ModelConformance", device, name, c.name, __FILE__, __LINE__,
                          [p, body = body]() -> ::testing::Test* { return new ModelConformance(p, body); });
      }
    }
  }
}

}  // namespace strata::testing
