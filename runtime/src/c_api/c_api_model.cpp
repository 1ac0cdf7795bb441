// The C API's model calls: load, describe, predict, infer output shapes, save.
#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"
#include "strata/strata.hpp"

namespace strata::capi {
namespace {

// The size strata_buffer had in C API version 1, the smallest struct_size accepted.
constexpr std::size_t kBufferSizeV1 = offsetof(strata_buffer, size) + sizeof(std::size_t);

// "input 0 'features'" (or "input 0" for a model that names none).
std::string port_name(const strata_model& m, bool input, std::size_t i) {
  const auto& ports = input ? m.inputs : m.outputs;
  std::string s = detail::concat(input ? "input " : "output ", i);
  if (i < ports.size()) s += detail::concat(" '", ports[i].name, "'");
  return s;
}

std::string port_text(const strata_model::Port& p) { return detail::concat(dtype_name(p.dtype), " ", p.shape.to_string()); }

// True when a value of `shape` fits `declared` (same rank; known dimensions equal).
bool fits(const Shape& shape, const Shape& declared) {
  if (!declared.has_known_rank()) return true;
  if (shape.rank() != declared.rank()) return false;
  for (std::size_t d = 0; d < shape.rank(); ++d) {
    const std::int64_t want = declared.dims()[d], got = shape.dims()[d];
    if (want != Shape::kUnknown && got != Shape::kUnknown && want != got) return false;
  }
  return true;
}

// A shape from the caller's rank and dimensions; `allow_unknown` accepts -1.
Shape shape_from(std::int32_t rank, const std::int64_t* dims, bool allow_unknown, const std::string& where) {
  STRATA_CHECK(rank >= 0 && rank <= STRATA_MAX_RANK, capi::InvalidArgument, where, ": rank ", rank,
               " is out of range (0 to ", STRATA_MAX_RANK, ")");
  std::vector<std::int64_t> v(dims, dims + rank);
  for (std::size_t d = 0; d < v.size(); ++d) {
    STRATA_CHECK(v[d] >= 0 || (allow_unknown && v[d] == Shape::kUnknown), capi::InvalidArgument, where,
                 ": dimension ", d, " is ", v[d], allow_unknown ? " (use -1 for unknown)" : "");
  }
  return Shape(std::move(v));
}

// The tensor for input `i` of a predict call: every field of the buffer checked against
// itself and against the model's input, float64 converted to float32 (and back) the
// way `strata predict` does, placed on `device`. With `borrow`, a cpu input of the model's
// dtype is the caller's memory itself (Tensor::borrow_host, no copy): the caller ends the
// borrow (end_borrow) before it returns to its own caller.
Tensor input_tensor_named(const strata_model& m, std::size_t i, const strata_buffer& b, const Device& device,
                          const std::string& who, bool borrow) {
  check_struct_size<strata_buffer>(b.struct_size, kBufferSizeV1, "strata_buffer", who);
  const Shape shape = shape_from(b.rank, b.shape, false, who);
  const DType dtype = to_dtype(b.dtype, who);
  const std::int64_t elements = shape.num_elements();
  const std::size_t item = dtype_size(dtype);
  STRATA_CHECK(static_cast<std::uint64_t>(elements) <= std::numeric_limits<std::size_t>::max() / item,
               capi::InvalidArgument, who, ": a ", dtype_name(dtype), " ", shape.to_string(), " value is too large");
  const std::size_t bytes = static_cast<std::size_t>(elements) * item;
  STRATA_CHECK(b.size <= b.capacity, capi::InvalidArgument, who, ": size (", b.size,
               " bytes) is larger than capacity (", b.capacity, " bytes)");
  STRATA_CHECK(b.size == bytes, capi::InvalidArgument, who, ": size is ", b.size, " bytes but a ", dtype_name(dtype),
               " ", shape.to_string(), " value takes ", bytes);
  STRATA_CHECK(b.data != nullptr || bytes == 0, capi::InvalidArgument, who, ": data is NULL");

  DType want = dtype;
  if (i < m.inputs.size()) {
    const auto& port = m.inputs[i];
    const bool convert = dtype != port.dtype && is_floating(dtype) && is_floating(port.dtype);
    STRATA_CHECK(dtype == port.dtype || convert, ValueError, who, ": expected ", port_text(port), ", got ",
                 dtype_name(dtype), " ", shape.to_string());
    STRATA_CHECK(fits(shape, port.shape), ShapeError, who, ": expected ", port_text(port), ", got ",
                 dtype_name(dtype), " ", shape.to_string());
    want = port.dtype;
  }
  // A borrowed input that is converted or moved is read once, by the cast or the copy.
  Tensor x = borrow ? Tensor::borrow_host(dtype, shape, b.data, bytes)
                    : Tensor::from_host(dtype, shape, b.data, bytes, Device::cpu());
  if (want != dtype) x = cast(x, want);
  return device == Device::cpu() ? x : x.to(device);
}

// The port's name goes into messages only: a call that fails is repeated with it, so that
// a good call builds no strings.
Tensor input_tensor(const strata_model& m, std::size_t i, const strata_buffer& b, const Device& device,
                    bool borrow = false) {
  static const std::string unnamed;
  try {
    return input_tensor_named(m, i, b, device, unnamed, borrow);
  } catch (const Error&) {
    return input_tensor_named(m, i, b, device, port_name(m, true, i), borrow);
  }
}

// Ends the borrow of every borrowed input when a call returns or throws: a tensor the model
// kept beyond the call (none should) takes its own copy instead of the caller's memory.
class BorrowedInputs {
 public:
  explicit BorrowedInputs(std::size_t n) { xs_.reserve(n); }
  BorrowedInputs(const BorrowedInputs&) = delete;
  BorrowedInputs& operator=(const BorrowedInputs&) = delete;
  ~BorrowedInputs() {
    for (const auto& x : xs_) {
      try {
        Tensor::end_borrow(x);
      } catch (...) {
        // Out of memory for the copy: nothing can keep the caller's memory from being read
        // again later, so stop here rather than read freed memory.
        std::terminate();
      }
    }
  }
  std::vector<Tensor>& tensors() noexcept { return xs_; }

