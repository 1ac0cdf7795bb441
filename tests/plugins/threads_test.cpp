// Thread settings (strata/threads.hpp, issue 22): the API's levels, the backend-onednn
// governor's decision logic with made-up measurements, and what the backend does with a
// setting, observed in a fresh child process (this program re-executed with one test
// selected): whether OpenMP worker threads come into existence.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "sanitizers.hpp"
#include "../../plugins/backend-onednn/src/governor.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/strata.hpp"
#include "strata/threads.hpp"

namespace {

using strata::onednn::GovernorConfig;
using strata::onednn::GovernorLogic;
using strata::onednn::ThreadSample;

constexpr std::int64_t kMs = 1'000'000;

GovernorConfig two_threads() {
  GovernorConfig c;
  c.max_threads = 2;
  return c;
}

// ---- the governor's decisions ----------------------------------------------------------
// Made-up readings: ThreadSample{run, wait} is one thread's counter growth since the
// previous reading; the first reading of a process is a baseline (no samples).

// The readings of a steadily working team: each thread runnable for most of the elapsed time.
const ThreadSample kQuiet{8 * kMs, 0}, kBusy{4 * kMs, 4 * kMs};

TEST(Governor, QuietSamplesKeepTheWholeTeam) {
  GovernorLogic g(two_threads());
  EXPECT_EQ(g.team(), 2);
  g.on_due(0, {});  // the first reading: a baseline, judged by a quick sample
  EXPECT_EQ(g.team(), 2);
  EXPECT_EQ(g.due_ns(), 10 * kMs);
  g.on_due(10 * kMs, {kQuiet, {7 * kMs, 1 * kMs}});
  EXPECT_EQ(g.team(), 2);
  EXPECT_FALSE(g.in_trial());
  EXPECT_EQ(g.due_ns(), 210 * kMs);  // then the regular interval
  g.on_due(210 * kMs, {{190 * kMs, 5 * kMs}, {180 * kMs, 10 * kMs}});
  EXPECT_EQ(g.team(), 2);
  EXPECT_EQ(g.due_ns(), 410 * kMs);
}

TEST(Governor, AThreadWaitingForACoreShrinksTheTeamThenAQuickTrialRestoresIt) {
  GovernorLogic g(two_threads());
  g.on_due(0, {});
  // Thread 1 waited as long as it ran: it shares its core with another busy thread.
  g.on_due(10 * kMs, {kQuiet, kBusy});
  EXPECT_EQ(g.team(), 1);
  EXPECT_EQ(g.due_ns(), 10 * kMs + 1000 * kMs);  // the first back-off: 1 s
  // Back-off over: a trial with the whole team; this reading is its baseline (the shrunk
  // team's counters say nothing about the thread it left out).
  const std::int64_t t1 = g.due_ns();
  g.on_due(t1, {{900 * kMs, 0}});
  EXPECT_EQ(g.team(), 2);
  EXPECT_TRUE(g.in_trial());
  EXPECT_EQ(g.due_ns(), t1 + 10 * kMs);  // judged after 10 ms, not after a long trial
  // The trial finds the machine quiet again: steady with the whole team.
  g.on_due(g.due_ns(), {kQuiet, kQuiet});
  EXPECT_EQ(g.team(), 2);
  EXPECT_FALSE(g.in_trial());
}

TEST(Governor, ATrialOnAStillBusyMachineEndsAfterOneQuickSample) {
  GovernorLogic g(two_threads());
  g.on_due(0, {});
  g.on_due(10 * kMs, {kQuiet, kBusy});
  ASSERT_EQ(g.team(), 1);
  const std::int64_t t1 = g.due_ns();
  g.on_due(t1, {});
  ASSERT_TRUE(g.in_trial());
  g.on_due(t1 + 10 * kMs, {kBusy, kQuiet});
  EXPECT_EQ(g.team(), 1);
  EXPECT_FALSE(g.in_trial());
  EXPECT_EQ(g.due_ns(), t1 + 10 * kMs + 2000 * kMs);  // confirmed: the back-off doubles
}

TEST(Governor, ConfirmedContentionDoublesTheBackOffUpToTheCap) {
  GovernorConfig c = two_threads();
  c.first_backoff_ns = 1000 * kMs;
  c.max_backoff_ns = 4000 * kMs;
  GovernorLogic g(c);
  std::int64_t now = 0;
  g.on_due(now, {});
  now = g.due_ns();
  g.on_due(now, {kQuiet, kBusy});
  ASSERT_EQ(g.team(), 1);
  std::vector<std::int64_t> backoffs;
  for (int i = 0; i < 4; ++i) {
    const std::int64_t shrunk_at = now;
    now = g.due_ns();
    backoffs.push_back(now - shrunk_at);
    g.on_due(now, {});  // trial starts
    ASSERT_EQ(g.team(), 2);
    now = g.due_ns();
    g.on_due(now, {kQuiet, kBusy});  // trial confirms
    ASSERT_EQ(g.team(), 1);
  }
  EXPECT_EQ(backoffs, (std::vector<std::int64_t>{1000 * kMs, 2000 * kMs, 4000 * kMs, 4000 * kMs}));
  // A quiet trial resets the back-off.
  g.on_due(g.due_ns(), {});
  g.on_due(g.due_ns(), {kQuiet, kQuiet});
  EXPECT_EQ(g.team(), 2);
  now = g.due_ns();
  g.on_due(now, {{150 * kMs, 10 * kMs}, {100 * kMs, 100 * kMs}});
  ASSERT_EQ(g.team(), 1);
  EXPECT_EQ(g.due_ns() - now, 1000 * kMs);
}

TEST(Governor, AfterAPauseTheReadingIsABaselineForTheWorkRunningNow) {
  // Work in bursts: an idle burst, seconds of nothing, then a burst on a busy machine.
  GovernorLogic g(two_threads());
  g.on_due(0, {});
  g.on_due(10 * kMs, {kQuiet, kQuiet});
  ASSERT_EQ(g.team(), 2);
  // 3 s later: the counters grew by the rest of the first burst (40 ms of work, some of
  // it waiting): that was earlier work, not a decision about the work starting now.
  g.on_due(3000 * kMs, {{20 * kMs, 20 * kMs}, {30 * kMs, 10 * kMs}});
  EXPECT_EQ(g.team(), 2);
  EXPECT_EQ(g.due_ns(), 3010 * kMs);
  // 10 ms into the burst: the waits decide.
  g.on_due(3010 * kMs, {kQuiet, kBusy});
  EXPECT_EQ(g.team(), 1);
  // The same for a burst that runs while the back-off is over: the trial's baseline, its
  // quick sample, and back to one thread.
  g.on_due(9000 * kMs, {{2 * kMs, 0}});
  ASSERT_TRUE(g.in_trial());
  g.on_due(9010 * kMs, {kBusy, kBusy});
  EXPECT_EQ(g.team(), 1);
  EXPECT_FALSE(g.in_trial());
}

TEST(Governor, LongOpsAreNotAPause) {
  // One op of 300 ms: the sample is late, but the team worked all along.
  GovernorLogic g(two_threads());
  g.on_due(0, {});
  g.on_due(10 * kMs, {kQuiet, kQuiet});
  ASSERT_EQ(g.team(), 2);
  g.on_due(510 * kMs, {{300 * kMs, 200 * kMs}, {250 * kMs, 250 * kMs}});
  EXPECT_EQ(g.team(), 1);
  // Activity at the threshold (a quarter of the elapsed time) is judged too.
  GovernorLogic h(two_threads());
  h.on_due(0, {});
  h.on_due(10 * kMs, {kQuiet, kQuiet});
  h.on_due(410 * kMs, {{50 * kMs, 50 * kMs}, {10 * kMs, 0}});
  EXPECT_EQ(h.team(), 1);
}

TEST(Governor, TooLittleWorkIsNoEvidence) {
  GovernorLogic g(two_threads());
  g.on_due(0, {});
  // Below min_run_ns (2 ms) of runnable time: even a 90% wait share decides nothing.
  g.on_due(10 * kMs, {{100'000, 900'000}, {50'000, 0}});
  EXPECT_EQ(g.team(), 2);
  EXPECT_EQ(g.due_ns(), 20 * kMs);  // no decision yet: another quick sample
  // A trial without evidence goes on instead of deciding.
  g.on_due(20 * kMs, {kQuiet, kBusy});
  ASSERT_EQ(g.team(), 1);
  g.on_due(g.due_ns(), {});
  ASSERT_TRUE(g.in_trial());
  const std::int64_t t = g.due_ns();
  g.on_due(t, {{1000, 0}});
  EXPECT_TRUE(g.in_trial());
  EXPECT_EQ(g.team(), 2);
  EXPECT_EQ(g.due_ns(), t + g.config().quick_sample_ns);
}

TEST(Governor, ShrinksByTheContendedThreadsAndNeverBelowOne) {
  GovernorConfig c;
  c.max_threads = 8;
  GovernorLogic g(c);
  g.on_due(0, {});
  g.on_due(10 * kMs, {kQuiet, kBusy, kQuiet, kBusy, kBusy, kQuiet, kQuiet, kQuiet});
  EXPECT_EQ(g.team(), 5);
  GovernorLogic all(c);
  all.on_due(0, {});
  all.on_due(10 * kMs, std::vector<ThreadSample>(8, kBusy));
  EXPECT_EQ(all.team(), 1);
  // The threshold is the wait share: 25% by default.
  GovernorLogic edge(two_threads());
  edge.on_due(0, {});
  edge.on_due(10 * kMs, {{6 * kMs, 2 * kMs}, {8 * kMs, 0}});  // exactly 25%: not above
  EXPECT_EQ(edge.team(), 2);
  edge.on_due(210 * kMs, {{147 * kMs, 53 * kMs}, {20 * kMs, 0}});
  EXPECT_EQ(edge.team(), 1);
}

TEST(Governor, OneThreadTeamStaysOne) {
  GovernorConfig c;
  c.max_threads = 0;  // clamped
  GovernorLogic g(c);
  EXPECT_EQ(g.team(), 1);
  g.on_due(0, {});
  g.on_due(10 * kMs, {kBusy});
  EXPECT_EQ(g.team(), 1);
}

// ---- the API's levels ------------------------------------------------------------------

class ProcessSetting : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = strata::num_threads(); }
  void TearDown() override { strata::set_num_threads(saved_); }
  int saved_ = 0;
};

TEST_F(ProcessSetting, SetGetAndErrors) {
  strata::set_num_threads(3);
  EXPECT_EQ(strata::num_threads(), 3);
  EXPECT_EQ(strata::requested_num_threads(), 3);
  strata::set_num_threads(0);
  EXPECT_EQ(strata::num_threads(), 0);
  EXPECT_EQ(strata::requested_num_threads(), 0);
  EXPECT_THROW(strata::set_num_threads(-1), strata::ValueError);
  EXPECT_EQ(strata::num_threads(), 0);
}

TEST_F(ProcessSetting, ScopesNestAndWinOverTheProcessSettingOnTheirThreadOnly) {
  strata::set_num_threads(4);
  {
    strata::ThreadScope outer(2);
    EXPECT_EQ(strata::requested_num_threads(), 2);
    {
      strata::ThreadScope keep(0);  // 0: the enclosing setting stays
      EXPECT_EQ(strata::requested_num_threads(), 2);
      strata::ThreadScope inner(1);
      EXPECT_EQ(strata::requested_num_threads(), 1);
    }
    EXPECT_EQ(strata::requested_num_threads(), 2);
    int other = -1;
    std::thread([&] { other = strata::requested_num_threads(); }).join();
    EXPECT_EQ(other, 4);
  }
  EXPECT_EQ(strata::requested_num_threads(), 4);
  EXPECT_THROW(strata::ThreadScope bad(-2), strata::ValueError);
  EXPECT_EQ(strata::requested_num_threads(), 4);
}

// A subclassed model whose call records the setting its ops would see.
class Probe : public strata::Model {
 public:
  Probe() : Model("Probe") {}
  std::vector<strata::Tensor> call(const std::vector<strata::Tensor>& inputs,
                                   const strata::CallContext& /*ctx*/) const override {
    seen = strata::requested_num_threads();
    return {strata::relu(inputs[0])};
  }
  mutable int seen = -1;
};

TEST_F(ProcessSetting, AModelsSettingAppliesDuringItsCallsOnly) {
  auto model = std::make_shared<Probe>();
  const strata::Tensor x = strata::Tensor::from_vector<float>({1, -2, 3, -4}, strata::Shape{2, 2});
  EXPECT_EQ(strata::num_threads(*model), 0);
  strata::set_num_threads(*model, 1);
  EXPECT_EQ(strata::num_threads(*model), 1);
  strata::set_num_threads(3);
  (void)model->predict(x);
  EXPECT_EQ(model->seen, 1);
  (void)model->predict_on_batch({x});
  EXPECT_EQ(model->seen, 1);
  EXPECT_EQ(strata::requested_num_threads(), 3);  // restored after the call
  (void)(*model)({x});                            // a plain call is not one of the model's entry points
  EXPECT_EQ(model->seen, 3);
  {
    strata::ThreadScope scope(2);  // the caller's scope wins over the model's setting
    (void)model->predict(x);
    EXPECT_EQ(model->seen, 2);
  }
  strata::set_num_threads(*model, 0);  // back to the process setting
  (void)model->predict(x);
  EXPECT_EQ(model->seen, 3);
  EXPECT_THROW(strata::set_num_threads(*model, -1), strata::ValueError);
}

// ---- what the backend does, in a fresh process ------------------------------------------

int tasks() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

strata::Tensor filled(const strata::Shape& shape, float v) {
  return strata::Tensor::from_vector<float>(std::vector<float>(static_cast<std::size_t>(shape.num_elements()), v),
                                            shape);
}

// Runs this program with only `test` selected, STRATA_THREADS_CHILD set and no OpenMP or
// Strata thread variables (but those in `env`); returns its exit status (0: the child's
// expectations held). Its output goes to `output` (a file) when given.
int run_child(const std::string& test, const std::string& env = "", const std::string& output = "/dev/null") {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string cmd =
      "env -u OMP_NUM_THREADS -u STRATA_NUM_THREADS -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT STRATA_THREADS_CHILD=1 " +
      env + " '" + self + "' --gtest_filter=" + test + " > '" + output + "' 2>&1";
  return std::system(cmd.c_str());
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool in_child() {
  return std::getenv("STRATA_THREADS_CHILD") != nullptr;
}

// Big enough for every op to want a team on any machine with two cores or more.
void big_ops() {
  const strata::Tensor a = filled(strata::Shape{1024, 784}, 0.5f), w = filled(strata::Shape{784, 64}, 0.25f);
  const strata::Tensor y = strata::matmul(a, w);
  EXPECT_FLOAT_EQ(y.host_data<float>()[0], 784 * 0.125f);
  const strata::Tensor big = filled(strata::Shape{1 << 20}, 1.0f);
  const strata::Tensor s = strata::add(big, big);
  EXPECT_FLOAT_EQ(s.host_data<float>()[(1 << 20) - 1], 2.0f);
}

TEST(ThreadsChild, SmallOpsStartNoWorkerThread) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process (Threads.SmallOpsStartNoWorkerThread)";
  const strata::Tensor x = filled(strata::Shape{1, 784}, 0.5f), w = filled(strata::Shape{784, 64}, 0.25f);
  const strata::Tensor b = filled(strata::Shape{64}, 1.0f);
  (void)strata::relu(strata::add(strata::matmul(x, w), b));  // loads the backend
  const int before = tasks();
  for (int i = 0; i < 50; ++i) (void)strata::relu(strata::add(strata::matmul(x, w), b));
  EXPECT_EQ(tasks(), before);
}

TEST(ThreadsChild, OneThreadSettingStartsNoWorkerThread) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process (Threads.OneThreadSettingStartsNoWorkerThread)";
  strata::set_num_threads(1);
  const int before = tasks();
  big_ops();
  EXPECT_EQ(tasks(), before);
}

TEST(ThreadsChild, AModelsOneThreadSettingStartsNoWorkerThread) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process";
  strata::Tensor in = strata::Input(strata::Shape{784}, "x");
  strata::Tensor out = (*strata::make_layer("Dense", strata::Config{{"units", 64}}))(in);
  auto model = std::make_shared<strata::Functional>(std::vector<strata::Tensor>{in}, std::vector<strata::Tensor>{out});
  strata::set_num_threads(*model, 1);
  const int before = tasks();
  (void)model->predict(filled(strata::Shape{1024, 784}, 0.5f), 1024);
  EXPECT_EQ(tasks(), before);
}

