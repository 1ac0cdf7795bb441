// The "mpi" collective (strata/plugin/collective.hpp) on the host's MPI library.
//
// MPI's life: if the host program has not initialised MPI, the first communicator calls
// MPI_Init_thread (MPI_THREAD_SERIALIZED: one MPI call at a time, from any thread) and the
// plugin calls MPI_Finalize at exit; a host that initialised MPI itself keeps it, and
// finalises it. Each communicator works on its own duplicate of MPI_COMM_WORLD, so the host's
// own messages never mix with Strata's. Every MPI call the plugin makes holds one process-wide
// mutex, so Strata's calls never run concurrently (MPI_THREAD_SERIALIZED).
//
// Who makes the MPI calls (CollectiveOptions::extra["progress_thread"], else
// STRATA_MPI_PROGRESS_THREAD: "1"/"on", "0"/"off" or "auto", the default):
//  - the progress thread (on): one thread per process makes the MPI calls of every
//    communicator that uses it, in submission order (FIFO: every rank submits its
//    collectives in the same order, so they match). all_reduce_async queues the call and
//    returns at once; its request's wait() and test() read the call's completion. So a
//    gradient bucket's all-reduce runs on that thread while the backward pass computes the
//    next buckets, as PyTorch DDP's and Horovod's communication threads do on CPUs. The
//    blocking calls (all_reduce, broadcast, all_gather, barrier) run on the calling thread
//    when nothing is queued or running (no hand-over to pay for a step's small calls) and
//    are queued behind the pending calls otherwise. The thread sleeps on a condition
//    variable while the queue is empty; while it is inside a collective it spins in MPI as
//    the blocking call does, and every queued call costs two thread wake-ups, which on busy
//    cores wait for the scheduler. So it needs a core of its own to help: "auto" uses it
//    only when the CPUs this process may run on (its affinity mask) exceed the ranks on
//    this machine (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)) times the threads per rank
//    (strata::num_threads(); 0, automatic, counts as all the CPUs), i.e. when there is a
//    spare core per rank. On 2 shared cores with 2 one-thread ranks it was no faster and at
//    times several times slower (docs/DISTRIBUTED.md, "Overlap: the mpi collective's
//    progress thread"). It needs MPI_THREAD_SERIALIZED or more: under a host that
//    initialised MPI with less (MPI_Query_thread), the calls stay on the calling thread.
//    A host that makes its own MPI calls may do so between Strata's calls (fit,
//    train_on_batch, all_reduce, ... return with every queued call complete).
//  - the calling thread (off): every call is made by the thread that calls the
//    communicator, and in the "watchdog" mode all_reduce_async completes before it returns.
//
// Bounded waits, two ways (CollectiveOptions::extra["wait"], else STRATA_MPI_WAIT), whichever
// thread makes the call:
//  - "watchdog" (the default): every collective is the blocking MPI call (MPI_Allreduce,
//    MPI_Bcast, ...), as fast as the host's MPI makes it, and a watchdog thread ends the job
//    when one has not returned within the timeout: it prints "CollectiveError: mpi (rank r
//    of n): <the call> did not complete within T s (STRATA_COLLECTIVE_TIMEOUT): a peer died
//    or stalled" and calls MPI_Abort. Arming it is two atomic stores a call. Without the
//    progress thread all_reduce_async completes before it returns: Open MPI progresses a
//    non-blocking collective only inside MPI calls, so on host memory it gave no overlap,
//    and its non-blocking algorithms (libnbc) cost 1.5x MPI_Allreduce from 16 KiB and up
//    to 12x at 4-16 MiB (docs/DISTRIBUTED.md).
//  - "poll": every collective is started non-blocking (MPI_Iallreduce, MPI_Ibcast, ...) and
//    polled with MPI_Test, without sleeping for its first 100 ms (each MPI_Test moves a
//    large reduction by about a fragment, so a sleep is paid per fragment) and yielding the
//    core between tests after that, until it completes or the timeout passes; then the
//    call throws CollectiveError (a host can catch it; on the progress thread the error is
//    kept and thrown by the request's wait() or the blocking call) and the communicator is
//    broken.
// A broken MPI cannot be finalised (the dead peer never joins), so at exit the plugin calls
// MPI_Abort instead: the job ends with an error rather than hanging. mpirun usually notices a
// killed rank first and ends the job itself; the timeout covers the peers that hang without
// dying.
// The C API only: Open MPI's deprecated C++ bindings do not compile warning-free.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mpi_communicator.hpp"
#include "strata/config_reader.hpp"
#include "strata/error.hpp"
#include "strata/plugin/collective.hpp"
#include "strata/threads.hpp"