 private:
  std::vector<Tensor> xs_;
};

// Writes name, dtype, shape and rank of `port`, all or none.
void describe(const strata_model::Port& port, const std::string& who, const char** name, strata_dtype* dtype,
              std::int64_t* shape, std::int32_t* rank) {
  STRATA_CHECK(port.shape.has_known_rank() && port.shape.rank() <= STRATA_MAX_RANK, ShapeError, who,
               " has an unknown rank or a rank above ", STRATA_MAX_RANK);
  const strata_dtype d = from_dtype(port.dtype, who);  // may throw: before anything is written
  if (name) *name = port.name.c_str();
  if (dtype) *dtype = d;
  if (shape) std::copy(port.shape.dims().begin(), port.shape.dims().end(), shape);
  if (rank) *rank = static_cast<std::int32_t>(port.shape.rank());
}

}  // namespace

std::string model_port_name(const strata_model& m, bool input, std::size_t i) { return port_name(m, input, i); }
Tensor model_input_tensor(const strata_model& m, std::size_t i, const strata_buffer& b, const Device& device) {
  return input_tensor(m, i, b, device);
}
std::size_t buffer_size_v1() noexcept { return kBufferSizeV1; }

}  // namespace strata::capi

using strata::capi::guarded;

extern "C" {

strata_status* strata_model_load(const char* path, const char* format, strata_model** model) {
  STRATA_C_REQUIRE(path != nullptr && model != nullptr, "strata_model_load: path and model must not be NULL");
  return guarded([&] {
    strata::initialize();
    strata::LoadOptions options;
    if (format) options.format = format;
    options.compile = false;
    auto handle = std::make_unique<strata_model>();
    handle->model = strata::load_model(path, options);
    handle->path = path;
    handle->format = options.format;
    const auto weights = handle->model->weights();
    handle->device = weights.empty() ? strata::Device::cpu() : weights.front().device();
    for (const auto& t : handle->model->inputs()) handle->inputs.push_back({t.node()->name, t.dtype(), t.shape()});
    for (const auto& t : handle->model->outputs()) {
      handle->outputs.push_back({t.node()->layer ? t.node()->layer->name() : t.node()->name, t.dtype(), t.shape()});
    }
    *model = handle.release();
  });
}

void strata_model_release(strata_model* model) { delete model; }

strata_status* strata_model_input_count(const strata_model* model, size_t* count) {
  STRATA_C_REQUIRE(model != nullptr && count != nullptr, "strata_model_input_count: NULL argument");
  *count = model->inputs.size();
  return nullptr;
}

strata_status* strata_model_output_count(const strata_model* model, size_t* count) {
  STRATA_C_REQUIRE(model != nullptr && count != nullptr, "strata_model_output_count: NULL argument");
  *count = model->outputs.size();
  return nullptr;
}

strata_status* strata_model_input_info(const strata_model* model, size_t index, const char** name, strata_dtype* dtype,
                                       int64_t* shape, int32_t* rank) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_input_info: model is NULL");
  return guarded([&] {
    STRATA_CHECK(index < model->inputs.size(), capi::InvalidArgument, "strata_model_input_info: the model has ",
                 model->inputs.size(), " input(s), so there is no input ", index);
    strata::capi::describe(model->inputs[index], strata::capi::port_name(*model, true, index), name, dtype, shape,
                           rank);
  });
}

