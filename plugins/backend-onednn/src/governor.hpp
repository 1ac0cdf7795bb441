// The decision logic of the backend's thread governor: how many threads an op's OpenMP
// team gets when the thread count is automatic (strata/threads.hpp), from measurements of
// the team's threads. Pure logic, no OpenMP and no clock: threads.cpp feeds it real
// measurements, tests feed it made-up ones.
//
// The measurement: for each thread of the team, the growth of its scheduler counters
// (/proc/thread-self/schedstat: time on a CPU, time waiting on a run queue) since the
// previous sample. A thread that spends a good part of its runnable time waiting for a
// CPU shares its core with another busy thread (another process, or another team): every
// parallel region then waits for it at the barrier, so the team is better off without
// it. The governor starts with the whole team; when a sample says k threads are
// contended it shrinks the team to (team - k), at least 1; a shrunk team cannot observe
// the threads it left out, so after a back-off it runs a trial with the whole team and
// samples again, doubling the back-off each time the trial confirms the contention (up
// to a cap) and resetting it when the machine is quiet again.
//
// Work often comes in bursts (a request, a batch of calls, then nothing for a while), and
// a burst can be shorter than the regular sample interval. So a sample whose counters show
// that the team mostly slept since the previous one (a pause: the busiest thread was
// runnable for less than `min_activity` of the time) is not judged: it only becomes the
// baseline for a quick sample (`quick_sample_ns`) of the work that runs now. The same quick
// sample follows the first reading and the start of a trial, so a trial with the whole
// team on a machine that is still busy ends after ~10 ms, not after the burst.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace strata::onednn {

struct GovernorConfig {
  int max_threads = 1;                            // the whole team (OpenMP's maximum)
  double contended_fraction = 0.25;               // wait / (wait + run) above which a thread is contended
  std::int64_t min_run_ns = 2'000'000;            // less CPU time than this in a sample: no evidence
  std::int64_t sample_interval_ns = 200'000'000;  // between samples of a full team working steadily
  std::int64_t quick_sample_ns = 10'000'000;      // after a baseline: the first reading, a pause, a trial's start
  double min_activity = 0.25;                     // busiest thread's (run + wait) / elapsed below this: a pause
  std::int64_t first_backoff_ns = 1'000'000'000;  // shrunk this long before the first trial
  std::int64_t max_backoff_ns = 16'000'000'000;   // the longest back-off
};

// Growth of one thread's scheduler counters over a sample.
struct ThreadSample {
  std::int64_t run_ns = 0;   // on a CPU
  std::int64_t wait_ns = 0;  // runnable, waiting for a CPU
};

class GovernorLogic {
 public:
  explicit GovernorLogic(GovernorConfig config) : c_(config) {
    c_.max_threads = std::max(1, c_.max_threads);
    team_ = c_.max_threads;
    backoff_ns_ = c_.first_backoff_ns;
  }

  // The team size for ops starting now.
  int team() const noexcept { return team_; }
  const GovernorConfig& config() const noexcept { return c_; }
  // When the next sample (or the end of a back-off) is due; call on_due then.
  std::int64_t due_ns() const noexcept { return due_ns_; }
  bool in_trial() const noexcept { return state_ == State::kTrial; }

  // Called once `now_ns` >= due_ns(), with a fresh reading of the team's counters:
  // `samples` has one entry per thread of the team that was also read at the previous call
  // (empty at the first call). In the shrunk state the reading is only a baseline.
  void on_due(std::int64_t now_ns, const std::vector<ThreadSample>& samples) {
    const std::int64_t elapsed = previous_ns_ < 0 ? -1 : now_ns - previous_ns_;
    previous_ns_ = now_ns;
    switch (state_) {
      case State::kShrunk:
        // Back-off over: try the whole team again, judged on a quick sample.
        state_ = State::kTrial;
        team_ = c_.max_threads;
        due_ns_ = now_ns + c_.quick_sample_ns;
        return;
      case State::kSteady:
      case State::kTrial: {
        if (elapsed < 0 || paused(samples, elapsed)) {
          // The first reading, or the team mostly slept since the previous one: the
          // counters describe earlier work. A baseline for the work running now.
          due_ns_ = now_ns + c_.quick_sample_ns;
          return;
        }
        bool evidence = false;
        const int contended = count_contended(samples, &evidence);
        if (!evidence) {
          // Too little work ran to tell: keep the team and look again later (a trial
          // continues until it has seen enough).
          due_ns_ = now_ns + (state_ == State::kTrial || !decided_ ? c_.quick_sample_ns : c_.sample_interval_ns);
          return;
        }
        decided_ = true;
        if (contended == 0) {
          state_ = State::kSteady;
          team_ = c_.max_threads;
          backoff_ns_ = c_.first_backoff_ns;
          due_ns_ = now_ns + c_.sample_interval_ns;
          return;
        }
        if (state_ == State::kTrial) {
          backoff_ns_ = std::min(c_.max_backoff_ns, backoff_ns_ * 2);
        }
        state_ = State::kShrunk;
        team_ = std::max(1, c_.max_threads - contended);
        due_ns_ = now_ns + backoff_ns_;
        return;
      }
    }
  }

  // Whether the team mostly slept over `elapsed` ns: its busiest thread was runnable
  // (running or waiting for a CPU) less than min_activity of the time. Only a sample
  // longer than two quick samples can be a pause (a quick sample after a baseline is
  // judged on whatever ran in it).
  bool paused(const std::vector<ThreadSample>& samples, std::int64_t elapsed) const {
    if (elapsed <= 2 * c_.quick_sample_ns) return false;
    std::int64_t busiest = 0;
    for (const ThreadSample& s : samples) busiest = std::max(busiest, s.run_ns + s.wait_ns);
    return static_cast<double>(busiest) < c_.min_activity * static_cast<double>(elapsed);
  }

  // Threads whose wait share is above the threshold, among those with enough CPU time to
  // judge; *evidence: whether any thread had enough.
  int count_contended(const std::vector<ThreadSample>& samples, bool* evidence) const {
    int contended = 0;
    *evidence = false;
    for (const ThreadSample& s : samples) {
      if (s.run_ns + s.wait_ns < c_.min_run_ns) continue;
      *evidence = true;
      const double share = static_cast<double>(s.wait_ns) / static_cast<double>(s.run_ns + s.wait_ns);
      if (share > c_.contended_fraction) ++contended;
    }
    return contended;
  }

 private:
  enum class State { kSteady, kShrunk, kTrial };
  GovernorConfig c_;
  State state_ = State::kSteady;
  bool decided_ = false;  // a sample had evidence once: the process's first decision is made
  int team_ = 1;
  std::int64_t due_ns_ = 0;
  std::int64_t previous_ns_ = -1;  // time of the previous reading; -1: none yet
  std::int64_t backoff_ns_ = 0;
};

}  // namespace strata::onednn
