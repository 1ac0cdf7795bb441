// The C API: a firewall around the C++ runtime. Every entry point catches everything and
// turns it into a strata_status.
#include "strata/c_api.h"

#include <cstring>
#include <filesystem>
#include <new>
#include <sstream>

#include "strata/saving.hpp"
#include "strata/strata.hpp"

struct strata_status {
  strata_code code;
  std::string message;
};

struct strata_model {
  std::shared_ptr<strata::Model> model;
  std::vector<std::string> input_names, output_names;
};

namespace {

strata_status* make_status(strata_code code, std::string message) {
  try {
    return new strata_status{code, std::move(message)};
  } catch (...) {
    static strata_status oom{STRATA_ERROR, "out of memory while reporting an error"};
    return &oom;
  }
}

strata_code code_of(const strata::Error& e) {
  const std::string kind = e.kind();
  if (kind == "ValueError") return STRATA_VALUE_ERROR;
  if (kind == "ShapeError") return STRATA_SHAPE_ERROR;
  if (kind == "UnknownObjectError") return STRATA_UNKNOWN_OBJECT;
  if (kind == "FormatError") return STRATA_FORMAT_ERROR;
  if (kind == "IOError") return STRATA_IO_ERROR;
  if (kind == "PluginError") return STRATA_PLUGIN_ERROR;
  if (kind == "BackendError") return STRATA_BACKEND_ERROR;
  return STRATA_ERROR;
}

template <class F>
strata_status* guarded(F&& f) {
  try {
    f();
    return nullptr;
  } catch (const strata::Error& e) {
    return make_status(code_of(e), e.what());
  } catch (const std::bad_alloc&) {
    return make_status(STRATA_ERROR, "out of memory");
  } catch (const std::exception& e) {
    return make_status(STRATA_ERROR, e.what());
  } catch (...) {
    return make_status(STRATA_ERROR, "unknown error");
  }
}

#define STRATA_C_REQUIRE(cond, what)                                    \
  do {                                                                 \
    if (!(cond)) return make_status(STRATA_INVALID_ARGUMENT, what);    \
  } while (0)

strata::DType to_dtype(strata_dtype d) {
  switch (d) {
    case STRATA_FLOAT32: return strata::DType::kFloat32;
    case STRATA_FLOAT64: return strata::DType::kFloat64;
    case STRATA_INT32: return strata::DType::kInt32;
    case STRATA_UINT8: return strata::DType::kUInt8;
    case STRATA_INT8: return strata::DType::kInt8;
    case STRATA_INT64: return strata::DType::kInt64;
    case STRATA_BOOL: return strata::DType::kBool;
  }
  STRATA_THROW(ValueError, "unknown strata_dtype ", static_cast<int>(d));
}

strata_dtype from_dtype(strata::DType d) {
  switch (d) {
    case strata::DType::kFloat32: return STRATA_FLOAT32;
    case strata::DType::kFloat64: return STRATA_FLOAT64;
    case strata::DType::kInt32: return STRATA_INT32;
    case strata::DType::kUInt8: return STRATA_UINT8;
    case strata::DType::kInt8: return STRATA_INT8;
    case strata::DType::kInt64: return STRATA_INT64;
    case strata::DType::kBool: return STRATA_BOOL;
    default: break;
  }
  STRATA_THROW(ValueError, "dtype ", strata::dtype_name(d), " has no C API equivalent");
}

void describe(const strata::Tensor& t, const std::string& name, const char** name_out, strata_dtype* dtype,
              int64_t* shape, int32_t* rank) {
  const strata::Shape& s = t.shape();
  STRATA_CHECK(s.has_known_rank() && s.rank() <= 8, ShapeError, "tensor '", name, "' has an unknown or too large rank");
  if (name_out) *name_out = name.c_str();
  if (dtype) *dtype = from_dtype(t.dtype());
  if (shape) {
    for (std::size_t i = 0; i < s.rank(); ++i) shape[i] = s.dims()[i];
  }
  if (rank) *rank = static_cast<int32_t>(s.rank());
}

}  // namespace

