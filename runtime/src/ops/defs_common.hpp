// Helpers shared by the op definition files.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "ops/internal.hpp"
#include "strata/plugin/kernel_util.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::internal {

using Metas = std::vector<TensorMeta>;
using Grads = std::vector<Tensor>;

inline Metas same_as_input(const InferContext& c, std::size_t i = 0) { return {{c.dtype(i), c.shape(i)}}; }

// Registers `def` (provider "runtime").
inline void add_op(Registrar& r, OpDef def) {
  std::string name = def.name;
  r.add<ObjectKind::kOp>(name, std::move(def));
}

inline void require_dtype(const InferContext& c, std::size_t i, bool ok, const char* what) {
  STRATA_CHECK(ok, ValueError, "op ", c.op_name(), " input ", i, " must be ", what, ", got ",
               dtype_name(c.dtype(i)));
}

inline void require_same_dtypes(const InferContext& c, std::size_t from, std::size_t to) {
  for (std::size_t i = from + 1; i < to; ++i) {
    STRATA_CHECK(c.dtype(i) == c.dtype(from), ValueError, "op ", c.op_name(), " needs inputs of one dtype, got ",
                 dtype_name(c.dtype(from)), " and ", dtype_name(c.dtype(i)));
  }
}

// The integer values of host input i, which must be known (ShapeError otherwise).
inline std::vector<std::int64_t> known_ints(const InferContext& c, std::size_t i, const char* what) {
  auto v = c.int_values(i);
  STRATA_CHECK(v.has_value(), ShapeError, "op ", c.op_name(), " needs the value of its ", what,
               " input, which is not known while building the graph");
  return *v;
}

// Normalises axis into [0, rank) for op messages.
inline std::int64_t norm_axis(std::int64_t axis, std::int64_t rank, std::string_view op) {
  const std::int64_t a = axis < 0 ? axis + rank : axis;
  STRATA_CHECK(a >= 0 && a < rank, ShapeError, "op ", op, ": axis ", axis, " is out of range for rank ", rank);
  return a;
}

// The values of a concrete int32/int64 tensor (any device).
inline std::vector<std::int64_t> host_ints(const Tensor& t) {
  if (t.dtype() == DType::kInt64) return t.to_vector<std::int64_t>();
  STRATA_CHECK(t.dtype() == DType::kInt32, ValueError, "expected an int32 or int64 tensor, got ", dtype_name(t.dtype()));
  std::vector<std::int64_t> out;
  for (auto v : t.to_vector<std::int32_t>()) out.push_back(v);
  return out;
}

inline std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// The permutation that undoes `perm` (a permutation of 0..n-1).
inline std::vector<std::int64_t> inverse_perm(const std::vector<std::int64_t>& perm) {
  std::vector<std::int64_t> inv(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inv[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
  return inv;
}

inline Tensor grad_or_zeros(const GradientContext& c, std::size_t output) {
  return c.output_grads[output].defined() ? c.output_grads[output] : zeros_like(c.outputs[output]);
}


}  // namespace strata::internal
