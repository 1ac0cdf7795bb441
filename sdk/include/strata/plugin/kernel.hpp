// Kernels: one op computed on one device type for one dtype. Kernels are registry
// entries keyed "Op:device_type:dtype" (e.g. "MatMul:cpu:float32"); "*" stands for any
// device type or dtype, used by kernels that only move metadata (Reshape, Identity).
// The dispatcher picks the most specific entry, infers the output shapes, and calls the
// kernel with a KernelContext. A kernel allocates each output with allocate_output (or
// sets one that aliases an input with set_output) and throws BackendError on failure.
//
// Thread safety: a kernel may be called from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/attrs.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/export.hpp"
#include "strata/plugin/op_def.hpp"
#include "strata/registry.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Registrar;
class BackendDevice;

class KernelContext {
 public:
  KernelContext(const OpDef& op, const Attrs& attrs, std::span<const Tensor> inputs,
                std::span<const TensorMeta> output_metas, std::vector<Tensor>& outputs, BackendDevice& device)
      : op_(op), attrs_(attrs), inputs_(inputs), metas_(output_metas), outputs_(outputs), device_(device) {}

  const OpDef& op() const noexcept { return op_; }
  std::string_view op_name() const noexcept { return op_.name; }
  const Attrs& attrs() const noexcept { return attrs_; }
  std::size_t num_inputs() const noexcept { return inputs_.size(); }
  // Inputs listed in OpDef::host_inputs are on the cpu device; the others on device().
  const Tensor& input(std::size_t i) const { return inputs_[i]; }
  std::size_t num_outputs() const noexcept { return metas_.size(); }
  // The inferred dtype and (fully defined) shape of output i.
  const TensorMeta& output_meta(std::size_t i) const { return metas_[i]; }
  // Allocates output i on device() with its inferred dtype and shape.
  Tensor& allocate_output(std::size_t i);
  // Uses `t` as output i (e.g. an input reshaped); ShapeError when it does not match the
  // inferred dtype and shape.
  void set_output(std::size_t i, Tensor t);
  BackendDevice& device() const noexcept { return device_; }

 private:
  const OpDef& op_;
  const Attrs& attrs_;
  std::span<const Tensor> inputs_;
  std::span<const TensorMeta> metas_;
  std::vector<Tensor>& outputs_;
  BackendDevice& device_;
};

struct KernelDef {
  std::function<void(KernelContext&)> compute;
};

template <>
struct KindTraits<ObjectKind::kKernel> {
  using Value = KernelDef;
};

// "MatMul:cpu:float32"; DType::kInvalid and an empty device type become "*".
std::string kernel_key(std::string_view op, std::string_view device_type, DType dtype);

// Stages a kernel. dtype kInvalid = any dtype; device_type "*" = any device.
void add_kernel(Registrar& registrar, std::string_view op, std::string_view device_type, DType dtype,
                std::function<void(KernelContext&)> compute);

// Several dtypes in one call.
//
// The same compute for each dtype in `dtypes` (a kernel that reads the dtype from its
// tensors, e.g. one that only copies bytes):
//   add_kernels(r, "Transpose", "cuda", {DType::kFloat32, DType::kInt32}, transpose_bytes);
// ValueError when `dtypes` is empty or holds kInvalid (use add_kernel for "any dtype");
// a dtype listed twice is the Registrar's PluginError for a duplicate entry.
inline void add_kernels(Registrar& registrar, std::string_view op, std::string_view device_type,
                        std::initializer_list<DType> dtypes, const std::function<void(KernelContext&)>& compute) {
  STRATA_CHECK(dtypes.size() > 0, ValueError, "add_kernels for op ", op, ": no dtype given");
  for (DType t : dtypes) {
    STRATA_CHECK(t != DType::kInvalid, ValueError, "add_kernels for op ", op,
                 ": DType::kInvalid is not a dtype (add_kernel registers an any-dtype kernel)");
  }
  for (DType t : dtypes) add_kernel(registrar, op, device_type, t, compute);
}

// A list of element types for the templated form below.
template <class... Ts>
struct ElementTypes {};
using FloatTypes = ElementTypes<float, double>;                                            // float32, float64
using NumberTypes = ElementTypes<float, double, std::int32_t, std::int64_t>;               // + int32, int64
using NumberAndBoolTypes = ElementTypes<float, double, std::int32_t, std::int64_t, bool>;  // + bool
using HalfTypes = ElementTypes<float16, bfloat16>;                                         // float16, bfloat16

// `compute` templated on the element type, registered for each T of the list as the
// kernel of dtype_of<T>:
//   add_kernels(r, "Relu", "cpu", FloatTypes{}, []<class T>(KernelContext& ctx) { ... });
// (An empty list does not match: `{}` is the dtype-list form's empty list, refused.)
template <class... Ts, class F>
requires(sizeof...(Ts) > 0) void add_kernels(Registrar& registrar, std::string_view op, std::string_view device_type,
                                             ElementTypes<Ts...>, F compute) {
  (add_kernel(registrar, op, device_type, dtype_of<Ts>,
              [compute](KernelContext& ctx) { compute.template operator()<Ts>(ctx); }),
   ...);
}

}  // namespace strata

STRATA_API_END
