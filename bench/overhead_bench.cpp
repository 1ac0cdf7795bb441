// Per-call overhead at batch 1, for instruction counts under callgrind (load-independent):
//
//   valgrind --tool=callgrind --collect-atstart=no build/bin/strata_bench_overhead MODE [CALLS]
//
// runs CALLS (default 1000) calls of MODE after a warm-up, collecting only around those
// calls (callgrind's client requests; a plain run just times them), so the total Ir over
// CALLS is the cost of one call. MODE:
//   graph_mlp     a SavedModel's serving_default (traced graph, fused) on the 784-64-64-10 MLP
//   predict_mlp   Model::predict on the same MLP, eager
//   capi_mlp      strata_model_predict on the same MLP saved as .keras
//   cpp_mlp       Model::predict on the same .keras file loaded from C++
//   predict_cnn   Model::predict on the small CNN at batch CALLS' companion --batch (default 1)
// --batch=N sets the batch (default 1).
#include <valgrind/callgrind.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include "bench_io.hpp"
#include "strata/c_api.h"
#include "strata/model.hpp"
#include "bench_models.hpp"
#include "strata/ops.hpp"
#include "strata/saved_model.hpp"
#include "strata/saving.hpp"
#include "strata/strata.hpp"

namespace {

using namespace strata;
namespace fs = std::filesystem;

using bench::cnn_model;
using bench::mlp_model;

std::vector<float> random_values(std::int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(0, 1);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

template <class F>
void measure(const std::string& mode, int calls, F&& f) {
  for (int i = 0; i < 20; ++i) f();  // warm-up: primitives, caches, plans
  const auto t0 = std::chrono::steady_clock::now();
  CALLGRIND_START_INSTRUMENTATION;
  for (int i = 0; i < calls; ++i) f();
  CALLGRIND_STOP_INSTRUMENTATION;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << mode << " calls=" << calls << " us_per_call=" << s / calls * 1e6 << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "graph_mlp";
  int calls = 1000;
  std::int64_t batch = 1;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--batch=", 8) == 0) batch = std::atoll(argv[i] + 8);
    else calls = std::atoi(argv[i]);
  }
  initialize();
  set_random_seed(1);
  const fs::path dir = bench::bench_dir("overhead");
  const bool is_cnn = mode.find("cnn") != std::string::npos;
  auto model = is_cnn ? cnn_model() : mlp_model();
  const Shape shape = is_cnn ? Shape{batch, 28, 28, 1} : Shape{batch, 784};
  const std::vector<float> values = random_values(shape.num_elements());
  const Tensor x = Tensor::from_vector<float>(values, shape);
  if (mode == "graph_mlp" || mode == "graph_cnn") {
    save_model(*model, dir / "sm");
    auto loaded = saved_model::load(dir / "sm");
    const auto& serve = loaded.signatures.at("serving_default");
    measure(mode, calls, [&] { (void)serve({x}); });
  } else if (mode == "predict_mlp" || mode == "predict_cnn") {
    measure(mode, calls, [&] { (void)model->predict(x, batch); });
  } else if (mode == "cpp_mlp" || mode == "capi_mlp") {
    save_model(*model, dir / "m.keras");
    if (mode == "cpp_mlp") {
      auto loaded = load_model(dir / "m.keras");
      measure(mode, calls, [&] { (void)loaded->predict(x, batch); });
    } else {
      strata_model* m = nullptr;
      if (strata_status* s = strata_model_load((dir / "m.keras").c_str(), nullptr, &m)) {
        std::cerr << strata_status_message(s) << "\n";
        return 1;
      }
      std::vector<float> out(static_cast<std::size_t>(batch * 10));
      strata_buffer in{}, o{};
      in.struct_size = o.struct_size = sizeof(strata_buffer);
      in.dtype = o.dtype = STRATA_FLOAT32;
      in.rank = 2;
      in.shape[0] = batch;
      in.shape[1] = 784;
      in.data = const_cast<float*>(values.data());
      in.capacity = in.size = values.size() * sizeof(float);
      o.data = out.data();
      o.capacity = out.size() * sizeof(float);
      measure(mode, calls, [&] {
        if (strata_status* s = strata_model_predict(m, &in, 1, &o, 1)) {
          std::cerr << strata_status_message(s) << "\n";
          std::exit(1);
        }
      });
      strata_model_release(m);
    }
  } else {
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  }
  fs::remove_all(dir);
  return 0;
}
