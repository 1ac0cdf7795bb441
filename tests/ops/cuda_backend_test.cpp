// The CUDA backend where this machine has no GPU (CI): the plugin must be built whenever
// nvcc is, load, report why it is not usable, and refuse cuda devices with that reason;
// the CUDA conformance instances must exist (skipped) so the suite cannot vanish quietly.
// With a device, a few values must cross host -> device -> host intact and a MatMul must
// equal the cpu backend's (the full comparison is Cuda/OpConformance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "strata/ops.hpp"
#include "strata/optimizer.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

const PluginInfo* cuda_plugin() {
  static const std::vector<PluginInfo> plugins = PluginManager::global().plugins();
  for (const auto& p : plugins) {
    if (p.name == "backend-cuda") return &p;
  }
  return nullptr;
}

TEST(CudaBackend, PluginIsBuiltAndLoadedWhenNvccIs) {
#if STRATA_TEST_HAVE_CUDA
  const PluginInfo* p = cuda_plugin();
  ASSERT_NE(p, nullptr) << "nvcc was found at configure time, so strata-backend-cuda.so must be loaded";
  if (p->usable) {
    EXPECT_NO_THROW(backend_device(Device("cuda:0")));
    return;
  }
  EXPECT_NE(p->unusable_reason.find("CUDA"), std::string::npos) << p->unusable_reason;
  try {
    backend_device(Device("cuda:0"));
    FAIL() << "a cuda device was handed out although the probe said: " << p->unusable_reason;
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find(p->unusable_reason), std::string::npos) << e.what();
  }
#else
  GTEST_SKIP() << "the CUDA backend is not built: nvcc was not found at configure time";
#endif
}

// Issue 22: loading the plugin maps neither cuBLAS (with cuBLASLt) nor cuDNN: their
// initialisers took ~55% of every process's start-up and ~150 MB even without a GPU. They
// are dlopen'ed on a device's first GEMM / convolution (plugins/backend-cuda/src/cuda_libs.cpp).
// With a usable device earlier tests may have run kernels that load them: skipped there.
TEST(CudaBackend, LoadingThePluginMapsNeitherCublasNorCudnn) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr) GTEST_SKIP() << "the cuda plugin is not loaded";
  if (p->usable) GTEST_SKIP() << "a usable cuda device: other tests may have loaded cuBLAS and cuDNN already";
  std::ifstream maps("/proc/self/maps");
  ASSERT_TRUE(maps.good());
  std::string line;
  while (std::getline(maps, line)) {
    EXPECT_EQ(line.find("libcublas"), std::string::npos) << line;
    EXPECT_EQ(line.find("libcudnn"), std::string::npos) << line;
  }
}

// The suites are registered for the devices of the loaded backends (kit.hpp): with the
// CUDA plugin loaded, its device gets them even on a machine without a GPU (they skip).
TEST(CudaBackend, ConformanceSuiteIsInstantiated) {
  if (!Registry::global().contains(ObjectKind::kBackend, "cuda")) {
    GTEST_SKIP() << "no cuda backend is loaded: the suites are registered only for the loaded backends";
  }
  int cuda_cases = 0, cuda_model_cases = 0;
  const auto* unit = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit->total_test_suite_count(); ++i) {
    const auto* suite = unit->GetTestSuite(i);
    const std::string name = suite->name();
    if (name.rfind("Cuda/", 0) == 0) cuda_cases += suite->total_test_count();
    if (name == "Cuda/ModelConformance") cuda_model_cases += suite->total_test_count();
  }
  EXPECT_GT(cuda_cases, 100) << "the Cuda/ instances of the conformance and gradient suites are missing";
  EXPECT_GT(cuda_model_cases, 0) << "the Cuda/ instances of the model-level conformance suite are missing";
}

