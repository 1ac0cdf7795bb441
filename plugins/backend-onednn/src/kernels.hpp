// Registration entry points of the kernel files of the backend-onednn plugin, and the
// size from which float32 element-wise work goes through oneDNN.
#pragma once

#include <cstdint>

namespace strata {
class Registrar;
}

namespace strata::onednn {

// float32 element-wise ops, reductions, bias, transpose, concat and casts use oneDNN
// primitives from this many elements on; below it a oneDNN call's fixed cost (about
// 0.3 µs, 1.5 µs once OpenMP forks threads) is more than a vectorised loop takes.
inline constexpr std::int64_t kDnnlMinElements = 1 << 14;
// Transcendental activations (exp, tanh, sigmoid, elu, gelu, softmax, ...) cost the C++
// loops 5-20 ns per element through libm, so oneDNN's vectorised versions win much
// earlier. Matrix products, convolutions and pooling always use oneDNN for float32.
inline constexpr std::int64_t kDnnlMinTranscendental = 256;

void register_elementwise_kernels(Registrar& r);
void register_cast_kernels(Registrar& r);
void register_reduction_kernels(Registrar& r);
void register_array_kernels(Registrar& r);
void register_matmul_kernels(Registrar& r);
void register_nn_kernels(Registrar& r);
void register_conv_kernels(Registrar& r);
void register_random_kernels(Registrar& r);
// _FusedMatMul (op and kernel) and the inference fusion graph pass (fusion.cpp).
void register_fusion(Registrar& r);
// The graph pass folding an affine map (BatchNormalization) into the convolution before it
// (fold_batch_norm.cpp); register_fusion registers it first.
void register_fold_batch_norm(Registrar& r);

}  // namespace strata::onednn
