// The NCCL entries of the collective-nccl plugin, resolved on first use (nccl_libs.hpp).
// Each entry below has NCCL's own name and signature (nccl.h declares them; a mismatch does
// not compile) and forwards to the function of libnccl dlopen'ed (RTLD_LOCAL) on the first
// call. The plugin is built with hidden visibility, so these definitions are not exported and
// never interpose on another library's NCCL in the same process.
//
// The library is found by its soname (the plugin's RUNPATH holds the toolkit's library
// directory) and then by the path found at configure time (STRATA_NCCL_SONAME,
// STRATA_NCCL_PATH; CMakeLists.txt).
#include "nccl_libs.hpp"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include <mutex>

#include "strata/error.hpp"
#include "strata/plugin/collective.hpp"

namespace strata::cuda {
std::string unusable_reason();  // plugins/backend-cuda/src/cuda_probe.cpp, compiled in here too
}  // namespace strata::cuda

namespace strata::nccl {
namespace {

struct Library {
  std::once_flag once;
  void* handle = nullptr;
  std::string error;
};

Library& nccl_library() {
  static Library lib;
  std::call_once(lib.once, [] {
    for (const char* name : {STRATA_NCCL_SONAME, STRATA_NCCL_PATH}) {
      if (name == nullptr || *name == '\0') continue;
      lib.handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib.handle != nullptr) return;
      const char* why = ::dlerror();
      if (!lib.error.empty()) lib.error += "; ";
      lib.error += why != nullptr ? why : name;
    }
  });
  return lib;
}

}  // namespace

void* nccl_entry(const char* name) {
  Library& lib = nccl_library();
  return lib.handle != nullptr ? ::dlsym(lib.handle, name) : nullptr;
}

void require_nccl() {
  Library& lib = nccl_library();
  STRATA_CHECK(lib.handle != nullptr, CollectiveError, "collective 'nccl': cannot load NCCL (", STRATA_NCCL_SONAME,
               "): ", lib.error);
}

std::string cuda_unusable_reason() { return cuda::unusable_reason(); }

}  // namespace strata::nccl

// NAME(PARAMS) forwards ARGS to libnccl's NAME, or returns FAILED without it.
#define STRATA_NCCL(ret, failed, name, params, args)                            \
  extern "C" ret name params {                                                  \
    using Fn = ret(*) params;                                                   \
    static const Fn fn = reinterpret_cast<Fn>(strata::nccl::nccl_entry(#name)); \
    return fn != nullptr ? fn args : failed;                                    \
  }
#define STRATA_NCCL_RESULT(name, params, args) STRATA_NCCL(ncclResult_t, ncclSystemError, name, params, args)

STRATA_NCCL_RESULT(ncclGetVersion, (int* version), (version))
STRATA_NCCL_RESULT(ncclGetUniqueId, (ncclUniqueId * unique_id), (unique_id))
STRATA_NCCL_RESULT(ncclCommInitRankConfig,
                   (ncclComm_t * comm, int nranks, ncclUniqueId comm_id, int rank, ncclConfig_t* config),
                   (comm, nranks, comm_id, rank, config))
STRATA_NCCL_RESULT(ncclCommGetAsyncError, (ncclComm_t comm, ncclResult_t* async_error), (comm, async_error))
STRATA_NCCL_RESULT(ncclCommAbort, (ncclComm_t comm), (comm))
STRATA_NCCL_RESULT(ncclCommFinalize, (ncclComm_t comm), (comm))
STRATA_NCCL_RESULT(ncclCommDestroy, (ncclComm_t comm), (comm))
STRATA_NCCL_RESULT(ncclAllReduce,
                   (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                    ncclComm_t comm, cudaStream_t stream),
                   (sendbuff, recvbuff, count, datatype, op, comm, stream))
STRATA_NCCL_RESULT(ncclBroadcast,
                   (const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                    ncclComm_t comm, cudaStream_t stream),
                   (sendbuff, recvbuff, count, datatype, root, comm, stream))
STRATA_NCCL_RESULT(ncclAllGather,
                   (const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype, ncclComm_t comm,
                    cudaStream_t stream),
                   (sendbuff, recvbuff, sendcount, datatype, comm, stream))
STRATA_NCCL(const char*, "NCCL is not loaded", ncclGetErrorString, (ncclResult_t result), (result))
