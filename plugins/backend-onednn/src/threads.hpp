// How many threads an op of the backend-onednn plugin uses (issue 22): the calling
// thread's Strata setting (strata/threads.hpp) when it names a number, otherwise the
// governor's team (governor.hpp), which is OpenMP's maximum while the machine has cores to
// spare and fewer while other work keeps them busy. Inside a parallel region (a host's own
// OpenMP, or a nested call) an op always runs on the calling thread.
//
// oneDNN (2.6, OpenMP runtime) sizes its parallel regions from omp_get_max_threads() of
// the calling thread, when a primitive is created and when it runs; OmpThreads sets that
// per-thread value around both (dnnl_util.cpp), so one process-wide OpenMP setting never
// has to change.
#pragma once

#include <cstdint>

namespace strata::onednn {

// The team size for ops starting now on the calling thread: >= 1; 1 inside a parallel
// region. Cheap: no system call, no lock.
int team_threads();

// Called when an op whose work is big enough for a team starts (whatever the team's size
// now): lets the governor take its sample when one is due (every ~200 ms: a tiny parallel
// region reading each team thread's /proc/thread-self/schedstat) or end a back-off. Ops
// too small for a team never call it, so a process whose ops are all small starts no
// OpenMP worker thread. Cheap otherwise: a coarse clock read.
void before_region();

// Sets the calling thread's OpenMP thread count (omp_set_num_threads) to n while it lives
// and restores the previous value; does nothing when the value is already n.
class OmpThreads {
 public:
  explicit OmpThreads(int n);
  ~OmpThreads();
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace strata::onednn
