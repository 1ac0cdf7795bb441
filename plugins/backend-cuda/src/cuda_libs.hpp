// cuBLAS and cuDNN, loaded on first use (issue 22). The plugin does not link them: their
// initialisers (cuBLASLt's above all) cost ~55% of a process's start-up and ~150 MB even on
// a machine without a GPU. cuda_libs.cpp defines the entries the plugin calls, each
// forwarding to the library dlopen'ed on the first call (CudaDevice::blas and the cuDNN
// handle call require_cublas / require_cudnn first, so a missing library is a BackendError
// naming it). The host emulation (tests) defines require_* as no-ops: it calls neither.
#pragma once

namespace strata::cuda {

// Loads the library once per process (thread-safe) or throws BackendError naming the
// library and why dlopen failed.
void require_cublas();
void require_cudnn();

}  // namespace strata::cuda