namespace {

using strata::CollectiveError;
using strata::DType;
using strata::ReduceOp;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<std::size_t>(length));
}

// The process's MPI: initialised on first use unless the host did, finalised (or aborted,
// when a collective failed) at exit when the plugin initialised it.
class MpiProcess {
 public:
  static MpiProcess& get() {
    static MpiProcess process;
    return process;
  }

  void ensure_initialised() {
    const std::lock_guard<std::mutex> lock(mutex_);
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    STRATA_CHECK(!finalised, CollectiveError, "mpi: MPI was already finalised in this process");
    if (initialised) return;
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    STRATA_CHECK(rc == MPI_SUCCESS, CollectiveError, "mpi: MPI_Init_thread failed: ", mpi_error_text(rc));
    owned_ = true;
  }

  void mark_broken() noexcept { broken_.store(true); }
  bool broken() const noexcept { return broken_.load(); }

  ~MpiProcess() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!owned_ || finalised) return;
    if (broken_.load()) {
      MPI_Abort(MPI_COMM_WORLD, 1);  // peers are gone or stuck: MPI_Finalize would wait for them
    } else {
      MPI_Finalize();
    }
  }

 private:
  MpiProcess() = default;
  std::mutex mutex_;
  bool owned_ = false;
  std::atomic<bool> broken_{false};
};

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return MPI_FLOAT;
    case DType::kFloat64:
      return MPI_DOUBLE;
    case DType::kInt32:
      return MPI_INT32_T;
    case DType::kInt64:
      return MPI_INT64_T;
    case DType::kUInt8:
      return MPI_UINT8_T;
    default:
      break;
  }
  STRATA_THROW(ValueError, "mpi: cannot reduce ", strata::dtype_name(dtype),
               " tensors (float32, float64, int32, int64 and uint8 only)");
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kMean:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_SUM;
}

template <class T>
void divide(void* data, std::size_t count, int by) {
  T* p = static_cast<T*>(data);
  for (std::size_t i = 0; i < count; ++i) p[i] = static_cast<T>(p[i] / static_cast<T>(by));
}

void divide_by(void* data, std::size_t count, DType dtype, int by) {
  switch (dtype) {
    case DType::kFloat32:
      divide<float>(data, count, by);
      break;
    case DType::kFloat64:
      divide<double>(data, count, by);
      break;
    case DType::kInt32:
      divide<std::int32_t>(data, count, by);
      break;
    case DType::kInt64:
      divide<std::int64_t>(data, count, by);
      break;
    case DType::kUInt8:
      divide<std::uint8_t>(data, count, by);
      break;
    default:
      break;
  }
}

// How long a "poll" wait polls MPI_Test without yielding the core.
constexpr long kSpinMs = 100;

// The "watchdog" mode's timer: one thread per process, armed around each blocking MPI call.
// It sleeps 50 ms at a time and ends the job when an armed call is past its deadline.
class Watchdog {
 public:
  static Watchdog& get() {
    static auto* dog = new Watchdog();  // never destroyed: its thread may outlive static destructors
    return *dog;
  }
  // Before a blocking call: `what` must outlive the call (a literal), `count` its size.
  void arm(const char* what, std::size_t count, double timeout, int rank, int size) noexcept {
    what_ = what;
    count_ = count;
    timeout_ = timeout;
    rank_ = rank;
    size_ = size;
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    const auto limit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout));
    deadline_.store((now + limit).count(), std::memory_order_release);
  }
  void disarm() noexcept { deadline_.store(0, std::memory_order_release); }

 private:
  Watchdog() {
    std::thread([this] { run(); }).detach();
  }
  [[noreturn]] void run() {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto deadline = deadline_.load(std::memory_order_acquire);
      if (deadline == 0 || std::chrono::steady_clock::now().time_since_epoch().count() < deadline) continue;
      // The calling thread is inside the MPI call (else it would have disarmed): its fields stand.
      std::fprintf(stderr,
                   "strata: CollectiveError: mpi (rank %d of %d): %s of %zu elements did not complete within %g s "
                   "(STRATA_COLLECTIVE_TIMEOUT): a peer died or stalled; ending the job\n",
                   rank_, size_, what_, count_, timeout_);
      std::fflush(stderr);
      MpiProcess::get().mark_broken();
      MPI_Abort(MPI_COMM_WORLD, 1);
      std::_Exit(1);  // MPI_Abort does not return; this keeps the guarantee if it did
    }
  }
  std::atomic<std::chrono::steady_clock::rep> deadline_{0};
  const char* what_ = "";
  std::size_t count_ = 0;
  double timeout_ = 0;
  int rank_ = 0;
  int size_ = 1;
};

