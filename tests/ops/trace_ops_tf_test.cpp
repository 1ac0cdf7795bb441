// Issue 18's trace ops against TensorFlow's own values (trace_ops_expected.inc, written by
// make_trace_ops_expected.py with TensorFlow 2.17): Erfc, ResizeBilinear and
// ResizeNearestNeighbor under each coordinate rule with their gradient ops, and einsum, on
// every usable device of the loaded backends (cpu, cuda where there is one, and the tests'
// ref backend). The conformance and finite-difference gradient suites (op_cases.cpp) cover
// the same ops against the ref kernels; these pin the semantics to TensorFlow's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kit.hpp"
#include "strata/error.hpp"
#include "strata/gradient_tape.hpp"
#include "strata/ops.hpp"

namespace strata::testing {
namespace {

struct ResizeExpected {
  const char* op;
  bool align_corners, half_pixel_centers;
  std::vector<std::int64_t> shape, size;
  std::vector<float> images, resized, grads, images_grad;
};

struct EinsumOperand {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

struct EinsumExpected {
  const char* equation;
  std::vector<EinsumOperand> operands;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

#include "trace_ops_expected.inc"

// Every usable device of the loaded backends, the ref backend included; the cpu and ref
// devices must be among them (the tests would check nothing otherwise).
std::vector<Device> devices() {
  std::vector<Device> out;
  bool cpu = false, ref = false;
  for (const Device& d : kit_devices(true)) {
    if (!is_device_available(d)) continue;
    out.push_back(d);
    cpu = cpu || d.type() == "cpu";
    ref = ref || d.type() == "ref";
  }
  EXPECT_TRUE(cpu && ref) << "the cpu and ref devices must be loaded";
  return out;
}

Tensor on(const std::vector<float>& v, const std::vector<std::int64_t>& shape, const Device& d) {
  return Tensor::from_vector<float>(v, Shape(shape), Device::cpu()).to(d);
}

// |got - want| <= atol + rtol |want|, elementwise, with the first mismatch named.
void expect_near(const Tensor& got, const std::vector<std::int64_t>& shape, const std::vector<float>& want, double rtol,
                 double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), Shape(shape)) << what;
  const auto g = got.to(Device::cpu()).to_vector<float>();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (std::size_t i = 0; i < g.size(); ++i) {
    ASSERT_LE(std::abs(double(g[i]) - double(want[i])), atol + rtol * std::abs(double(want[i])))
        << what << " element " << i << ": got " << g[i] << ", TensorFlow " << want[i];
  }
}

std::string describe(const ResizeExpected& e, const Device& d) {
  return std::string(e.op) + (e.align_corners ? " align_corners" : "") + (e.half_pixel_centers ? " half_pixel" : "") +
         " " + Shape(e.shape).to_string() + " -> " + Shape(e.size).to_string() + " on " + d.to_string();
}

TEST(TraceOpsAgainstTensorFlow, ErfcOnEveryDevice) {
  for (const Device& d : devices()) {
    expect_near(erfc(on(kErfcX, {static_cast<std::int64_t>(kErfcX.size())}, d)),
                {static_cast<std::int64_t>(kErfcX.size())}, kErfcY, 2e-6, 1e-30, "Erfc on " + d.to_string());
  }
}

// Nearest neighbour copies: TensorFlow's source pixel must be picked exactly, ties included
// (align_corners rounds halves away from zero; half-pixel centres floor (o + 0.5) * scale).
TEST(TraceOpsAgainstTensorFlow, ResizeForwardOnEveryDevice) {
  ASSERT_FALSE(kResizeExpected.empty());
  for (const Device& d : devices()) {
    for (const auto& e : kResizeExpected) {
      const Tensor y = execute1(e.op, {on(e.images, e.shape, d), int_tensor(e.size)},
                                {{"align_corners", e.align_corners}, {"half_pixel_centers", e.half_pixel_centers}});
      const bool nearest = std::string(e.op) == "ResizeNearestNeighbor";
      expect_near(y, {e.shape[0], e.size[0], e.size[1], e.shape[3]}, e.resized, nearest ? 0.0 : 2e-6,
                  nearest ? 0.0 : 1e-6, describe(e, d));
    }
  }
}

TEST(TraceOpsAgainstTensorFlow, ResizeGradientOpsOnEveryDevice) {
  for (const Device& d : devices()) {
    for (const auto& e : kResizeExpected) {
      const Attrs a{{"align_corners", e.align_corners}, {"half_pixel_centers", e.half_pixel_centers}};
      const Tensor g = on(e.grads, {e.shape[0], e.size[0], e.size[1], e.shape[3]}, d);
      const bool nearest = std::string(e.op) == "ResizeNearestNeighbor";
      const Tensor dx =
          nearest ? execute1("ResizeNearestNeighborGrad", {g, int_tensor({e.shape[1], e.shape[2]})}, a)
                  : execute1("ResizeBilinearGrad", {g, on(e.images, e.shape, d)}, a);
      expect_near(dx, e.shape, e.images_grad, 1e-5, 1e-5, describe(e, d) + " gradient");
    }
  }
}

// The tape's gradient of the forward op is the gradient op: d(sum(y * grads))/d images.
TEST(TraceOpsAgainstTensorFlow, ResizeTapeGradientIsTensorFlowsGradientOp) {
  const Device cpu = Device::cpu();
  for (const auto& e : kResizeExpected) {
    const Tensor images = on(e.images, e.shape, cpu);
    const Tensor g = on(e.grads, {e.shape[0], e.size[0], e.size[1], e.shape[3]}, cpu);
    GradientTape tape;
    tape.watch(images);
    const bool nearest = std::string(e.op) == "ResizeNearestNeighbor";
    const Tensor size = int_tensor(e.size);
    const Tensor y = nearest ? resize_nearest_neighbor(images, size, e.align_corners, e.half_pixel_centers)
                             : resize_bilinear(images, size, e.align_corners, e.half_pixel_centers);
    const Tensor loss = sum(y * g);
    const auto grads = tape.gradient(loss, {images});
    expect_near(grads.at(0), e.shape, e.images_grad, 1e-5, 1e-5, describe(e, cpu) + " tape gradient");
  }
}

TEST(TraceOpsAgainstTensorFlow, EinsumOnEveryDevice) {
  for (const Device& d : devices()) {
    for (const auto& e : kEinsumExpected) {
      std::vector<Tensor> operands;
      for (const auto& o : e.operands) operands.push_back(on(o.values, o.shape, d));
      expect_near(einsum(e.equation, operands), e.shape, e.values, 1e-5, 1e-5,
                  std::string("einsum '") + e.equation + "' on " + d.to_string());
    }
  }
}

TEST(TraceOps, ResizeRefusesAlignCornersWithHalfPixelCenters) {
  const Tensor x = zeros(Shape{1, 2, 2, 1});
  EXPECT_THROW(resize_bilinear(x, int_tensor({3, 3}), true, true), ValueError);
  EXPECT_THROW(resize_nearest_neighbor(x, int_tensor({3, 3}), true, true), ValueError);
}

TEST(TraceOps, EinsumRefusesWhatItDoesNotSupportNamingTheEquation) {
  const Tensor a = zeros(Shape{3, 3}), b = zeros(Shape{3, 3}), c = zeros(Shape{3, 3});
  try {
    (void)einsum("ii->i", {a});
    ADD_FAILURE() << "a diagonal was accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'ii->i'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)einsum("ij,jk,kl->il", {a, b, c}), ValueError);
  EXPECT_THROW((void)einsum("ij->iz", {a}), ValueError);
}

}  // namespace
}  // namespace strata::testing
