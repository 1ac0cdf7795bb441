// What the C API's gtest programs share: a status holder and the checks on a call's status.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "strata/c_api.h"

namespace strata::capi_test {

// Takes ownership of a status; the test reads its code and message.
struct Status {
  explicit Status(strata_status* s) : s(s) {}
  ~Status() { strata_status_release(s); }
  Status(const Status&) = delete;
  Status& operator=(const Status&) = delete;
  strata_code code() const { return strata_status_code(s); }
  std::string message() const { return strata_status_message(s); }
  bool ok() const { return s == nullptr; }
  strata_status* s;
};

}  // namespace strata::capi_test

#define EXPECT_C_OK(call)                                   \
  do {                                                      \
    ::strata::capi_test::Status st_(call);                  \
    EXPECT_TRUE(st_.ok()) << st_.message();                 \
  } while (0)
#define ASSERT_C_OK(call)                                   \
  do {                                                      \
    ::strata::capi_test::Status st_(call);                  \
    ASSERT_TRUE(st_.ok()) << st_.message();                 \
  } while (0)
// A refused call: its code, and a message containing `part`.
#define EXPECT_REFUSED(call, want_code, part)                                \
  do {                                                                       \
    ::strata::capi_test::Status st_(call);                                   \
    EXPECT_EQ(st_.code(), want_code) << st_.message();                       \
    EXPECT_NE(st_.message().find(part), std::string::npos) << st_.message(); \
  } while (0)
