// libnccl, loaded on first use, as backend-cuda loads cuBLAS and cuDNN (its cuda_libs.hpp):
// the plugin does not link it, so it loads (and registers "nccl") on a machine without NCCL
// or a GPU, and creating a communicator there is a typed error naming what is missing.
// nccl_libs.cpp defines the NCCL entries the plugin calls, each forwarding to the library
// dlopen'ed on the first call.
#pragma once

#include <string>

namespace strata::nccl {

// Loads libnccl once per process (thread-safe) or throws CollectiveError naming the library
// and why dlopen failed.
void require_nccl();

// libnccl's function `name`, or null when the library or the function is missing.
void* nccl_entry(const char* name);

// "" when a CUDA device is usable, else why not ("no CUDA device: ...").
std::string cuda_unusable_reason();

}  // namespace strata::nccl
