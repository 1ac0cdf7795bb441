// Shared by the C API's sources: the status object, the firewall that turns every C++
// exception into a status, and the checks of the caller-sized structs.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "strata/c_api.h"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"

struct strata_status {
  strata_code code;
  std::string message;
};

struct strata_model {
  // An input or output as the model declares it (symbolic shape: -1 where unknown).
  struct Port {
    std::string name;
    strata::DType dtype;
    strata::Shape shape;
  };
  std::shared_ptr<strata::Model> model;
  std::vector<Port> inputs, outputs;  // empty for a subclassed model (it declares none)
  // Where it was loaded from (strata_model_compile_from_file reads the file again).
  std::string path, format;
  // The weights' device, set by load and strata_model_to_device (predict reads it instead of
  // listing the weights on every call); unset: predict asks the weights.
  std::optional<strata::Device> device;
};

namespace strata::capi {

// A bad argument to the C API itself (a NULL pointer, a struct_size the runtime does not
// know, a rank out of range): STRATA_INVALID_ARGUMENT. Its kind() stays "ValueError".
class InvalidArgument : public ValueError {
 public:
  using ValueError::ValueError;
};

// Never throws: when even the status cannot be allocated, a static one says so.
strata_status* make_status(strata_code code, std::string message) noexcept;

// The code of a Strata error, by its dynamic type (a subclass of FormatError is a
// FormatError whatever its kind() says).
strata_code code_of(const Error& e) noexcept;

// Runs `f` and turns whatever it throws into a status; nullptr on success.
template <class F>
strata_status* guarded(F&& f) noexcept {
  try {
    f();
    return nullptr;
  } catch (const Error& e) {
    return make_status(code_of(e), e.what());
  } catch (const std::bad_alloc&) {
    return make_status(STRATA_ERROR, "out of memory");
  } catch (const std::exception& e) {
    return make_status(STRATA_ERROR, e.what());
  } catch (...) {
    return make_status(STRATA_ERROR, "unknown error (a C++ exception not derived from std::exception)");
  }
}

#define STRATA_C_REQUIRE(cond, what)                                                            \
  do {                                                                                          \
    if (!(cond)) return ::strata::capi::make_status(STRATA_INVALID_ARGUMENT, what);             \
  } while (0)

// The integer a C caller stored in an enum-typed field or argument, read by its bytes: a C
// enum may hold any int, and a C++ load of an out-of-range enum value is undefined.
template <class E>
long long raw_enum(const E& e) noexcept {
  std::underlying_type_t<E> v;
  std::memcpy(&v, &e, sizeof v);
  return static_cast<long long>(v);
}

DType to_dtype(const strata_dtype& d, const std::string& where);
strata_dtype from_dtype(DType d, const std::string& where);

// Checks the struct_size a host set in a struct of type T: at least `oldest` (the size T
// had in the C API version that introduced it) and at most sizeof(T) as this runtime
// knows it. `type` and `where` name the struct and the argument in the message.
template <class T>
void check_struct_size(std::size_t got, std::size_t oldest, const char* type, const std::string& where) {
  STRATA_CHECK(got != 0, capi::InvalidArgument, where, ": ", type, ".struct_size is 0; set it to sizeof(", type, ")");
  STRATA_CHECK(got >= oldest && got <= sizeof(T), capi::InvalidArgument, where, ": ", type, ".struct_size is ", got,
               "; this runtime (C API version ", STRATA_C_API_VERSION, ") knows sizes ", oldest, " to ", sizeof(T),
               ". Was the host built against another strata/c_api.h? Set it to sizeof(", type, ")");
}

// Writes `value` into the caller's struct, only the fields inside the caller's
// struct_size (already checked), keeping that struct_size.
template <class T>
void write_sized(T* out, T value) noexcept {
  const std::size_t size = out->struct_size;
  value.struct_size = size;
  std::memcpy(static_cast<void*>(out), &value, size);
}

// Shared by the model and training calls (c_api_model.cpp): "input 0 'features'" /
// "output 1 'scores'"; the checked tensor of input `i` from the caller's buffer on
// `device`; the smallest strata_buffer.struct_size accepted (version 1's).
std::string model_port_name(const strata_model& m, bool input, std::size_t i);
Tensor model_input_tensor(const strata_model& m, std::size_t i, const strata_buffer& b, const Device& device);
std::size_t buffer_size_v1() noexcept;

}  // namespace strata::capi