TEST(ThreadsChild, BigOpsUseTheTeam) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process";
  const int before = tasks();
  big_ops();
  EXPECT_GT(tasks(), before);
}

TEST(ThreadsChild, TheWaitDefaultLeavesNoVariableBehind) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process";
  // The plugins are loaded (test_main's initialize) and libgomp with them.
  big_ops();
  EXPECT_EQ(std::getenv("GOMP_SPINCOUNT"), nullptr);
}

bool two_cores() {
  return std::thread::hardware_concurrency() >= 2;
}

TEST(Threads, SmallOpsStartNoWorkerThread) {
  if (!two_cores()) GTEST_SKIP() << "needs two cores";
  EXPECT_EQ(run_child("ThreadsChild.SmallOpsStartNoWorkerThread"), 0);
}

TEST(Threads, OneThreadSettingStartsNoWorkerThread) {
  if (!two_cores()) GTEST_SKIP() << "needs two cores";
  EXPECT_EQ(run_child("ThreadsChild.OneThreadSettingStartsNoWorkerThread"), 0);
  // The same through the environment variable: the check above is not vacuous.
  EXPECT_EQ(run_child("ThreadsChild.BigOpsUseTheTeam"), 0);
  EXPECT_NE(run_child("ThreadsChild.BigOpsUseTheTeam", "STRATA_NUM_THREADS=1"), 0);
}

