// The plugin tier's window geometry (strata/plugin/window.hpp), multi-dtype kernel
// registration (add_kernels, strata/plugin/kernel.hpp) and kernel-side checks
// (strata/plugin/kernel_util.hpp). Expected sizes are worked out by
// hand from TensorFlow's documented formulas (tf.nn.convolution, "SAME"/"VALID" padding):
//   VALID: out = ceil((in - (k - 1) * d) / s)
//   SAME:  out = ceil(in / s), total = max((out - 1) * s + (k - 1) * d + 1 - in, 0),
//          pad_before = floor(total / 2), pad_after = the rest.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/plugin/window.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

using I64 = std::int64_t;

void expect_dim(const WindowDim& w, I64 out, I64 before, I64 after) {
  EXPECT_EQ(w.out, out);
  EXPECT_EQ(w.pad_before, before);
  EXPECT_EQ(w.pad_after, after);
}

TEST(WindowGeometry, Valid) {
  // in 5, k 3, s 1: starts 0, 1, 2.
  expect_dim(window_dim(5, 3, 1, 1, Padding::kValid), 3, 0, 0);
  // in 7, k 3, s 2: starts 0, 2, 4 (the last window ends exactly at 7).
  expect_dim(window_dim(7, 3, 2, 1, Padding::kValid), 3, 0, 0);
  // in 6, k 3, s 2: starts 0, 2; a start at 4 would need element 6.
  expect_dim(window_dim(6, 3, 2, 1, Padding::kValid), 2, 0, 0);
  // The window exactly the input: one output.
  expect_dim(window_dim(4, 4, 3, 1, Padding::kValid), 1, 0, 0);
}

TEST(WindowGeometry, SameOddKernelPadsSymmetrically) {
  // in 5, k 3, s 1: out 5, total 4 + 3 - 5 = 2.
  expect_dim(window_dim(5, 3, 1, 1, Padding::kSame), 5, 1, 1);
  // in 5, k 3, s 2: out 3, total 2*2 + 3 - 5 = 2.
  expect_dim(window_dim(5, 3, 2, 1, Padding::kSame), 3, 1, 1);
}

TEST(WindowGeometry, SameEvenKernelPutsTheExtraElementAfter) {
  // in 5, k 2, s 1: out 5, total 4 + 2 - 5 = 1: nothing before, one after.
  expect_dim(window_dim(5, 2, 1, 1, Padding::kSame), 5, 0, 1);
  // in 4, k 4, s 1: out 4, total 3 + 4 - 4 = 3: one before, two after.
  expect_dim(window_dim(4, 4, 1, 1, Padding::kSame), 4, 1, 2);
  // in 6, k 4, s 2: out 3, total 2*2 + 4 - 6 = 2.
  expect_dim(window_dim(6, 4, 2, 1, Padding::kSame), 3, 1, 1);
}

TEST(WindowGeometry, SameWithStrideLargerThanKernel) {
  // in 6, k 1, s 3: out 2, total max(3 + 1 - 6, 0) = 0: no padding at all.
  expect_dim(window_dim(6, 1, 3, 1, Padding::kSame), 2, 0, 0);
  // in 7, k 2, s 3: out 3, total 2*3 + 2 - 7 = 1, after.
  expect_dim(window_dim(7, 2, 3, 1, Padding::kSame), 3, 0, 1);
  // in 8, k 2, s 4: out 2, total max(4 + 2 - 8, 0) = 0.
  expect_dim(window_dim(8, 2, 4, 1, Padding::kSame), 2, 0, 0);
  // in 1, k 3, s 5: out 1, total 0 + 3 - 1 = 2.
  expect_dim(window_dim(1, 3, 5, 1, Padding::kSame), 1, 1, 1);
}

TEST(WindowGeometry, Dilation) {
  // VALID in 7, k 3, d 2: effective 5, starts 0, 1, 2.
  expect_dim(window_dim(7, 3, 1, 2, Padding::kValid), 3, 0, 0);
  // VALID in 9, k 3, d 3, s 2: effective 7, starts 0, 2.
  expect_dim(window_dim(9, 3, 2, 3, Padding::kValid), 2, 0, 0);
  // SAME in 5, k 3, d 2: effective 5, out 5, total 4 + 5 - 5 = 4.
  expect_dim(window_dim(5, 3, 1, 2, Padding::kSame), 5, 2, 2);
  // SAME in 6, k 3, d 2, s 2: effective 5, out 3, total 2*2 + 5 - 6 = 3: one before, two after.
  expect_dim(window_dim(6, 3, 2, 2, Padding::kSame), 3, 1, 2);
  // Dilation of a size-1 window changes nothing.
  expect_dim(window_dim(5, 1, 1, 4, Padding::kValid), 5, 0, 0);
}

