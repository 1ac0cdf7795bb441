// The op conformance suite: every case of op_cases() run on each backend device and
// compared with the same op on the tests' `ref` device (naive reference kernels).
// Devices without hardware (cuda on CI) are instantiated and skipped with a reason.
#include <gtest/gtest.h>

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

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string d = info.param.device;
  d = d.substr(0, d.find(':'));
  return d + "_" + info.param.c->name;
}

std::vector<Param> params_for(const std::string& device) {
  std::vector<Param> out;
  for (const auto& c : op_cases()) out.push_back({device, &c});
  return out;
}

// Short names in gtest output instead of a byte dump of the parameter.
void PrintTo(const Param& p, std::ostream* os) { *os << p.device << " " << p.c->name; }

class OpConformance : public ::testing::TestWithParam<Param> {};

TEST_P(OpConformance, MatchesReferenceKernels) {
  const Param& p = GetParam();
  const Device device(p.device);
  if (!is_device_available(device)) GTEST_SKIP() << "no usable " << p.device << " device on this machine";
  const OpCase& c = *p.c;
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
    if (c.op != "Shape") {
      EXPECT_EQ(got[i].device(), device) << "output " << i;
    }
    const bool f64 = expected[i].dtype() == DType::kFloat64;
    const std::string diff = compare_tensors(got[i], expected[i], f64 ? 1e-10 : c.rtol, f64 ? 1e-10 : c.atol);
    EXPECT_TRUE(diff.empty()) << c.op << " " << c.attrs.to_string() << " output " << i << ": " << diff;
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, OpConformance, ::testing::ValuesIn(params_for("cpu:0")), param_name);
INSTANTIATE_TEST_SUITE_P(Cuda, OpConformance, ::testing::ValuesIn(params_for("cuda:0")), param_name);

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
}  // namespace strata::testing