TEST(CudaBackend, RoundTripAndMatMulOnADevice) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr || !p->usable) GTEST_SKIP() << "no usable cuda:0 device on this machine";
  const Device cuda("cuda:0");
  std::vector<float> a(6 * 5), b(5 * 4);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 7) - 3.0f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.5f * static_cast<float>(i % 5) - 1.0f;
  const Tensor ha = Tensor::from_vector<float>(a, Shape{6, 5}, Device::cpu());
  const Tensor hb = Tensor::from_vector<float>(b, Shape{5, 4}, Device::cpu());
  EXPECT_EQ(ha.to(cuda).to_vector<float>(), a);
  const auto want = matmul(ha, hb).to_vector<float>();
  const auto got = matmul(ha.to(cuda), hb.to(cuda)).to(Device::cpu()).to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f * (1 + std::abs(want[i]))) << i;
}

// With a device: copies of every size class cross intact, both ways: direct (small), and
// staged through the two pinned halves (one chunk, an odd number of chunks, a partial
// last chunk), and device to device.
TEST(CudaBackend, CopiesOfEverySizeRoundTrip) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr || !p->usable) GTEST_SKIP() << "no usable cuda:0 device on this machine";
  const Device cuda("cuda:0");
  for (const std::int64_t n : {std::int64_t{1}, std::int64_t{1000}, std::int64_t{300000}, std::int64_t{1} << 20,
                               (std::int64_t{3} << 20) + 7, (std::int64_t{5} << 20) + 12345}) {
    std::vector<std::int32_t> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::int32_t>(i * 2654435761u);
    const Tensor host = Tensor::from_vector<std::int32_t>(v, Shape{n}, Device::cpu());
    const Tensor on_device = host.to(cuda);
    EXPECT_EQ(on_device.to(Device::cpu()).to_vector<std::int32_t>(), v) << n << " int32 elements";
    EXPECT_EQ(identity(on_device + zeros_like(on_device)).to(Device::cpu()).to_vector<std::int32_t>(), v) << n;
  }
}

// The fused optimizer updates (runtime ops with TensorFlow's names; plugins/training's Adam
// and SGD use them wherever a kernel exists) have cuda kernels for float32 and float64,
// device or not, and the plugin defines no op of its own for them.
TEST(CudaBackend, FusedOptimizerUpdatesAreRegistered) {
#if STRATA_TEST_HAVE_CUDA
  for (const char* op : {"ResourceApplyAdam", "ResourceApplyKerasMomentum", "strata.KerasAdam", "strata.KerasRMSprop",
                         "strata.KerasAdagrad", "strata.KerasAdadelta", "strata.KerasAdamax", "strata.KerasNadam",
                         "strata.KerasFtrl"}) {
    EXPECT_EQ(Registry::global().find_erased(ObjectKind::kOp, op).provider, "runtime") << op;
    for (const DType t : {DType::kFloat32, DType::kFloat64}) {
      EXPECT_TRUE(Registry::global().contains(ObjectKind::kKernel, kernel_key(op, "cuda", t))) << op << " " << dtype_name(t);
    }
  }
  for (const auto& e : Registry::global().entries(ObjectKind::kOp)) {
    EXPECT_NE(e.name.rfind("_Cuda", 0), 0u) << "backend-private op " << e.name;
  }
#else
  GTEST_SKIP() << "the CUDA backend is not built: nvcc was not found at configure time";
#endif
}

