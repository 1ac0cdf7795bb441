// `strata bench MODEL`: load a model file, run it repeatedly on one input and report the
// load time, the first call's latency, latency percentiles and throughput, as ONNX Runtime's
// perf test and OpenVINO's benchmark_app do. `--json` prints one machine-readable object
// (the peer benchmark, bench/peers, reads it).
//
//   strata bench MODEL [--input [NAME=]X.npy]... [--batch N] [--threads N] [--warmup N]
//                [--iterations N] [--time S] [--device D] [--mode predict|call|traced]
//                [--signature NAME] [--seed S] [--json]
//
// Modes: predict is Keras's predict (batching machinery included, one batch per call);
// call is the model's call (what a serving loop calls, no predict machinery); traced runs a
// SavedModel's traced serving function (saved_model::load, the graph only), the way
// TensorFlow serves it.
#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>

#include "commands.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/saved_model.hpp"
#include "strata/strata.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace strata::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The value at quantile `q` of sorted `xs` (nearest rank, as ORT's perf test reports).
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// A random input for one model input: uniform [0, 1) floats, or integers in [0, 10) (safe
// for the index inputs of Embedding and lookup layers) for integer inputs. Every dimension
// but the first (the samples, `batch`) must be known.
Tensor random_input(const Shape& shape, DType dtype, std::int64_t batch, std::mt19937& rng, const std::string& name) {
  STRATA_CHECK(shape.has_known_rank() && shape.rank() >= 1, ValueError, "input '", name,
               "' has no known shape; give its values with --input ", name, "=X.npy");
  std::vector<std::int64_t> dims = shape.dims();
  dims[0] = batch;
  for (std::size_t d = 1; d < dims.size(); ++d) {
    STRATA_CHECK(dims[d] != Shape::kUnknown, ValueError, "input '", name, "' has shape ", shape.to_string(),
                 " with an unknown dimension besides the samples; give its values with --input ", name, "=X.npy");
  }
  const Shape full(dims);
  const auto n = static_cast<std::size_t>(full.num_elements());
  if (is_floating(dtype)) {
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& e : v) e = u(rng);
    Tensor t = Tensor::from_vector<float>(v, full);
    return dtype == DType::kFloat32 ? t : cast(t, dtype);
  }
  STRATA_CHECK(is_integer(dtype), ValueError, "input '", name, "' takes ", dtype_name(dtype),
               " values, which bench cannot make up; give them with --input ", name, "=X.npy");
  std::uniform_int_distribution<std::int64_t> u(0, 9);
  std::vector<std::int64_t> v(n);
  for (auto& e : v) e = u(rng);
  Tensor t = Tensor::from_vector<std::int64_t>(v, full);
  return dtype == DType::kInt64 ? t : cast(t, dtype);
}

std::string json_string(const std::string& s) {
  std::ostringstream out;
  out << '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out << '\\' << ch;
    } else if (c < 0x20) {
      char piece[8];
      std::snprintf(piece, sizeof piece, "\\u%04x", c);
      out << piece;
    } else {
      out << ch;
    }
  }
  out << '"';
  return out.str();
}

