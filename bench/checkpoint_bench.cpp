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
#include <memory>
#include <string>
#include <vector>

#include "strata/checkpoint.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/runtime.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kDim = 5000;
constexpr int kVariables = 4;

fs::path bench_dir() {
  const char* env = std::getenv("STRATA_BENCH_DIR");
  const fs::path dir = fs::path(env && *env ? env : fs::temp_directory_path().string()) /
                       ("strata_bench_checkpoint_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

struct Setup {
  std::vector<strata::Variable> variables;
  std::vector<std::pair<std::string, strata::Trackable>> pieces;
  std::size_t bytes = 0;
  fs::path dir = bench_dir();

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

long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}
long current_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}
// Resets VmHWM to the current RSS (Linux >= 4.0).
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The plain baseline: write(2) the model's bytes, straight from the variables' memory (the
// same source the checkpoint reads), to a file and fsync it, as every Strata save does.
void plain_write(const fs::path& file, const std::vector<std::string_view>& pieces) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  for (const auto piece : pieces) {
    for (std::size_t done = 0; done < piece.size();) {
      const ssize_t n = ::write(fd, piece.data() + done, piece.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  }
  ::fsync(fd);
  ::close(fd);
}

// The plain baseline: pread(2) all bytes into new memory, as a restore reads into new tensors.
void plain_read(const fs::path& file, std::size_t size) {
  std::unique_ptr<char[]> buffer(new char[size]);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::pread(fd, buffer.get() + done, size - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  benchmark::DoNotOptimize(buffer.get());
}

// Each iteration times a plain write of the model's bytes (truncate, write, fsync), an
// atomic write of them (temporary file, fsync, rename - what every single-file Strata save
// does), then a checkpoint save of the model, back to back,
// so all see the same disk and page-cache conditions. The reported time is the
// checkpoint's; the counters give the throughputs and ratios.
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
  double plain = 0, atomic = 0, strata_total = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    plain_write(s.dir / "plain.bin", pieces);
    plain += seconds_since(t0);
    t0 = Clock::now();
    {
      // What write_file_atomically does, from the same pieces: temporary, fsync, rename.
      const fs::path temp = s.dir / "atomic.bin.new";
      strata::write_file_pieces(temp, pieces);
      fs::rename(temp, s.dir / "atomic.bin");
    }
    atomic += seconds_since(t0);
    t0 = Clock::now();
    ckpt.write(s.dir / "ckpt");
    const double t = seconds_since(t0);
    strata_total += t;
    state.SetIterationTime(t);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["plain_MB_per_s"] = static_cast<double>(s.bytes) * n / plain / 1e6;
  state.counters["atomic_MB_per_s"] = static_cast<double>(s.bytes) * n / atomic / 1e6;
  state.counters["checkpoint_MB_per_s"] = static_cast<double>(s.bytes) * n / strata_total / 1e6;
  state.counters["checkpoint_vs_plain"] = plain / strata_total;
  state.counters["checkpoint_vs_atomic"] = atomic / strata_total;
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

BENCHMARK(BM_Save)->Unit(benchmark::kMillisecond)->Iterations(6)->UseManualTime();
BENCHMARK(BM_Restore)->Unit(benchmark::kMillisecond)->Iterations(6)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
