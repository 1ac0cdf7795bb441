// The collective-nccl plugin. Here (no GPU): it loads without loading libnccl, registers the
// collective "nccl", and creating a communicator is a CollectiveError naming the missing
// device. On a GPU machine (scripts/gpu-check.sh): a one-rank communicator all-reduces,
// broadcasts and gathers a known buffer in device memory. NCCL refuses two ranks on one GPU,
// so more than one rank is untested until a multi-GPU machine is available.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "strata/plugin/collective.hpp"
#include "strata/registry.hpp"

namespace strata {
namespace {

bool has_cuda_device() {
  int count = 0;
  const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  (void)cudaGetLastError();
  return ok;
}

std::string mapped_libraries() {
  std::ifstream maps("/proc/self/maps");
  std::stringstream s;
  s << maps.rdbuf();
  return s.str();
}

std::shared_ptr<Communicator> make_nccl(const Config& extra = Config{{"bootstrap", ""}}) {
  const auto factory = Registry::global().find<ObjectKind::kCollective>("nccl");
  if (!factory) throw std::runtime_error("no collective 'nccl' registered");
  CollectiveOptions options;
  options.timeout_seconds = 30;
  options.extra = extra;
  return (*factory)(options);
}

// First in the file: no test before it has created a communicator.
TEST(NcclPlugin, LoadsAndRegistersNcclWithoutLoadingLibnccl) {
  EXPECT_TRUE(Registry::global().contains(ObjectKind::kCollective, "nccl"));
  bool from_plugin = false;
  for (const auto& e : Registry::global().entries_from("collective-nccl")) from_plugin |= e.name == "nccl";
  EXPECT_TRUE(from_plugin) << "'nccl' is not registered by the collective-nccl plugin";
  EXPECT_EQ(mapped_libraries().find("libnccl"), std::string::npos) << "libnccl was loaded before first use";
}

TEST(NcclPlugin, WithoutACudaDeviceCreatingACommunicatorIsACollectiveError) {
  if (has_cuda_device()) GTEST_SKIP() << "this machine has a CUDA device";
  try {
    make_nccl();
    FAIL() << "created an NCCL communicator without a CUDA device";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("collective 'nccl' needs a CUDA device: no CUDA device"), std::string::npos)
        << e.what();
  }
  // Still nothing of NCCL loaded: the device is checked first.
  EXPECT_EQ(mapped_libraries().find("libnccl"), std::string::npos);
}

class NcclOneRank : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_cuda_device()) GTEST_SKIP() << "no CUDA device (scripts/gpu-check.sh runs this on a GPU machine)";
    try {
      comm_ = make_nccl();
    } catch (const CollectiveError& e) {
      // libnccl (~200 MB) does not travel in gpu-check's pack: the GPU machine's own is used.
      if (std::string(e.what()).find("cannot load NCCL") != std::string::npos) GTEST_SKIP() << e.what();
      throw;
    }
  }
  std::shared_ptr<Communicator> comm_;
  template <class T>
  static T* to_device(const std::vector<T>& v) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, v.size() * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    return static_cast<T*>(p);
  }
  template <class T>
  static std::vector<T> to_host(const T* p, std::size_t n) {
    std::vector<T> v(n);
    EXPECT_EQ(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return v;
  }
};

TEST_F(NcclOneRank, AllReduceBroadcastAllGatherAndBarrierOnAKnownBuffer) {
  const auto& comm = comm_;
  EXPECT_EQ(comm->name(), "nccl");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->device_type(), "cuda");
  std::vector<float> known(1 << 16);
  for (std::size_t i = 0; i < known.size(); ++i) known[i] = static_cast<float>(i % 97) * 0.25f - 3.0f;
  float* d = to_device(known);
  // One rank: every reduction of one replica's values is those values, bit for bit.
  for (const ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kMin}) {
    comm->all_reduce(d, known.size(), DType::kFloat32, op);
    EXPECT_EQ(to_host(d, known.size()), known) << reduce_op_name(op);
  }
  auto request = comm->all_reduce_async(d, known.size(), DType::kFloat32, ReduceOp::kSum);
  request->wait();
  EXPECT_TRUE(request->test());
  EXPECT_EQ(to_host(d, known.size()), known);
  const std::vector<std::int64_t> ints = {1, -2, 3, 1LL << 40};
  std::int64_t* di = to_device(ints);
  comm->all_reduce(di, ints.size(), DType::kInt64, ReduceOp::kSum);
  EXPECT_EQ(to_host(di, ints.size()), ints);
  comm->broadcast(d, known.size() * sizeof(float), 0);
  EXPECT_EQ(to_host(d, known.size()), known);
  float* gathered = to_device(std::vector<float>(known.size(), 0.0f));
  comm->all_gather(d, gathered, known.size() * sizeof(float));
  EXPECT_EQ(to_host(gathered, known.size()), known);
  comm->barrier();
  EXPECT_THROW(comm->all_reduce(d, 1, DType::kBool, ReduceOp::kSum), ValueError);
  EXPECT_THROW(comm->broadcast(d, 4, 1), ValueError);
  cudaFree(d);
  cudaFree(di);
  cudaFree(gathered);
}

TEST_F(NcclOneRank, ADeviceThatDoesNotExistIsAValueError) {
  EXPECT_THROW(make_nccl(Config{{"bootstrap", ""}, {"device", 4096}}), ValueError);
}

}  // namespace
}  // namespace strata