// Every kernel the cpu backend registers (op and dtype) has one on cuda, so a model that
// runs on the cpu finds its kernels on the GPU; backend-internal fused ops ("_Fused*",
// made by the cpu backend's own graph pass) excepted. Registrations only: no device needed.
TEST(CudaBackend, EveryCpuKernelHasACudaKernel) {
#if STRATA_TEST_HAVE_CUDA
  const auto& registry = Registry::global();
  if (!registry.contains(ObjectKind::kKernel, kernel_key("MatMul", "cpu", DType::kFloat32))) {
    GTEST_SKIP() << "the cpu backend plugin is not loaded";
  }
  int checked = 0;
  for (const auto& e : registry.entries(ObjectKind::kKernel)) {
    // Keys are "Op:device:dtype" (kernel_key).
    const auto first = e.name.find(':'), second = e.name.rfind(':');
    const std::string op = e.name.substr(0, first), device = e.name.substr(first + 1, second - first - 1);
    const std::string dtype = e.name.substr(second + 1);
    if (device != "cpu" || op.rfind('_', 0) == 0) continue;
    ++checked;
    const bool found = registry.contains(ObjectKind::kKernel, op + ":cuda:" + dtype) ||
                       registry.contains(ObjectKind::kKernel, kernel_key(op, "cuda", DType::kInvalid)) ||
                       registry.contains(ObjectKind::kKernel, kernel_key(op, "", DType::kInvalid));
    EXPECT_TRUE(found) << "the cpu has " << e.name << ", cuda has no kernel for " << op << " on " << dtype;
  }
  EXPECT_GT(checked, 200);
#else
  GTEST_SKIP() << "the CUDA backend is not built: nvcc was not found at configure time";
#endif
}

// With a device: one fused Adam and SGD (Nesterov) update equals the composed update (the
// element-wise ops plugins/training runs elsewhere) computed on the cpu.
TEST(CudaBackend, FusedOptimizerUpdatesEqualTheComposedOnes) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr || !p->usable) GTEST_SKIP() << "no usable cuda:0 device on this machine";
  const Device cuda("cuda:0"), cpu = Device::cpu();
  const auto values = [&](int seed) {
    std::vector<float> v(37);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7 + seed * 13) % 11) / 5.0f - 1.0f;
    return Tensor::from_vector<float>(v, Shape{37}, cpu);
  };
  const Tensor var = values(1), m = values(2), v = square(values(3)), g = values(4);
  const Tensor alpha = Tensor::scalar<float>(0.0123f), lr = Tensor::scalar<float>(0.05f);
  const double beta_1 = 0.9, beta_2 = 0.999, eps = 1e-7, momentum = 0.8;
  const auto expect_close = [](const Tensor& got, const Tensor& want, const char* what) {
    const auto a = got.to(Device::cpu()).to_vector<float>(), b = want.to_vector<float>();
    ASSERT_EQ(a.size(), b.size()) << what;
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6f * (1 + std::abs(b[i]))) << what << " " << i;
  };
  const auto s = [&](double x) { return Tensor::scalar<float>(static_cast<float>(x)).to(cuda); };
  // A third step: alpha = lr * sqrt(1 - beta_2^3) / (1 - beta_1^3).
  const double b1p = beta_1 * beta_1 * beta_1, b2p = beta_2 * beta_2 * beta_2;
  const Tensor rate = Tensor::scalar<float>(static_cast<float>(0.0123 * (1 - b1p) / std::sqrt(1 - b2p)));
  const auto fused = execute("ResourceApplyAdam",
                             {var.to(cuda), m.to(cuda), v.to(cuda), s(b1p), s(b2p), rate.to(cuda), s(beta_1), s(beta_2),
                              s(eps), g.to(cuda)},
                             Attrs{});
  const Tensor new_m = m + (g - m) * (1.0 - beta_1);
  const Tensor new_v = v + (square(g) - v) * (1.0 - beta_2);
  expect_close(fused[1], new_m, "Adam m");
  expect_close(fused[2], new_v, "Adam v");
  expect_close(fused[0], var - (new_m * alpha) / (sqrt(new_v) + eps), "Adam var");
  Attrs sgd;
  sgd.set("use_nesterov", true);
  const auto fused_sgd = execute("ResourceApplyKerasMomentum", {var.to(cuda), m.to(cuda), lr.to(cuda), g.to(cuda), s(momentum)}, sgd);
  const Tensor mom = Tensor::scalar<float>(static_cast<float>(momentum));
  const Tensor sgd_m = neg(g) * lr + m * mom;
  expect_close(fused_sgd[1], sgd_m, "SGD m");
  expect_close(fused_sgd[0], var + (neg(g) * lr + sgd_m * mom), "SGD var");
}

