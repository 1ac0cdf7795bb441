// Data-parallel training over real Open MPI (issue 24), label `mpi`: jobs of 2 and 3 ranks
// (`mpirun -np N strata_mpi_worker`, one thread per rank) against the same training in this
// process on the same global batches (the oracle), a checkpoint written by the chief that
// resumes with 1 and 3 processes, and a killed worker that ends the job in bounded time. The
// key cases run with the "mpi" collective's calls on the calling thread and on its progress
// thread (STRATA_MPI_PROGRESS_THREAD=0/1; with the thread also under the eager train step,
// whose backward walk launches the buckets), and the overlap that thread gives is checked
// against the calling thread's. Plus, without MPI: the fused buckets' call count, through a
// counting collective this test registers.
//
// Tolerance. A replica's gradient is its shard's per-sample gradients summed (times
// 1/global batch); the all-reduce then adds the 2 or 3 partial sums. One process adds the
// same per-sample terms in one pass: the same terms, associated differently, so each
// gradient element differs by a few float32 roundings (relative ~1e-7 x the number of terms
// at worst, per step). The forward pass of one sample is computed the same way in both
// (row-wise), up to the matmul kernel's blocking for different batch heights. SGD (lr 0.05,
// momentum 0.9) turns a gradient error d into an update error of at most lr * d / (1 - 0.9),
// and the errors of the ~21 steps below add up: with |g| ~ 1 and d ~ 1e-6 (float32 sums of up
// to 32 terms), at most ~21 * 0.5 * 1e-6 = 1e-5 per weight, with the forward pass's own float32
// noise on top. We allow 2e-4 absolute on the weights (|w| ~ 0.1) and 1e-4 relative on the
// logged losses/accuracies: about 1000x the largest difference measured here (1.8e-7 with 2
// and 3 ranks, 7e-8 for the CNN, 9e-8 for the resumed runs and the CLI), and far below what a
// real mistake gives: every rank training on the first shard of each batch moved the weights
// by 0.14, a mean over the replicas instead of a sum by 0.43 (SGD, unlike Adam, sees the
// gradient's scale).
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mpi_training.hpp"
#include "strata/npy.hpp"
#include "strata/plugin/collective.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/threads.hpp"

namespace fs = std::filesystem;
using namespace strata;

namespace {

constexpr double kWeightTolerance = 2e-4;
constexpr double kLogTolerance = 1e-4;

std::string find_mpirun() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && fs::exists(fs::path(dir) / "mpirun")) return (fs::path(dir) / "mpirun").string();
  }
  return {};
}

fs::path work_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("strata_mpi_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Job {
  int status = -1;
  double seconds = 0;
  std::string log;
};

// Runs the worker on `ranks` ranks; every rank one thread, a 10 s collective timeout.
// `options`: more mpirun options (e.g. "-x STRATA_MPI_WAIT=poll").
Job mpirun(int ranks, const fs::path& out, const std::vector<std::string>& args, const fs::path& dir,
           const std::string& options = "") {
  std::string cmd = find_mpirun() +
                    " --allow-run-as-root --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none"
                    " -x STRATA_NUM_THREADS=1 -x OMP_NUM_THREADS=1 -x STRATA_COLLECTIVE_TIMEOUT=10 " +
                    options + " -np " +
                    std::to_string(ranks) + " " + STRATA_MPI_WORKER + " " + out.string();
  for (const auto& a : args) cmd += " " + a;
  const fs::path log = dir / ("job_" + std::to_string(ranks) + "_" + out.filename().string() + ".log");
  cmd += " > " + log.string() + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  Job job;
  job.status = std::system(cmd.c_str());
  job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::ifstream in(log);
  job.log = std::string(std::istreambuf_iterator<char>(in), {});
  return job;
}

class MpiTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_mpirun().empty()) GTEST_SKIP() << "no mpirun on PATH (Debian: openmpi-bin)";
    if (!Registry::global().contains(ObjectKind::kCollective, "mpi")) {
      GTEST_SKIP() << "the collective-mpi plugin is not loaded";
    }
    set_num_threads(1);
  }
};

