// The OpenMP wait default the runtime sets before loading plugins (issue 22): GNU OpenMP
// (libgomp) reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it is loaded, and by
// default spins for up to 300,000 iterations at every barrier and at the end of every
// parallel region, which on a machine whose cores are busy with other processes spins a
// whole time slice away per op. Unless the user chose (either variable is set), the
// runtime sets GOMP_SPINCOUNT to kDefaultSpinCount while it loads a plugin, so a plugin
// that brings libgomp in gets bounded waits: a short spin (a few microseconds, enough for
// back-to-back ops on an idle machine), then sleeping. The variable is removed again after
// the load, so the host's child processes inherit the host's own environment.
#pragma once

namespace strata {
class Model;
}

namespace strata::detail {

// Iterations of libgomp's spin loop (one `pause` instruction each) before a waiting
// thread sleeps.
inline constexpr const char* kDefaultSpinCount = "1000";

// Sets the default around the dynamic loading of one plugin; restores the environment
// when destroyed. Does nothing when the user chose a wait policy or libgomp is already
// loaded; the latter, when the user did not choose, is logged once at info level
// (it is too late: the host's OpenMP settings apply).
class OpenMpWaitDefault {
 public:
  OpenMpWaitDefault();
  ~OpenMpWaitDefault();
  OpenMpWaitDefault(const OpenMpWaitDefault&) = delete;
  OpenMpWaitDefault& operator=(const OpenMpWaitDefault&) = delete;

 private:
  bool set_ = false;
};

// Drops a model's thread setting (strata/threads.hpp); called when the model is destroyed,
// so a later model at the same address does not inherit it.
void forget_model_threads(const Model* model) noexcept;

// The number a model's call sets on the calling thread (ThreadScope): the model's setting,
// or 0 (nothing) when the thread already has a ThreadScope with a number, which wins.
int model_call_threads(const Model& model) noexcept;

// Whether the user chose a wait policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT is set and not
// empty).
bool openmp_wait_policy_chosen() noexcept;
// Whether libgomp is loaded in this process.
bool libgomp_loaded() noexcept;

}  // namespace strata::detail
