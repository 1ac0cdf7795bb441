// Strata's side of the peer benchmark (bench/peers/peers.py drives it): a long-lived
// process that answers one JSON line per JSON command on stdin, so the driver can interleave
// Strata with TensorFlow and ONNX Runtime round by round without paying start-up each time.
//
//   strata_bench_peers_strata            commands on stdin (below)
//   strata_bench_peers_strata --peak H5  load H5, predict once at batch 1, print peak memory
//
// Commands (every time is seconds; medians over `reps` individually timed calls):
//   {"cmd": "predict", "model": P, "mode": M, "batch": B, "reps": R}
//       M: predict (Model::predict), call (the model's call), predict_on_batch, traced (a
//       SavedModel's serving_default through saved_model::load), capi (strata_model_predict
//       into a caller buffer) -> {"median": s, "min": s}
//   {"cmd": "fit", "model": H5, "batch": B, "samples": N, "reps": R, "how": "fit"|"train_on_batch"}
//       one epoch over N samples (no shuffle, silent), as Model::fit or the same steps through
//       train_on_batch -> {"median": s, "min": s} per epoch
//   {"cmd": "save", "model": H5, "dir": D, "reps": R}
//       save_model to D/save.h5 against a raw atomic write of the same weight bytes (temp
//       file, write, fsync, rename), alternating -> {"save": s, "raw": s, "bytes": n}
// The thread count is the runtime's (STRATA_NUM_THREADS=1 from the driver, or unset: the
// defaults a user has).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "strata/c_api.h"
#include "strata/model.hpp"
#include "strata/ops.hpp"
#include "strata/saved_model.hpp"
#include "strata/strata.hpp"
#include "strata/training.hpp"

namespace {

using namespace strata;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

Config timing(const std::vector<double>& times) {
  return Config{{"median", median(times)}, {"min", *std::min_element(times.begin(), times.end())}};
}

template <typename F>
std::vector<double> time_calls(int reps, F&& f) {
  f();  // warm-up: primitive caches, first allocations
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    times.push_back(since(t0));
  }
  return times;
}

Tensor uniform(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& e : v) e = u(rng);
  return Tensor::from_vector<float>(v, shape);
}

Shape batched(const Shape& spec, std::int64_t batch) {
  std::vector<std::int64_t> dims = spec.dims();
  dims[0] = batch;
  return Shape(dims);
}

long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) return std::atol(line.c_str() + prefix.size());
  }
  return -1;
}

void check_c(strata_status* status) {
  if (status == nullptr) return;
  const std::string message = strata_status_message(status);
  strata_status_release(status);
  throw std::runtime_error("C API: " + message);
}

// Models kept across commands, one per (path, use).
std::map<std::string, std::shared_ptr<Model>> models;
std::map<std::string, saved_model::LoadedSavedModel> traced;
std::map<std::string, strata_model*> c_models;

std::shared_ptr<Model> model_for(const std::string& path, const std::string& use, bool compile) {
  auto& slot = models[path + "|" + use];
  if (!slot) {
    LoadOptions options;
    options.compile = compile;
    slot = load_model(path, options);
  }
  return slot;
}

Config predict(const Config& c) {
  const std::string path = c["model"], mode = c["mode"];
  const std::int64_t batch = c["batch"];
  const int reps = c["reps"];
  if (mode == "traced") {
    auto it = traced.find(path);
    if (it == traced.end()) it = traced.emplace(path, saved_model::load(path)).first;
    const auto& serve = it->second.signatures.at("serving_default");
    const Tensor x = uniform(batched(serve.inputs.at(0).shape, batch), 1);
    return timing(time_calls(reps, [&] { (void)serve({x}); }));
  }
  if (mode == "capi") {
    strata_model*& m = c_models[path];
    if (m == nullptr) check_c(strata_model_load(path.c_str(), nullptr, &m));
    strata_dtype dtype{};
    std::int64_t in_shape[STRATA_MAX_RANK] = {}, out_shape[STRATA_MAX_RANK] = {};
    std::int32_t in_rank = 0, out_rank = 0;
    check_c(strata_model_input_info(m, 0, nullptr, &dtype, in_shape, &in_rank));
    check_c(strata_model_output_info(m, 0, nullptr, nullptr, out_shape, &out_rank));
    in_shape[0] = batch;
    const Tensor x = uniform(batched(Shape(std::vector<std::int64_t>(in_shape, in_shape + in_rank)), batch), 1);
    std::int64_t out_elements = batch;
    for (std::int32_t d = 1; d < out_rank; ++d) out_elements *= out_shape[d];
    std::vector<float> y(static_cast<std::size_t>(out_elements));
    strata_buffer in{}, out{};
    in.struct_size = out.struct_size = sizeof(strata_buffer);
    in.dtype = out.dtype = STRATA_FLOAT32;
    in.rank = in_rank;
    std::copy(in_shape, in_shape + in_rank, in.shape);
    in.data = const_cast<void*>(x.data());
    in.capacity = in.size = static_cast<std::size_t>(x.shape().num_elements()) * sizeof(float);
    out.data = y.data();
    out.capacity = y.size() * sizeof(float);
    return timing(time_calls(reps, [&] { check_c(strata_model_predict(m, &in, 1, &out, 1)); }));
  }
  auto model = model_for(path, "inference", false);
  const Tensor x = uniform(batched(model->inputs().at(0).shape(), batch), 1);
  if (mode == "predict") return timing(time_calls(reps, [&] { (void)model->predict(x, batch); }));
  if (mode == "call") return timing(time_calls(reps, [&] { (void)(*model)({x}); }));
  if (mode == "predict_on_batch") return timing(time_calls(reps, [&] { (void)model->predict_on_batch({x}); }));
  throw std::runtime_error("unknown predict mode '" + mode + "'");
}