// With a device (the host emulation counts): 100 steps of every optimizer with its options
// on cuda:0 leave the variables and the optimizer's variables bitwise equal whether the
// training plugin runs the fused strata.Keras* / ResourceApplyKerasMomentum kernels or
// composes the element-wise ones (STRATA_FUSED_UPDATES=0).
TEST(CudaBackend, FusedKerasUpdatesRoundAsTheComposedOnesOverHundredSteps) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr || !p->usable) GTEST_SKIP() << "no usable cuda:0 device on this machine";
  if (!Registry::global().contains(ObjectKind::kOptimizer, "RMSprop")) GTEST_SKIP() << "no training plugin";
  const Device cuda("cuda:0");
  const auto values = [&](std::int64_t n, std::uint32_t seed, double scale) {
    std::vector<float> v(static_cast<std::size_t>(n));
    std::uint32_t x = seed * 2654435761u + 12345u;
    for (auto& e : v) {
      x = x * 1664525u + 1013904223u;
      const std::uint32_t r = x >> 8;
      e = (r % 17 == 0) ? 0.0f : static_cast<float>((static_cast<double>(r) / 8388608.0 - 1.0) * scale);
    }
    return Tensor::from_vector<float>(v, Shape{n}, Device::cpu()).to(cuda);
  };
  const auto run = [&](const Config& config, bool fused) {
    if (fused) {
      ::unsetenv("STRATA_FUSED_UPDATES");
    } else {
      ::setenv("STRATA_FUSED_UPDATES", "0", 1);
    }
    std::vector<Variable> vars{Variable("a", values(37, 1, 1.0)), Variable("b", values(300, 2, 1.0))};
    auto opt = get_optimizer(config);
    for (int s = 0; s < 100; ++s) {
      opt->apply_gradients({values(37, 100u + 3u * s, 0.2), values(300, 101u + 3u * s, 0.2)}, vars);
    }
    ::unsetenv("STRATA_FUSED_UPDATES");
    std::vector<std::vector<float>> out;
    for (const auto& v : vars) out.push_back(v.value().to(Device::cpu()).to_vector<float>());
    for (const auto& v : opt->variables()) {
      if (v.dtype() == DType::kFloat32) out.push_back(v.value().to(Device::cpu()).to_vector<float>());
    }
    return out;
  };
  const auto c = [](const char* cls, Config cfg) {
    cfg["learning_rate"] = 0.01;
    return Config{{"class_name", cls}, {"config", cfg}};
  };
  const std::vector<Config> configs = {
      c("SGD", {{"momentum", 0.9}, {"nesterov", true}}),
      c("Adam", Config::object()),
      c("Adam", {{"amsgrad", true}, {"weight_decay", 0.01}}),
      c("RMSprop", Config::object()),
      c("RMSprop", {{"centered", true}, {"momentum", 0.3}}),
      c("Adagrad", Config::object()),
      c("Adadelta", Config::object()),
      c("Adamax", Config::object()),
      c("Nadam", Config::object()),
      c("Ftrl", {{"l1_regularization_strength", 0.001}, {"l2_shrinkage_regularization_strength", 0.02}, {"beta", 0.1}}),
  };
  for (const auto& config : configs) {
    const auto fused = run(config, true), composed = run(config, false);
    ASSERT_EQ(fused.size(), composed.size());
    for (std::size_t k = 0; k < fused.size(); ++k) {
      ASSERT_EQ(fused[k].size(), composed[k].size());
      EXPECT_EQ(std::memcmp(fused[k].data(), composed[k].data(), fused[k].size() * sizeof(float)), 0)
          << config.dump() << ": tensor " << k;
    }
  }
}

