// Distributed figures (issue 24), run under mpirun (scripts/bench-distributed.sh drives it):
//
//   mpirun -np 2 strata_bench_allreduce allreduce [--collective mpi] [--max-mib 64]
//     the all-reduce (float32 sum, in place) of the Strata collective `--collective` (through
//     the registry, as the strategy calls it) against MPI_Allreduce directly on the same
//     buffer, 4 KiB ... 64 MiB (and 8 bytes, the latency). Per size: the median of the timed
//     calls (each timed call ends with the slowest rank: a barrier-free max over ranks of
//     the call's time), the algorithm bandwidth n/t and the bus bandwidth 2(p-1)/p * n/t
//     (NCCL-tests' definition: what each link carries in a ring all-reduce).
//   mpirun -np P strata_bench_allreduce train --model mlp|cnn|deep [--collective mpi]
//     [--batch 64] [--samples 4096] [--epochs 3] [--bucket-kib N]
//     fit's throughput (global samples/s, the median of the epochs after the first, and the
//     step time it implies) of the guide's MLP, the small CNN (bench/bench_models.hpp) or
//     "deep", an MLP 784-1024-1024-1024-1024-10 (15.6 MB of gradients: a backward pass long
//     enough for the gradient all-reduce to overlap), with the global batch `--batch` split
//     across P processes; P = 1 runs without a strategy. `--bucket-kib` sets the strategy's
//     gradient bucket cap (DistributeOptions::bucket_bytes; default 25 MiB: "deep" is one
//     bucket then, 5 at 4096 KiB). The collective's own settings come from the environment
//     (STRATA_MPI_PROGRESS_THREAD, STRATA_MPI_WAIT), the train step's too
//     (STRATA_TRACED_TRAIN_STEP=0: the eager step, whose backward walk launches the buckets).
//   mpirun -np 2 strata_bench_allreduce overlap --model mlp|cnn|deep [--batch 64]
//     [--samples 4096] [--pairs 10] [--bucket-kib N]
//     the "mpi" collective's progress thread off and on in ONE job: two strategies (extra
//     progress_thread 0 and 1) train two copies of the model, one epoch each in turn, `--pairs`
//     times (after one warm-up epoch each), so that the machine's load hits both alike. Prints
//     the median step time of each and their ratio (and every pair's).
// Output: one JSON object per line on rank 0 (scripts/distributed_model.py reads them).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_models.hpp"
#include "strata/distribute.hpp"
#include "strata/plugin/collective.hpp"
#include "strata/strata.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Seconds of one call of `fn`, the slowest rank's (a reduction after the timed region).
template <class F>
double timed(F&& fn) {
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = Clock::now();
  fn();
  double t = std::chrono::duration<double>(Clock::now() - t0).count();
  double slowest = 0;
  MPI_Allreduce(&t, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

int allreduce(int argc, char** argv, int rank, int size) {
  const std::string name = arg(argc, argv, "--collective", "mpi");
  const std::size_t max_bytes = std::size_t(std::atoi(arg(argc, argv, "--max-mib", "64").c_str())) << 20;
  const auto factory = strata::Registry::global().find<strata::ObjectKind::kCollective>(name);
  if (!factory) {
    std::fprintf(stderr, "no collective '%s' is registered (is its plugin on STRATA_PLUGIN_PATH?)\n", name.c_str());
    return 2;
  }
  strata::CollectiveOptions options;
  const std::shared_ptr<strata::Communicator> comm = (*factory)(options);
  std::vector<std::size_t> sizes = {8};
  for (std::size_t b = 4096; b <= max_bytes; b *= 4) sizes.push_back(b);
  for (const std::size_t bytes : sizes) {
    const std::size_t n = bytes / sizeof(float);
    std::vector<float> buffer(n, 1.0f);
    // Enough calls for ~0.3 s of the larger sizes, at least 5, at most 200.
    const int iters = static_cast<int>(
        std::clamp<std::size_t>((std::size_t(64) << 20) / std::max<std::size_t>(bytes, 1) / 8, 5, 200));
    std::vector<double> strata_t, mpi_t;
    for (int warm = 0; warm < 2; ++warm) {
      comm->all_reduce(buffer.data(), n, strata::DType::kFloat32, strata::ReduceOp::kSum);
      MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    for (int i = 0; i < iters; ++i) {  // interleaved, so that load on the machine hits both alike
      std::fill(buffer.begin(), buffer.end(), 1.0f);
      strata_t.push_back(
          timed([&] { comm->all_reduce(buffer.data(), n, strata::DType::kFloat32, strata::ReduceOp::kSum); }));
      if (buffer[0] != static_cast<float>(size) || buffer[n - 1] != static_cast<float>(size)) {
        std::fprintf(stderr, "rank %d: wrong all-reduce result %g (want %d)\n", rank, buffer[0], size);
        return 1;
      }
      std::fill(buffer.begin(), buffer.end(), 1.0f);
      mpi_t.push_back(timed([&] {
        MPI_Allreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      }));
    }
    if (rank == 0) {
      const double ts = median(strata_t), tm = median(mpi_t);
      const double bus = 2.0 * (size - 1) / size;
      std::printf(
          "{\"bench\": \"allreduce\", \"collective\": \"%s\", \"ranks\": %d, \"bytes\": %zu, \"iters\": %d, "
          "\"strata_us\": %.2f, \"mpi_us\": %.2f, \"strata_algbw_GBps\": %.4f, \"mpi_algbw_GBps\": %.4f, "
          "\"strata_busbw_GBps\": %.4f, \"mpi_busbw_GBps\": %.4f}\n",
          name.c_str(), size, bytes, iters, ts * 1e6, tm * 1e6, bytes / ts / 1e9, bytes / tm / 1e9,
          bus * bytes / ts / 1e9, bus * bytes / tm / 1e9);
      std::fflush(stdout);
    }
  }
  return 0;
}

// An MLP whose backward pass takes long enough to hide a gradient all-reduce behind: 784 ->
// 4 x Dense(1024, relu) -> 10.
std::shared_ptr<strata::Model> deep_mlp() {
  using namespace strata;
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = inputs;
  for (int i = 0; i < 4; ++i) x = (*make_layer("Dense", Config{{"units", 1024}, {"activation", "relu"}}))(x);
  Tensor outputs = (*make_layer("Dense", Config{{"units", 10}}))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "deep_mlp");
}

int train(int argc, char** argv, int rank, int size) {
  const std::string which = arg(argc, argv, "--model", "mlp");
  const std::int64_t batch = std::atoll(arg(argc, argv, "--batch", "64").c_str());
  const std::int64_t samples = std::atoll(arg(argc, argv, "--samples", "4096").c_str());
  const int epochs = std::atoi(arg(argc, argv, "--epochs", "3").c_str());
  using namespace strata;
  const std::int64_t bucket_kib = std::atoll(arg(argc, argv, "--bucket-kib", "0").c_str());
  std::shared_ptr<DistributionStrategy> strategy;
  DistributeOptions options;
  if (bucket_kib > 0) options.bucket_bytes = static_cast<std::size_t>(bucket_kib) << 10;
  if (size > 1) strategy = std::make_shared<DistributionStrategy>(arg(argc, argv, "--collective", "mpi"), options);
  set_random_seed(1);
  const bool cnn = which == "cnn";
  std::shared_ptr<Model> model = cnn ? bench::cnn_model() : which == "deep" ? deep_mlp() : bench::mlp_model();
  {
    std::unique_ptr<DistributionStrategy::Scope> scope;
    if (strategy) scope = std::make_unique<DistributionStrategy::Scope>(strategy->scope());
    model->compile(Config("adam"), Config("sparse_categorical_crossentropy"));
  }
  const Tensor x = bench::random_input(cnn ? Shape{samples, 28, 28, 1} : Shape{samples, 784});
  std::vector<float> labels(static_cast<std::size_t>(samples));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 10);
  const Tensor y = Tensor::from_vector<float>(labels, Shape{samples});
  std::vector<double> rates;
  for (int e = 0; e < epochs; ++e) {
    FitOptions fit;
    fit.batch_size = batch;
    fit.epochs = 1;
    fit.verbose = 0;
    const double t = timed([&] { model->fit(x, y, fit); });
    if (e > 0 || epochs == 1) rates.push_back(static_cast<double>(samples) / t);
  }
  if (rank == 0) {
    const char* thread = std::getenv("STRATA_MPI_PROGRESS_THREAD");
    const char* traced = std::getenv("STRATA_TRACED_TRAIN_STEP");
    const DistributedStepStats stats = strategy ? strategy->last_step_stats() : DistributedStepStats{};
    std::printf(
        "{\"bench\": \"train\", \"model\": \"%s\", \"processes\": %d, \"global_batch\": %lld, \"samples\": %lld, "
        "\"samples_per_s\": %.1f, \"step_ms\": %.3f, \"buckets\": %zu, \"progress_thread\": \"%s\", "
        "\"traced_step\": \"%s\"}\n",
        which.c_str(), size, static_cast<long long>(batch), static_cast<long long>(samples), median(rates),
        1e3 * static_cast<double>(batch) / median(rates), stats.gradient_buckets, thread ? thread : "auto",
        traced ? traced : "1");
    std::fflush(stdout);
  }
  return 0;
}

// The progress thread off and on, alternating epochs in one job (see the top of the file).
int overlap(int argc, char** argv, int rank, int size) {
  using namespace strata;
  const std::string which = arg(argc, argv, "--model", "deep");
  const std::int64_t batch = std::atoll(arg(argc, argv, "--batch", "64").c_str());
  const std::int64_t samples = std::atoll(arg(argc, argv, "--samples", "4096").c_str());
  const int pairs = std::atoi(arg(argc, argv, "--pairs", "10").c_str());
  const std::int64_t bucket_kib = std::atoll(arg(argc, argv, "--bucket-kib", "0").c_str());
  const bool cnn = which == "cnn";
  std::shared_ptr<DistributionStrategy> strategies[2];
  std::shared_ptr<Model> models[2];
  for (int thread = 0; thread < 2; ++thread) {
    DistributeOptions options;
    if (bucket_kib > 0) options.bucket_bytes = static_cast<std::size_t>(bucket_kib) << 10;
    options.collective.extra["progress_thread"] = thread == 1;
    strategies[thread] = std::make_shared<DistributionStrategy>("mpi", options);
    set_random_seed(1);
    models[thread] = cnn ? bench::cnn_model() : which == "deep" ? deep_mlp() : bench::mlp_model();
    auto scope = strategies[thread]->scope();
    models[thread]->compile(Config("adam"), Config("sparse_categorical_crossentropy"));
  }
  const Tensor x = bench::random_input(cnn ? Shape{samples, 28, 28, 1} : Shape{samples, 784});
  std::vector<float> labels(static_cast<std::size_t>(samples));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 10);
  const Tensor y = Tensor::from_vector<float>(labels, Shape{samples});
  FitOptions fit;
  fit.batch_size = batch;
  fit.epochs = 1;
  fit.verbose = 0;
  const double steps = static_cast<double>((samples + batch - 1) / batch);
  std::vector<double> ms[2];
  std::string each;
  for (int p = 0; p <= pairs; ++p) {
    double t[2];
    for (int thread = 0; thread < 2; ++thread) {
      t[thread] = timed([&] { models[thread]->fit(x, y, fit); }) / steps * 1e3;
      if (p > 0) ms[thread].push_back(t[thread]);
    }
    if (p > 0) each += (each.empty() ? "" : ", ") + std::to_string(t[1] / t[0]).substr(0, 5);
  }
  if (rank == 0) {
    const char* traced = std::getenv("STRATA_TRACED_TRAIN_STEP");
    std::printf(
        "{\"bench\": \"overlap\", \"model\": \"%s\", \"processes\": %d, \"global_batch\": %lld, \"buckets\": %zu, "
        "\"traced_step\": \"%s\", \"pairs\": %d, \"off_step_ms\": %.3f, \"on_step_ms\": %.3f, \"on_over_off\": %.3f, "
        "\"pair_ratios\": [%s]}\n",
        which.c_str(), size, static_cast<long long>(batch), strategies[0]->last_step_stats().gradient_buckets,
        traced ? traced : "1", pairs, median(ms[0]), median(ms[1]), median(ms[1]) / median(ms[0]), each.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  // SERIALIZED: the collective's progress thread makes Strata's MPI calls (never while this
  // thread makes its own: every Strata call has completed when fit or all_reduce returns).
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = 2;
  try {
    strata::initialize();
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "allreduce") {
      rc = allreduce(argc, argv, rank, size);
    } else if (mode == "train") {
      rc = train(argc, argv, rank, size);
    } else if (mode == "overlap") {
      rc = overlap(argc, argv, rank, size);
    } else {
      std::fprintf(stderr, "usage: %s allreduce|train|overlap [options] (see bench/allreduce_bench.cpp)\n", argv[0]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    rc = 1;
  }
  if (rc != 0) MPI_Abort(MPI_COMM_WORLD, rc);
  MPI_Finalize();
  return rc;
}