void expect_close(const mpi_test::Result& got, const mpi_test::Result& want) {
  ASSERT_EQ(got.weights.size(), want.weights.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.weights.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got.weights[i]) - want.weights[i]));
  }
  EXPECT_LE(worst, kWeightTolerance) << "largest weight difference";
  std::cout << "[ info ] largest weight difference " << worst << "\n";
  ASSERT_EQ(got.history.size(), want.history.size());
  for (const auto& [key, values] : want.history) {
    ASSERT_TRUE(got.history.count(key)) << key;
    const auto& g = got.history.at(key);
    ASSERT_EQ(g.size(), values.size()) << key;
    for (std::size_t e = 0; e < values.size(); ++e) {
      EXPECT_NEAR(g[e], values[e], kLogTolerance * std::max(1.0, std::abs(values[e]))) << key << " epoch " << e;
    }
  }
}

void check_against_oracle(int ranks, const mpi_test::Spec& spec, const std::vector<std::string>& args,
                          const std::string& options = "") {
  const fs::path dir = work_dir("oracle" + std::to_string(ranks));
  const Job job = mpirun(ranks, dir / "result.txt", args, dir, options);
  ASSERT_EQ(job.status, 0) << job.log;
  const mpi_test::Result distributed = mpi_test::read((dir / "result.txt").string());
  const mpi_test::Result oracle = mpi_test::train(spec, nullptr);  // one process, the same global batches
  expect_close(distributed, oracle);
  // The loss moved (the comparison is not between two untrained models).
  EXPECT_LT(oracle.history.at("loss").back(), oracle.history.at("loss").front());
  fs::remove_all(dir);
}

// Who makes the "mpi" collective's MPI calls (mpi_communicator.cpp): the calling thread, or
// the progress thread — under the traced train step (the buckets launched after its graph)
// and the eager one (launched during the backward walk, behind which the walk goes on).
struct CollectiveMode {
  const char* name;
  const char* mpirun_options;
};
// gtest prints a parameter in the listed test names: its name, not its bytes.
void PrintTo(const CollectiveMode& mode, std::ostream* os) {
  *os << mode.name;
}
const CollectiveMode kCallingThread{"calling_thread", "-x STRATA_MPI_PROGRESS_THREAD=0"};
const CollectiveMode kProgressThread{"progress_thread", "-x STRATA_MPI_PROGRESS_THREAD=1"};
const CollectiveMode kProgressThreadEager{"progress_thread_eager_step",
                                          "-x STRATA_MPI_PROGRESS_THREAD=1 -x STRATA_TRACED_TRAIN_STEP=0"};

class MpiTrainingModes : public MpiTraining, public ::testing::WithParamInterface<CollectiveMode> {
 protected:
  std::string options() const { return GetParam().mpirun_options; }
};
// The failure cases: the calling thread and the progress thread.
class MpiFailureModes : public MpiTrainingModes {};

std::string mode_name(const ::testing::TestParamInfo<CollectiveMode>& info) {
  return info.param.name;
}

TEST_P(MpiTrainingModes, TwoRanksEqualOneProcessOnTheGlobalBatch) {
  mpi_test::Spec spec;  // 200 samples, batch 32: 6 full batches and one of 8, shuffled
  check_against_oracle(2, spec, {}, options());
}

TEST_P(MpiTrainingModes, ThreeRanksUnevenSplitEqualsOneProcess) {
  // 32 = 10 + 11 + 11 and the last batch of 8 = 2 + 3 + 3.
  mpi_test::Spec spec;
  check_against_oracle(3, spec, {}, options());
}

TEST_P(MpiTrainingModes, SmallCnnOnThreeRanksEqualsOneProcess) {
  mpi_test::Spec spec;
  spec.cnn = true;
  spec.epochs = 2;
  check_against_oracle(3, spec, {"cnn=1", "epochs=2"}, options());
}

TEST_P(MpiTrainingModes, AllReduceIsDifferentiableAcrossThreeRanks) {
  const fs::path dir = work_dir("all_reduce");
  const Job job = mpirun(3, dir / "ok.txt", {"all_reduce"}, dir, options());
  ASSERT_EQ(job.status, 0) << job.log;
  EXPECT_TRUE(fs::exists(dir / "ok.txt")) << job.log;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Collective, MpiTrainingModes,
                         ::testing::Values(kCallingThread, kProgressThread, kProgressThreadEager), mode_name);