// With a device: integer division by zero and 0 to a negative power are BackendErrors
// naming the op (the kernel flags the element), as on the cpu; the device stays usable.
TEST(CudaBackend, IntegerDivisionByZeroIsABackendError) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr || !p->usable) GTEST_SKIP() << "no usable cuda:0 device on this machine";
  const Device cuda("cuda:0");
  const Tensor x = Tensor::from_vector<std::int32_t>({7, -7, 9, 4}, Shape{4}).to(cuda);
  const Tensor fine = Tensor::from_vector<std::int32_t>({2, 2, -3, 1}, Shape{4}).to(cuda);
  const Tensor zero = Tensor::from_vector<std::int32_t>({2, 0, -3, 1}, Shape{4}).to(cuda);
  EXPECT_EQ(div(x, fine).to(Device::cpu()).to_vector<std::int32_t>(), (std::vector<std::int32_t>{3, -3, -3, 4}));
  try {
    div(x, zero);
    FAIL() << "integer division by zero on cuda did not throw";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("RealDiv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("division by zero at output element 1"), std::string::npos) << e.what();
  }
  const Tensor base = Tensor::from_vector<std::int64_t>({0, 2}, Shape{2}).to(cuda);
  const Tensor exponent = Tensor::from_vector<std::int64_t>({-1, 3}, Shape{2}).to(cuda);
  EXPECT_THROW(pow(base, exponent), BackendError);
  EXPECT_EQ(pow(exponent, base).to(Device::cpu()).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 9}));
}

// With a device: float16 and bfloat16 MatMul / BatchMatMulV2 (cublasGemmEx, float32
// accumulation) equal the float32 product of the same values rounded once to the type.
// The inputs are multiples of 1/8 (exact in both types) and the float32 sums of their
// products are exact in any order, so only the final rounding can differ: it must not.
TEST(CudaBackend, HalfPrecisionMatMulsRoundTheFloat32Product) {
  const PluginInfo* p = cuda_plugin();
  if (p == nullptr || !p->usable) GTEST_SKIP() << "no usable cuda:0 device on this machine";
  const Device cuda("cuda:0"), cpu = Device::cpu();
  const auto eighths = [&](const Shape& shape, int seed) {
    std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(static_cast<int>((i * 7 + seed * 13) % 17) - 8) / 8.0f;
    return Tensor::from_vector<float>(v, shape, cpu);
  };
  const Tensor a = eighths(Shape{2, 33, 40}, 1), b = eighths(Shape{2, 40, 17}, 2);
  for (const DType half : {DType::kFloat16, DType::kBFloat16}) {
    const Tensor ah = cast(a, half).to(cuda), bh = cast(b, half).to(cuda);
    // Each batch against the float32 product on the cpu, rounded to `half` there.
    const Tensor product = execute("BatchMatMulV2", {ah, bh}, Attrs()).at(0);
    ASSERT_EQ(product.dtype(), half);
    const Tensor got = cast(product, DType::kFloat32).to(cpu);  // exact: every half value is a float
    for (int batch = 0; batch < 2; ++batch) {
      const Tensor a2 = reshape(slice(a, {batch, 0, 0}, {1, 33, 40}), Shape{33, 40});
      const Tensor b2 = reshape(slice(b, {batch, 0, 0}, {1, 40, 17}), Shape{40, 17});
      const auto expected = cast(cast(matmul(a2, b2), half), DType::kFloat32).to_vector<float>();
      const auto got2 = reshape(slice(got, {batch, 0, 0}, {1, 33, 17}), Shape{33, 17}).to_vector<float>();
      const auto single = cast(matmul(cast(a2, half).to(cuda), cast(b2, half).to(cuda)), DType::kFloat32).to(cpu).to_vector<float>();
      ASSERT_EQ(got2.size(), expected.size());
      for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(got2[i], expected[i]) << dtype_name(half) << " batch " << batch << " element " << i;
        EXPECT_EQ(single[i], expected[i]) << dtype_name(half) << " MatMul element " << i;
      }
    }
  }
}

}  // namespace
}  // namespace strata
