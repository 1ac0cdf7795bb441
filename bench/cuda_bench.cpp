// The CUDA backend on a lent GPU machine (scripts/gpu-check.sh runs it; no GPU: every case
// reports "no usable cuda:0 device").
//   MatMul float32: strata::matmul on cuda:0 (dispatch, caching allocator, cuBLAS) against
//   a plain cublasSgemm on buffers allocated once, same run; target: within 90% of it.
//   Copies: 64 MiB host <-> device through Tensor::to (pinned staging) against one plain
//   cudaMemcpy from the same pageable memory, in bytes/s.
//   MLP forward (the guide's 784-64-64-10, matmul + bias + relu ... softmax through the op
//   API) at batch 256 and 1024 on cuda:0 and on cpu, in samples/s.
// Both strata cases synchronise the device each iteration so GPU time is counted.
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <random>
#include <vector>

#include "strata/gradient_tape.hpp"
#include "strata/ops.hpp"
#include "strata/variable.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/kernel.hpp"
#include "strata/registry.hpp"
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

bool have_cuda(benchmark::State& state) {
  try {
    strata::backend_device(strata::Device("cuda:0"));
    return true;
  } catch (const strata::Error& e) {
    state.SkipWithError(e.what());
    return false;
  }
}

void flops(benchmark::State& state, std::int64_t m, std::int64_t k, std::int64_t n) {
  state.counters["flops"] =
      benchmark::Counter(2.0 * static_cast<double>(m * k * n), benchmark::Counter::kIsIterationInvariantRate);
}

void bm_strata_matmul(benchmark::State& state) {
  if (!have_cuda(state)) return;
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const strata::Device cuda("cuda:0");
  const auto a = strata::Tensor::from_vector(random_values(m * k, 1), strata::Shape{m, k}, cuda);
  const auto b = strata::Tensor::from_vector(random_values(k * n, 2), strata::Shape{k, n}, cuda);
  auto& dev = strata::backend_device(cuda);
  benchmark::DoNotOptimize(strata::matmul(a, b));
  dev.synchronize();
  for (auto _ : state) {
    strata::Tensor c = strata::matmul(a, b);
    dev.synchronize();
    benchmark::DoNotOptimize(c.data());
  }
  flops(state, m, k, n);
}

void bm_cublas(benchmark::State& state) {
  if (!have_cuda(state)) return;
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  float *a = nullptr, *b = nullptr, *c = nullptr;
  cudaMalloc(&a, sizeof(float) * m * k);
  cudaMalloc(&b, sizeof(float) * k * n);
  cudaMalloc(&c, sizeof(float) * m * n);
  const auto av = random_values(m * k, 1), bv = random_values(k * n, 2);
  cudaMemcpy(a, av.data(), sizeof(float) * av.size(), cudaMemcpyHostToDevice);
  cudaMemcpy(b, bv.data(), sizeof(float) * bv.size(), cudaMemcpyHostToDevice);
  cublasHandle_t h;
  cublasCreate(&h);
  cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH);  // as the backend's default (no TF32)
  const float one = 1.f, zero = 0.f;
  for (auto _ : state) {
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one, b,
                static_cast<int>(n), a, static_cast<int>(k), &zero, c, static_cast<int>(n));
    cudaDeviceSynchronize();
  }
  cublasDestroy(h);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  flops(state, m, k, n);
}

