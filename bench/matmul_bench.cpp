// MatMul dispatch overhead: strata::matmul (shape inference, kernel lookup, output
// allocation, the backend-onednn kernel and its primitive cache) against a plain oneDNN
// matmul primitive created once and executed in the loop on preallocated buffers, both
// float32, in the same run. Shapes: 1024x1024x1024, and the layers of the 784-64-64-10
// MLP (x[B,784]·W[784,64], [B,64]·[64,64], [B,64]·[64,10]) for B = 1, 32, 1024.
//
// Targets: under 10% overhead at 1024^3 and under 3 µs extra per op at batch 1.
// Run: ./build/bin/strata_bench_matmul --benchmark_repetitions=3
// The backend plugin loads from the default plugin directory (strata::initialize()).
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "strata/ops.hpp"
#include "strata/runtime.hpp"
#include "strata/tensor.hpp"

namespace {

std::vector<float> random_values(std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

void set_counters(benchmark::State& state, std::int64_t m, std::int64_t k, std::int64_t n) {
  state.counters["flops"] = benchmark::Counter(2.0 * static_cast<double>(m * k * n),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// strata::matmul through the runtime's dispatch on the cpu device.
void bm_strata(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const strata::Tensor a = strata::Tensor::from_vector(random_values(m * k, 1), strata::Shape{m, k}, strata::Device::cpu());
  const strata::Tensor b = strata::Tensor::from_vector(random_values(k * n, 2), strata::Shape{k, n}, strata::Device::cpu());
  benchmark::DoNotOptimize(strata::matmul(a, b));  // builds and caches the primitive
  for (auto _ : state) {
    strata::Tensor c = strata::matmul(a, b);
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, m, k, n);
}

// The same product as one oneDNN primitive, created once, on buffers allocated once.
void bm_onednn(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc a_md({m, k}, dt::f32, tag::ab), b_md({k, n}, dt::f32, tag::ab), c_md({m, n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine);
  const dnnl::matmul primitive(pd);
  std::vector<float> av = random_values(m * k, 1), bv = random_values(k * n, 2), cv(static_cast<std::size_t>(m * n));
  dnnl::memory a(a_md, engine, av.data()), b(b_md, engine, bv.data()), c(c_md, engine, cv.data());
  const std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
  primitive.execute(stream, args);
  stream.wait();
  for (auto _ : state) {
    primitive.execute(stream, args);
    stream.wait();
    benchmark::DoNotOptimize(cv.data());
  }
  set_counters(state, m, k, n);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  b->Args({1024, 1024, 1024});
  for (std::int64_t batch : {1, 32, 1024}) {
    b->Args({batch, 784, 64});
    b->Args({batch, 64, 64});
    b->Args({batch, 64, 10});
  }
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_strata)->Apply(shapes);
BENCHMARK(bm_onednn)->Apply(shapes);

int main(int argc, char** argv) {
  strata::initialize();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
