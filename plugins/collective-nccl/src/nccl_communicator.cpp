// The "nccl" Communicator.
//
// Bootstrap (NCCL needs every rank to hold one ncclUniqueId that rank 0 made): in order,
//  1. a collective of the registry (CollectiveOptions::extra["bootstrap"], default "mpi",
//     used when some plugin registers it): its rank and size are the job's, and rank 0's id
//     is broadcast over it. With mpirun and the collective-mpi plugin loaded this needs
//     nothing else. The bootstrap communicator is kept for abort(), which ends the job
//     through it.
//  2. else the environment: STRATA_NCCL_RANK and STRATA_NCCL_SIZE, and for more than one
//     rank STRATA_NCCL_ID_FILE, a path every rank can read (a shared file system): rank 0
//     writes its id there (atomically, by renaming), the others wait for the file within the
//     timeout. Use a fresh path per job.
//  3. else one rank (rank 0 of 1): what scripts/gpu-check.sh tests on a one-GPU machine.
// extra["bootstrap"] = "" skips step 1.
//
// Device: extra["device"] (an index) or the node-local rank the launcher sets
// (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, SLURM_LOCALID, LOCAL_RANK) modulo the number
// of devices, else device 0. NCCL refuses two ranks on one GPU.
//
// Time bounds: the NCCL communicator is non-blocking (ncclConfig_t::blocking = 0); every
// call polls the stream and ncclCommGetAsyncError and, past options.timeout_seconds, aborts
// the communicator (ncclCommAbort) and throws CollectiveError. A broken communicator throws
// at once afterwards.
//
// Ordering with the CUDA backend: its stream is private to the backend-cuda plugin, so
// before a collective is enqueued the communicator waits for its own earlier calls (with
// the timeout) and then for the device (cudaDeviceSynchronize): the buffers hold what the
// backend wrote. At most one collective is in flight; all_reduce_async returns while it runs,
// so the caller overlaps it with host work and the next bucket's preparation, not with
// other device work.
#include "nccl_communicator.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "nccl_libs.hpp"
#include "strata/config_reader.hpp"
#include "strata/log.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/registry.hpp"

namespace strata::nccl {
namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return ncclFloat32;
    case DType::kFloat64:
      return ncclFloat64;
    case DType::kFloat16:
      return ncclFloat16;
    case DType::kBFloat16:
      return ncclBfloat16;
    case DType::kInt32:
      return ncclInt32;
    case DType::kInt64:
      return ncclInt64;
    case DType::kInt8:
      return ncclInt8;
    case DType::kUInt8:
      return ncclUint8;
    default:
      break;
  }
  STRATA_THROW(ValueError, "collective 'nccl' cannot reduce ", dtype_name(dtype), " buffers");
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kMean:
      return ncclAvg;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  STRATA_THROW(ValueError, "collective 'nccl': unknown reduce op ", static_cast<int>(op));
}

// The integer in environment variable `name`, or `fallback` when unset.
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  STRATA_CHECK(end != v && *end == '\0' && n >= 0 && n < (1L << 30), ValueError, "environment variable ", name,
               " must be a non-negative integer, got '", v, "'");
  return static_cast<int>(n);
}

void check_cuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  (void)cudaGetLastError();
  STRATA_THROW(CollectiveError, "collective 'nccl': ", what, " failed: ", cudaGetErrorName(e), " (",
               cudaGetErrorString(e), ")");
}

class NcclCommunicator;

class NcclRequest final : public CollectiveRequest {
 public:
  explicit NcclRequest(NcclCommunicator* comm) : comm_(comm) {}
  void wait() override;
  bool test() override;