TEST_F(MpiTraining, ChiefCheckpointResumesWithOneAndThreeProcesses) {
  const fs::path dir = work_dir("resume");
  mpi_test::Spec full;
  full.epochs = 4;
  full.shuffle = false;  // fit reseeds its shuffling per call, so a resumed fit matches only unshuffled
  full.checkpoint_dir = dir.string();
  const Job job = mpirun(2, dir / "full.txt", {"epochs=4", "shuffle=0", "checkpoint_dir=" + dir.string()}, dir);
  ASSERT_EQ(job.status, 0) << job.log;
  const mpi_test::Result uninterrupted = mpi_test::read((dir / "full.txt").string());
  const fs::path ckpt = dir / "ckpt_02.keras";
  ASSERT_TRUE(fs::exists(ckpt)) << "the chief wrote no checkpoint after epoch 2";

  mpi_test::Spec resume;
  resume.epochs = 4;
  resume.initial_epoch = 2;
  resume.shuffle = false;
  resume.resume_from = ckpt.string();
  const mpi_test::Result one = mpi_test::train(resume, nullptr);
  const Job three =
      mpirun(3, dir / "three.txt", {"epochs=4", "shuffle=0", "initial_epoch=2", "resume_from=" + ckpt.string()}, dir);
  ASSERT_EQ(three.status, 0) << three.log;
  const mpi_test::Result resumed3 = mpi_test::read((dir / "three.txt").string());
  // History of the resumed runs covers epochs 3 and 4 only: compare the weights.
  mpi_test::Result u = uninterrupted, o = one, t = resumed3;
  u.history.clear();
  o.history.clear();
  t.history.clear();
  expect_close(o, u);
  expect_close(t, u);
  fs::remove_all(dir);
}

TEST_P(MpiFailureModes, KilledWorkerEndsTheJobWithAnErrorInBoundedTime) {
  const fs::path dir = work_dir("killed");
  const Job job = mpirun(2, dir / "never.txt", {"epochs=50", "die_rank=1"}, dir, options());
  EXPECT_NE(job.status, 0) << job.log;
  EXPECT_LT(job.seconds, 60.0) << job.log;  // the collective timeout is 10 s
  EXPECT_FALSE(fs::exists(dir / "never.txt"));
  std::cout << "[ info ] the job ended after " << job.seconds << " s: " << job.log.substr(0, 400) << "\n";
  fs::remove_all(dir);
}

// `mpirun -np 2 strata fit` (the CLI finds mpirun's environment and trains over "mpi")
// against `strata fit` in one process, on the same files.
// A peer that hangs without dying (mpirun sees nothing wrong): the others' collective times
// out after STRATA_COLLECTIVE_TIMEOUT (10 s here) with a CollectiveError, and the job ends.
TEST_P(MpiFailureModes, StalledWorkerGivesACollectiveErrorAfterTheTimeout) {
  const fs::path dir = work_dir("stalled");
  const Job job = mpirun(2, dir / "never.txt", {"epochs=50", "stall_rank=1"}, dir, options());
  EXPECT_NE(job.status, 0) << job.log;
  EXPECT_GE(job.seconds, 9.0) << job.log;
  EXPECT_LT(job.seconds, 40.0) << job.log;
  EXPECT_NE(job.log.find("CollectiveError"), std::string::npos) << job.log;
  EXPECT_NE(job.log.find("did not complete within 10 s"), std::string::npos) << job.log;
  EXPECT_FALSE(fs::exists(dir / "never.txt"));
  fs::remove_all(dir);
}

