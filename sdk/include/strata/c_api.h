/* The stable C API of Strata, for host applications in C (or any language with a C FFI).
 *
 * Everything is an opaque handle; every call returns a strata_status (NULL on success)
 * carrying a message on failure; outputs are written only on success; every handle has
 * a *_release function. No C++ exception or type crosses this API.
 *
 *   strata_status* s = strata_init(NULL, 0);
 *   strata_model* model = NULL;
 *   s = strata_model_load("model.h5", NULL, &model);
 *   s = strata_model_predict(model, inputs, 1, outputs, 1, "cpu");
 *   strata_model_release(model);
 *
 * Thread safety: strata_model_predict may be called from many threads on one model at
 * once. Loading, saving and releasing a model need exclusive access to it.
 */
#ifndef STRATA_C_API_H_
#define STRATA_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STRATA_C_EXPORT __attribute__((visibility("default")))
#else
#define STRATA_C_EXPORT
#endif

/* ---- status ------------------------------------------------------------------------ */

typedef struct strata_status strata_status;

typedef enum strata_code {
  STRATA_OK = 0,
  STRATA_ERROR = 1,          /* anything else */
  STRATA_VALUE_ERROR = 2,
  STRATA_SHAPE_ERROR = 3,
  STRATA_UNKNOWN_OBJECT = 4, /* a class named by a file is not available */
  STRATA_FORMAT_ERROR = 5,   /* a corrupt or foreign file */
  STRATA_IO_ERROR = 6,
  STRATA_PLUGIN_ERROR = 7,
  STRATA_BACKEND_ERROR = 8,
  STRATA_INVALID_ARGUMENT = 9 /* a NULL pointer or bad argument to this API */
} strata_code;

STRATA_C_EXPORT strata_code strata_status_code(const strata_status* status);
/* The message (valid until the status is released). "" for NULL. */
STRATA_C_EXPORT const char* strata_status_message(const strata_status* status);
STRATA_C_EXPORT void strata_status_release(strata_status* status);

/* ---- runtime --------------------------------------------------------------------------- */

/* Loads the plugins: each of `plugin_paths` (files, or directories whose *.so are loaded),
 * then the search path (STRATA_PLUGIN_PATH and the default directory). May be called more
 * than once; later calls only load the extra paths. */
STRATA_C_EXPORT strata_status* strata_init(const char* const* plugin_paths, size_t count);
STRATA_C_EXPORT const char* strata_version(void);

/* The loaded plugins as text, one per line: "name version status path". The returned
 * string is owned by the caller: free it with strata_string_release. */
STRATA_C_EXPORT strata_status* strata_list_plugins(char** text);
STRATA_C_EXPORT void strata_string_release(char* text);

/* ---- tensors: caller-owned buffers ----------------------------------------------------- */

typedef enum strata_dtype {
  STRATA_FLOAT32 = 1,
  STRATA_FLOAT64 = 2,
  STRATA_INT32 = 3,
  STRATA_UINT8 = 4,
  STRATA_INT8 = 6,
  STRATA_INT64 = 9,
  STRATA_BOOL = 10
} strata_dtype;

/* A view of caller memory: row-major, contiguous. For outputs, `data` must point to
 * `capacity` bytes; on success `shape`/`rank` and `size` (bytes written) are set. */
typedef struct strata_buffer {
  strata_dtype dtype;
  int64_t shape[8];
  int32_t rank;
  void* data;
  size_t capacity; /* bytes available at data */
  size_t size;     /* bytes of the value */
} strata_buffer;

/* ---- models ---------------------------------------------------------------------------- */

typedef struct strata_model strata_model;

/* Loads a model from any loadable format (chosen by content, then extension), or from
 * `format` when not NULL ("h5", "json", "savedmodel", ...). */
STRATA_C_EXPORT strata_status* strata_model_load(const char* path, const char* format, strata_model** model);
STRATA_C_EXPORT void strata_model_release(strata_model* model);

STRATA_C_EXPORT strata_status* strata_model_input_count(const strata_model* model, size_t* count);
STRATA_C_EXPORT strata_status* strata_model_output_count(const strata_model* model, size_t* count);
/* Name, dtype and shape of input/output `index` (-1 for unknown dimensions). The name is
 * valid while the model lives. */
STRATA_C_EXPORT strata_status* strata_model_input_info(const strata_model* model, size_t index, const char** name,
                                                       strata_dtype* dtype, int64_t* shape, int32_t* rank);
STRATA_C_EXPORT strata_status* strata_model_output_info(const strata_model* model, size_t index, const char** name,
                                                        strata_dtype* dtype, int64_t* shape, int32_t* rank);

/* Moves the model's weights to `device` ("cpu", "cuda:0"). */
STRATA_C_EXPORT strata_status* strata_model_to_device(strata_model* model, const char* device);

/* Runs the model on `inputs` (one per model input) on the device the model is on and
 * writes each output into the caller's buffer `outputs[i]` (its dtype must match the
 * output's; STRATA_SHAPE_ERROR with the needed size when the capacity is too small). */
STRATA_C_EXPORT strata_status* strata_model_predict(const strata_model* model, const strata_buffer* inputs,
                                                    size_t input_count, strata_buffer* outputs, size_t output_count);

/* Saves the whole model (format from `format` or the extension). */
STRATA_C_EXPORT strata_status* strata_model_save(const strata_model* model, const char* path, const char* format);
/* Loads `in` and saves it as `out` (format from `format` or out's extension). */
STRATA_C_EXPORT strata_status* strata_convert(const char* in, const char* out, const char* format);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_C_API_H_ */
