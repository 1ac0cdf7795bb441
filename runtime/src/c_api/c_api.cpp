// The C API: a firewall around the C++ runtime. Every entry point catches everything and
// turns it into a strata_status. This file: status objects, the runtime-wide calls
// (start-up, versions, plugins, logging, devices) and the versioned function table;
// c_api_model.cpp: the model calls.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "c_api/c_api_internal.hpp"
#include "strata/device.hpp"
#include "strata/log.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugins.hpp"
#include "strata/registry.hpp"
#include "strata/runtime.hpp"
#include "strata/threads.hpp"
#include "strata/version.hpp"

struct strata_plugin_list {
  struct Item {
    std::string name, version, description, path, reason, status;
    strata_plugin_state state = STRATA_PLUGIN_REFUSED;
    bool usable = true;
    unsigned abi_major = 0, abi_minor = 0;
  };
  std::vector<Item> items;
};

struct strata_device_list {
  struct Item {
    std::string name, type, description, reason;
    int index = -1;
    bool usable = false;
  };
  std::vector<Item> items;
};

namespace strata::capi {
namespace {

// The status handed out when allocating a status fails; never freed.
strata_status g_out_of_memory{STRATA_ERROR, "out of memory while reporting an error"};

// The size each caller-sized struct had in the C API version that introduced it: the
// smallest struct_size accepted. Fixed forever; a later version appends fields after these.
constexpr std::size_t kVersionsSizeV2 = offsetof(strata_versions, toolchain_tag) + sizeof(const char*);
constexpr std::size_t kPluginInfoSizeV2 = offsetof(strata_plugin_info, abi_minor) + sizeof(std::uint32_t);
constexpr std::size_t kDeviceInfoSizeV2 = offsetof(strata_device_info, reason) + sizeof(const char*);

LogLevel to_log_level(const strata_log_level& given) {
  // A C caller may pass any int; reading it as the enum type would be undefined behaviour
  // (UBSan: "not a valid value for type"), so its bytes are read as an integer.
  const auto level = raw_enum(given);
  switch (level) {
    case STRATA_LOG_DEBUG: return LogLevel::kDebug;
    case STRATA_LOG_INFO: return LogLevel::kInfo;
    case STRATA_LOG_WARNING: return LogLevel::kWarning;
    case STRATA_LOG_ERROR: return LogLevel::kError;
    case STRATA_LOG_OFF: return LogLevel::kOff;
  }
  STRATA_THROW(capi::InvalidArgument, "strata_set_log_level: ", level,
               " is not a strata_log_level (STRATA_LOG_DEBUG = 0 to STRATA_LOG_OFF = 4)");
}

strata_log_level from_log_level(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return STRATA_LOG_DEBUG;
    case LogLevel::kInfo: return STRATA_LOG_INFO;
    case LogLevel::kWarning: return STRATA_LOG_WARNING;
    case LogLevel::kError: return STRATA_LOG_ERROR;
    case LogLevel::kOff: break;
  }
  return STRATA_LOG_OFF;
}

strata_device_list::Item describe_device(const Device& d) {
  strata_device_list::Item item;
  item.name = d.to_string();
  item.type = d.type();
  item.index = d.index();
  item.usable = true;
  item.description = backend_device(d).description();
  return item;
}

}  // namespace

strata_status* make_status(strata_code code, std::string message) noexcept {
  try {
    return new strata_status{code, std::move(message)};
  } catch (...) {
    return &g_out_of_memory;
  }
}

strata_code code_of(const Error& e) noexcept {
  // By type, most specific first: a plugin's subclass of FormatError that reports another
  // kind() string is still a format error to the host.
  if (dynamic_cast<const InvalidArgument*>(&e)) return STRATA_INVALID_ARGUMENT;
  if (dynamic_cast<const UnknownObjectError*>(&e)) return STRATA_UNKNOWN_OBJECT;
  if (dynamic_cast<const FormatError*>(&e)) return STRATA_FORMAT_ERROR;
  if (dynamic_cast<const IOError*>(&e)) return STRATA_IO_ERROR;
  if (dynamic_cast<const PluginError*>(&e)) return STRATA_PLUGIN_ERROR;
  if (dynamic_cast<const BackendError*>(&e)) return STRATA_BACKEND_ERROR;
  if (dynamic_cast<const ShapeError*>(&e)) return STRATA_SHAPE_ERROR;
  if (dynamic_cast<const ValueError*>(&e)) return STRATA_VALUE_ERROR;
  return STRATA_ERROR;
}