extern "C" {

strata_code strata_status_code(const strata_status* status) { return status ? status->code : STRATA_OK; }
const char* strata_status_message(const strata_status* status) { return status ? status->message.c_str() : ""; }
void strata_status_release(strata_status* status) {
  if (status && status->message != "out of memory while reporting an error") delete status;
}

strata_status* strata_init(const char* const* plugin_paths, size_t count) {
  STRATA_C_REQUIRE(count == 0 || plugin_paths != nullptr, "strata_init: plugin_paths is NULL");
  return guarded([&] {
    strata::RuntimeOptions options;
    for (size_t i = 0; i < count; ++i) {
      STRATA_CHECK(plugin_paths[i] != nullptr, ValueError, "strata_init: plugin path ", i, " is NULL");
      const std::filesystem::path p(plugin_paths[i]);
      if (std::filesystem::is_directory(p)) {
        options.plugin_directories.push_back(p);
      } else {
        options.plugin_files.push_back(p);
      }
    }
    strata::initialize(options);
  });
}

const char* strata_version(void) { return strata::runtime_version(); }

strata_status* strata_list_plugins(char** text) {
  STRATA_C_REQUIRE(text != nullptr, "strata_list_plugins: text is NULL");
  return guarded([&] {
    std::ostringstream out;
    for (const auto& p : strata::PluginManager::global().plugins()) {
      out << (p.name.empty() ? "?" : p.name) << " " << (p.version.empty() ? "?" : p.version) << " " << p.status() << " "
          << p.path.string() << "\n";
    }
    const std::string s = out.str();
    char* copy = static_cast<char*>(std::malloc(s.size() + 1));
    if (!copy) throw std::bad_alloc();
    std::memcpy(copy, s.c_str(), s.size() + 1);
    *text = copy;
  });
}

void strata_string_release(char* text) { std::free(text); }

strata_status* strata_model_load(const char* path, const char* format, strata_model** model) {
  STRATA_C_REQUIRE(path != nullptr && model != nullptr, "strata_model_load: path and model must not be NULL");
  return guarded([&] {
    strata::initialize();
    strata::LoadOptions options;
    if (format) options.format = format;
    options.compile = false;
    auto handle = std::make_unique<strata_model>();
    handle->model = strata::load_model(path, options);
    for (const auto& t : handle->model->inputs()) handle->input_names.push_back(t.node()->name);
    for (const auto& t : handle->model->outputs()) {
      handle->output_names.push_back(t.node()->layer ? t.node()->layer->name() : t.node()->name);
    }
    *model = handle.release();
  });
}

void strata_model_release(strata_model* model) { delete model; }

strata_status* strata_model_input_count(const strata_model* model, size_t* count) {
  STRATA_C_REQUIRE(model != nullptr && count != nullptr, "strata_model_input_count: NULL argument");
  return guarded([&] { *count = model->input_names.size(); });
}

strata_status* strata_model_output_count(const strata_model* model, size_t* count) {
  STRATA_C_REQUIRE(model != nullptr && count != nullptr, "strata_model_output_count: NULL argument");
  return guarded([&] { *count = model->output_names.size(); });
}

strata_status* strata_model_input_info(const strata_model* model, size_t index, const char** name, strata_dtype* dtype,
                                       int64_t* shape, int32_t* rank) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_input_info: model is NULL");
  return guarded([&] {
    const auto inputs = model->model->inputs();
    STRATA_CHECK(index < inputs.size(), ValueError, "the model has ", inputs.size(), " inputs, not ", index + 1);
    describe(inputs[index], model->input_names[index], name, dtype, shape, rank);
  });
}

strata_status* strata_model_output_info(const strata_model* model, size_t index, const char** name, strata_dtype* dtype,
                                        int64_t* shape, int32_t* rank) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_output_info: model is NULL");
  return guarded([&] {
    const auto outputs = model->model->outputs();
    STRATA_CHECK(index < outputs.size(), ValueError, "the model has ", outputs.size(), " outputs, not ", index + 1);
    describe(outputs[index], model->output_names[index], name, dtype, shape, rank);
  });
}

strata_status* strata_model_to_device(strata_model* model, const char* device) {
  STRATA_C_REQUIRE(model != nullptr && device != nullptr, "strata_model_to_device: NULL argument");
  return guarded([&] { model->model->to(strata::Device(std::string_view(device))); });
}

strata_status* strata_model_predict(const strata_model* model, const strata_buffer* inputs, size_t input_count,
                                    strata_buffer* outputs, size_t output_count) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_predict: model is NULL");
  STRATA_C_REQUIRE(input_count == 0 || inputs != nullptr, "strata_model_predict: inputs is NULL");
  STRATA_C_REQUIRE(output_count == 0 || outputs != nullptr, "strata_model_predict: outputs is NULL");
  return guarded([&] {
    const auto weights = model->model->weights();
    const strata::Device device = weights.empty() ? strata::Device::cpu() : weights.front().device();
    std::vector<strata::Tensor> xs;
    for (size_t i = 0; i < input_count; ++i) {
      const strata_buffer& b = inputs[i];
      STRATA_CHECK(b.rank >= 0 && b.rank <= 8 && b.data != nullptr, ValueError, "input ", i, " has rank ", b.rank,
                   " or no data");
      const strata::Shape shape(std::vector<int64_t>(b.shape, b.shape + b.rank));
      const strata::DType dtype = to_dtype(b.dtype);
      const std::size_t bytes = static_cast<std::size_t>(shape.num_elements()) * strata::dtype_size(dtype);
      STRATA_CHECK(b.capacity >= bytes, ValueError, "input ", i, " needs ", bytes, " bytes but its buffer holds ",
                   b.capacity);
      xs.push_back(strata::Tensor::from_host(dtype, shape, b.data, bytes, device));
    }
    const auto ys = model->model->predict(xs, xs.empty() || xs[0].rank() == 0 ? 1 : std::max<int64_t>(1, xs[0].shape()[0]));
    STRATA_CHECK(ys.size() == output_count, ValueError, "the model has ", ys.size(), " outputs but ", output_count,
                 " output buffers were given");
    // Check every buffer before writing any (outputs are written only on success).
    for (size_t i = 0; i < ys.size(); ++i) {
      STRATA_CHECK(to_dtype(outputs[i].dtype) == ys[i].dtype(), ValueError, "output ", i, " is ",
                   strata::dtype_name(ys[i].dtype()), " but its buffer is ", strata::dtype_name(to_dtype(outputs[i].dtype)));
      STRATA_CHECK(outputs[i].capacity >= ys[i].nbytes() && outputs[i].data != nullptr, ShapeError, "output ", i,
                   " needs ", ys[i].nbytes(), " bytes (shape ", ys[i].shape().to_string(), ") but its buffer holds ",
                   outputs[i].capacity);
      STRATA_CHECK(ys[i].rank() <= 8, ShapeError, "output ", i, " has rank ", ys[i].rank(), " (at most 8)");
    }
    for (size_t i = 0; i < ys.size(); ++i) {
      ys[i].copy_to_host(outputs[i].data, ys[i].nbytes());
      outputs[i].rank = static_cast<int32_t>(ys[i].rank());
      for (size_t d = 0; d < ys[i].rank(); ++d) outputs[i].shape[d] = ys[i].shape().dims()[d];
      outputs[i].size = ys[i].nbytes();
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
