// The backend-onednn plugin: kernels for device type "cpu" (host memory, which the
// runtime provides) for every op of docs/OPS.md that has kernels. float32 work runs on
// oneDNN primitives where oneDNN has them; the rest is plain C++ with OpenMP.
#include "kernels.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  strata::onednn::register_elementwise_kernels(r);
  strata::onednn::register_cast_kernels(r);
  strata::onednn::register_reduction_kernels(r);
  strata::onednn::register_array_kernels(r);
  strata::onednn::register_matmul_kernels(r);
  strata::onednn::register_nn_kernels(r);
  strata::onednn::register_conv_kernels(r);
  strata::onednn::register_random_kernels(r);
  strata::onednn::register_fusion(r);
}

}  // namespace

STRATA_PLUGIN("backend-onednn", "0.1.0", "CPU kernels on oneDNN (float32) and OpenMP C++", register_all)
