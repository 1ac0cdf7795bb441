// Intra-op threads: how many threads one op (a kernel of a CPU backend) may use, like
// ONNX Runtime's intra_op_num_threads. Three levels, the innermost that is set wins:
//
//   ThreadScope scope(2);            this thread, until the scope ends (a call, a request)
//   set_num_threads(model, 2);       every predict/fit/evaluate/*_on_batch of that model
//   set_num_threads(2);              the process (STRATA_NUM_THREADS sets its start value)
//
// 0 means automatic, the default: the backend uses up to the cores OpenMP sees
// (OMP_NUM_THREADS, the process's CPU affinity), runs small ops on the calling thread, and
// uses fewer threads while other processes keep the cores busy (docs/PERFORMANCE.md,
// "Busy machines and threads"). A number n >= 1 caps every op at n threads (1: no
// parallel regions at all) and turns the adaptation off. A setting changes nothing that is
// already running; it takes effect from the next op on.
//
// Thread safety: every function may be called from any thread at any time.
#pragma once

#include "strata/export.hpp"

STRATA_API_BEGIN

namespace strata {

class Model;

// The process-wide setting: n >= 1 threads per op, 0 = automatic. ValueError for n < 0.
void set_num_threads(int n);
// The process-wide setting (0 = automatic): set_num_threads's last value, else
// STRATA_NUM_THREADS (a non-negative integer; anything else is ignored with a warning),
// else 0.
int num_threads() noexcept;

// A per-model setting, applied to the calling thread for the duration of each of the
// model's predict, predict_on_batch, fit, evaluate, train_on_batch and test_on_batch calls
// (unless a ThreadScope with a number is active there). 0 = the process setting (the
// default). ValueError for n < 0.
void set_num_threads(const Model& model, int n);
int num_threads(const Model& model) noexcept;

// Sets the calling thread's setting while it lives; n = 0 leaves the enclosing one in
// place. Scopes nest; destroy them in reverse order of creation on their own thread.
// ValueError for n < 0.
class ThreadScope {
 public:
  explicit ThreadScope(int n);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_;
};

// What a backend reads before each op: the calling thread's setting (an active
// ThreadScope's or model's number), else the process setting; 0 = automatic. Since ABI 2.5.
int requested_num_threads() noexcept;

}  // namespace strata

STRATA_API_END
