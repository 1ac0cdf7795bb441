// The CUDA backend where this machine has no GPU (CI): the plugin must be built whenever
// nvcc is, load, report why it is not usable, and refuse cuda devices with that reason;
// the CUDA conformance instances must exist (skipped) so the suite cannot vanish quietly.
// With a device, a few values must cross host -> device -> host intact and a MatMul must
// equal the cpu backend's (the full comparison is Cuda/OpConformance).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "strata/ops.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugins.hpp"
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

TEST(CudaBackend, ConformanceSuiteIsInstantiated) {
  int cuda_cases = 0;
  const auto* unit = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit->total_test_suite_count(); ++i) {
    const auto* suite = unit->GetTestSuite(i);
    const std::string name = suite->name();
    if (name.rfind("Cuda/", 0) == 0) cuda_cases += suite->total_test_count();
  }
  EXPECT_GT(cuda_cases, 100) << "the Cuda/ instances of the conformance and gradient suites are missing";
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

}  // namespace
}  // namespace strata
