// The conformance kit's devices: the op, gradient and model suites are registered at start-up
// (after the plugins are loaded) for every device of every loaded backend, the way ggml's
// test-backend-ops loops over its backends, so a backend added by a plugin gets every check
// without editing a suite. A filter (--devices or STRATA_KIT_DEVICES, "cpu,cuda:1") narrows
// the list. Test names keep the per-device instance prefix: "Cpu/OpConformance.
// MatchesReferenceKernels/cpu_Add_f32", "Cuda/..." (CTest's gpu label selects "*Cuda*").
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "strata/device.hpp"

namespace strata::testing {

// Sets the device filter: comma-separated device types ("cuda") or devices ("cuda:1");
// empty: every device. Throws ValueError naming the loaded backends when an entry names
// a device type no loaded backend provides.
void set_kit_device_filter(const std::string& list);

// The devices the suites run on, in the registry's order with cpu first: every device a
// loaded backend reports usable, and device 0 of a backend with none (its cases are
// registered and skip with the backend's reason, e.g. cuda on a machine without a GPU).
// The tests' `ref` backend, the oracle, is included only when `include_ref` (the gradient
// checks test it too).
std::vector<Device> kit_devices(bool include_ref);

// "Cpu", "Cuda", "Cuda1" (index > 0): the instance prefix of a device's test suites.
std::string kit_instance_name(const Device& device);
// "cpu", "cuda", "cuda1": the prefix of a case's test name.
std::string kit_case_prefix(const Device& device);

// Registers one test of `suite` for `device`: suite "<Instance>/<suite>", test
// "<test>/<prefix>_<case_name>".
template <class Factory>
void register_kit_test(const std::string& suite, const Device& device, const std::string& test,
                       const std::string& case_name, const char* file, int line, Factory factory) {
  const std::string suite_name = kit_instance_name(device) + "/" + suite;
  const std::string test_name = test + "/" + kit_case_prefix(device) + "_" + case_name;
  const std::string value = device.to_string() + " " + case_name;
  ::testing::RegisterTest(suite_name.c_str(), test_name.c_str(), nullptr, value.c_str(), file, line, factory);
}

// The suites' registrations (conformance_test.cpp, gradient_check_test.cpp,
// model_conformance_test.cpp).
void register_op_conformance_tests(const std::vector<Device>& devices);
void register_gradient_check_tests(const std::vector<Device>& devices);
void register_model_conformance_tests(const std::vector<Device>& devices);

// All three for kit_devices(); call once, after the plugins and the ref backend are
// loaded and before RUN_ALL_TESTS.
void register_kit_tests();

}  // namespace strata::testing