// The same in the collective's "poll" wait mode (non-blocking MPI calls polled until the
// timeout), where the timeout is a CollectiveError thrown on the waiting rank (the worker
// prints its kind and exits 1) instead of the watchdog ending the job.
TEST_P(MpiFailureModes, StalledWorkerInPollModeThrowsCollectiveError) {
  const fs::path dir = work_dir("stalled_poll");
  const Job job =
      mpirun(2, dir / "never.txt", {"epochs=50", "stall_rank=1"}, dir, "-x STRATA_MPI_WAIT=poll " + options());
  EXPECT_NE(job.status, 0) << job.log;
  EXPECT_GE(job.seconds, 9.0) << job.log;
  EXPECT_LT(job.seconds, 40.0) << job.log;
  EXPECT_NE(job.log.find("strata_mpi_worker: CollectiveError"), std::string::npos) << job.log;
  EXPECT_NE(job.log.find("did not complete within 10 s"), std::string::npos) << job.log;
  EXPECT_FALSE(fs::exists(dir / "never.txt"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Collective, MpiFailureModes, ::testing::Values(kCallingThread, kProgressThread), mode_name);

// The progress thread's overlap, on real MPI (mpi_worker.cpp's check_overlap): an eager step
// whose gradients go into 6 buckets, rank 1 DELAY late for the first bucket (a slower peer).
// With the progress thread, rank 0's all_reduce_async calls return at once and its backward
// pass computes the other buckets (launching them) while the first bucket's all-reduce is in
// progress on that thread; on the calling thread the walk waits in the first all-reduce for
// the delay. The calling-thread run is the control: the same measurement fails there.
struct Overlap {
  double blocked_ms = -1;
  int launches = 0, buckets = 0, first_in_flight = -1;
};

Overlap run_overlap(const CollectiveMode& mode, int delay_ms) {
  const fs::path dir = work_dir(std::string("overlap_") + mode.name);
  const Job job = mpirun(2, dir / "overlap.txt", {"overlap", std::to_string(delay_ms)}, dir, mode.mpirun_options);
  EXPECT_EQ(job.status, 0) << job.log;
  Overlap o;
  std::ifstream in(dir / "overlap.txt");
  std::string key;
  while (in >> key) {
    if (key == "blocked_ms") in >> o.blocked_ms;
    if (key == "launches") in >> o.launches;
    if (key == "buckets") in >> o.buckets;
    if (key == "first_in_flight_at_last_launch") in >> o.first_in_flight;
  }
  std::cout << "[ info ] " << mode.name << ": the training thread spent " << o.blocked_ms
            << " ms in all_reduce_async over " << o.launches << " launches; first bucket in flight at the last: "
            << o.first_in_flight << "\n";
  fs::remove_all(dir);
  return o;
}

TEST_F(MpiTraining, ProgressThreadOverlapsTheAllReduceWithTheBackwardPass) {
  constexpr int kDelayMs = 400;
  const Overlap threaded = run_overlap(kProgressThread, kDelayMs);
  EXPECT_EQ(threaded.buckets, 6);  // [the last bias and kernel, a bias], then a kernel, a bias, ... (64 KiB cap)
  EXPECT_EQ(threaded.launches, threaded.buckets);
  EXPECT_LT(threaded.blocked_ms, kDelayMs / 4.0) << "the backward pass waited in all_reduce_async";
  EXPECT_EQ(threaded.first_in_flight, 1) << "the first bucket's all-reduce was not in progress during the walk";
  const Overlap calling = run_overlap(kCallingThread, kDelayMs);
  EXPECT_EQ(calling.launches, calling.buckets);
  EXPECT_GT(calling.blocked_ms, kDelayMs / 2.0) << "the control: on the calling thread the walk waits for the peer";
  EXPECT_EQ(calling.first_in_flight, 0);
  // "auto" (the default) uses the thread when there is a spare core per rank: more CPUs than
  // 2 ranks x 1 thread (the jobs' STRATA_NUM_THREADS).
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const bool spare = CPU_COUNT(&set) > 2 * 1;
  const Overlap automatic = run_overlap({"auto", "-x STRATA_MPI_PROGRESS_THREAD=auto"}, kDelayMs);
  if (spare) {
    EXPECT_LT(automatic.blocked_ms, kDelayMs / 4.0) << CPU_COUNT(&set) << " CPUs: auto should use the thread";
  } else {
    EXPECT_GT(automatic.blocked_ms, kDelayMs / 2.0) << CPU_COUNT(&set) << " CPUs: auto should not use the thread";
  }
}

TEST_F(MpiTraining, ABadProgressThreadSettingIsAValueErrorNamingTheVariable) {
  const fs::path dir = work_dir("bad_setting");
  const Job job = mpirun(1, dir / "never.txt", {"epochs=1"}, dir, "-x STRATA_MPI_PROGRESS_THREAD=sometimes");
  EXPECT_NE(job.status, 0) << job.log;
  EXPECT_NE(job.log.find("strata_mpi_worker: ValueError: mpi: the option 'progress_thread' "
                         "(STRATA_MPI_PROGRESS_THREAD) is '1', '0' or 'auto', got 'sometimes'"),
            std::string::npos)
      << job.log;
  fs::remove_all(dir);
}

TEST_F(MpiTraining, CliFitUnderMpirunEqualsOneProcess) {
  const fs::path dir = work_dir("cli");
  {
    auto model = mpi_test::guide_mlp();
    mpi_test::compile(*model);
    model->save(dir / "model.keras");
    const auto [x, y] = mpi_test::data(200);
    write_npy(dir / "x.npy", x);
    write_npy(dir / "y.npy", y);
  }
  const std::string args = " fit " + (dir / "model.keras").string() + " --x " + (dir / "x.npy").string() + " --y " +
                           (dir / "y.npy").string() + " --epochs 2 --batch-size 32 --no-shuffle --verbose 0";
  const std::string env = "STRATA_NUM_THREADS=1 OMP_NUM_THREADS=1 ";
  ASSERT_EQ(std::system((env + STRATA_CLI + args + " --save " + (dir / "one.keras").string() + " > " +
                         (dir / "one.log").string() + " 2>&1")
                            .c_str()),
            0);
  const std::string cmd =
      find_mpirun() +
      " --allow-run-as-root --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none"
      " -x STRATA_NUM_THREADS=1 -x OMP_NUM_THREADS=1 -x STRATA_COLLECTIVE_TIMEOUT=10 -np 2 " +
      STRATA_CLI + args + " --save " + (dir / "two.keras").string() + " > " + (dir / "two.log").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream log(dir / "two.log");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  ASSERT_EQ(status, 0) << text;
  // One "saved" line: only rank 0 writes.
  std::size_t saved = 0;
  for (std::size_t at = text.find("saved '"); at != std::string::npos; at = text.find("saved '", at + 1)) ++saved;
  EXPECT_EQ(saved, 1u) << text;
  mpi_test::Result one, two;
  for (const auto& w : load_model(dir / "one.keras")->weights()) {
    const auto v = w.value().to_vector<float>();
    one.weights.insert(one.weights.end(), v.begin(), v.end());
  }
  for (const auto& w : load_model(dir / "two.keras")->weights()) {
    const auto v = w.value().to_vector<float>();
    two.weights.insert(two.weights.end(), v.begin(), v.end());
  }
  expect_close(two, one);
  fs::remove_all(dir);
}

// A host application's own input: each rank reads only its rows of each batch from the
// .npy files (read_npy_rows) and feeds them through fit_replica_batches, split unevenly
// (2 ranks: a quarter and three quarters of each batch; 3 ranks: 1/9, 3/9, 5/9); the
// result equals fit in one process on the same (unshuffled) global batches.
TEST_F(MpiTraining, HostCallbackInputEqualsOneProcess) {
  const fs::path dir = work_dir("callback");
  {
    const auto [x, y] = mpi_test::data(200);
    write_npy(dir / "x.npy", x);
    write_npy(dir / "y.npy", y);
  }
  mpi_test::Spec spec;
  spec.shuffle = false;
  const mpi_test::Result oracle = mpi_test::train(spec, nullptr);
  for (const int ranks : {2, 3}) {
    const fs::path out = dir / ("result" + std::to_string(ranks) + ".txt");
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const Job job = mpirun(ranks, out, {"npy_dir=" + dir.string()}, dir);
    ASSERT_EQ(job.status, 0) << job.log;
    expect_close(mpi_test::read(out.string()), oracle);
  }
  fs::remove_all(dir);
}

// ---- without MPI: the fused buckets' call count ------------------------------------------

// A communicator of `size` replicas that all hold this process's values: all_reduce(SUM)
// multiplies by size (what identical replicas would sum to). Counts the calls.
class CountingCommunicator final : public Communicator {
 public:
  explicit CountingCommunicator(int size) : size_(size) {}
  std::string name() const override { return "counting"; }
  int rank() const override { return 0; }
  int size() const override { return size_; }
  std::string device_type() const override { return "cpu"; }
  void all_reduce(void* data, std::size_t count, DType dtype, ReduceOp op) override {
    events.push_back("sync " + std::to_string(count));
    reduce(data, count, dtype, op);
  }
  void reduce(void* data, std::size_t count, DType dtype, ReduceOp op) {
    ++all_reduces;
    if (op != ReduceOp::kSum) return;
    if (dtype == DType::kFloat32) {
      for (std::size_t i = 0; i < count; ++i) static_cast<float*>(data)[i] *= static_cast<float>(size_);
    } else if (dtype == DType::kFloat64) {
      for (std::size_t i = 0; i < count; ++i) static_cast<double*>(data)[i] *= size_;
    }
  }
  std::unique_ptr<CollectiveRequest> all_reduce_async(void* data, std::size_t count, DType dtype,
                                                      ReduceOp op) override {
    events.push_back("async " + std::to_string(count));
    reduce(data, count, dtype, op);
    struct Done final : CollectiveRequest {
      void wait() override {}
      bool test() override { return true; }
    };
    return std::make_unique<Done>();
  }
  void broadcast(void*, std::size_t, int) override { ++broadcasts; }
  void all_gather(const void* send, void* recv, std::size_t bytes) override {
    for (int r = 0; r < size_; ++r) std::memcpy(static_cast<char*>(recv) + r * bytes, send, bytes);
  }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message) override { throw CollectiveError(message); }
  int all_reduces = 0;
  int broadcasts = 0;
  std::vector<std::string> events;  // "sync N" / "async N" per all-reduce of N elements, in order

 private:
  int size_;
};

// The "counting" collective, registered the way a plugin registers "mpi".
void register_counting() {
  if (Registry::global().contains(ObjectKind::kCollective, "counting")) return;
  Registrar r(Registry::global(), "mpi-test");
  r.add<ObjectKind::kCollective>("counting",
                                 [](const CollectiveOptions&) { return std::make_shared<CountingCommunicator>(2); });
  r.commit();
}

TEST(DistributedBuckets, CallsPerStepAreTheBucketsPlusOneForTheMetrics) {
  register_counting();
  set_num_threads(1);
  const auto [x, y] = mpi_test::data(64);
  for (const std::size_t cap : {std::size_t{25} << 20, std::size_t{64} * 64 * 4, std::size_t{1}}) {
    DistributeOptions options;
    options.bucket_bytes = cap;
    DistributionStrategy strategy("counting", options);
    auto& comm = dynamic_cast<CountingCommunicator&>(strategy.communicator());
    auto model = mpi_test::guide_mlp();
    {
      auto scope = strategy.scope();
      mpi_test::compile(*model);
    }
    model->train_on_batch({x}, {y});  // the first step also broadcasts the variables
    int before = comm.all_reduces;
    model->train_on_batch({x}, {y});
    auto stats = strategy.last_step_stats();
    EXPECT_EQ(comm.all_reduces - before, static_cast<int>(stats.collective_calls));
    // train_on_batch of the caller's shard: the global batch size is not known before the
    // step, so the replicas' batch sizes are summed first (the loss is scaled by it).
    EXPECT_EQ(stats.collective_calls, stats.gradient_buckets + 2)
        << "one call for the batch sizes, one per bucket, one for the metrics";
    // fit knows the global batch: one call per bucket and one for the metrics.
    before = comm.all_reduces;
    FitOptions one_step;
    one_step.batch_size = 64;
    one_step.epochs = 1;
    one_step.verbose = 0;
    model->fit(x, y, one_step);
    stats = strategy.last_step_stats();
    EXPECT_EQ(comm.all_reduces - before, static_cast<int>(stats.collective_calls));
    EXPECT_EQ(stats.collective_calls, stats.gradient_buckets + 1) << "one call per bucket, one for the metrics";
    // 6 float32 gradients, packed last layer first: 10 (40 B), 64x10 (2560 B), 64 (256 B),
    // 64x64 (16384 B), 64 (256 B), 784x64 (200704 B). A 16384-byte cap closes a bucket before
    // the gradient that would overflow it: [40, 2560, 256], [16384], [256], [200704].
    const std::size_t expected = cap == (std::size_t{25} << 20) ? 1 : cap == 1 ? 6 : 4;
    EXPECT_EQ(stats.gradient_buckets, expected) << "bucket cap " << cap;
    EXPECT_GE(comm.broadcasts, 2);  // the variables, once, at the first step (size, then bytes)
  }
}

TEST(DistributedBuckets, IdenticalReplicasTrainAsOneProcess) {
  // Two replicas holding the same batch: the global batch is both copies, whose mean loss
  // is the one-process mean, so the step equals one process on that batch (up to rounding).
  register_counting();
  set_num_threads(1);
  const auto [x, y] = mpi_test::data(64);
  auto single = mpi_test::guide_mlp();
  mpi_test::compile(*single);
  const Logs want = single->train_on_batch({x}, {y});
  DistributionStrategy strategy("counting");
  auto model = mpi_test::guide_mlp();
  strategy.distribute(*model);
  mpi_test::compile(*model);
  const Logs got = model->train_on_batch({x}, {y});
  EXPECT_NEAR(got.at("loss"), want.at("loss"), 1e-6);
  const auto a = single->weights(), b = model->weights();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto va = a[i].value().to_vector<float>(), vb = b[i].value().to_vector<float>();
    for (std::size_t j = 0; j < va.size(); ++j) ASSERT_NEAR(va[j], vb[j], 1e-6) << a[i].name();
  }
}