TEST(WindowGeometry, EmptyInput) {
  // SAME over nothing: no output, and TensorFlow's formula gives total max(-1 + 3 - 0, 0) = 2.
  expect_dim(window_dim(0, 3, 1, 1, Padding::kSame), 0, 1, 1);
  EXPECT_THROW(window_dim(0, 1, 1, 1, Padding::kValid), ShapeError);
}

TEST(WindowGeometry, CheckedErrors) {
  EXPECT_THROW(window_dim(5, 0, 1, 1, Padding::kValid), ShapeError);
  EXPECT_THROW(window_dim(5, 3, 0, 1, Padding::kSame), ShapeError);
  EXPECT_THROW(window_dim(5, 3, 1, 0, Padding::kSame), ShapeError);
  EXPECT_THROW(window_dim(5, -1, 1, 1, Padding::kSame), ShapeError);
  EXPECT_THROW(window_dim(-1, 1, 1, 1, Padding::kSame), ShapeError);
  // VALID window larger than the input, plain and through dilation (effective 5 > 4).
  EXPECT_THROW(window_dim(2, 3, 1, 1, Padding::kValid), ShapeError);
  EXPECT_THROW(window_dim(4, 3, 1, 2, Padding::kValid), ShapeError);
}

TEST(WindowGeometry, KernelUtilNamesAgree) {
  const kernel_util::Window w = kernel_util::window(6, 3, 2, 2, true);
  expect_dim(w, 3, 1, 2);
  expect_dim(kernel_util::window(7, 3, 2, 1, false), 3, 0, 0);
}

Attrs conv_attrs(const std::string& padding, std::vector<I64> strides, std::vector<I64> dilations = {1, 1, 1, 1}) {
  Attrs a;
  a.set("padding", padding);
  a.set("strides", std::move(strides));
  a.set("dilations", std::move(dilations));
  return a;
}

TEST(NhwcWindow, ConvolutionGeometry) {
  // [2, 6, 7, 3] input, 3x2 window, strides (2, 3), dilations (2, 1), SAME:
  //   rows: in 6, k 3, d 2 (effective 5), s 2: out 3, total 2*2 + 5 - 6 = 3 -> 1 before, 2 after
  //   cols: in 7, k 2, s 3: out 3, total 2*3 + 2 - 7 = 1 -> 0 before, 1 after
  const Window2D g = nhwc_window(conv_attrs("SAME", {1, 2, 3, 1}, {1, 2, 1, 1}), "Conv2D", {2, 6, 7, 3}, 3, 2,
                                 WindowDilation::kFromAttrs);
  EXPECT_EQ(g.n, 2);
  EXPECT_EQ(g.h, 6);
  EXPECT_EQ(g.w, 7);
  EXPECT_EQ(g.c, 3);
  EXPECT_EQ(g.kh, 3);
  EXPECT_EQ(g.kw, 2);
  EXPECT_EQ(g.oh, 3);
  EXPECT_EQ(g.ow, 3);
  EXPECT_EQ(g.sh, 2);
  EXPECT_EQ(g.sw, 3);
  EXPECT_EQ(g.dh, 2);
  EXPECT_EQ(g.dw, 1);
  EXPECT_EQ(g.pad_top, 1);
  EXPECT_EQ(g.pad_bottom, 2);
  EXPECT_EQ(g.pad_left, 0);
  EXPECT_EQ(g.pad_right, 1);
  EXPECT_FALSE(g.symmetric());
  // Output row 0, tap 0 reads the padding row above the input; tap 1 reads row 1.
  EXPECT_EQ(g.row(0, 0), -1);
  EXPECT_EQ(g.row(0, 1), 1);
  EXPECT_EQ(g.row(2, 2), 2 * 2 + 2 * 2 - 1);  // 7: below the input
  EXPECT_EQ(g.col(2, 1), 2 * 3 + 1);          // 7: right of the input
  EXPECT_FALSE(g.inside(g.row(0, 0), 0));
  EXPECT_TRUE(g.inside(g.row(0, 1), g.col(2, 0)));
  EXPECT_FALSE(g.inside(5, g.col(2, 1)));

  // The same op without dilation (a pooling-style window ignores "dilations").
  const Window2D p = nhwc_window(conv_attrs("VALID", {1, 1, 1, 1}, {1, 2, 2, 1}), "MaxPool", {1, 4, 4, 1}, 2, 2,
                                 WindowDilation::kNone);
  EXPECT_EQ(p.dh, 1);
  EXPECT_EQ(p.oh, 3);
  EXPECT_EQ(p.ow, 3);
  EXPECT_TRUE(p.symmetric());
}