strata_status* strata_model_output_info(const strata_model* model, size_t index, const char** name, strata_dtype* dtype,
                                        int64_t* shape, int32_t* rank) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_output_info: model is NULL");
  return guarded([&] {
    STRATA_CHECK(index < model->outputs.size(), capi::InvalidArgument, "strata_model_output_info: the model has ",
                 model->outputs.size(), " output(s), so there is no output ", index);
    strata::capi::describe(model->outputs[index], strata::capi::port_name(*model, false, index), name, dtype, shape,
                           rank);
  });
}

strata_status* strata_model_to_device(strata_model* model, const char* device) {
  STRATA_C_REQUIRE(model != nullptr && device != nullptr, "strata_model_to_device: NULL argument");
  return guarded([&] {
    const strata::Device target{std::string_view(device)};
    model->device.reset();  // unknown until the move succeeds
    model->model->to(target);
    const auto weights = model->model->weights();
    model->device = weights.empty() ? strata::Device::cpu() : weights.front().device();
  });
}

strata_status* strata_model_predict(const strata_model* model, const strata_buffer* inputs, size_t input_count,
                                    strata_buffer* outputs, size_t output_count) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_predict: model is NULL");
  STRATA_C_REQUIRE(input_count == 0 || inputs != nullptr, "strata_model_predict: inputs is NULL");
  STRATA_C_REQUIRE(output_count == 0 || outputs != nullptr, "strata_model_predict: outputs is NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    const strata_model& m = *model;
    STRATA_CHECK(m.inputs.empty() || input_count == m.inputs.size(), capi::InvalidArgument,
                 "strata_model_predict: the model takes ", m.inputs.size(), " input(s) but ", input_count,
                 " were given");
    STRATA_CHECK(m.outputs.empty() || output_count == m.outputs.size(), capi::InvalidArgument,
                 "strata_model_predict: the model has ", m.outputs.size(), " output(s) but ", output_count,
                 " output buffers were given");
    // Checked with an unnamed port first; names are built only to report a failure.
    static const std::string unnamed;
    const auto check_output_buffer = [&](size_t i, const std::string& who) {
      capi::check_struct_size<strata_buffer>(outputs[i].struct_size, capi::kBufferSizeV1, "strata_buffer", who);
      capi::to_dtype(outputs[i].dtype, who);
    };
    for (size_t i = 0; i < output_count; ++i) {
      try {
        check_output_buffer(i, unnamed);
      } catch (const strata::Error&) {
        check_output_buffer(i, capi::port_name(m, false, i));
      }
    }
    strata::Device device = strata::Device::cpu();
    if (m.device) {
      device = *m.device;
    } else {
      const auto weights = m.model->weights();
      if (!weights.empty()) device = weights.front().device();
    }
    // The inputs are the caller's memory for the length of the call (no copy).
    capi::BorrowedInputs borrowed(input_count);
    std::vector<strata::Tensor>& xs = borrowed.tensors();
    for (size_t i = 0; i < input_count; ++i) xs.push_back(capi::input_tensor(m, i, inputs[i], device, true));
    const std::int64_t batch = xs.empty() || xs[0].rank() == 0 ? 1 : std::max<std::int64_t>(1, xs[0].shape()[0]);
    const auto ys = m.model->predict(xs, batch);
    STRATA_CHECK(ys.size() == output_count, capi::InvalidArgument, "strata_model_predict: the model gave ",
                 ys.size(), " outputs but ", output_count, " output buffers were given");
    // Check every buffer before writing any (outputs are written only on success).
    const auto check_output = [&](size_t i, const std::string& who) {
      const strata::DType want = capi::to_dtype(outputs[i].dtype, who);
      STRATA_CHECK(want == ys[i].dtype(), ValueError, who, " is ", strata::dtype_name(ys[i].dtype()),
                   " but its buffer is ", strata::dtype_name(want));
      STRATA_CHECK(ys[i].rank() <= STRATA_MAX_RANK, ShapeError, who, " has rank ", ys[i].rank(),
                   " (a strata_buffer holds at most ", STRATA_MAX_RANK, ")");
      STRATA_CHECK(outputs[i].capacity >= ys[i].nbytes(), ShapeError, who, " needs ", ys[i].nbytes(),
                   " bytes (", strata::dtype_name(ys[i].dtype()), " ", ys[i].shape().to_string(),
                   ") but its buffer holds ", outputs[i].capacity);
      STRATA_CHECK(outputs[i].data != nullptr || ys[i].nbytes() == 0, capi::InvalidArgument, who,
                   ": data is NULL");
    };
    for (size_t i = 0; i < ys.size(); ++i) {
      try {
        check_output(i, unnamed);
      } catch (const strata::Error&) {
        check_output(i, capi::port_name(m, false, i));
      }
    }
    for (size_t i = 0; i < ys.size(); ++i) {
      if (ys[i].nbytes() > 0) ys[i].copy_to_host(outputs[i].data, ys[i].nbytes());
      outputs[i].rank = static_cast<int32_t>(ys[i].rank());
      std::copy(ys[i].shape().dims().begin(), ys[i].shape().dims().end(), outputs[i].shape);
      outputs[i].size = ys[i].nbytes();
    }
  });
}

