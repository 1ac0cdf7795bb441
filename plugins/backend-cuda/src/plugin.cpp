// The backend-cuda plugin: device type "cuda" (devices cuda:0 ... cuda:N-1) with float32
// kernels for the ops listed in plugins/backend-cuda/README.md. Built whenever nvcc is
// found; on a machine without a GPU or driver it loads, registers, and reports why it is
// not usable (`strata plugins`), and asking for a cuda device is a BackendError saying so.
#include "cuda_backend.hpp"
#include "cuda_device.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kBackend>("cuda", strata::cuda::make_backend);
  strata::cuda::register_kernels(r);
}

}  // namespace

STRATA_PLUGIN("backend-cuda", "0.1.0", "CUDA devices: caching allocator, one stream per device, float32 kernels (cuBLAS + own)",
              register_all)
STRATA_PLUGIN_PROBE(strata::cuda::probe)