TEST(NhwcWindow, PoolingReadsKsize) {
  Attrs a = conv_attrs("SAME", {1, 2, 2, 1});
  a.set("ksize", std::vector<I64>{1, 2, 3, 1});
  // rows: in 5, k 2, s 2: out 3, total 4 + 2 - 5 = 1 -> 0, 1; cols: in 5, k 3, s 2: out 3, total 2 -> 1, 1.
  const Window2D g = nhwc_pool_window(a, "AvgPool", {1, 5, 5, 2});
  EXPECT_EQ(g.kh, 2);
  EXPECT_EQ(g.kw, 3);
  EXPECT_EQ(g.oh, 3);
  EXPECT_EQ(g.ow, 3);
  EXPECT_EQ(g.pad_top, 0);
  EXPECT_EQ(g.pad_bottom, 1);
  EXPECT_EQ(g.pad_left, 1);
  EXPECT_EQ(g.pad_right, 1);
}

TEST(NhwcWindow, CheckedErrors) {
  const Attrs ok = conv_attrs("VALID", {1, 1, 1, 1});
  EXPECT_NO_THROW(nhwc_window(ok, "Conv2D", {1, 3, 3, 1}, 3, 3, WindowDilation::kFromAttrs));
  // Not rank 4.
  EXPECT_THROW(nhwc_window(ok, "Conv2D", {3, 3, 1}, 3, 3, WindowDilation::kFromAttrs), BackendError);
  // Channels first.
  Attrs nchw = ok;
  nchw.set("data_format", std::string("NCHW"));
  EXPECT_THROW(nhwc_window(nchw, "Conv2D", {1, 1, 3, 3}, 3, 3, WindowDilation::kFromAttrs), BackendError);
  // Padding spelled as Keras's layer config spells it, or unknown.
  EXPECT_THROW(nhwc_window(conv_attrs("same", {1, 1, 1, 1}), "Conv2D", {1, 3, 3, 1}, 3, 3, WindowDilation::kNone),
               ValueError);
  EXPECT_THROW(nhwc_window(conv_attrs("FULL", {1, 1, 1, 1}), "Conv2D", {1, 3, 3, 1}, 3, 3, WindowDilation::kNone),
               ValueError);
  // Strides that are not [1, h, w, 1].
  EXPECT_THROW(nhwc_window(conv_attrs("VALID", {2, 2}), "Conv2D", {1, 3, 3, 1}, 1, 1, WindowDilation::kNone),
               ValueError);
  EXPECT_THROW(nhwc_window(conv_attrs("VALID", {2, 1, 1, 1}), "Conv2D", {1, 3, 3, 1}, 1, 1, WindowDilation::kNone),
               ValueError);
  // Dilations are checked only when the op reads them.
  EXPECT_THROW(
      nhwc_window(conv_attrs("VALID", {1, 1, 1, 1}, {1, 1}), "Conv2D", {1, 3, 3, 1}, 1, 1, WindowDilation::kFromAttrs),
      ValueError);
  EXPECT_NO_THROW(
      nhwc_window(conv_attrs("VALID", {1, 1, 1, 1}, {1, 1}), "MaxPool", {1, 3, 3, 1}, 1, 1, WindowDilation::kNone));
  // A zero stride, and a VALID window larger than the input.
  EXPECT_THROW(nhwc_window(conv_attrs("SAME", {1, 0, 1, 1}), "Conv2D", {1, 3, 3, 1}, 1, 1, WindowDilation::kNone),
               ShapeError);
  EXPECT_THROW(nhwc_window(ok, "Conv2D", {1, 3, 3, 1}, 4, 1, WindowDilation::kNone), ShapeError);
}

// ---- add_kernels ---------------------------------------------------------------------------

std::vector<std::string> staged_names(const Registrar& r) {
  std::vector<std::string> names;
  for (const auto& e : r.staged()) names.push_back(e.name);
  return names;
}

// Calls the committed kernel `key` of `registry` with no inputs or outputs.
void call(const Registry& registry, const std::string& key) {
  const auto kernel = registry.find<ObjectKind::kKernel>(key);
  ASSERT_TRUE(kernel) << key;
  OpDef def;
  def.name = "Probe";
  const Attrs attrs;
  std::vector<Tensor> outputs;
  KernelContext ctx(def, attrs, {}, {}, outputs, backend_device(Device::cpu()));
  kernel->compute(ctx);
}