// A request that completed when it was made (the "watchdog" mode's all_reduce_async).
class CompletedRequest final : public strata::CollectiveRequest {
 public:
  void wait() override {}
  bool test() override { return true; }
};

// Held by every MPI call the plugin makes (MPI_THREAD_SERIALIZED: never two at once, whichever
// threads make them). Never destroyed: the progress thread may outlive static destructors.
std::mutex& mpi_mutex() {
  static auto* m = new std::mutex();
  return *m;
}

// The progress thread: runs the queued MPI calls of every communicator that uses it, one at a
// time, in the order they were queued. Started on first use; never destroyed (it sleeps on
// its condition variable when idle, holding no MPI call, so the process exits around it).
class Progress {
 public:
  struct Job {
    std::function<void()> run;  // the MPI call(s); throws CollectiveError
    bool done = false;          // under Progress::mutex_
    std::exception_ptr error;   // set before done
  };

  static Progress& get() {
    static auto* progress = new Progress();
    return *progress;
  }

  std::shared_ptr<Job> submit(std::function<void()> run) {
    auto job = std::make_shared<Job>();
    job->run = std::move(run);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(job);
    }
    work_.notify_one();
    return job;
  }

  // Blocks until `job` has run; rethrows its error.
  void wait(const Job& job) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return job.done; });
    if (job.error) std::rethrow_exception(job.error);
  }
  bool done(const Job& job) {
    const std::lock_guard<std::mutex> lock(mutex_);
    return job.done;
  }

  // A blocking call: `run` on the calling thread when nothing is queued or running (no
  // hand-over), else queued behind the pending calls and waited for.
  void call(const std::function<void()>& run) {
    bool idle = false;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      idle = queue_.empty() && !running_;
    }
    if (idle) {
      const std::lock_guard<std::mutex> mpi(mpi_mutex());
      run();
      return;
    }
    const auto job = submit(run);
    wait(*job);
  }

  // Blocks until the queue is empty and nothing is running.
  void drain() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return queue_.empty() && !running_; });
  }

 private:
  Progress() {
    std::thread([this] { loop(); }).detach();
  }
  [[noreturn]] void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
        running_ = true;
      }
      std::exception_ptr error;
      try {
        const std::lock_guard<std::mutex> mpi(mpi_mutex());
        job->run();
      } catch (...) {
        error = std::current_exception();
      }
      job->run = nullptr;  // what it captured goes now, on this thread
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        job->error = error;
        job->done = true;
        running_ = false;
      }
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_;  // a job was queued
  std::condition_variable done_;  // a job finished
  std::deque<std::shared_ptr<Job>> queue_;
  bool running_ = false;
};

// A call queued on the progress thread. Destroyed before completion (after an exception
// elsewhere), it waits for the call: the buffers must outlive it.
class QueuedRequest final : public strata::CollectiveRequest {
 public:
  explicit QueuedRequest(std::shared_ptr<Progress::Job> job) : job_(std::move(job)) {}
  ~QueuedRequest() override {
    try {
      Progress::get().wait(*job_);
    } catch (...) {  // a failed call: the communicator is broken, and its error was (or is) reported elsewhere
    }
  }
  void wait() override { Progress::get().wait(*job_); }
  bool test() override {
    if (!Progress::get().done(*job_)) return false;
    Progress::get().wait(*job_);  // rethrows the call's error
    return true;
  }

 private:
  std::shared_ptr<Progress::Job> job_;
};