DType to_dtype(const strata_dtype& given, const std::string& where) {
  const auto d = raw_enum(given);  // any int a C caller wrote (see to_log_level)
  switch (d) {
    case STRATA_FLOAT32: return DType::kFloat32;
    case STRATA_FLOAT64: return DType::kFloat64;
    case STRATA_INT32: return DType::kInt32;
    case STRATA_UINT8: return DType::kUInt8;
    case STRATA_INT8: return DType::kInt8;
    case STRATA_INT64: return DType::kInt64;
    case STRATA_BOOL: return DType::kBool;
  }
  STRATA_THROW(capi::InvalidArgument, where, ": ", d, " is not a strata_dtype");
}

strata_dtype from_dtype(DType d, const std::string& where) {
  switch (d) {
    case DType::kFloat32: return STRATA_FLOAT32;
    case DType::kFloat64: return STRATA_FLOAT64;
    case DType::kInt32: return STRATA_INT32;
    case DType::kUInt8: return STRATA_UINT8;
    case DType::kInt8: return STRATA_INT8;
    case DType::kInt64: return STRATA_INT64;
    case DType::kBool: return STRATA_BOOL;
    default: break;
  }
  STRATA_THROW(ValueError, where, " is ", dtype_name(d), ", which has no strata_dtype; use the C++ API");
}

}  // namespace strata::capi

using strata::capi::guarded;
using strata::capi::make_status;

