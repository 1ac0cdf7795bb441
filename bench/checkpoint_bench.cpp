// Checkpoint save/restore throughput of a ~100M-parameter model (four 5000x5000 float32
// variables, 400 MB) next to a plain write/read of the same bytes in the same run, and the
// extra memory a restore needs at its peak, in copies of the model.
//
//   build/bin/strata_bench_checkpoint [--benchmark_filter=...]
//   STRATA_BENCH_DIR=/some/disk  (default: the system temp directory)
//
// Needs the format-checkpoint plugin in the build's plugin directory. The plain baselines
// write with write(2) + fsync (as every Strata save does) and read with pread(2) into new
// memory; each iteration runs the baseline and the checkpoint back to back.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench_io.hpp"
#include "strata/checkpoint.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/runtime.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata::bench;

constexpr std::int64_t kDim = 5000;
constexpr int kVariables = 4;

struct Setup {
  std::vector<strata::Variable> variables;
  std::vector<std::pair<std::string, strata::Trackable>> pieces;
  std::size_t bytes = 0;
  fs::path dir = strata::bench::bench_dir("checkpoint");

  Setup() {
    strata::initialize();
    for (int i = 0; i < kVariables; ++i) {
      std::vector<float> v(static_cast<std::size_t>(kDim * kDim));
      for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<float>((j * 2654435761u) % 1000) * 1e-3f;
      variables.emplace_back("layer_" + std::to_string(i) + "/kernel",
                             strata::Tensor::from_vector<float>(v, strata::Shape{kDim, kDim}));
      pieces.emplace_back("layer_" + std::to_string(i), variables.back());
      bytes += v.size() * sizeof(float);
    }
  }
  ~Setup() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

// Each iteration times a plain write of the model's bytes (truncate, write, fsync), an
// atomic write of them (temporary file, fsync, rename - what every single-file Strata save
// does) and a checkpoint save of the model, back to back, so all see the same disk and
// page-cache conditions. The order rotates from one iteration to the next: on this VM a
// write that follows the release of 400 MB of page cache is sometimes 3x slower, and a
// fixed order would always hand that penalty to the same contender. The reported time is
// the checkpoint's; the counters give the throughputs and two ratios: of the total times
// (`*_vs_plain`) and of the per-iteration medians (`*_vs_plain_median`, robust to the
// occasional slow write).
void BM_Save(benchmark::State& state) {
  auto& s = setup();
  // All three write the same bytes from the same memory: the variables' own. (A copy made
  // just before would sit largely in this machine's 256 MiB L3 cache and flatter the
  // baselines.)
  std::vector<std::string_view> pieces;
  for (const auto& v : s.variables) {
    pieces.emplace_back(static_cast<const char*>(v.value().data()), v.value().nbytes());
  }
  strata::Checkpoint ckpt(s.pieces);
  // One untimed round first: the first large allocations and writes of a process pay for
  // page-cache and huge-page set-up that later ones do not.
  plain_write(s.dir / "plain.bin", pieces);
  ckpt.write(s.dir / "ckpt");
  std::vector<double> plain, atomic, checkpoint;
  const auto run_plain = [&] {
    const auto t0 = Clock::now();
    plain_write(s.dir / "plain.bin", pieces);
    plain.push_back(seconds_since(t0));
  };
  const auto run_atomic = [&] {
    const auto t0 = Clock::now();
    // What write_file_atomically does, from the same pieces: temporary, fsync, rename.
    const fs::path temp = s.dir / "atomic.bin.new";
    strata::write_file_pieces(temp, pieces);
    fs::rename(temp, s.dir / "atomic.bin");
    atomic.push_back(seconds_since(t0));
  };
  const auto run_checkpoint = [&] {
    const auto t0 = Clock::now();
    ckpt.write(s.dir / "ckpt");
    checkpoint.push_back(seconds_since(t0));
  };
  const std::function<void()> contenders[] = {run_plain, run_atomic, run_checkpoint};
  std::size_t round = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < 3; ++k) contenders[(round + k) % 3]();
    ++round;
    state.SetIterationTime(checkpoint.back());
  }
  const double bytes = static_cast<double>(s.bytes) * static_cast<double>(state.iterations());
  state.counters["plain_MB_per_s"] = bytes / sum(plain) / 1e6;
  state.counters["atomic_MB_per_s"] = bytes / sum(atomic) / 1e6;
  state.counters["checkpoint_MB_per_s"] = bytes / sum(checkpoint) / 1e6;
  state.counters["checkpoint_vs_plain"] = sum(plain) / sum(checkpoint);
  state.counters["checkpoint_vs_atomic"] = sum(atomic) / sum(checkpoint);
  state.counters["checkpoint_vs_plain_median"] = median(plain) / median(checkpoint);
  state.counters["checkpoint_vs_atomic_median"] = median(atomic) / median(checkpoint);
  state.counters["model_MB"] = static_cast<double>(s.bytes) / 1e6;
}

// Likewise for a plain read against a restore (assert_consumed), and the restore's peak
// memory beyond what the process held before it, in copies of the model.
void BM_Restore(benchmark::State& state) {
  auto& s = setup();
  strata::Checkpoint ckpt(s.pieces);
  if (!fs::exists(s.dir / "ckpt.index")) ckpt.write(s.dir / "ckpt");
  if (!fs::exists(s.dir / "plain.bin")) {
    std::string zeros(s.bytes, '\0');
    plain_write(s.dir / "plain.bin", {std::string_view(zeros)});
  }
  plain_read(s.dir / "plain.bin", s.bytes);
  ckpt.restore(s.dir / "ckpt").assert_consumed();
  double plain = 0, strata_total = 0, extra_copies = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    plain_read(s.dir / "plain.bin", s.bytes);
    plain += seconds_since(t0);
    reset_peak_rss();
    const long before = current_rss_kib();
    t0 = Clock::now();
    ckpt.restore(s.dir / "ckpt").assert_consumed();
    const double t = seconds_since(t0);
    strata_total += t;
    state.SetIterationTime(t);
    extra_copies = std::max(extra_copies, static_cast<double>(peak_rss_kib() - before) * 1024.0 / static_cast<double>(s.bytes));
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["plain_MB_per_s"] = static_cast<double>(s.bytes) * n / plain / 1e6;
  state.counters["checkpoint_MB_per_s"] = static_cast<double>(s.bytes) * n / strata_total / 1e6;
  state.counters["checkpoint_vs_plain"] = plain / strata_total;
  state.counters["peak_extra_copies"] = extra_copies;
}

BENCHMARK(BM_Save)->Unit(benchmark::kMillisecond)->Iterations(9)->UseManualTime();
BENCHMARK(BM_Restore)->Unit(benchmark::kMillisecond)->Iterations(6)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