// The CPUs this process may run on (its affinity mask, as OpenMP sees them).
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int checked_count(std::size_t count, const char* what) {
  STRATA_CHECK(count <= static_cast<std::size_t>(INT_MAX), ValueError, "mpi: ", what, " of ", count,
               " elements exceeds MPI's int count; split it");
  return static_cast<int>(count);
}

class MpiCommunicator;

class MpiRequest final : public strata::CollectiveRequest {
 public:
  MpiRequest(MpiCommunicator* comm, MPI_Request request, std::string what, void* data, std::size_t count, DType dtype,
             bool mean)
      : comm_(comm),
        request_(request),
        what_(std::move(what)),
        data_(data),
        count_(count),
        dtype_(dtype),
        mean_(mean) {}
  ~MpiRequest() override;
  void wait() override;
  bool test() override;

 private:
  void finish();
  MpiCommunicator* comm_;
  MPI_Request request_;
  std::string what_;
  void* data_;
  std::size_t count_;
  DType dtype_;
  bool mean_;
  bool done_ = false;
};

// "1"/"on"/"true", "0"/"off"/"false" or "auto" (a JSON bool or number too): 1, 0, -1 (auto).
int progress_setting(const strata::CollectiveOptions& options) {
  std::string text = "auto";
  if (const char* env = std::getenv("STRATA_MPI_PROGRESS_THREAD"); env && *env) text = env;
  if (const strata::Config* p = strata::config::find_key(options.extra, "progress_thread")) {
    if (p->is_boolean()) return p->get<bool>() ? 1 : 0;
    if (p->is_number_integer() && (p->get<int>() == 0 || p->get<int>() == 1)) return p->get<int>();
    if (p->is_string()) text = p->get<std::string>();
  }
  if (text == "1" || text == "on" || text == "true") return 1;
  if (text == "0" || text == "off" || text == "false") return 0;
  STRATA_CHECK(text == "auto", ValueError, "mpi: the option 'progress_thread' (STRATA_MPI_PROGRESS_THREAD) is ",
               "'1', '0' or 'auto', got '", text, "'");
  return -1;
}

