// One source, many test plugins: tests/plugins/CMakeLists.txt compiles it with different
// TEST_* definitions into good and deliberately broken plugins, each in its own
// directory, to exercise every check of the plugin loader with real shared libraries.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/registrar.hpp"

#ifndef TEST_PLUGIN_NAME
#error "TEST_PLUGIN_NAME must be defined"
#endif
#ifndef TEST_LAYER_NAME
#define TEST_LAYER_NAME "TestGoodLayer"
#endif

#if defined(TEST_OTHER_TOOLCHAIN)
#define TEST_TOOLCHAIN "gcc99;libstdc++/cxx11abi=0;c++201703L;json3.9.1"
#endif

#if defined(TEST_UNRESOLVED)
extern "C" void strata_test_symbol_that_does_not_exist();
#endif

#if defined(TEST_CONSTRUCTOR_MARKER)
// An ELF constructor: runs when the dynamic loader opens the library, before the runtime
// sees the descriptor. It appends the plugin's name to the file named by
// STRATA_TEST_PLUGIN_MARKER, so a test can see whether the library was ever opened.
__attribute__((constructor)) static void strata_test_mark_opened() {
  const char* path = std::getenv("STRATA_TEST_PLUGIN_MARKER");
  if (path == nullptr) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fputs(TEST_PLUGIN_NAME "\n", f);
    std::fclose(f);
  }
}
#endif

namespace {

using strata::BackendDevice;

// Host memory under its own device type, so a test can see the plugin's code run.
class PlugDevice final : public BackendDevice {
 public:
  strata::Device device() const override { return strata::Device(TEST_DEVICE_TYPE, 0); }
  std::string description() const override { return "test plugin memory"; }
  bool host_accessible() const override { return true; }
  void* allocate(std::size_t bytes) override { return std::malloc(bytes ? bytes : 1); }
  void deallocate(void* p, std::size_t) noexcept override { std::free(p); }
  void copy_from_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_to_host(void* d, const void* s, std::size_t n) override { std::memcpy(d, s, n); }
  void copy_within(void* d, const void* s, std::size_t n) override { std::memmove(d, s, n); }
  void synchronize() override {}
};

class PlugBackend final : public strata::Backend {
 public:
  std::string_view device_type() const override { return TEST_DEVICE_TYPE; }
  int device_count() const override { return 1; }
  BackendDevice& device(int) override { return device_; }

 private:
  PlugDevice device_;
};

[[maybe_unused]] void register_all(strata::Registrar& r) {
#if defined(TEST_UNRESOLVED)
  strata_test_symbol_that_does_not_exist();
#endif
  r.add<strata::ObjectKind::kBackend>(TEST_DEVICE_TYPE, [] { return std::make_shared<PlugBackend>(); });
  r.add<strata::ObjectKind::kLayer>(TEST_LAYER_NAME,
                                    [](const strata::Config&) { return std::shared_ptr<strata::Layer>(); });
#if defined(TEST_THROWS)
  throw std::runtime_error("test plugin failed on purpose while registering");
#endif
}

#if defined(TEST_PROBE_UNUSABLE)
int probe(char* reason, std::size_t size) {
  std::strncpy(reason, "no test hardware (simulated)", size - 1);
  return 0;
}
#endif

}  // namespace

#if defined(TEST_FUTURE_LAYOUT)
// A descriptor of a future ABI major whose layout changed after the version words: where
// this ABI has the name and other string pointers it holds small integers, which are no
// addresses. A loader must read the version first and nothing after it.
namespace {
struct FutureDescriptor {
  std::uint32_t struct_size;
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  std::uint32_t flags;
  std::uint64_t words[8];
};
const FutureDescriptor future_descriptor = {
    sizeof(FutureDescriptor), STRATA_PLUGIN_ABI_MAJOR + 1, 0, 0, {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}};
}  // namespace
STRATA_EXPORT_PLUGIN_DESCRIPTOR(future_descriptor);
#elif defined(TEST_NO_ENTRY)
// Deliberately exports no entry point.
extern "C" {
__attribute__((visibility("default"))) int strata_test_not_a_plugin = 1;
}
#elif defined(TEST_ABI_MAJOR) || defined(TEST_ABI_MINOR) || defined(TEST_ABI_MINOR_NEXT) || defined(TEST_TOOLCHAIN) || \
    defined(TEST_STRUCT_SIZE)
#ifdef TEST_ABI_MINOR_NEXT  // one minor above this SDK's, whatever it is
#define TEST_ABI_MINOR (STRATA_PLUGIN_ABI_MINOR + 1)
#endif
#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR STRATA_PLUGIN_ABI_MAJOR
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR STRATA_PLUGIN_ABI_MINOR
#endif
#ifndef TEST_TOOLCHAIN
#define TEST_TOOLCHAIN STRATA_TOOLCHAIN_TAG
#endif
#ifndef TEST_STRUCT_SIZE
#define TEST_STRUCT_SIZE sizeof(strata::PluginDescriptor)
#endif
static const strata::PluginDescriptor test_descriptor = {
    TEST_STRUCT_SIZE, TEST_ABI_MAJOR, TEST_ABI_MINOR, TEST_TOOLCHAIN, TEST_PLUGIN_NAME, "1.2.3",
    "deliberately mismatched test plugin", &register_all, nullptr};
STRATA_EXPORT_PLUGIN_DESCRIPTOR(test_descriptor);
#elif defined(TEST_DEPENDENCIES)
STRATA_PLUGIN_WITH_DEPENDENCIES(TEST_PLUGIN_NAME, "1.2.3", "test plugin for the loader tests", register_all,
                                TEST_DEPENDENCIES);
#else
STRATA_PLUGIN(TEST_PLUGIN_NAME, "1.2.3", "test plugin for the loader tests", register_all);
#endif

#if defined(TEST_PROBE_UNUSABLE)
STRATA_PLUGIN_PROBE(probe);
#endif
