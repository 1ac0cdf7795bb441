// Collectives: the plugin kind that moves tensors between the replicas of a data-parallel
// job (all-reduce, broadcast, all-gather, barrier). The runtime's distribution strategy
// (strata/distribute.hpp) owns everything above the bytes — which buffers are reduced, how
// gradients are fused into buckets, when variables are broadcast — and calls one
// Communicator; a plugin provides the transport on an existing engine (MPI between processes
// and machines, NCCL between GPUs; a third party adds Gloo or UCC the same way).
//
// Register a factory by name, as a device backend is:
//
//   r.add<strata::ObjectKind::kCollective>("gloo", [](const strata::CollectiveOptions& o) {
//     return std::make_shared<GlooCommunicator>(o);
//   });
//
// and users choose it by that name: DistributionStrategy("gloo"). A factory joins the job
// the process belongs to (for MPI: the ranks mpirun started) and returns a communicator
// whose rank() and size() describe it; it throws CollectiveError when there is no job to
// join or the engine cannot start.
//
// Failures: every call returns within CollectiveOptions::timeout_seconds or throws
// CollectiveError (a dead or stuck peer is never a hang). After a failed call the
// communicator is broken: later calls throw CollectiveError at once, and the plugin ends the
// job at exit instead of waiting for peers that will not come.
//
// Thread safety: one communicator is used by one thread at a time (the strategy serialises
// its calls); requests may be waited on from the thread that made them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include "strata/export.hpp"

#include "strata/distribute.hpp"  // CollectiveError, ReduceOp, CollectiveOptions
#include "strata/dtype.hpp"
#include "strata/registry.hpp"

STRATA_API_BEGIN

namespace strata {

// A non-blocking collective in flight. The buffers passed to the call must stay alive and
// untouched until wait() returned (or the request was destroyed after a failure).
class CollectiveRequest {
 public:
  virtual ~CollectiveRequest();
  // Blocks until the call completed. CollectiveError after the communicator's timeout, or
  // when a peer failed. Waiting again after completion returns at once.
  virtual void wait() = 0;
  // True when the call has completed (never blocks); throws as wait() on failure.
  virtual bool test() = 0;
};

// One replica's endpoint of a group of `size()` replicas.
class Communicator {
 public:
  virtual ~Communicator();
  // The name the factory is registered under ("mpi").
  virtual std::string name() const = 0;
  // This replica's index in [0, size()); rank 0 is the chief.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The device type the buffers of every call must live on: "cpu" (host memory) for MPI,
  // "cuda" (device memory of the communicator's GPU) for NCCL.
  virtual std::string device_type() const = 0;

  // In place: `data` holds `count` elements of `dtype` on every replica; afterwards it holds
  // their element-wise combination, the same on every replica. ValueError for a dtype the
  // backend cannot reduce.
  virtual void all_reduce(void* data, std::size_t count, DType dtype, ReduceOp op) = 0;
  // The same, started without blocking; the strategy overlaps the reduction of one gradient
  // bucket with the preparation of the next.
  virtual std::unique_ptr<CollectiveRequest> all_reduce_async(void* data, std::size_t count, DType dtype,
                                                              ReduceOp op) = 0;
  // `bytes` bytes at `data` of replica `root` are copied to `data` of every replica.
  virtual void broadcast(void* data, std::size_t bytes, int root) = 0;
  // Replica r's `bytes` bytes at `send` land at `recv + r * bytes` on every replica (`recv`
  // holds size() * bytes bytes).
  virtual void all_gather(const void* send, void* recv, std::size_t bytes) = 0;
  // Returns when every replica has called it.
  virtual void barrier() = 0;
  // Ends the whole job now (every replica), reporting `message`. Used when a replica cannot
  // go on and the others must not wait for it. Does not return.
  [[noreturn]] virtual void abort(const std::string& message) = 0;
};

using CollectiveFactory = std::function<std::shared_ptr<Communicator>(const CollectiveOptions&)>;

template <>
struct KindTraits<ObjectKind::kCollective> {
  using Value = CollectiveFactory;
};

}  // namespace strata

STRATA_API_END
