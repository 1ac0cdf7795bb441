// The op test table shared by the conformance suite (every backend against the `ref`
// device's naive kernels) and the finite-difference gradient checks: one entry per op
// application, with inputs made from a fixed seed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/tensor.hpp"

namespace strata::testing {

// One input of a case, made on the host then moved to the device under test.
struct CaseInput {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<double> values;  // explicit values; empty: pseudo-random in [lo, hi)
  double lo = -2.0, hi = 2.0;
  double min_abs = 0.0;   // random values closer to 0 than this are pushed out (kinks)
  bool integers = false;  // random values rounded down to integers (to make ties)
  bool host = false;  // a host (shape/axis) input: stays on the cpu
  bool differentiable = true;  // considered by the gradient check when floating
  // When set, the input is computed from the case's earlier inputs (on the ref device)
  // instead of generated, e.g. MaxPoolGrad's orig_output = MaxPool(orig_input).
  std::function<Tensor(const std::vector<Tensor>&)> derive;
};

struct OpCase {
  std::string name;  // unique, usable as a gtest name
  std::string op;
  std::vector<CaseInput> inputs;
  Attrs attrs;
  double rtol = 1e-5;
  double atol = 1e-6;
  bool gradient = true;  // included in gradient checks (when it has float64 inputs)
  // An op a backend may implement or leave to a composed fallback (the fused optimizer
  // updates): a device without a kernel for it skips the case, with the reason, instead of
  // failing. Every other op must have a kernel on every backend.
  bool optional_kernel = false;
};

// Every conformance case, in every dtype the op supports.
const std::vector<OpCase>& op_cases();
// The float64 cases whose op has a gradient, with inputs kept away from kinks.
std::vector<OpCase> gradient_cases();

// Makes the tensor of `input` (seeded by `salt`) on `device` (host inputs on the cpu).
Tensor make_input(const CaseInput& input, std::uint64_t salt, const Device& device);

// The case's inputs made on the ref device (derived ones computed there from the earlier
// ones), seeded by the case name.
std::vector<Tensor> reference_inputs(const OpCase& c);

// |got - ref| <= atol + rtol * |ref| elementwise; returns "" or a description of the
// first mismatches. Both tensors are read through the host.
std::string compare_tensors(const Tensor& got, const Tensor& ref, double rtol, double atol);

}  // namespace strata::testing
