// The per-element math of the CUDA kernels (plugins/backend-cuda/src/element_math.cuh),
// compiled here by the host compiler and run on the host against the ref kernels, over
// the op conformance cases of the element-wise ops and casts. The kernels evaluate exactly
// these functions on the device, so their arithmetic (activations, gradient helpers,
// integer division and powers, the cast rules) is checked on every build, GPU or not;
// what this cannot check (launch geometry, indexing, the hardware's conversions) is left
// to Cuda/OpConformance on a GPU machine.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <string_view>

#include "element_math.cuh"
#include "op_cases.hpp"
#include "strata/error.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/op_def.hpp"

namespace strata::testing {
namespace {

// bool elements on the host (std::vector<bool> has no data()).
struct BoolByte {
  std::uint8_t v;
};

// The element type the CUDA code uses for a host element type (half types by bits).
template <class T>
struct DeviceType {
  using type = T;
  static T in(T v) { return v; }
  static T out(T v) { return v; }
};
template <>
struct DeviceType<float16> {
  using type = __half;
  static __half in(float16 v) {
    __half_raw r;
    r.x = v.bits;
    return __half(r);
  }
  static float16 out(__half v) { return float16::from_bits(static_cast<__half_raw>(v).x); }
};
template <>
struct DeviceType<bfloat16> {
  using type = __nv_bfloat16;
  static __nv_bfloat16 in(bfloat16 v) {
    __nv_bfloat16_raw r;
    r.x = v.bits;
    return __nv_bfloat16(r);
  }
  static bfloat16 out(__nv_bfloat16 v) { return bfloat16::from_bits(static_cast<__nv_bfloat16_raw>(v).x); }
};

template <>
struct DeviceType<BoolByte> {
  using type = bool;
  static bool in(BoolByte b) { return b.v != 0; }
  static BoolByte out(bool b) { return {static_cast<std::uint8_t>(b)}; }
};

// Calls f.template operator()<T>() with T the host type of `dtype`; false for others.
template <class F>
bool visit(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32: f.template operator()<float>(); return true;
    case DType::kFloat64: f.template operator()<double>(); return true;
    case DType::kInt32: f.template operator()<std::int32_t>(); return true;
    case DType::kInt64: f.template operator()<std::int64_t>(); return true;
    case DType::kBool: f.template operator()<BoolByte>(); return true;
    case DType::kFloat16: f.template operator()<float16>(); return true;
    case DType::kBFloat16: f.template operator()<bfloat16>(); return true;
    case DType::kInt8: f.template operator()<std::int8_t>(); return true;
    case DType::kUInt8: f.template operator()<std::uint8_t>(); return true;
    default: return false;
  }
}

// Input `t` broadcast to `shape` (on the ref device), as host values.
template <class T>
std::vector<T> values_at(const Tensor& t, const Shape& shape) {
  const Tensor b = t.shape() == shape ? t : broadcast_to(t, shape);
  if constexpr (std::is_same_v<T, BoolByte>) {
    std::vector<T> out;
    for (std::uint8_t v : cast(b, DType::kUInt8).to(Device::cpu()).to_vector<std::uint8_t>()) out.push_back({v});
    return out;
  } else {
    return b.to(Device::cpu()).to_vector<T>();
  }
}

template <class E, std::size_t N>
const E* find(const std::pair<const char*, E> (&table)[N], std::string_view op) {
  for (const auto& [name, value] : table) {
    if (op == name) return &value;
  }
  return nullptr;
}

// The host evaluation of case `c` with the CUDA element math, or an undefined tensor when
// the case's op is not element math of this kind. `faulted` is set when an integer
// division or power has no result (the kernel's flag).
Tensor evaluate(const OpCase& c, const std::vector<Tensor>& ins, const Shape& out_shape, bool& faulted) {
  Tensor result;
  const DType dtype = ins.at(0).dtype();
  const std::size_t n = static_cast<std::size_t>(out_shape.num_elements());
  const auto make = [&]<class T>(const std::vector<T>& v) {
    if constexpr (std::is_same_v<T, BoolByte>) {
      std::vector<std::uint8_t> bytes;
      for (const auto b : v) bytes.push_back(b.v);
      result = Tensor::from_bools(bytes, out_shape, Device::cpu());
    } else {
      result = Tensor::from_vector<T>(v, out_shape, Device::cpu());
    }
  };
  if (c.op == "Cast") {
    const DType to = c.attrs.get<DType>("DstT");
    visit(dtype, [&]<class S>() {
      visit(to, [&]<class D>() {
        using SD = DeviceType<S>;
        using DD = DeviceType<D>;
        const auto x = values_at<S>(ins[0], out_shape);
        std::vector<D> out(n);
        for (std::size_t i = 0; i < n; ++i) {
          out[i] = DD::out(cuda::write_num<typename DD::type>(cuda::read_num(SD::in(x[i]))));
        }
        make(out);
      });
    });
    return result;
  }
  const bool floating = dtype == DType::kFloat32 || dtype == DType::kFloat64;
  const bool integer = dtype == DType::kInt32 || dtype == DType::kInt64;
  if (!floating && !integer) return result;
  const bool approximate = c.attrs.get_or<bool>("approximate", false);
  visit(dtype, [&]<class T>() {
    if constexpr (std::is_arithmetic_v<T>) {
      const cuda::Unary* u = find(cuda::kUnaryOps, c.op);
      const cuda::Pair* p = find(cuda::kPairOps, c.op);
      const cuda::Binary* b = find(cuda::kBinaryOps, c.op);
      std::vector<T> out(n);
      if (u != nullptr || c.op == "Gelu") {
        const cuda::Unary op = u != nullptr ? *u : (approximate ? cuda::Unary::kGeluApprox : cuda::Unary::kGelu);
        const auto x = values_at<T>(ins[0], out_shape);
        for (std::size_t i = 0; i < n; ++i) out[i] = cuda::unary_op(op, x[i]);
      } else if (p != nullptr && floating) {
        const cuda::Pair op = *p == cuda::Pair::kGeluGrad && approximate ? cuda::Pair::kGeluApproxGrad : *p;
        const auto x = values_at<T>(ins[0], out_shape), y = values_at<T>(ins[1], out_shape);
        for (std::size_t i = 0; i < n; ++i) out[i] = cuda::pair_op(op, x[i], y[i]);
      } else if (b != nullptr) {
        const auto x = values_at<T>(ins[0], out_shape), y = values_at<T>(ins[1], out_shape);
        for (std::size_t i = 0; i < n; ++i) {
          if constexpr (std::is_integral_v<T>) {
            if (*b == cuda::Binary::kDiv || *b == cuda::Binary::kPow) {
              const bool ok = *b == cuda::Binary::kDiv ? cuda::int_divide(x[i], y[i], out[i]) : cuda::int_power(x[i], y[i], out[i]);
              faulted = faulted || !ok;
              continue;
            }
          }
          out[i] = cuda::binary_op(*b, x[i], y[i]);
        }
      } else {
        return;
      }
      make(out);
    }
  });
  return result;
}

TEST(CudaElementMath, ElementFunctionsMatchTheRefKernels) {
  int checked = 0;
  for (const auto& c : op_cases()) {
    const auto ins = reference_inputs(c);
    std::vector<Tensor> want;
    bool ref_threw = false;
    try {
      want = execute(c.op, ins, c.attrs);
    } catch (const BackendError&) {
      ref_threw = true;  // integer division by zero and the like: the kernel must flag it
    }
    // The output shape: the ref's, or (when it threw) the inputs' broadcast shape.
    Shape shape = ref_threw ? broadcast_shapes(ins.at(0).shape(), ins.size() > 1 ? ins[1].shape() : ins[0].shape())
                            : want.at(0).shape();
    bool faulted = false;
    const Tensor got = evaluate(c, ins, shape, faulted);
    if (!got.defined()) continue;
    ++checked;
    EXPECT_EQ(faulted, ref_threw) << c.name << ": the ref kernel " << (ref_threw ? "threw" : "did not throw");
    if (ref_threw) continue;
    const bool f64 = want[0].dtype() == DType::kFloat64;
    const std::string diff = compare_tensors(got, want[0].to(Device::cpu()), f64 ? 1e-10 : c.rtol, f64 ? 1e-10 : c.atol);
    EXPECT_TRUE(diff.empty()) << c.name << " (" << c.op << " " << c.attrs.to_string() << "): " << diff;
  }
  std::cout << "[ element  ] " << checked << " conformance cases evaluated with the CUDA element math\n";
  EXPECT_GT(checked, 150);
}

}  // namespace
}  // namespace strata::testing
