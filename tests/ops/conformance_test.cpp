// The op conformance suite: every case of op_cases() run on each backend device and
// compared with the same op on the tests' `ref` device (naive reference kernels).
// Registered for every device of every loaded backend (kit.hpp); a backend without a
// usable device (cuda on CI) gets its cases registered and skipped with a reason.
#include <gtest/gtest.h>

#include "kit.hpp"
#include "op_cases.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"

namespace strata::testing {
namespace {

struct Param {
  std::string device;
  const OpCase* c;
};

// Registered per device by register_op_conformance_tests (kit.hpp).
class OpConformance : public ::testing::Test {
 public:
  explicit OpConformance(Param p) : p_(std::move(p)) {}
  void TestBody() override;

 private:
  Param p_;
};

void OpConformance::TestBody() {
  const Param& p = p_;
  const Device device(p.device);
  if (!is_device_available(device)) GTEST_SKIP() << "no usable " << p.device << " device on this machine";
  const OpCase& c = *p.c;
  if (!Registry::global().contains(ObjectKind::kOp, c.op)) GTEST_SKIP() << c.op << ": its plugin is not loaded";
  if (c.optional_kernel &&
      !Registry::global().contains(ObjectKind::kKernel, kernel_key(c.op, device.type(), c.inputs[0].dtype))) {
    GTEST_SKIP() << c.op << " is optional and " << p.device << " has no kernel for it (the composed fallback runs)";
  }
  const std::vector<Tensor> ref_in = reference_inputs(c);
  std::vector<Tensor> dut_in;
  for (std::size_t i = 0; i < ref_in.size(); ++i) dut_in.push_back(c.inputs[i].host ? ref_in[i] : ref_in[i].to(device));
  const auto expected = execute(c.op, ref_in, c.attrs);
  // Ops without device inputs (the random ops) run on the default device.
  DeviceScope on_device(device);
  const auto got = execute(c.op, dut_in, c.attrs);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (c.op != "Shape" && got[i].dtype() != DType::kString) {  // string tensors live on the cpu
      EXPECT_EQ(got[i].device(), device) << "output " << i;
    }
    // A case with tolerance 0 asks for bitwise equality, float64 included.
    const bool f64 = expected[i].dtype() == DType::kFloat64 && (c.rtol != 0 || c.atol != 0);
    const std::string diff = compare_tensors(got[i], expected[i], f64 ? 1e-10 : c.rtol, f64 ? 1e-10 : c.atol);
    EXPECT_TRUE(diff.empty()) << c.op << " " << c.attrs.to_string() << " output " << i << ": " << diff;
  }
}


TEST(OpConformanceCoverage, EveryRegisteredOpWithKernelsHasACase) {
  std::set<std::string> covered;
  for (const auto& c : op_cases()) covered.insert(c.op);
  for (const auto& e : Registry::global().entries(ObjectKind::kOp)) {
    // Backend-internal fused ops ("_FusedMatMul", TensorFlow's naming) exist only on the
    // backend whose graph pass makes them; they are checked against the ops they fuse
    // (tests/plugins/savedmodel, GraphPasses).
    if (e.name.rfind('_', 0) == 0) continue;
    EXPECT_TRUE(covered.count(e.name)) << "op " << e.name << " has no conformance case";
  }
}

}  // namespace

void register_op_conformance_tests(const std::vector<Device>& devices) {
  for (const auto& device : devices) {
    for (const auto& c : op_cases()) {
      const Param p{device.to_string(), &c};
      register_kit_test("OpConformance", device, "MatchesReferenceKernels", c.name, __FILE__, __LINE__,
                        [p]() -> ::testing::Test* { return new OpConformance(p); });
    }
  }
}

}  // namespace strata::testing