// The backward pass overlaps the all-reduce: a bucket is launched as soon as the tape has
// finalised its gradients, last layer first, while the walk goes on. The model has a
// SyncBatchNormalization between its Dense layers, whose gradient makes a blocking
// all-reduce in the middle of the walk: a bucket launched before that call was launched
// before the backward walk finished. Without overlap every bucket comes after it.
TEST(DistributedBuckets, BucketsAreLaunchedDuringTheBackwardWalk) {
  register_counting();
  set_num_threads(1);
  if (!Registry::global().contains(ObjectKind::kLayer, "BatchNormalization")) GTEST_SKIP() << "no layers plugin";
  const auto [x, y] = mpi_test::data(64);
  const auto build = [] {
    set_random_seed(99);
    Tensor in = Input(Shape{784}, "digits");
    Tensor h = (*make_layer("Dense", Config{{"units", 16}, {"activation", "relu"}, {"name", "d1"}}))(in);
    h = (*make_layer("BatchNormalization", Config{{"synchronized", true}, {"name", "bn"}}))(h);
    Tensor out = (*make_layer("Dense", Config{{"units", 10}, {"name", "d2"}}))(h);
    auto model = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out}, "syncbn_mlp");
    mpi_test::compile(*model);
    return model;
  };
  auto single = build();
  single->train_on_batch({x}, {y});
  DistributeOptions options;
  options.bucket_bytes = 1;  // a bucket per gradient
  DistributionStrategy strategy("counting", options);
  auto& comm = dynamic_cast<CountingCommunicator&>(strategy.communicator());
  auto model = build();
  strategy.distribute(*model);
  comm.events.clear();
  model->train_on_batch({x}, {y});
  std::string order;
  for (const auto& e : comm.events) order += e + "; ";
  // The step's calls: the batch sizes, BN's statistics (forward), the buckets and BN's
  // gradient (backward), the metrics. BN's backward call comes after the buckets of d2 and
  // of BN's own gamma and beta, and before d1's: "sync 1; sync 48; async 11; async 161;
  // async 17; async 17; sync 48; async 17; async 12545; sync 4". Without the overlap every
  // bucket came after BN's backward call.
  const auto first_async = std::find_if(comm.events.begin(), comm.events.end(),
                                        [](const std::string& e) { return e.rfind("async", 0) == 0; });
  ASSERT_NE(first_async, comm.events.end()) << order;
  const auto syncs_after = std::count_if(first_async, comm.events.end(),
                                         [](const std::string& e) { return e.rfind("sync", 0) == 0; });
  EXPECT_EQ(syncs_after, 2) << "a bucket launched before BN's backward all-reduce and the metrics: " << order;
  // A bucket carries one flag per member (whether this replica has its gradient).
  EXPECT_EQ(*first_async, "async 11") << "the last layer's bias first: " << order;
  const auto stats = strategy.last_step_stats();
  EXPECT_EQ(stats.gradient_buckets, 6u) << order;
  // Identical replicas: the step equals one process on the batch (up to rounding).
  const auto a = single->weights(), b = model->weights();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto va = a[i].value().to_vector<float>(), vb = b[i].value().to_vector<float>();
    for (std::size_t j = 0; j < va.size(); ++j) ASSERT_NEAR(va[j], vb[j], 1e-5) << a[i].name();
  }
}

}  // namespace

