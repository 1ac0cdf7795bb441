// What the C API's gtest programs share: a status holder and the checks on a call's status.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "strata/c_api.h"
#include "strata/tensor.hpp"

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

// A host buffer over a tensor's bytes (kept alive by the tensor): its first `rows` rows, or
// all of them when `rows` < 0. float32 or int32.
inline strata_buffer tensor_view(const strata::Tensor& t, int64_t rows = -1) {
  strata_buffer b;
  std::memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  b.dtype = t.dtype() == strata::DType::kFloat32 ? STRATA_FLOAT32 : STRATA_INT32;
  b.rank = static_cast<int32_t>(t.rank());
  for (std::size_t d = 0; d < t.rank(); ++d) b.shape[d] = t.shape()[d];
  b.data = const_cast<void*>(t.data());
  b.capacity = b.size = t.nbytes();
  if (rows >= 0) {
    b.shape[0] = rows;
    b.capacity = b.size = t.nbytes() / static_cast<std::size_t>(t.shape()[0]) * static_cast<std::size_t>(rows);
  }
  return b;
}

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
