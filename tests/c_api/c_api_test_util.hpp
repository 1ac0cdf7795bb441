// What the C API's gtest programs share: a status holder and the checks on a call's status.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
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

// A model handle that releases itself.
struct CModel {
  CModel() = default;
  ~CModel() { strata_model_release(m); }
  CModel(const CModel&) = delete;
  CModel& operator=(const CModel&) = delete;
  strata_model* m = nullptr;
};

// A training-logs handle (C API version 3) that releases itself; at(name) is the value.
struct CLogs {
  CLogs() = default;
  ~CLogs() { strata_logs_release(l); }
  CLogs(const CLogs&) = delete;
  CLogs& operator=(const CLogs&) = delete;
  strata_logs* l = nullptr;
  double at(const char* name) const {
    double v = NAN;
    Status s(strata_logs_find(l, name, &v));
    EXPECT_TRUE(s.ok()) << s.message();
    return v;
  }
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