// The first format whose sniffer recognises `path` ("" when none does).
std::string format_of(const fs::path& path) {
  for (const auto& f : available_formats()) {
    if (f->sniff(path)) return f->name();
  }
  return "";
}

}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  po::options_description desc("bench");
  desc.add_options()("model", po::value<std::string>()->required(), "")("input", po::value<std::vector<std::string>>(),
                                                                        "")("batch", po::value<std::int64_t>(), "")(
      "threads", po::value<int>(), "")("warmup", po::value<int>()->default_value(5), "")(
      "iterations", po::value<std::int64_t>(), "")("time", po::value<double>(), "")(
      "device", po::value<std::string>(), "")("mode", po::value<std::string>()->default_value("predict"), "")(
      "signature", po::value<std::string>(), "")("seed", po::value<unsigned>()->default_value(1), "")("json", "");
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string("bench: ") + e.what());
  }
  const std::string model_path = vm["model"].as<std::string>();
  const std::string mode = vm["mode"].as<std::string>();
  if (mode != "predict" && mode != "call" && mode != "traced") {
    throw UsageError("bench: --mode must be predict, call or traced, not '" + mode + "'");
  }
  const std::vector<std::string> input_files =
      vm.count("input") ? vm["input"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (vm.count("batch") && !input_files.empty()) {
    throw UsageError("bench: --batch and --input exclude each other (the samples of --input are the batch)");
  }
  const std::int64_t batch = vm.count("batch") ? vm["batch"].as<std::int64_t>() : 1;
  if (batch < 1) throw UsageError("bench: --batch must be >= 1");
  const int warmup = vm["warmup"].as<int>();
  if (warmup < 0) throw UsageError("bench: --warmup must be >= 0");
  // Stop at --iterations calls or after --time seconds, whichever comes first; with neither,
  // one second.
  const std::int64_t max_iterations = vm.count("iterations") ? vm["iterations"].as<std::int64_t>() : 0;
  if (vm.count("iterations") && max_iterations < 1) throw UsageError("bench: --iterations must be >= 1");
  double max_seconds = vm.count("time") ? vm["time"].as<double>() : (max_iterations > 0 ? 0.0 : 1.0);
  if (vm.count("time") && !(max_seconds > 0)) throw UsageError("bench: --time must be > 0 seconds");
  if (max_seconds == 0) max_seconds = std::numeric_limits<double>::infinity();
  const bool json = vm.count("json") > 0;

  std::string threads = "automatic";
  if (vm.count("threads")) {
    const int n = vm["threads"].as<int>();
    if (n < 1) throw UsageError("bench: --threads must be >= 1");
    set_num_threads(n);
    threads = std::to_string(n);
  }

  std::optional<DeviceScope> scope;
  if (vm.count("device")) {
    auto frame = ErrorContext::push("reading --device");
    scope.emplace(Device(vm["device"].as<std::string>()));
  }
  const Device device = default_device();

  std::error_code ec;
  STRATA_CHECK(fs::exists(model_path, ec), IOError, "'", model_path, "' does not exist");
  const std::string format = format_of(model_path);

  // Load, timed: the model (predict, call) or the SavedModel's traced functions (traced).
  std::function<std::vector<Tensor>(const std::vector<Tensor>&)> run;
  std::vector<TensorSpec> specs;
  std::shared_ptr<Model> model;
  saved_model::LoadedSavedModel loaded;
  const auto load_start = Clock::now();
  if (mode == "traced") {
    STRATA_CHECK(fs::is_directory(model_path, ec), ValueError,
                 "--mode traced runs a SavedModel's traced serving "
                 "function; '",
                 model_path, "' is not a SavedModel directory (use --mode predict or call)");
    auto frame = ErrorContext::push("loading the traced functions of '", model_path, "'");
    loaded = saved_model::load(model_path);
  } else {
    LoadOptions options;
    options.compile = false;
    if (vm.count("signature")) options.signature = vm["signature"].as<std::string>();
    model = load_model(model_path, options);
    model->to(device);
  }
  const double load_s = seconds_since(load_start);

  if (mode == "traced") {
    const std::string name = vm.count("signature") ? vm["signature"].as<std::string>() : "serving_default";
    const auto it = loaded.signatures.find(name);
    std::string names;
    for (const auto& [n, f] : loaded.signatures) names += (names.empty() ? "" : ", ") + n;
    STRATA_CHECK(it != loaded.signatures.end(), ValueError, "'", model_path, "' has no signature '", name,
                 "'; its signatures: ", names.empty() ? std::string("(none)") : names);
    specs = it->second.inputs;
    const auto function = it->second.function;
    run = [function](const std::vector<Tensor>& x) { return function(x); };
  } else {
    for (const auto& t : model->inputs()) {
      const std::string name = t.is_symbolic() && t.node()->layer ? t.node()->layer->name() : "";
      specs.emplace_back(t.shape(), t.dtype(), name);
    }
    const Model* m = model.get();
    if (mode == "predict") {
      run = [m, batch](const std::vector<Tensor>& x) {
        return m->predict(x, std::max<std::int64_t>(batch, x.empty() ? 1 : x[0].shape()[0]));
      };
    } else {
      run = [m](const std::vector<Tensor>& x) { return (*m)(x); };
    }
  }

  // Inputs: the files given (in the model's input order), else random ones of its shapes.
  std::vector<Tensor> inputs;
  std::int64_t samples = batch;
  if (!input_files.empty()) {
    STRATA_CHECK(specs.empty() || input_files.size() == specs.size(), ValueError, "the model '", model_path, "' takes ",
                 specs.size(), " inputs but ", input_files.size(), " --input files were given");
    std::vector<std::string> ordered(input_files.size());
    for (std::size_t i = 0; i < input_files.size(); ++i) {
      const auto eq = input_files[i].find('=');
      if (eq == std::string::npos || input_files[i].find('/') < eq) {
        ordered[i] = input_files[i];
        continue;
      }
      const std::string name = input_files[i].substr(0, eq);
      const auto at = std::find_if(specs.begin(), specs.end(), [&name](const TensorSpec& s) { return s.name == name; });
      STRATA_CHECK(at != specs.end(), ValueError, "--input ", input_files[i], ": the model has no input '", name, "'");
      ordered[static_cast<std::size_t>(at - specs.begin())] = input_files[i].substr(eq + 1);
    }
    for (std::size_t i = 0; i < ordered.size(); ++i) {
      STRATA_CHECK(!ordered[i].empty(), ValueError, "--input: no file for input ", i, " ('", specs[i].name, "')");
      STRATA_CHECK(fs::exists(ordered[i], ec), IOError, "--input '", ordered[i], "' does not exist");
      auto frame = ErrorContext::push("reading --input '", ordered[i], "'");
      Tensor x = read_npy(ordered[i]);
      if (i < specs.size() && is_floating(specs[i].dtype) && x.dtype() != specs[i].dtype &&
          x.dtype() != DType::kString) {
        x = cast(x, specs[i].dtype);
      }
      inputs.push_back(x.dtype() == DType::kString ? x : x.to(device));
    }
    samples = inputs.empty() || inputs[0].rank() == 0 ? 1 : inputs[0].shape()[0];
  } else {
    STRATA_CHECK(!specs.empty(), ValueError, "the model '", model_path,
                 "' declares no inputs (a subclassed model): give them with --input X.npy");
    std::mt19937 rng(vm["seed"].as<unsigned>());
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const std::string name = specs[i].name.empty() ? "input " + std::to_string(i) : specs[i].name;
      inputs.push_back(random_input(specs[i].shape, specs[i].dtype, batch, rng, name).to(device));
    }
  }

  const bool sync = device.type() != "cpu";
  const auto call = [&] {
    auto out = run(inputs);
    if (sync) synchronize(device);
    return out;
  };
  const auto first_start = Clock::now();
  {
    auto frame = ErrorContext::push("running '", model_path, "' (", mode, ")");
    (void)call();
  }
  const double first_s = seconds_since(first_start);
  for (int i = 0; i < warmup; ++i) (void)call();

  std::vector<double> times;
  const auto bench_start = Clock::now();
  while ((max_iterations == 0 || static_cast<std::int64_t>(times.size()) < max_iterations) &&
         (times.empty() || seconds_since(bench_start) < max_seconds)) {
    const auto t0 = Clock::now();
    (void)call();
    times.push_back(seconds_since(t0));
  }
  const double total_s = seconds_since(bench_start);
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (const double t : times) sum += t;
  const double mean = sum / static_cast<double>(times.size());
  const double calls_per_s = static_cast<double>(times.size()) / sum;
  const double samples_per_s = calls_per_s * static_cast<double>(samples);

  const auto us = [](double s) { return s * 1e6; };
  if (json) {
    std::ostringstream out;
    out << std::setprecision(6);
    out << "{\"model\": " << json_string(model_path) << ", \"format\": " << json_string(format)
        << ", \"strata_version\": " << json_string(runtime_version())
        << ", \"device\": " << json_string(device.to_string()) << ", \"mode\": " << json_string(mode)
        << ", \"batch\": " << samples << ", \"threads\": " << json_string(threads) << ", \"load_ms\": " << load_s * 1e3
        << ", \"first_call_ms\": " << first_s * 1e3 << ", \"warmup\": " << warmup
        << ", \"iterations\": " << times.size() << ", \"seconds\": " << total_s
        << ", \"latency_us\": {\"mean\": " << us(mean) << ", \"min\": " << us(sorted.front())
        << ", \"p50\": " << us(percentile(sorted, 0.5)) << ", \"p90\": " << us(percentile(sorted, 0.9))
        << ", \"p99\": " << us(percentile(sorted, 0.99)) << ", \"max\": " << us(sorted.back())
        << "}, \"throughput\": {\"calls_per_s\": " << calls_per_s << ", \"samples_per_s\": " << samples_per_s << "}}\n";
    std::cout << out.str();
    return 0;
  }
  const auto fmt = [](double seconds) {
    char text[32];
    if (seconds < 1e-3) {
      std::snprintf(text, sizeof text, "%.1f us", seconds * 1e6);
    } else if (seconds < 1) {
      std::snprintf(text, sizeof text, "%.2f ms", seconds * 1e3);
    } else {
      std::snprintf(text, sizeof text, "%.2f s", seconds);
    }
    return std::string(text);
  };
  std::cout << "model: " << model_path << " (format " << (format.empty() ? "?" : format) << ")\n"
            << "device: " << device.to_string() << ", mode: " << mode << ", batch: " << samples
            << ", threads: " << threads << "\n"
            << "load: " << fmt(load_s) << "\n"
            << "first call: " << fmt(first_s) << "\n"
            << "iterations: " << times.size() << " in " << fmt(total_s) << " (after " << warmup << " warm-up calls)\n"
            << "latency: mean " << fmt(mean) << ", min " << fmt(sorted.front()) << ", p50 "
            << fmt(percentile(sorted, 0.5)) << ", p90 " << fmt(percentile(sorted, 0.9)) << ", p99 "
            << fmt(percentile(sorted, 0.99)) << ", max " << fmt(sorted.back()) << "\n";
  char rate[96];
  std::snprintf(rate, sizeof rate, "throughput: %.1f samples/s (%.1f calls/s)\n", samples_per_s, calls_per_s);
  std::cout << rate;
  return 0;
}

}  // namespace strata::cli
