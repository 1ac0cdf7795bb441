// Einstein summation written in existing ops, for EinsumDense and the attention layers.
//
// einsum(equation, a, b) lowers a two-operand equation ("abc,cd->abd") to Sum (labels of
// one operand that appear nowhere else), Transpose, Reshape and one matmul (MatMul or
// BatchMatMulV2): labels in both operands and the output are batch dimensions, labels in
// both operands only are contracted, the others are the rows of a and the columns of b.
// einsum(equation, a) is the one-operand form (transpose and/or reduce: "abc->cb").
// Since only these ops are used, every backend runs it and gradients come from the ops.
//
// Supported: letters a-z and A-Z, at most one "..." per term (broadcast dimensions,
// aligned from the right as in NumPy), an implicit output (no "->": the labels that
// appear once, in alphabetical order, after the ellipsis). Not supported (ValueError
// naming the equation): a label repeated within one term (diagonals), output labels that
// no input has, more than two operands. Dimensions unknown at build time are read with
// Shape ops at run time when more than one of them has to be merged into one axis.
//
// Thread safety: pure functions; may be called concurrently.
#pragma once

#include <string>

#include "strata/tensor.hpp"

namespace strata::layers {

Tensor einsum(const std::string& equation, const Tensor& a, const Tensor& b);
Tensor einsum(const std::string& equation, const Tensor& a);

}  // namespace strata::layers