// The traced train step runs under a strategy (its loss times local/global batch baked into
// the graph), and a model whose forward pass combines values across replicas steps eagerly.
TEST(DistributedBuckets, TheTracedStepRunsUnderAStrategy) {
  register_counting();
  set_num_threads(1);
  const bool was_enabled = traced_train_step_enabled();
  set_traced_train_step_enabled(true);
  const auto [x, y] = mpi_test::data(64);
  // Identical replicas: the global batch is both copies, so each step equals one eager
  // process on the batch.
  set_traced_train_step_enabled(false);
  auto single = mpi_test::guide_mlp();
  mpi_test::compile(*single);
  for (int i = 0; i < 3; ++i) single->train_on_batch({x}, {y});
  set_traced_train_step_enabled(true);
  DistributionStrategy strategy("counting");
  auto model = mpi_test::guide_mlp();
  strategy.distribute(*model);
  mpi_test::compile(*model);
  reset_traced_train_step_stats();
  for (int i = 0; i < 3; ++i) model->train_on_batch({x}, {y});
  EXPECT_EQ(traced_train_step_stats().traced_steps, 3u);
  EXPECT_EQ(traced_train_step_stats().eager_steps, 0u);
  const auto a = single->weights(), b = model->weights();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto va = a[i].value().to_vector<float>(), vb = b[i].value().to_vector<float>();
    for (std::size_t j = 0; j < va.size(); ++j) ASSERT_NEAR(va[j], vb[j], 1e-6) << a[i].name();
  }
  if (Registry::global().contains(ObjectKind::kLayer, "BatchNormalization")) {
    set_random_seed(7);
    Tensor in = Input(Shape{784}, "digits");
    Tensor h = (*make_layer("Dense", Config{{"units", 16}, {"name", "d1"}}))(in);
    h = (*make_layer("BatchNormalization", Config{{"synchronized", true}, {"name", "bn"}}))(h);
    Tensor out = (*make_layer("Dense", Config{{"units", 10}, {"name", "d2"}}))(h);
    auto synced = std::make_shared<Functional>(std::vector<Tensor>{in}, std::vector<Tensor>{out}, "syncbn");
    strategy.distribute(*synced);
    mpi_test::compile(*synced);
    reset_traced_train_step_stats();
    synced->train_on_batch({x}, {y});
    synced->train_on_batch({x}, {y});
    EXPECT_EQ(traced_train_step_stats().traced_steps, 0u) << "a synchronized layer's collective is not traced";
    EXPECT_EQ(traced_train_step_stats().eager_steps, 2u);
  }
  set_traced_train_step_enabled(was_enabled);
}