void bm_mlp_forward(benchmark::State& state, const char* device_name) try {
  const strata::Device device(device_name);
  if (device.type() == "cuda" && !have_cuda(state)) return;
  const std::int64_t batch = state.range(0);
  const std::int64_t dims[] = {784, 64, 64, 10};
  std::vector<strata::Tensor> w, bias;
  for (int l = 0; l < 3; ++l) {
    w.push_back(strata::Tensor::from_vector(random_values(dims[l] * dims[l + 1], 10 + l), strata::Shape{dims[l], dims[l + 1]},
                                            device));
    bias.push_back(strata::Tensor::from_vector(random_values(dims[l + 1], 20 + l), strata::Shape{dims[l + 1]}, device));
  }
  const auto x = strata::Tensor::from_vector(random_values(batch * 784, 3), strata::Shape{batch, 784}, device);
  auto& dev = strata::backend_device(device);
  for (auto _ : state) {
    strata::Tensor h = x;
    for (int l = 0; l < 3; ++l) {
      h = strata::bias_add(strata::matmul(h, w[static_cast<std::size_t>(l)]), bias[static_cast<std::size_t>(l)]);
      h = l < 2 ? strata::relu(h) : strata::softmax(h);
    }
    dev.synchronize();
    benchmark::DoNotOptimize(h.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
} catch (const strata::Error& e) {
  // e.g. the cpu case on the GPU machine, where the oneDNN plugin is not carried.
  state.SkipWithError(e.what());
}

// One training step of the MLP: forward, softmax cross-entropy, gradients through the
// tape, and the Adam update of every variable (the fused ResourceApplyAdam where the device
// has a kernel for it, elsewhere the composed element-wise update, as plugins/training chooses).
void bm_mlp_train_step(benchmark::State& state, const char* device_name) try {
  const strata::Device device(device_name);
  if (device.type() == "cuda" && !have_cuda(state)) return;
  const std::int64_t batch = state.range(0);
  const std::int64_t dims[] = {784, 64, 64, 10};
  std::vector<strata::Variable> vars, m, v;
  for (int l = 0; l < 3; ++l) {
    const strata::Shape ws{dims[l], dims[l + 1]}, bs{dims[l + 1]};
    for (const auto& shape : {ws, bs}) {
      const auto n = static_cast<unsigned>(vars.size());
      vars.emplace_back("param", strata::Tensor::from_vector(random_values(shape.num_elements(), 40 + n), shape, device));
      m.emplace_back("m", strata::zeros(shape, strata::DType::kFloat32, device), false);
      v.emplace_back("v", strata::zeros(shape, strata::DType::kFloat32, device), false);
    }
  }
  const auto x = strata::Tensor::from_vector(random_values(batch * 784, 5), strata::Shape{batch, 784}, device);
  const auto labels = strata::one_hot(strata::argmax(
      strata::Tensor::from_vector(random_values(batch * 10, 6), strata::Shape{batch, 10}, device), 1), 10);
  const bool fused = strata::Registry::global().contains(
      strata::ObjectKind::kKernel, strata::kernel_key("ResourceApplyAdam", device.type(), strata::DType::kFloat32));
  const auto alpha = strata::Tensor::scalar<float>(0.001f).to(device);
  const auto s = [&](float x) { return strata::Tensor::scalar<float>(x).to(device); };
  // beta_1^t, beta_2^t of a late step (alpha ~ lr), beta_1, beta_2, epsilon.
  const strata::Tensor b1p = s(0.0f), b2p = s(0.0f), b1 = s(0.9f), b2 = s(0.999f), eps = s(1e-7f);
  auto& dev = strata::backend_device(device);
  for (auto _ : state) {
    strata::GradientTape tape;
    strata::Tensor h = x;
    for (int l = 0; l < 3; ++l) {
      h = strata::bias_add(strata::matmul(h, strata::read(vars[2 * l])), strata::read(vars[2 * l + 1]));
      if (l < 2) h = strata::relu(h);
    }
    const strata::Tensor loss = strata::mean(strata::neg(strata::sum(labels * strata::log_softmax(h), {1})));
    const auto grads = tape.gradient(loss, vars);
    for (std::size_t i = 0; i < vars.size(); ++i) {
      if (fused) {
        const auto out = strata::execute(
            "ResourceApplyAdam", {vars[i].value(), m[i].value(), v[i].value(), b1p, b2p, alpha, b1, b2, eps, grads[i]}, {});
        m[i].assign(out[1]);
        v[i].assign(out[2]);
        vars[i].assign(out[0]);
      } else {
        const strata::Tensor nm = m[i].value() + (grads[i] - m[i].value()) * 0.1;
        const strata::Tensor nv = v[i].value() + (strata::square(grads[i]) - v[i].value()) * 0.001;
        m[i].assign(nm);
        v[i].assign(nv);
        vars[i].assign(vars[i].value() - (nm * alpha) / (strata::sqrt(nv) + 1e-7));
      }
    }
    dev.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * batch);
} catch (const strata::Error& e) {
  state.SkipWithError(e.what());
}

// A small CNN's inference (28x28x1 -> conv 3x3x32, relu, max-pool 2 -> conv 3x3x64, relu,
// max-pool 2 -> dense 10, softmax): cuDNN convolutions and the pooling kernels on cuda,
// oneDNN on the cpu.
void bm_cnn_forward(benchmark::State& state, const char* device_name) try {
  const strata::Device device(device_name);
  if (device.type() == "cuda" && !have_cuda(state)) return;
  const std::int64_t batch = state.range(0);
  const auto t = [&](strata::Shape shape, int seed) {
    return strata::Tensor::from_vector(random_values(shape.num_elements(), seed), shape, device);
  };
  const auto f1 = t({3, 3, 1, 32}, 30), b1 = t({32}, 31), f2 = t({3, 3, 32, 64}, 32), b2 = t({64}, 33);
  const auto w = t({7 * 7 * 64, 10}, 34), b3 = t({10}, 35);
  const auto x = t({batch, 28, 28, 1}, 36);
  auto& dev = strata::backend_device(device);
  for (auto _ : state) {
    strata::Tensor h = strata::relu(strata::bias_add(strata::conv2d(x, f1, {1, 1}, strata::Padding::kSame), b1));
    h = strata::max_pool2d(h, {2, 2}, {2, 2}, strata::Padding::kValid);
    h = strata::relu(strata::bias_add(strata::conv2d(h, f2, {1, 1}, strata::Padding::kSame), b2));
    h = strata::max_pool2d(h, {2, 2}, {2, 2}, strata::Padding::kValid);
    h = strata::softmax(strata::bias_add(strata::matmul(strata::reshape(h, strata::Shape{batch, 7 * 7 * 64}), w), b3));
    dev.synchronize();
    benchmark::DoNotOptimize(h.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
} catch (const strata::Error& e) {
  state.SkipWithError(e.what());
}

// Host <-> device copies of 64 MiB from pageable memory: Strata's (double-buffered pinned
// staging, tensor allocation included) against one plain cudaMemcpy of the same buffer.
constexpr std::int64_t kCopyFloats = std::int64_t{16} << 20;

void bm_strata_copy(benchmark::State& state) {
  if (!have_cuda(state)) return;
  const bool to_device = state.range(0) == 1;
  const strata::Device cuda("cuda:0");
  const auto host = strata::Tensor::from_vector(random_values(kCopyFloats, 3), strata::Shape{kCopyFloats}, strata::Device::cpu());
  const auto device = host.to(cuda);
  for (auto _ : state) {
    strata::Tensor t = to_device ? host.to(cuda) : device.to(strata::Device::cpu());
    benchmark::DoNotOptimize(t.data());
  }
  state.SetBytesProcessed(state.iterations() * kCopyFloats * static_cast<std::int64_t>(sizeof(float)));
}

void bm_cuda_memcpy(benchmark::State& state) {
  if (!have_cuda(state)) return;
  const bool to_device = state.range(0) == 1;
  std::vector<float> host = random_values(kCopyFloats, 3);
  float* device = nullptr;
  cudaMalloc(&device, sizeof(float) * host.size());
  for (auto _ : state) {
    if (to_device) {
      cudaMemcpy(device, host.data(), sizeof(float) * host.size(), cudaMemcpyHostToDevice);
    } else {
      cudaMemcpy(host.data(), device, sizeof(float) * host.size(), cudaMemcpyDeviceToHost);
    }
    benchmark::DoNotOptimize(host.data());
  }
  cudaFree(device);
  state.SetBytesProcessed(state.iterations() * kCopyFloats * static_cast<std::int64_t>(sizeof(float)));
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  b->Args({1024, 1024, 1024});
  b->Args({4096, 4096, 4096});
}

BENCHMARK(bm_strata_matmul)->Apply(shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_cublas)->Apply(shapes)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_strata_copy)->ArgName("to_device")->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_cuda_memcpy)->ArgName("to_device")->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_mlp_forward, cuda, "cuda:0")->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_mlp_forward, cpu, "cpu:0")->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_mlp_train_step, cuda, "cuda:0")->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_mlp_train_step, cpu, "cpu:0")->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_cnn_forward, cuda, "cuda:0")->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_cnn_forward, cpu, "cpu:0")->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  strata::initialize();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
