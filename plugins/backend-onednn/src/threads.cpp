#include "threads.hpp"

#include <fcntl.h>
#include <omp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "governor.hpp"
#include "strata/log.hpp"
#include "strata/threads.hpp"

namespace strata::onednn {
namespace {

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO, a few ns; ~4 ms resolution is plenty
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The calling thread's time on a CPU and time waiting on a run queue (ns), from
// /proc/thread-self/schedstat ("<run> <wait> <timeslices>"). False where it cannot be read
// (no /proc, a kernel without schedstats).
bool read_schedstat(std::int64_t* run_ns, std::int64_t* wait_ns) {
  const int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  char* end = nullptr;
  const long long run = std::strtoll(buf, &end, 10);
  if (end == buf) return false;
  char* end2 = nullptr;
  const long long wait = std::strtoll(end, &end2, 10);
  if (end2 == end) return false;
  *run_ns = run;
  *wait_ns = wait;
  return true;
}

// The process's governor: GovernorLogic fed with samples of the team's schedstat counters,
// taken in a tiny parallel region when a sample is due. Ops read the team size without a
// lock; one thread at a time takes a sample (others keep the current size meanwhile).
class Governor {
 public:
  Governor() : logic_(make_config()) {
    enabled_ = logic_.config().max_threads > 1 && std::getenv("OMP_NUM_THREADS") == nullptr;
    team_.store(logic_.config().max_threads, std::memory_order_relaxed);
    if (enabled_) {
      std::int64_t run = 0, wait = 0;
      enabled_ = read_schedstat(&run, &wait);
      if (!enabled_) {
        log_info(
            "backend-onednn: /proc/thread-self/schedstat cannot be read: the thread count does not adapt "
            "to a busy machine");
      }
    }
  }

  int team() const noexcept { return team_.load(std::memory_order_relaxed); }

  void before_region() {
    if (!enabled_) return;
    const std::int64_t now = now_ns();
    if (now >= due_.load(std::memory_order_relaxed)) tick(now);
  }

 private:
  struct Reading {
    long tid = -1;
    bool ok = false;
    std::int64_t run = 0, wait = 0;
  };

  static GovernorConfig make_config() {
    GovernorConfig c;
    c.max_threads = omp_get_max_threads();
    return c;
  }

  void tick(std::int64_t now) {
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock() || now < logic_.due_ns()) return;
    const std::vector<ThreadSample> samples = sample();  // in the shrunk state: a trial's baseline
    const int before = logic_.team();
    logic_.on_due(now, samples);
    if (logic_.team() != before) {
      std::string shares;  // each sampled thread's share of runnable time spent waiting for a core
      for (const ThreadSample& t : samples) {
        const std::int64_t total = t.run_ns + t.wait_ns;
        shares += (shares.empty() ? "" : ", ") +
                  (total > 0 ? std::to_string(static_cast<int>(100.0 * static_cast<double>(t.wait_ns) /
                                                               static_cast<double>(total))) +
                                   "%"
                             : std::string("-"));
      }
      log_debug("backend-onednn: ops now use ", logic_.team(), " thread(s) of ", logic_.config().max_threads,
                logic_.in_trial()        ? " (trial)"
                : logic_.team() < before ? " (cores busy with other work)"
                                         : "",
                (shares.empty() || logic_.in_trial()) ? "" : "; waiting for a core: ",
                logic_.in_trial() ? std::string() : shares);
    }
    team_.store(logic_.team(), std::memory_order_relaxed);
    due_.store(logic_.due_ns(), std::memory_order_relaxed);
  }

  // Growth of each team thread's counters since the previous sample; a thread seen for
  // the first time (or a different OS thread in its slot) gives no sample.
  std::vector<ThreadSample> sample() {
    const int n = logic_.config().max_threads;
    std::vector<Reading> now(static_cast<std::size_t>(n));
#pragma omp parallel num_threads(n)
    {
      Reading& r = now[static_cast<std::size_t>(omp_get_thread_num())];
      r.tid = static_cast<long>(::syscall(SYS_gettid));
      r.ok = read_schedstat(&r.run, &r.wait);
    }
    std::vector<ThreadSample> out;
    if (previous_.size() == now.size()) {
      for (std::size_t i = 0; i < now.size(); ++i) {
        const Reading &a = previous_[i], &b = now[i];
        if (!a.ok || !b.ok || a.tid != b.tid) continue;
        out.push_back({b.run - a.run, b.wait - a.wait});
      }
    }
    previous_ = std::move(now);
    return out;
  }

  GovernorLogic logic_;  // guarded by mutex_
  bool enabled_ = false;
  std::mutex mutex_;
  std::vector<Reading> previous_;  // guarded by mutex_
  std::atomic<int> team_{1};
  std::atomic<std::int64_t> due_{0};
};

Governor& governor() {
  static Governor* g = new Governor();  // leaked: ops may run during static destruction
  return *g;
}

}  // namespace

int team_threads() {
  if (omp_in_parallel()) return 1;
  const int requested = requested_num_threads();
  if (requested > 0) return requested;
  return governor().team();
}

void before_region() {
  if (requested_num_threads() == 0) governor().before_region();
}

OmpThreads::OmpThreads(int n) : previous_(omp_get_max_threads()) {
  if (n != previous_) omp_set_num_threads(n);
}

OmpThreads::~OmpThreads() {
  if (omp_get_max_threads() != previous_) omp_set_num_threads(previous_);
}

}  // namespace strata::onednn
