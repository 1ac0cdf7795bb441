// main() of the test programs that need the real plugins: loads every plugin on the
// search path (the build's plugin directory), registers the tests' `ref` backend, then
// runs GoogleTest.
#include <gtest/gtest.h>

#include "ref_backend.hpp"
#include "strata/runtime.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  strata::initialize();
  strata::testing::register_ref_backend();
  return RUN_ALL_TESTS();
}