extern "C" {

strata_code strata_status_code(const strata_status* status) { return status ? status->code : STRATA_OK; }
const char* strata_status_message(const strata_status* status) { return status ? status->message.c_str() : ""; }
void strata_status_release(strata_status* status) {
  if (status != &strata::capi::g_out_of_memory) delete status;
}

strata_status* strata_init(const char* const* plugin_paths, size_t count) {
  STRATA_C_REQUIRE(count == 0 || plugin_paths != nullptr, "strata_init: plugin_paths is NULL");
  return guarded([&] {
    strata::RuntimeOptions options;
    for (size_t i = 0; i < count; ++i) {
      STRATA_CHECK(plugin_paths[i] != nullptr, capi::InvalidArgument, "strata_init: plugin path ", i, " is NULL");
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

strata_status* strata_get_versions(strata_versions* versions) {
  STRATA_C_REQUIRE(versions != nullptr, "strata_get_versions: versions is NULL");
  return guarded([&] {
    strata::capi::check_struct_size<strata_versions>(versions->struct_size, strata::capi::kVersionsSizeV2,
                                                     "strata_versions", "strata_get_versions");
    strata_versions v{};
    v.major = STRATA_VERSION_MAJOR;
    v.minor = STRATA_VERSION_MINOR;
    v.patch = STRATA_VERSION_PATCH;
    v.plugin_abi_major = strata::runtime_plugin_abi_major();
    v.plugin_abi_minor = strata::runtime_plugin_abi_minor();
    v.c_api_version = STRATA_C_API_VERSION;
    v.version = strata::runtime_version();
    v.toolchain_tag = strata::runtime_toolchain_tag();
    strata::capi::write_sized(versions, v);
  });
}

strata_status* strata_get_plugins(strata_plugin_list** list) {
  STRATA_C_REQUIRE(list != nullptr, "strata_get_plugins: list is NULL");
  return guarded([&] {
    auto out = std::make_unique<strata_plugin_list>();
    for (const auto& p : strata::PluginManager::global().plugins()) {
      strata_plugin_list::Item item;
      item.name = p.name;
      item.version = p.version;
      item.description = p.description;
      item.path = p.path.string();
      item.status = p.status();
      item.usable = p.usable;
      item.abi_major = p.abi_major;
      item.abi_minor = p.abi_minor;
      switch (p.state) {
        case strata::PluginState::kLoaded:
          item.state = STRATA_PLUGIN_LOADED;
          if (!p.usable) item.reason = p.unusable_reason;
          break;
        case strata::PluginState::kRefused:
          item.state = STRATA_PLUGIN_REFUSED;
          item.reason = p.reason;
          break;
        case strata::PluginState::kShadowed:
          item.state = STRATA_PLUGIN_SHADOWED;
          item.reason = p.reason;
          break;
      }
      out->items.push_back(std::move(item));
    }
    *list = out.release();
  });
}

strata_status* strata_plugin_list_count(const strata_plugin_list* list, size_t* count) {
  STRATA_C_REQUIRE(list != nullptr && count != nullptr, "strata_plugin_list_count: NULL argument");
  *count = list->items.size();
  return nullptr;
}

strata_status* strata_plugin_list_get(const strata_plugin_list* list, size_t index, strata_plugin_info* info) {
  STRATA_C_REQUIRE(list != nullptr && info != nullptr, "strata_plugin_list_get: NULL argument");
  return guarded([&] {
    strata::capi::check_struct_size<strata_plugin_info>(info->struct_size, strata::capi::kPluginInfoSizeV2,
                                                        "strata_plugin_info", "strata_plugin_list_get");
    STRATA_CHECK(index < list->items.size(), capi::InvalidArgument, "strata_plugin_list_get: index ", index,
                 " is out of range: the list holds ", list->items.size(), " plugin(s)");
    const auto& item = list->items[index];
    strata_plugin_info v{};
    v.name = item.name.c_str();
    v.version = item.version.c_str();
    v.description = item.description.c_str();
    v.path = item.path.c_str();
    v.state = item.state;
    v.usable = item.usable ? 1 : 0;
    v.reason = item.reason.c_str();
    v.status = item.status.c_str();
    v.abi_major = item.abi_major;
    v.abi_minor = item.abi_minor;
    strata::capi::write_sized(info, v);
  });
}

void strata_plugin_list_release(strata_plugin_list* list) { delete list; }

strata_status* strata_get_log_level(strata_log_level* level) {
  STRATA_C_REQUIRE(level != nullptr, "strata_get_log_level: level is NULL");
  *level = strata::capi::from_log_level(strata::log_level());
  return nullptr;
}

strata_status* strata_set_log_level(strata_log_level level) {
  return guarded([&] { strata::set_log_level(strata::capi::to_log_level(level)); });
}

strata_status* strata_get_devices(strata_device_list** list) {
  STRATA_C_REQUIRE(list != nullptr, "strata_get_devices: list is NULL");
  return guarded([&] {
    auto out = std::make_unique<strata_device_list>();
    for (const auto& d : strata::available_devices()) out->items.push_back(strata::capi::describe_device(d));
    // A backend with no usable device: once, under its type, with the reason its first
    // device cannot be had.
    for (const auto& e : strata::Registry::global().entries(strata::ObjectKind::kBackend)) {
      const bool listed = std::any_of(out->items.begin(), out->items.end(),
                                      [&](const strata_device_list::Item& item) { return item.type == e.name; });
      if (listed) continue;
      strata_device_list::Item item;
      item.name = item.type = e.name;
      try {
        strata::backend_device(strata::Device(e.name, 0));
        item.reason = "the backend lists no usable device";
      } catch (const strata::Error& err) {
        item.reason = err.message();
      }
      out->items.push_back(std::move(item));
    }
    *list = out.release();
  });
}

strata_status* strata_device_list_count(const strata_device_list* list, size_t* count) {
  STRATA_C_REQUIRE(list != nullptr && count != nullptr, "strata_device_list_count: NULL argument");
  *count = list->items.size();
  return nullptr;
}

strata_status* strata_device_list_get(const strata_device_list* list, size_t index, strata_device_info* info) {
  STRATA_C_REQUIRE(list != nullptr && info != nullptr, "strata_device_list_get: NULL argument");
  return guarded([&] {
    strata::capi::check_struct_size<strata_device_info>(info->struct_size, strata::capi::kDeviceInfoSizeV2,
                                                        "strata_device_info", "strata_device_list_get");
    STRATA_CHECK(index < list->items.size(), capi::InvalidArgument, "strata_device_list_get: index ", index,
                 " is out of range: the list holds ", list->items.size(), " device(s)");
    const auto& item = list->items[index];
    strata_device_info v{};
    v.name = item.name.c_str();
    v.type = item.type.c_str();
    v.index = item.index;
    v.usable = item.usable ? 1 : 0;
    v.description = item.description.c_str();
    v.reason = item.reason.c_str();
    strata::capi::write_sized(info, v);
  });
}

void strata_device_list_release(strata_device_list* list) { delete list; }

strata_status* strata_set_num_threads(int32_t n) {
  return guarded([&] {
    STRATA_CHECK(n >= 0, capi::InvalidArgument, "strata_set_num_threads: the thread count must be >= 0 (0 = "
                 "automatic), got ", n);
    strata::set_num_threads(static_cast<int>(n));
  });
}

strata_status* strata_get_num_threads(int32_t* n) {
  STRATA_C_REQUIRE(n != nullptr, "strata_get_num_threads: n is NULL");
  *n = static_cast<int32_t>(strata::num_threads());
  return nullptr;
}

strata_status* strata_model_set_num_threads(strata_model* model, int32_t n) {
  STRATA_C_REQUIRE(model != nullptr, "strata_model_set_num_threads: model is NULL");
  return guarded([&] {
    STRATA_CHECK(n >= 0, capi::InvalidArgument, "strata_model_set_num_threads: the thread count must be >= 0 (0 = "
                 "the per-process setting), got ", n);
    strata::set_num_threads(*model->model, static_cast<int>(n));
  });
}

strata_status* strata_model_get_num_threads(const strata_model* model, int32_t* n) {
  STRATA_C_REQUIRE(model != nullptr && n != nullptr, "strata_model_get_num_threads: NULL argument");
  *n = static_cast<int32_t>(strata::num_threads(*model->model));
  return nullptr;
}

}  // extern "C"

namespace {

// Version 1 entries, then version 2's, 3's, 4's and 5's; only ever appended (c_api.h, strata_api).
constexpr strata_api kApi = {
    &strata_status_code,
    &strata_status_message,
    &strata_status_release,
    &strata_init,
    &strata_version,
    &strata_list_plugins,
    &strata_string_release,
    &strata_model_load,
    &strata_model_release,
    &strata_model_input_count,
    &strata_model_output_count,
    &strata_model_input_info,
    &strata_model_output_info,
    &strata_model_to_device,
    &strata_model_predict,
    &strata_model_save,
    &strata_convert,
    &strata_get_versions,
    &strata_get_plugins,
    &strata_plugin_list_count,
    &strata_plugin_list_get,
    &strata_plugin_list_release,
    &strata_get_log_level,
    &strata_set_log_level,
    &strata_get_devices,
    &strata_device_list_count,
    &strata_device_list_get,
    &strata_device_list_release,
    &strata_model_output_shapes,
    &strata_logs_count,
    &strata_logs_get,
    &strata_logs_find,
    &strata_logs_release,
    &strata_model_compile_from_file,
    &strata_model_compile,
    &strata_model_is_compiled,
    &strata_model_fit,
    &strata_model_train_on_batch,
    &strata_model_evaluate,
    &strata_model_train_on_batch_weighted,
    &strata_model_test_on_batch,
    &strata_model_evaluate_weighted,
    &strata_set_num_threads,
    &strata_get_num_threads,
    &strata_model_set_num_threads,
    &strata_model_get_num_threads,
};

// Version 1's table is the first 17 entries, version 2 adds 12, version 3 adds 10, version 4 adds 3,
// version 5 adds 4: a
// host built against an older header reads only its prefix, so these offsets are fixed forever.
constexpr std::size_t kEntry = sizeof(void (*)());
static_assert(offsetof(strata_api, convert) == 16 * kEntry, "version 1 of strata_api changed");
static_assert(offsetof(strata_api, get_versions) == 17 * kEntry, "version 2 must start after version 1");
static_assert(offsetof(strata_api, logs_count) == 29 * kEntry, "version 3 must start after version 2");
static_assert(offsetof(strata_api, model_train_on_batch_weighted) == 39 * kEntry,
              "version 4 must start after version 3");
static_assert(offsetof(strata_api, set_num_threads) == 42 * kEntry, "version 5 must start after version 4");
static_assert(sizeof(strata_api) == 46 * kEntry, "an entry was added: append it and raise STRATA_C_API_VERSION");

}  // namespace

extern "C" strata_status* strata_get_api(uint32_t version, const strata_api** api) {
  STRATA_C_REQUIRE(api != nullptr, "strata_get_api: api is NULL");
  return guarded([&] {
    STRATA_CHECK(version >= 1 && version <= STRATA_C_API_VERSION, capi::InvalidArgument,
                 "strata_get_api: the host asked for C API version ", version, " but this runtime (Strata ",
                 strata::runtime_version(), ") provides versions 1 to ", STRATA_C_API_VERSION,
                 version == 0 ? ": versions start at 1; pass STRATA_C_API_VERSION"
                              : ": the host was built against a newer strata/c_api.h than this runtime; "
                                "use a runtime at least as new as that header");
    *api = &kApi;
  });
}