// The traced step overlaps too: its graph reports each gradient as soon as it has computed
// it, so with a bucket per gradient every bucket but the last (the first layer's, computed
// last) is launched while the graph still has gradients to compute — as the tape's walk does
// in the eager step. Before, the traced step's buckets were all launched after the graph
// returned. The result is the same step: identical replicas equal one process.
TEST(DistributedBuckets, TheTracedStepLaunchesBucketsWhileItsGraphRuns) {
  register_counting();
  set_num_threads(1);
  const bool was_enabled = traced_train_step_enabled();
  const auto [x, y] = mpi_test::data(64);
  set_traced_train_step_enabled(false);
  auto single = mpi_test::guide_mlp();
  mpi_test::compile(*single);
  for (int i = 0; i < 2; ++i) single->train_on_batch({x}, {y});
  for (const bool traced : {true, false}) {
    set_traced_train_step_enabled(traced);
    DistributeOptions options;
    options.bucket_bytes = 1;  // a bucket per gradient: 6
    DistributionStrategy strategy("counting", options);
    auto model = mpi_test::guide_mlp();
    strategy.distribute(*model);
    mpi_test::compile(*model);
    reset_traced_train_step_stats();
    for (int i = 0; i < 2; ++i) model->train_on_batch({x}, {y});
    EXPECT_EQ(traced_train_step_stats().traced_steps, traced ? 2u : 0u);
    const auto stats = strategy.last_step_stats();
    EXPECT_EQ(stats.gradient_buckets, 6u);
    EXPECT_EQ(stats.buckets_overlapped, 5u) << (traced ? "traced" : "eager") << " step";
    const auto a = single->weights(), b = model->weights();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto va = a[i].value().to_vector<float>(), vb = b[i].value().to_vector<float>();
      for (std::size_t j = 0; j < va.size(); ++j) ASSERT_NEAR(va[j], vb[j], 1e-6) << a[i].name();
    }
  }
  set_traced_train_step_enabled(was_enabled);
}