TEST(Threads, AModelsOneThreadSettingStartsNoWorkerThread) {
  if (!two_cores()) GTEST_SKIP() << "needs two cores";
  EXPECT_EQ(run_child("ThreadsChild.AModelsOneThreadSettingStartsNoWorkerThread"), 0);
}

// Results do not depend on the thread count.
TEST(Threads, ResultsAreTheSameWithOneAndTwoThreads) {
  const strata::Tensor a = filled(strata::Shape{512, 300}, 0.0f);
  std::vector<float> av(512 * 300), wv(300 * 70);
  for (std::size_t i = 0; i < av.size(); ++i) av[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (std::size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<float>((i * 104729) % 997) / 997.0f - 0.5f;
  const strata::Tensor x = strata::Tensor::from_vector<float>(av, strata::Shape{512, 300});
  const strata::Tensor w = strata::Tensor::from_vector<float>(wv, strata::Shape{300, 70});
  std::vector<std::vector<float>> results;
  for (int n : {1, 2, 0}) {
    strata::ThreadScope scope(n);
    const strata::Tensor y = strata::relu(strata::add(strata::matmul(x, w), strata::matmul(x, w)));
    results.emplace_back(y.host_data<float>(), y.host_data<float>() + y.num_elements());
  }
  for (std::size_t r = 1; r < results.size(); ++r) {
    ASSERT_EQ(results[r].size(), results[0].size());
    for (std::size_t i = 0; i < results[0].size(); ++i) ASSERT_NEAR(results[r][i], results[0][i], 1e-4f) << i;
  }
}


TEST(Threads, TheWaitDefaultIsRemovedAfterLoadingAndAHostsOpenMPIsReportedTooLate) {
  EXPECT_EQ(run_child("ThreadsChild.TheWaitDefaultLeavesNoVariableBehind"), 0);
  const std::string out =
      (std::filesystem::temp_directory_path() / ("strata_threads_test_" + std::to_string(::getpid()) + ".log"))
          .string();
  // The plugin brings libgomp in: nothing to report.
  EXPECT_EQ(run_child("ThreadsChild.TheWaitDefaultLeavesNoVariableBehind", "STRATA_LOG_LEVEL=info", out), 0);
  EXPECT_EQ(read_text(out).find("already loaded by the host program"), std::string::npos) << read_text(out);
#ifndef STRATA_TEST_ASAN  // ASan's runtime must come first: no LD_PRELOAD there
  // A host that loaded libgomp itself: too late, said once at info level.
  EXPECT_EQ(run_child("ThreadsChild.TheWaitDefaultLeavesNoVariableBehind",
                      "STRATA_LOG_LEVEL=info LD_PRELOAD=libgomp.so.1", out),
            0);
  const std::string text = read_text(out);
  const auto first = text.find("already loaded by the host program");
  EXPECT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("already loaded by the host program", first + 1), std::string::npos) << text;
#endif
  std::filesystem::remove(out);
}

}  // namespace
