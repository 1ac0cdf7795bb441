// Registration entry points of the kernel files of the backend-onednn plugin, and the
// size from which float32 element-wise work goes through oneDNN.
#pragma once

#include <cstdint>

namespace strata {
class Registrar;
}

namespace strata::onednn {

// float32 element-wise ops, softmax, reductions, bias, transpose, concat and casts use
// oneDNN primitives from this many elements on; below it a oneDNN call's fixed cost
// (about 1.5 µs for an OpenMP fork/join and argument binding) exceeds the work, so a plain
// loop runs instead. Matrix products, convolutions and pooling always use oneDNN for
// float32.
inline constexpr std::int64_t kDnnlMinElements = 1 << 14;

void register_elementwise_kernels(Registrar& r);
void register_cast_kernels(Registrar& r);
void register_reduction_kernels(Registrar& r);
void register_array_kernels(Registrar& r);
void register_matmul_kernels(Registrar& r);
void register_nn_kernels(Registrar& r);
void register_conv_kernels(Registrar& r);
void register_random_kernels(Registrar& r);

}  // namespace strata::onednn