Config fit(const Config& c) {
  const std::string path = c["model"], how = c["how"];
  const std::int64_t batch = c["batch"], samples = c["samples"];
  const int reps = c["reps"];
  auto model = model_for(path, how + std::to_string(batch), true);
  const Tensor x = uniform(batched(model->inputs().at(0).shape(), samples), 2);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(samples));
  for (std::int64_t i = 0; i < samples; ++i) labels[static_cast<std::size_t>(i)] = (i * 7) % 10;
  const Tensor y = Tensor::from_vector<std::int64_t>(labels, Shape{samples});
  // The batches train_on_batch takes, cut once beforehand (fit cuts its own).
  std::vector<std::pair<Tensor, Tensor>> batches;
  for (std::int64_t start = 0; start < samples; start += batch) {
    const std::int64_t len = std::min(batch, samples - start);
    std::vector<std::int64_t> begin(x.rank(), 0), size = x.shape().dims();
    begin[0] = start;
    size[0] = len;
    batches.emplace_back(slice(x, begin, size), slice(y, {start}, {len}));
  }
  FitOptions options;
  options.batch_size = batch;
  options.epochs = 1;
  options.verbose = 0;
  options.shuffle = false;
  if (how == "fit") return timing(time_calls(reps, [&] { (void)model->fit(x, y, options); }));
  if (how == "train_on_batch") {
    return timing(time_calls(reps, [&] {
      for (const auto& [bx, by] : batches) (void)model->train_on_batch({bx}, {by});
    }));
  }
  throw std::runtime_error("unknown fit kind '" + how + "'");
}

// The raw baseline: the same bytes written to a temporary, fsynced and renamed over the
// target, as an atomic save does.
void raw_atomic_write(const fs::path& target, const std::vector<Variable>& weights) {
  const fs::path tmp = target.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp.string());
  for (const auto& w : weights) {
    const Tensor v = w.value().to(Device::cpu());
    const auto* data = static_cast<const char*>(v.data());
    const std::size_t bytes = static_cast<std::size_t>(v.shape().num_elements()) * dtype_size(v.dtype());
    for (std::size_t done = 0; done < bytes;) {
      const ssize_t n = ::write(fd, data + done, bytes - done);
      if (n <= 0) throw std::runtime_error("write failed");
      done += static_cast<std::size_t>(n);
    }
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, target);
}

Config save(const Config& c) {
  const std::string path = c["model"], dir = c["dir"];
  const int reps = c["reps"];
  auto model = model_for(path, "save", false);
  const auto weights = model->weights();
  std::size_t bytes = 0;
  for (const auto& w : weights) bytes += static_cast<std::size_t>(w.shape().num_elements()) * dtype_size(w.dtype());
  fs::create_directories(dir);
  std::vector<double> saves, raws;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    save_model(*model, fs::path(dir) / "save.h5");
    saves.push_back(since(t0));
    t0 = Clock::now();
    raw_atomic_write(fs::path(dir) / "raw.bin", weights);
    raws.push_back(since(t0));
  }
  fs::remove(fs::path(dir) / "save.h5");
  fs::remove(fs::path(dir) / "raw.bin");
  return Config{{"save", median(saves)}, {"raw", median(raws)}, {"bytes", bytes}};
}

int peak(const std::string& path) {
  initialize();
  const long after_init = status_kib("VmRSS");
  const auto t0 = Clock::now();
  auto model = load_model(path, LoadOptions{});
  const double load_s = since(t0);
  (void)model->predict(uniform(batched(model->inputs().at(0).shape(), 1), 1), 1);
  std::size_t bytes = 0;
  for (const auto& w : model->weights())
    bytes += static_cast<std::size_t>(w.shape().num_elements()) * dtype_size(w.dtype());
  std::cout << Config{{"vmhwm_kib", status_kib("VmHWM")},
                      {"rss_after_init_kib", after_init},
                      {"param_bytes", bytes},
                      {"load_s", load_s}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--peak") return peak(argv[2]);
    initialize();
    check_c(strata_init(nullptr, 0));
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      Config reply;
      try {
        const Config c = Config::parse(line);
        const std::string cmd = c["cmd"];
        if (cmd == "predict") {
          reply = predict(c);
        } else if (cmd == "fit") {
          reply = fit(c);
        } else if (cmd == "save") {
          reply = save(c);
        } else if (cmd == "version") {
          reply = Config{{"version", runtime_version()}};
        } else {
          throw std::runtime_error("unknown command '" + cmd + "'");
        }
      } catch (const std::exception& e) {
        reply = Config{{"error", e.what()}};
      }
      std::cout << reply.dump() << std::endl;
    }
    for (auto& [path, m] : c_models) strata_model_release(m);
  } catch (const std::exception& e) {
    std::cerr << "strata_bench_peers_strata: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
