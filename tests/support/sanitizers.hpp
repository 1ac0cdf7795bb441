// STRATA_TEST_ASAN is defined when the test is built with AddressSanitizer (GCC's
// __SANITIZE_ADDRESS__ or clang's __has_feature), for tests that must skip a check there.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define STRATA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_TEST_ASAN 1
#endif
#endif
