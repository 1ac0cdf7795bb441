#include <gtest/gtest.h>

#include <thread>

#include "ref_backend.hpp"
#include "strata/device.hpp"
#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"

namespace strata {
namespace {

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device("cpu"), Device("cpu", 0));
  EXPECT_EQ(Device("cuda:1").type(), "cuda");
  EXPECT_EQ(Device("cuda:1").index(), 1);
  EXPECT_EQ(Device("cuda:1").to_string(), "cuda:1");
  EXPECT_EQ(Device().to_string(), "cpu:0");
  for (const char* bad : {"", "Cuda", "TPU:0", "cuda:", "cuda:-1", "cuda:x", ":0", "cu da", "cuda:0:1", "/device:",
                          "/job:localhost/replica:0/task:0/device:GPU:x"}) {
    EXPECT_THROW(Device{std::string_view(bad)}, ValueError) << bad;
  }
}

// Issue 19: TensorFlow's spellings name the same devices (GPU is cuda, CPU is cpu).
TEST(Device, ReadsTensorFlowsSpellings) {
  EXPECT_EQ(Device("GPU:0"), Device("cuda:0"));
  EXPECT_EQ(Device("gpu"), Device("cuda:0"));
  EXPECT_EQ(Device("/GPU:1"), Device("cuda:1"));
  EXPECT_EQ(Device("/device:GPU:1"), Device("cuda:1"));
  EXPECT_EQ(Device("/job:localhost/replica:0/task:0/device:GPU:0"), Device("cuda:0"));
  EXPECT_EQ(Device("CPU:0"), Device::cpu());
  EXPECT_EQ(Device("/device:CPU:0"), Device::cpu());
  try {
    Device{std::string_view("TPU:0")};
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("GPU:0"), std::string::npos) << e.what();
  }
}

TEST(DeviceScope, NestsAndIsPerThread) {
  EXPECT_EQ(default_device(), Device::cpu());
  {
    DeviceScope outer(Device("ref:0"));
    EXPECT_EQ(default_device(), Device("ref:0"));
    {
      DeviceScope inner(Device("cpu"));
      EXPECT_EQ(default_device(), Device::cpu());
    }
    EXPECT_EQ(default_device(), Device("ref:0"));
    Device seen_by_other;
    std::thread([&] { seen_by_other = default_device(); }).join();
    EXPECT_EQ(seen_by_other, Device::cpu());
  }
  EXPECT_EQ(default_device(), Device::cpu());
}

TEST(BackendDevice, UnknownTypesAndIndicesAreClearErrors) {
  try {
    backend_device(Device("nosuch:0"));
    FAIL();
  } catch (const BackendError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("no loaded backend provides device type 'nosuch'"), std::string::npos) << text;
    EXPECT_NE(text.find("strata plugins"), std::string::npos) << text;
  }
  EXPECT_THROW(backend_device(Device("cpu:1")), BackendError);
  EXPECT_FALSE(is_device_available(Device("nosuch:0")));
  EXPECT_TRUE(is_device_available(Device::cpu()));
}

TEST(BackendDevice, CpuIsBuiltInAndHostAccessible) {
  BackendDevice& cpu = backend_device(Device::cpu());
  EXPECT_TRUE(cpu.host_accessible());
  EXPECT_EQ(cpu.device(), Device::cpu());
  void* p = cpu.allocate(100);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 64, 0u);
  cpu.deallocate(p, 100);
}

TEST(BackendDevice, RefDeviceIsListedOnceRegistered) {
  testing::register_ref_backend();
  const auto devices = available_devices();
  EXPECT_EQ(devices.front(), Device::cpu());
  EXPECT_NE(std::find(devices.begin(), devices.end(), Device("ref:0")), devices.end());
  EXPECT_FALSE(backend_device(Device("ref:0")).host_accessible());
}

}  // namespace
}  // namespace strata

namespace strata {
namespace {

TEST(CpuDevice, LargeBlocksAreReusedSmallOnesAreNot) {
  BackendDevice& cpu = backend_device(Device::cpu());
  void* big = cpu.allocate(1 << 20);
  cpu.deallocate(big, 1 << 20);
  void* again = cpu.allocate((1 << 20) - 100);  // rounds to the same page-multiple size
  EXPECT_EQ(again, big);
  cpu.deallocate(again, (1 << 20) - 100);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(again) % 64, 0u);
}

}  // namespace
}  // namespace strata