class MpiCommunicator final : public strata::Communicator {
 public:
  explicit MpiCommunicator(const strata::CollectiveOptions& options) : timeout_(options.timeout_seconds) {
    STRATA_CHECK(timeout_ > 0, ValueError, "mpi: the timeout must be positive, got ", timeout_);
    std::string wait = "watchdog";
    if (const char* env = std::getenv("STRATA_MPI_WAIT"); env && *env) wait = env;
    if (const strata::Config* w = strata::config::find_key(options.extra, "wait"); w && w->is_string()) {
      wait = w->get<std::string>();
    }
    STRATA_CHECK(wait == "watchdog" || wait == "poll", ValueError, "mpi: the option 'wait' (STRATA_MPI_WAIT) is ",
                 "'watchdog' or 'poll', got '", wait, "'");
    poll_ = wait == "poll";
    const int progress = progress_setting(options);
    MpiProcess::get().ensure_initialised();
    const std::lock_guard<std::mutex> mpi(mpi_mutex());
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    // The ranks on this machine (a collective call: every rank makes it, whatever its setting).
    MPI_Comm node = MPI_COMM_NULL;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    check(MPI_Comm_size(node, &local_ranks_), "MPI_Comm_size");
    MPI_Comm_free(&node);
    int provided = MPI_THREAD_SINGLE;
    check(MPI_Query_thread(&provided), "MPI_Query_thread");
    if (provided >= MPI_THREAD_SERIALIZED) {
      if (progress == 1) {
        threaded_ = true;
      } else if (progress < 0) {
        const int cpus = usable_cpus(), per_rank = strata::num_threads();
        threaded_ = per_rank > 0 && cpus > local_ranks_ * per_rank;  // a spare core per rank
      }
    }
  }
  ~MpiCommunicator() override {
    if (threaded_) Progress::get().drain();  // a request that outlived the strategy
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised && !MpiProcess::get().broken()) {
      const std::lock_guard<std::mutex> mpi(mpi_mutex());
      MPI_Comm_free(&comm_);
    }
  }

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string device_type() const override { return "cpu"; }

  void all_reduce(void* data, std::size_t count, DType dtype, ReduceOp op) override {
    check_usable();
    const MPI_Datatype type = mpi_type(dtype);
    const int n = checked_count(count, "an all-reduce");
    run([=, this] { do_all_reduce(data, n, type, dtype, op); });
  }

  std::unique_ptr<strata::CollectiveRequest> all_reduce_async(void* data, std::size_t count, DType dtype,
                                                              ReduceOp op) override {
    check_usable();
    const MPI_Datatype type = mpi_type(dtype);
    const int n = checked_count(count, "an all-reduce");
    if (threaded_) {
      return std::make_unique<QueuedRequest>(Progress::get().submit([=, this] {
        check_usable();  // an earlier queued call may have failed
        do_all_reduce(data, n, type, dtype, op);
      }));
    }
    if (!poll_) {
      const std::lock_guard<std::mutex> mpi(mpi_mutex());
      do_all_reduce(data, n, type, dtype, op);
      return std::make_unique<CompletedRequest>();
    }
    MPI_Request request = MPI_REQUEST_NULL;
    {
      const std::lock_guard<std::mutex> mpi(mpi_mutex());
      check(MPI_Iallreduce(MPI_IN_PLACE, data, n, type, mpi_op(op), comm_, &request), "MPI_Iallreduce");
    }
    return std::make_unique<MpiRequest>(this, request, all_reduce_text(count, dtype, op), data, count, dtype,
                                        op == ReduceOp::kMean);
  }

  void broadcast(void* data, std::size_t bytes, int root) override {
    check_usable();
    STRATA_CHECK(root >= 0 && root < size_, ValueError, "mpi: broadcast root ", root, " is not a rank of ", size_);
    const int n = checked_count(bytes, "a broadcast");
    run([=, this] {
      if (!poll_) {
        Watchdog::get().arm("a broadcast (bytes)", bytes, timeout_, rank_, size_);
        const int rc = MPI_Bcast(data, n, MPI_BYTE, root, comm_);
        Watchdog::get().disarm();
        check(rc, "MPI_Bcast");
        return;
      }
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Ibcast(data, n, MPI_BYTE, root, comm_, &request), "MPI_Ibcast");
      poll(request, strata::detail::concat("a broadcast of ", bytes, " bytes from rank ", root));
    });
  }

  void all_gather(const void* send, void* recv, std::size_t bytes) override {
    check_usable();
    const int n = checked_count(bytes, "an all-gather");
    run([=, this] {
      if (!poll_) {
        Watchdog::get().arm("an all-gather (bytes per rank)", bytes, timeout_, rank_, size_);
        const int rc = MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, comm_);
        Watchdog::get().disarm();
        check(rc, "MPI_Allgather");
        return;
      }
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Iallgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, comm_, &request), "MPI_Iallgather");
      poll(request, strata::detail::concat("an all-gather of ", bytes, " bytes per rank"));
    });
  }

  void barrier() override {
    check_usable();
    run([this] {
      if (!poll_) {
        Watchdog::get().arm("a barrier", 0, timeout_, rank_, size_);
        const int rc = MPI_Barrier(comm_);
        Watchdog::get().disarm();
        check(rc, "MPI_Barrier");
        return;
      }
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
      poll(request, "a barrier");
    });
  }

  [[noreturn]] void abort(const std::string& message) override {
    std::fprintf(stderr, "strata: mpi rank %d aborts the job: %s\n", rank_, message.c_str());
    std::fflush(stderr);
    MpiProcess::get().mark_broken();
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] true if it did
  }

  // Polls `request` until done; CollectiveError (and a broken MPI) after the timeout. The
  // caller holds mpi_mutex().
  void poll(MPI_Request& request, const std::string& what) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_));
    int spins = 0;
    for (;;) {
      int done = 0;
      const int rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (rc != MPI_SUCCESS) fail(what, ": ", mpi_error_text(rc));
      if (done) return;
      if (clock::now() >= deadline) {
        fail(what, " did not complete within ", timeout_, " s (STRATA_COLLECTIVE_TIMEOUT): a peer died or stalled");
      }
      // No sleeping: Open MPI progresses a non-blocking collective only inside MPI calls
      // (each MPI_Test moves a large reduction by about one fragment), so any sleep between
      // tests is paid once per fragment. Poll as MPI_Allreduce itself does (it busy-polls
      // its progress engine); after the first polls yield the core between tests, so that a
      // peer or the other ranks of an oversubscribed machine run (Open MPI's
      // mpi_yield_when_idle). A stalled peer thus costs this rank one core's polling until
      // the timeout, as a blocking MPI_Allreduce would (forever).
      if (++spins > 64 && clock::now() - start > std::chrono::milliseconds(kSpinMs)) std::this_thread::yield();
    }
  }

  // The calling thread's wait for a "poll" request (no progress thread).
  void wait(MPI_Request& request, const std::string& what) {
    const std::lock_guard<std::mutex> mpi(mpi_mutex());
    poll(request, what);
  }

  bool test(MPI_Request& request, const std::string& what) {
    int done = 0;
    int rc = MPI_SUCCESS;
    {
      const std::lock_guard<std::mutex> mpi(mpi_mutex());
      rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    }
    if (rc != MPI_SUCCESS) fail(what, ": ", mpi_error_text(rc));
    return done != 0;
  }

  template <class... Parts>
  [[noreturn]] void fail(const Parts&... parts) {
    MpiProcess::get().mark_broken();
    STRATA_THROW(CollectiveError, "mpi (rank ", rank_, " of ", size_, "): ", parts...);
  }

 private:
  // A blocking call's MPI work: through the progress thread when this communicator uses it,
  // else on this thread; either way under mpi_mutex().
  void run(const std::function<void()>& work) {
    if (threaded_) {
      Progress::get().call(work);
      return;
    }
    const std::lock_guard<std::mutex> mpi(mpi_mutex());
    work();
  }

  // The all-reduce itself, blocking; the caller holds mpi_mutex().
  void do_all_reduce(void* data, int n, MPI_Datatype type, DType dtype, ReduceOp op) {
    const auto count = static_cast<std::size_t>(n);
    if (poll_) {
      MPI_Request request = MPI_REQUEST_NULL;
      check(MPI_Iallreduce(MPI_IN_PLACE, data, n, type, mpi_op(op), comm_, &request), "MPI_Iallreduce");
      poll(request, all_reduce_text(count, dtype, op));
    } else {
      Watchdog::get().arm("an all-reduce", count, timeout_, rank_, size_);
      const int rc = MPI_Allreduce(MPI_IN_PLACE, data, n, type, mpi_op(op), comm_);
      Watchdog::get().disarm();
      check(rc, "MPI_Allreduce");
    }
    if (op == ReduceOp::kMean) divide_by(data, count, dtype, size_);
  }

  static std::string all_reduce_text(std::size_t count, DType dtype, ReduceOp op) {
    return strata::detail::concat("an all-reduce (", reduce_op_name(op), ") of ", count, " ",
                                  strata::dtype_name(dtype), " elements");
  }

  void check(int rc, const char* call) {
    if (rc != MPI_SUCCESS) fail(call, " failed: ", mpi_error_text(rc));
  }
  void check_usable() {
    STRATA_CHECK(!MpiProcess::get().broken(), CollectiveError, "mpi (rank ", rank_, " of ", size_,
                 "): an earlier collective failed; the job cannot continue");
  }

  double timeout_;
  bool poll_ = false;      // the "poll" wait mode (else "watchdog")
  bool threaded_ = false;  // the MPI calls are made by the progress thread
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_ranks_ = 1;  // the ranks on this machine
};

MpiRequest::~MpiRequest() {
  // A request abandoned while in flight (after an exception elsewhere) cannot be cancelled
  // portably; the communicator is broken then, and MPI is aborted at exit.
  if (!done_ && request_ != MPI_REQUEST_NULL) MpiProcess::get().mark_broken();
}

void MpiRequest::finish() {
  done_ = true;
  if (mean_) divide_by(data_, count_, dtype_, comm_->size());
}

void MpiRequest::wait() {
  if (done_) return;
  comm_->wait(request_, what_);
  finish();
}

bool MpiRequest::test() {
  if (done_) return true;
  if (!comm_->test(request_, what_)) return false;
  finish();
  return true;
}

}  // namespace

namespace strata::mpi {

std::shared_ptr<Communicator> make_communicator(const CollectiveOptions& options) {
  return std::make_shared<MpiCommunicator>(options);
}

}  // namespace strata::mpi
