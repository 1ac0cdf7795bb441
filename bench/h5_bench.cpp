// H5 save/load throughput of a ~100M-parameter model (a wide MLP: 4096 inputs, six
// Dense(4096) layers, 100.7M float32 parameters, 403 MB) next to a plain write/read of the
// same bytes in the same run, and the extra memory a save or load needs at its peak, in
// copies of the model's weights.
//
//   build/bin/strata_bench_h5 [--benchmark_filter=...]
//   STRATA_BENCH_DIR=/some/disk  (default: the system temp directory)
//
// Needs the layers, backend-onednn and format-h5 plugins in the build's plugin directory.
// Baselines as in checkpoint_bench.cpp (bench_io.hpp): write(2) + fsync, pread(2) into new
// memory, and for saves a raw atomic write (temporary, fsync, rename; not Strata's writer);
// each iteration runs the baselines and the H5 operation back to back.
// STRATA_SAVE_NO_EARLY_WRITEBACK=1 turns off the early writeback of large saves
// (runtime/src/saving/file_system.cpp), for before/after figures in one build.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_io.hpp"
#include "strata/layer.hpp"
#include "strata/model.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata::bench;

constexpr std::int64_t kWidth = 4096;
constexpr int kLayers = 6;

struct Setup {
  std::shared_ptr<strata::Model> model;
  std::size_t bytes = 0;
  fs::path dir = bench_dir("h5");

  Setup() {
    strata::initialize();
    std::vector<std::shared_ptr<strata::Layer>> layers{strata::make_layer(
        "InputLayer", strata::Config{{"batch_input_shape", {nullptr, kWidth}}, {"name", "in"}})};
    for (int i = 0; i < kLayers; ++i) {
      layers.push_back(strata::make_layer(
          "Dense", strata::Config{{"units", kWidth}, {"activation", "relu"}, {"name", "dense_" + std::to_string(i)}}));
    }
    model = std::make_shared<strata::Sequential>(layers);
    for (const auto& w : model->weights()) bytes += w.value().nbytes();
  }
  ~Setup() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::vector<std::string_view> pieces() const {
    std::vector<std::string_view> out;
    for (const auto& w : model->weights()) out.emplace_back(static_cast<const char*>(w.value().data()), w.value().nbytes());
    return out;
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

double copies(long kib, std::size_t bytes) { return static_cast<double>(kib) * 1024.0 / static_cast<double>(bytes); }

// The atomic baseline, without Strata's writer: write(2) the bytes to a temporary sibling,
// fsync it, rename it over `file`, fsync the directory (the steps of every single-file save).
void raw_atomic_write(const fs::path& file, const std::vector<std::string_view>& pieces) {
  const fs::path tmp = file.string() + ".tmp";
  plain_write(tmp, pieces);
  ::rename(tmp.c_str(), file.c_str());
  const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ::fsync(dir);
  ::close(dir);
}

// Whole-model save (save_model to .h5) against a plain write of the weights' bytes
// (truncate, write, fsync) and a raw atomic write of them (raw_atomic_write), in an order
// that rotates from one iteration to the next (whichever runs first after another writer
// meets its dirty pages). Ratios by total time and by per-iteration medians.
void BM_H5SaveModel(benchmark::State& state) {
  auto& s = setup();
  const auto pieces = s.pieces();
  plain_write(s.dir / "plain.bin", pieces);  // untimed warm-up of all three
  raw_atomic_write(s.dir / "atomic.bin", pieces);
  strata::save_model(*s.model, s.dir / "model.h5");
  std::vector<double> plain, atomic, h5;
  double extra = 0;
  int iteration = 0;
  for (auto _ : state) {
    for (int k = 0; k < 3; ++k) {
      const int which = (iteration + k) % 3;
      if (which == 0) {
        const auto t0 = Clock::now();
        plain_write(s.dir / "plain.bin", pieces);
        plain.push_back(seconds_since(t0));
      } else if (which == 1) {
        const auto t0 = Clock::now();
        raw_atomic_write(s.dir / "atomic.bin", pieces);
        atomic.push_back(seconds_since(t0));
      } else {
        reset_peak_rss();
        const long before = current_rss_kib();
        const auto t0 = Clock::now();
        strata::save_model(*s.model, s.dir / "model.h5");
        h5.push_back(seconds_since(t0));
        state.SetIterationTime(h5.back());
        extra = std::max(extra, copies(peak_rss_kib() - before, s.bytes));
      }
    }
    ++iteration;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["plain_MB_per_s"] = static_cast<double>(s.bytes) * n / sum(plain) / 1e6;
  state.counters["h5_MB_per_s"] = static_cast<double>(s.bytes) * n / sum(h5) / 1e6;
  state.counters["atomic_MB_per_s"] = static_cast<double>(s.bytes) * n / sum(atomic) / 1e6;
  state.counters["h5_vs_plain"] = sum(plain) / sum(h5);
  state.counters["h5_vs_atomic"] = sum(atomic) / sum(h5);
  state.counters["h5_vs_atomic_median"] = median(atomic) / median(h5);
  state.counters["h5_vs_plain_median"] = median(plain) / median(h5);
  state.counters["peak_extra_copies"] = extra;
  state.counters["model_MB"] = static_cast<double>(s.bytes) / 1e6;
}

// Whole-model load (load_model of the .h5: builds the model, reads every weight) against a
// plain read of the same bytes into new memory. The loaded model's own weights are not
// counted as extra: peak_extra_copies = (peak growth - one model) / model bytes.
void BM_H5LoadModel(benchmark::State& state) {
  auto& s = setup();
  if (!fs::exists(s.dir / "model.h5")) strata::save_model(*s.model, s.dir / "model.h5");
  if (!fs::exists(s.dir / "plain.bin")) plain_write(s.dir / "plain.bin", s.pieces());
  plain_read(s.dir / "plain.bin", s.bytes);
  (void)strata::load_model(s.dir / "model.h5");
  double plain = 0, h5 = 0, extra = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    plain_read(s.dir / "plain.bin", s.bytes);
    plain += seconds_since(t0);
    reset_peak_rss();
    const long before = current_rss_kib();
    t0 = Clock::now();
    auto loaded = strata::load_model(s.dir / "model.h5");
    const double t = seconds_since(t0);
    h5 += t;
    state.SetIterationTime(t);
    extra = std::max(extra, copies(peak_rss_kib() - before, s.bytes) - 1.0);
    loaded.reset();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["plain_MB_per_s"] = static_cast<double>(s.bytes) * n / plain / 1e6;
  state.counters["h5_MB_per_s"] = static_cast<double>(s.bytes) * n / h5 / 1e6;
  state.counters["h5_vs_plain"] = plain / h5;
  state.counters["peak_extra_copies"] = extra;
}

BENCHMARK(BM_H5SaveModel)->Unit(benchmark::kMillisecond)->Iterations(9)->UseManualTime();
BENCHMARK(BM_H5LoadModel)->Unit(benchmark::kMillisecond)->Iterations(5)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