TEST(AddKernels, OneComputeForEachListedDtype) {
  Registry registry;
  Registrar r(registry, "test");
  int calls = 0;
  add_kernels(r, "Probe", "cpu", {DType::kFloat32, DType::kInt64, DType::kBool}, [&calls](KernelContext&) { ++calls; });
  EXPECT_EQ(staged_names(r), (std::vector<std::string>{"Probe:cpu:float32", "Probe:cpu:int64", "Probe:cpu:bool"}));
  r.commit();
  call(registry, "Probe:cpu:float32");
  call(registry, "Probe:cpu:bool");
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(registry.find<ObjectKind::kKernel>("Probe:cpu:float64"));
}

TEST(AddKernels, TemplatedComputeGetsEachElementType) {
  Registry registry;
  Registrar r(registry, "test");
  std::vector<DType> seen;
  add_kernels(r, "Probe", "cpu", NumberAndBoolTypes{},
              [&seen]<class T>(KernelContext&) { seen.push_back(dtype_of<T>); });
  add_kernels(r, "Half", "cpu", HalfTypes{}, [&seen]<class T>(KernelContext&) { seen.push_back(dtype_of<T>); });
  EXPECT_EQ(staged_names(r),
            (std::vector<std::string>{"Probe:cpu:float32", "Probe:cpu:float64", "Probe:cpu:int32", "Probe:cpu:int64",
                                      "Probe:cpu:bool", "Half:cpu:float16", "Half:cpu:bfloat16"}));
  r.commit();
  // Each key calls the instantiation for its own element type.
  for (const char* key : {"Probe:cpu:int32", "Probe:cpu:float64", "Probe:cpu:bool", "Half:cpu:bfloat16"}) {
    call(registry, key);
  }
  EXPECT_EQ(seen, (std::vector<DType>{DType::kInt32, DType::kFloat64, DType::kBool, DType::kBFloat16}));
}

TEST(AddKernels, TypeListsHoldTheDocumentedDtypes) {
  Registry registry;
  Registrar r(registry, "test");
  const auto nothing = []<class T>(KernelContext&) {};
  add_kernels(r, "F", "*", FloatTypes{}, nothing);
  add_kernels(r, "N", "x", NumberTypes{}, nothing);
  EXPECT_EQ(staged_names(r), (std::vector<std::string>{"F:*:float32", "F:*:float64", "N:x:float32", "N:x:float64",
                                                       "N:x:int32", "N:x:int64"}));
}

TEST(AddKernels, RefusesNoDtypeAnyDtypeAndDuplicates) {
  Registry registry;
  Registrar r(registry, "test");
  const auto noop = [](KernelContext&) {};
  EXPECT_THROW(add_kernels(r, "Probe", "cpu", {}, noop), ValueError);
  EXPECT_THROW(add_kernels(r, "Probe", "cpu", {DType::kFloat32, DType::kInvalid}, noop), ValueError);
  EXPECT_TRUE(r.staged().empty());  // checked before anything is staged
  EXPECT_THROW(add_kernels(r, "Probe", "cpu", {DType::kFloat32, DType::kFloat32}, noop), PluginError);
}

// ---- kernel-side checks ----------------------------------------------------------------------

TEST(KernelChecks, InputCountAndOutputShape) {
  OpDef def;
  def.name = "Probe";
  const Attrs attrs;
  const std::vector<Tensor> inputs{Tensor::from_vector<float>({1, 2}, Shape{2}, Device::cpu())};
  const std::vector<TensorMeta> metas{TensorMeta{DType::kFloat32, Shape{2, 3}}};
  std::vector<Tensor> outputs(1);
  const KernelContext ctx(def, attrs, inputs, metas, outputs, backend_device(Device::cpu()));
  EXPECT_NO_THROW(kernel_util::check_num_inputs(ctx, 1));
  EXPECT_THROW(kernel_util::check_num_inputs(ctx, 2), BackendError);
  EXPECT_THROW(kernel_util::check_num_inputs(ctx, 0), BackendError);
  EXPECT_NO_THROW(kernel_util::check_output_dims(ctx, 0, {2, 3}));
  EXPECT_THROW(kernel_util::check_output_dims(ctx, 0, {3, 2}), BackendError);
  EXPECT_THROW(kernel_util::check_output_dims(ctx, 0, {6}), BackendError);
}

}  // namespace
}  // namespace strata