 private:
  NcclCommunicator* comm_;
  bool done_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(const CollectiveOptions& options) : timeout_(options.timeout_seconds) {
    STRATA_CHECK(timeout_ > 0, ValueError, "collective 'nccl': the timeout must be positive, got ", timeout_);
    const std::string no_device = cuda_unusable_reason();
    STRATA_CHECK(no_device.empty(), CollectiveError, "collective 'nccl' needs a CUDA device: ", no_device);
    require_nccl();
    ncclUniqueId id{};
    join(options, id);
    select_device(options);
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check_cuda(cudaMalloc(&scratch_, sizeof(float)), "cudaMalloc");
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t r = ncclCommInitRankConfig(&comm_, size_, id, rank_, &config);
    if (r != ncclSuccess && r != ncclInProgress) fail("ncclCommInitRankConfig", r);
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
    for (;;) {
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state == ncclSuccess) break;
      if (state != ncclInProgress) fail("ncclCommInitRankConfig", state);
      if (Clock::now() > deadline) fail_timeout("creating the NCCL communicator (waiting for every rank)");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  ~NcclCommunicator() override {
    if (comm_ != nullptr) {
      // A communicator whose last call completed is finalised (flushing NCCL's proxy); one
      // with a call in flight (an exception unwound past it) is aborted.
      if (cudaStreamQuery(stream_) == cudaSuccess) {
        ncclCommFinalize(comm_);
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    }
    if (scratch_ != nullptr) (void)cudaFree(scratch_);
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string device_type() const override { return "cuda"; }
  int device() const { return device_; }

  void all_reduce(void* data, std::size_t count, DType dtype, ReduceOp op) override {
    all_reduce_async(data, count, dtype, op)->wait();
  }

  std::unique_ptr<CollectiveRequest> all_reduce_async(void* data, std::size_t count, DType dtype,
                                                      ReduceOp op) override {
    const ncclDataType_t type = nccl_type(dtype);
    const ncclRedOp_t nop = nccl_op(op);
    prepare();
    enqueued("ncclAllReduce", ncclAllReduce(data, data, count, type, nop, comm_, stream_));
    return std::make_unique<NcclRequest>(this);
  }

  void broadcast(void* data, std::size_t bytes, int root) override {
    STRATA_CHECK(root >= 0 && root < size_, ValueError, "collective 'nccl': broadcast root ", root,
                 " is not a rank of ", size_);
    prepare();
    enqueued("ncclBroadcast", ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
    complete("ncclBroadcast");
  }

  void all_gather(const void* send, void* recv, std::size_t bytes) override {
    prepare();
    enqueued("ncclAllGather", ncclAllGather(send, recv, bytes, ncclUint8, comm_, stream_));
    complete("ncclAllGather");
  }

  void barrier() override {
    // NCCL has no barrier: an all-reduce of one value completes on no rank before every
    // rank has started it.
    all_reduce(scratch_, 1, DType::kFloat32, ReduceOp::kSum);
  }

  [[noreturn]] void abort(const std::string& message) override {
    log_error("collective 'nccl' (rank ", rank_, " of ", size_, ") aborts the job: ", message);
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    if (bootstrap_) bootstrap_->abort(message);
    // No bootstrap communicator to end the others: they fail their next call within the
    // timeout.
    std::fflush(nullptr);
    std::_Exit(EXIT_FAILURE);
  }

  // Waits (within the timeout) until the calls enqueued so far completed.
  void complete(const char* what) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
    while (!poll(what)) {
      if (Clock::now() > deadline) fail_timeout(what);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  // True when the calls enqueued so far completed; throws when NCCL reported an error.
  bool poll(const char* what) {
    check_usable();
    const cudaError_t e = cudaStreamQuery(stream_);
    if (e == cudaSuccess) return true;
    if (e != cudaErrorNotReady) {
      broken_ = true;
      check_cuda(e, what);
    }
    ncclResult_t state = ncclSuccess;
    ncclCommGetAsyncError(comm_, &state);
    if (state != ncclSuccess && state != ncclInProgress) fail(what, state);
    return false;
  }

 private:
  void join(const CollectiveOptions& options, ncclUniqueId& id) {
    std::string bootstrap = "mpi";
    if (const Config* b = config::find_key(options.extra, "bootstrap"); b && b->is_string()) {
      bootstrap = b->get<std::string>();
    }
    if (!bootstrap.empty() && Registry::global().contains(ObjectKind::kCollective, bootstrap)) {
      const auto factory = Registry::global().find<ObjectKind::kCollective>(bootstrap);
      bootstrap_ = (*factory)(options);
      STRATA_CHECK(bootstrap_ && bootstrap_->device_type() == "cpu", CollectiveError,
                   "collective 'nccl': bootstrap collective '", bootstrap, "' must work on host memory");
      rank_ = bootstrap_->rank();
      size_ = bootstrap_->size();
      if (rank_ == 0) nccl_check("ncclGetUniqueId", ncclGetUniqueId(&id));
      bootstrap_->broadcast(&id, sizeof id, 0);
      return;
    }
    rank_ = env_int("STRATA_NCCL_RANK", 0);
    size_ = env_int("STRATA_NCCL_SIZE", 1);
    STRATA_CHECK(size_ >= 1 && rank_ < size_, ValueError, "collective 'nccl': STRATA_NCCL_RANK=", rank_,
                 " is not a rank of STRATA_NCCL_SIZE=", size_);
    if (size_ == 1) {
      nccl_check("ncclGetUniqueId", ncclGetUniqueId(&id));
      return;
    }
    const char* file = std::getenv("STRATA_NCCL_ID_FILE");
    STRATA_CHECK(file != nullptr && *file != '\0', CollectiveError, "collective 'nccl': ", size_,
                 " ranks need a bootstrap: load a collective plugin named '", bootstrap.empty() ? "mpi" : bootstrap,
                 "' (mpirun) or set STRATA_NCCL_ID_FILE to a path every rank can read");
    exchange_through_file(file, id);
  }

  void exchange_through_file(const std::string& path, ncclUniqueId& id) {
    namespace fs = std::filesystem;
    if (rank_ == 0) {
      nccl_check("ncclGetUniqueId", ncclGetUniqueId(&id));
      const std::string tmp = path + ".tmp";
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(&id), sizeof id);
        STRATA_CHECK(out.good(), IOError, "collective 'nccl': cannot write the NCCL id to ", tmp);
      }
      std::error_code ec;
      fs::rename(tmp, path, ec);
      STRATA_CHECK(!ec, IOError, "collective 'nccl': cannot publish the NCCL id at ", path, ": ", ec.message());
      return;
    }
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
    for (;;) {
      std::error_code ec;
      if (fs::file_size(path, ec) == sizeof id && !ec) {
        std::ifstream in(path, std::ios::binary);
        in.read(reinterpret_cast<char*>(&id), sizeof id);
        if (in.gcount() == static_cast<std::streamsize>(sizeof id)) return;
      }
      STRATA_CHECK(Clock::now() < deadline, CollectiveError, "collective 'nccl': rank ", rank_, " found no NCCL id at ",
                   path, " within ", timeout_, " s (rank 0 writes it)");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void select_device(const CollectiveOptions& options) {
    int count = 0;
    check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (const Config* d = config::find_key(options.extra, "device"); d && d->is_number_integer()) {
      device_ = d->get<int>();
      STRATA_CHECK(device_ >= 0 && device_ < count, ValueError, "collective 'nccl': device ", device_,
                   " does not exist (", count, " CUDA devices)");
    } else {
      int local = -1;
      for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"}) {
        local = env_int(var, -1);
        if (local >= 0) break;
      }
      device_ = local >= 0 ? local % count : 0;
    }
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  }

  void check_usable() const {
    STRATA_CHECK(!broken_ && comm_ != nullptr, CollectiveError,
                 "collective 'nccl': the communicator is broken by an earlier failure");
  }

  // Before a call: the earlier calls completed, the device's other work too.
  void prepare() {
    check_usable();
    complete("waiting for the previous NCCL call");
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

  void enqueued(const char* what, ncclResult_t r) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    fail(what, r);
  }

  void nccl_check(const char* what, ncclResult_t r) {
    if (r != ncclSuccess) fail(what, r);
  }

  [[noreturn]] void fail(const char* what, ncclResult_t r) {
    broken_ = true;
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    STRATA_THROW(CollectiveError, "collective 'nccl' (rank ", rank_, " of ", size_, "): ", what,
                 " failed: ", ncclGetErrorString(r), " (a peer may have died; NCCL_DEBUG=WARN says more)");
  }

  [[noreturn]] void fail_timeout(const std::string& what) {
    broken_ = true;
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    STRATA_THROW(CollectiveError, "collective 'nccl' (rank ", rank_, " of ", size_, "): ", what,
                 " did not complete within ", timeout_, " s (STRATA_COLLECTIVE_TIMEOUT): a peer is dead or stuck");
  }

  double timeout_;
  int rank_ = 0, size_ = 1, device_ = 0;
  bool broken_ = false;
  std::shared_ptr<Communicator> bootstrap_;
  cudaStream_t stream_ = nullptr;
  void* scratch_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

void NcclRequest::wait() {
  if (done_) return;
  comm_->complete("ncclAllReduce");
  done_ = true;
}

bool NcclRequest::test() {
  if (!done_) done_ = comm_->poll("ncclAllReduce");
  return done_;
}

}  // namespace

std::shared_ptr<Communicator> make_communicator(const CollectiveOptions& options) {
  return std::make_shared<NcclCommunicator>(options);
}

int probe(char* reason, std::size_t size) {
  return probe_with([] { return cuda_unusable_reason(); }, reason, size);
}

}  // namespace strata::nccl
