#include "strata/plugin/kernel.hpp"

#include "strata/plugin/backend.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata {

Tensor& KernelContext::allocate_output(std::size_t i) {
  STRATA_CHECK(i < metas_.size(), ValueError, "op ", op_.name, " has ", metas_.size(), " outputs, not ", i + 1);
  const TensorMeta& meta = metas_[i];
  outputs_[i] = Tensor::empty(meta.dtype, meta.shape, device_.device());
  return outputs_[i];
}

void KernelContext::set_output(std::size_t i, Tensor t) {
  STRATA_CHECK(i < metas_.size(), ValueError, "op ", op_.name, " has ", metas_.size(), " outputs, not ", i + 1);
  const TensorMeta& meta = metas_[i];
  STRATA_CHECK(t.dtype() == meta.dtype && t.shape() == meta.shape, ShapeError, "kernel for ", op_.name,
               " produced output ", i, " as ", dtype_name(t.dtype()), t.shape().to_string(), " but ",
               dtype_name(meta.dtype), meta.shape.to_string(), " was inferred");
  outputs_[i] = std::move(t);
}

std::string kernel_key(std::string_view op, std::string_view device_type, DType dtype) {
  std::string key(op);
  key += ':';
  key += device_type.empty() ? std::string_view("*") : device_type;
  key += ':';
  key += dtype == DType::kInvalid ? std::string_view("*") : dtype_name(dtype);
  return key;
}

void add_kernel(Registrar& registrar, std::string_view op, std::string_view device_type, DType dtype,
                std::function<void(KernelContext&)> compute) {
  registrar.add<ObjectKind::kKernel>(kernel_key(op, device_type, dtype), KernelDef{std::move(compute)});
}

}  // namespace strata