strata_status* strata_model_output_shapes(const strata_model* model, const strata_shape* input_shapes,
                                          size_t input_count, strata_shape* output_shapes, size_t output_count) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_output_shapes: model is NULL");
  STRATA_C_REQUIRE(input_count == 0 || input_shapes != nullptr, "strata_model_output_shapes: input_shapes is NULL");
  STRATA_C_REQUIRE(output_count == 0 || output_shapes != nullptr, "strata_model_output_shapes: output_shapes is NULL");
  return guarded([&] {
    namespace capi = strata::capi;
    const strata_model& m = *model;
    STRATA_CHECK(m.inputs.empty() || input_count == m.inputs.size(), capi::InvalidArgument,
                 "strata_model_output_shapes: the model takes ", m.inputs.size(), " input(s) but ", input_count,
                 " shapes were given");
    std::vector<strata::Shape> shapes;
    for (size_t i = 0; i < input_count; ++i) {
      const std::string who = capi::port_name(m, true, i);
      strata::Shape s = capi::shape_from(input_shapes[i].rank, input_shapes[i].dims, true, who);
      if (i < m.inputs.size()) {
        STRATA_CHECK(capi::fits(s, m.inputs[i].shape), ShapeError, who, ": expected ",
                     capi::port_text(m.inputs[i]), ", got shape ", s.to_string());
      }
      shapes.push_back(std::move(s));
    }
    const auto out = m.model->compute_output_shape(shapes);
    STRATA_CHECK(out.size() == output_count, capi::InvalidArgument, "strata_model_output_shapes: the model has ",
                 out.size(), " output(s) but room for ", output_count, " shapes was given");
    for (size_t i = 0; i < out.size(); ++i) {
      STRATA_CHECK(out[i].has_known_rank() && out[i].rank() <= STRATA_MAX_RANK, ShapeError,
                   capi::port_name(m, false, i), " has shape ", out[i].to_string(), " (a strata_shape holds ranks 0 to ",
                   STRATA_MAX_RANK, ")");
    }
    for (size_t i = 0; i < out.size(); ++i) {
      output_shapes[i].rank = static_cast<int32_t>(out[i].rank());
      std::copy(out[i].dims().begin(), out[i].dims().end(), output_shapes[i].dims);
    }
  });
}

strata_status* strata_model_save(const strata_model* model, const char* path, const char* format) {
  STRATA_C_REQUIRE(model != nullptr && path != nullptr, "strata_model_save: NULL argument");
  return guarded([&] {
    strata::SaveOptions options;
    if (format) options.format = format;
    strata::save_model(*model->model, path, options);
  });
}

strata_status* strata_convert(const char* in, const char* out, const char* format) {
  STRATA_C_REQUIRE(in != nullptr && out != nullptr, "strata_convert: NULL argument");
  return guarded([&] {
    strata::initialize();
    strata::SaveOptions options;
    if (format) options.format = format;
    strata::save_model(*strata::load_model(in), out, options);
  });
}

}  // extern "C"
