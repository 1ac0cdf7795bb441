// Kernels: one op computed on one device type for one dtype. Kernels are registry
// entries keyed "Op:device_type:dtype" (e.g. "MatMul:cpu:float32"); "*" stands for any
// device type or dtype, used by kernels that only move metadata (Reshape, Identity).
// The dispatcher picks the most specific entry, infers the output shapes, and calls the
// kernel with a KernelContext. A kernel allocates each output with allocate_output (or
// sets one that aliases an input with set_output) and throws BackendError on failure.
//
// Thread safety: a kernel may be called from many threads at once.
#pragma once

#include "strata/export.hpp"
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/attrs.hpp"
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

}  // namespace strata

STRATA_API_END
