/* The stable C API of Strata, for host applications in C (or any language with a C FFI).
 *
 * A firewall around the C++ runtime: everything is an opaque handle or a plain struct of
 * C types; every call that can fail returns a strata_status* (NULL on success) carrying a
 * code and a message; out-parameters are written only on success; every handle has a
 * *_release function. No C++ exception or type crosses this API.
 *
 *   strata_status* s = strata_init(NULL, 0);          (NULL: success)
 *   strata_model* model = NULL;
 *   s = strata_model_load("model.h5", NULL, &model);
 *   s = strata_model_predict(model, inputs, 1, outputs, 1);
 *   strata_model_release(model);
 *
 * Versioning (the model is ONNX Runtime's OrtApi): STRATA_C_API_VERSION counts the
 * versions of this surface. strata_get_api(STRATA_C_API_VERSION, &api) hands out a table
 * of function pointers, strata_api, whose layout only grows: a later version appends
 * entries and never moves, removes or changes one, so a host built against version N
 * keeps working with a runtime at any version >= N; a runtime older than the host's
 * header refuses the request with a message. Every function is also exported under its
 * own name. Structs the host fills or receives (strata_buffer, strata_versions,
 * strata_plugin_info, strata_device_info, strata_fit_options) begin with `struct_size`, set by the host to
 * sizeof as it compiled the struct; fields are only ever appended and the runtime reads
 * and writes only the fields inside that size (docs/EMBEDDING.md, "C").
 *
 * Thread safety: strata_model_predict and strata_model_output_shapes may be called from
 * many threads on one model at once. Loading, saving, strata_model_to_device, the training
 * calls of versions 3 and 4 (compile, fit, train_on_batch, test_on_batch, evaluate: they
 * change the model's weights, optimizer and metric state) and releasing a model need
 * exclusive access to it:
 * no other call on the same model may run meanwhile. Every other call may be made from
 * any thread.
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

/* The version of the C API this header declares (see strata_get_api). */
#define STRATA_C_API_VERSION 5
/* The largest rank a strata_buffer, strata_shape or *_info shape can hold. */
#define STRATA_MAX_RANK 8

/* ---- status (version 1) ------------------------------------------------------------ */

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

/* The code follows the C++ exception's type (a subclass of strata::FormatError gives
 * STRATA_FORMAT_ERROR). STRATA_OK for NULL. */
STRATA_C_EXPORT strata_code strata_status_code(const strata_status* status);
/* The message (valid until the status is released). "" for NULL. */
STRATA_C_EXPORT const char* strata_status_message(const strata_status* status);
/* Accepts NULL. */
STRATA_C_EXPORT void strata_status_release(strata_status* status);

/* ---- runtime (version 1) --------------------------------------------------------------- */

/* Loads the plugins: each of `plugin_paths` (files, or directories whose *.so are loaded),
 * then the search path (STRATA_PLUGIN_PATH and the default directory). May be called more
 * than once; later calls only load the extra paths. A refused plugin file gives
 * STRATA_PLUGIN_ERROR and ends the call there (what follows it, the search path included,
 * is loaded by the next call); it is listed by strata_get_plugins with the reason. */
STRATA_C_EXPORT strata_status* strata_init(const char* const* plugin_paths, size_t count);
/* The runtime's version, "0.1.0" (static storage). */
STRATA_C_EXPORT const char* strata_version(void);

/* The loaded plugins as text, one per line: "name version status path". The returned
 * string is owned by the caller: free it with strata_string_release. strata_get_plugins
 * gives the same as fields. */
STRATA_C_EXPORT strata_status* strata_list_plugins(char** text);
STRATA_C_EXPORT void strata_string_release(char* text);

/* ---- tensors: caller-owned buffers (version 1) ------------------------------------------ */

typedef enum strata_dtype {
  STRATA_FLOAT32 = 1,
  STRATA_FLOAT64 = 2,
  STRATA_INT32 = 3,
  STRATA_UINT8 = 4,
  STRATA_INT8 = 6,
  STRATA_INT64 = 9,
  STRATA_BOOL = 10
} strata_dtype;

/* A view of caller memory: row-major, contiguous. Zero it, then set struct_size to
 * sizeof(strata_buffer) (a struct_size of 0 or one this runtime does not know is refused).
 * Input: dtype, rank, shape[0..rank), data, and size = the bytes of the value, which must
 * be the product of the shape times the dtype's size and at most capacity.
 * Output: dtype (the output's), data and capacity (bytes available at data); on success
 * rank, shape and size (bytes written) are set. */
typedef struct strata_buffer {
  size_t struct_size; /* sizeof(strata_buffer) as the host compiled it */
  strata_dtype dtype;
  int32_t rank;
  int64_t shape[STRATA_MAX_RANK];
  void* data;
  size_t capacity; /* bytes available at data */
  size_t size;     /* bytes of the value */
} strata_buffer;

/* ---- models (version 1) ------------------------------------------------------------------ */

typedef struct strata_model strata_model;

/* Loads a model from any loadable format (chosen by content, then extension), or from
 * `format` when not NULL ("h5", "json", "savedmodel", ...). Inference only: a training
 * configuration in the file is not compiled (strata_model_compile_from_file, version 3, does). */
STRATA_C_EXPORT strata_status* strata_model_load(const char* path, const char* format, strata_model** model);
/* Accepts NULL. */
STRATA_C_EXPORT void strata_model_release(strata_model* model);

STRATA_C_EXPORT strata_status* strata_model_input_count(const strata_model* model, size_t* count);
STRATA_C_EXPORT strata_status* strata_model_output_count(const strata_model* model, size_t* count);
/* Name, dtype and shape of input/output `index` (-1 for unknown dimensions, the batch
 * dimension among them); `shape` must hold STRATA_MAX_RANK values. Each out-parameter
 * may be NULL when not wanted. The name is valid while the model lives. */
STRATA_C_EXPORT strata_status* strata_model_input_info(const strata_model* model, size_t index, const char** name,
                                                       strata_dtype* dtype, int64_t* shape, int32_t* rank);
STRATA_C_EXPORT strata_status* strata_model_output_info(const strata_model* model, size_t index, const char** name,
                                                        strata_dtype* dtype, int64_t* shape, int32_t* rank);

/* Moves the model's weights to `device` ("cpu", "cuda:0"). */
STRATA_C_EXPORT strata_status* strata_model_to_device(strata_model* model, const char* device);

/* Runs the model on `inputs` (one per model input, in order) on the device the model is
 * on, as one batch, and writes each output into the caller's buffer `outputs[i]`.
 * An input whose dtype or shape does not fit the model input is refused with a message
 * naming it (STRATA_VALUE_ERROR / STRATA_SHAPE_ERROR), except that a float64 input to a
 * float32 model input (or the reverse) is converted, as the `strata predict` CLI does.
 * An output buffer's dtype must be the output's; one whose capacity is too small gives
 * STRATA_SHAPE_ERROR with the bytes needed. Nothing is written unless every output fits. */
STRATA_C_EXPORT strata_status* strata_model_predict(const strata_model* model, const strata_buffer* inputs,
                                                    size_t input_count, strata_buffer* outputs, size_t output_count);

/* Saves the whole model (format from `format` or the extension). */
STRATA_C_EXPORT strata_status* strata_model_save(const strata_model* model, const char* path, const char* format);
/* Loads `in` and saves it as `out` (format from `format` or out's extension). */
STRATA_C_EXPORT strata_status* strata_convert(const char* in, const char* out, const char* format);

/* ---- version 2 ------------------------------------------------------------------------- */

/* Version numbers. The strings have static storage. */
typedef struct strata_versions {
  size_t struct_size;         /* set by the caller: sizeof(strata_versions) */
  uint32_t major, minor, patch; /* the runtime's version */
  uint32_t plugin_abi_major, plugin_abi_minor;
  uint32_t c_api_version;     /* the newest version strata_get_api accepts */
  const char* version;        /* "0.1.0" */
  const char* toolchain_tag;  /* what a plugin must be built with ("gcc12;libstdc++/...") */
} strata_versions;
STRATA_C_EXPORT strata_status* strata_get_versions(strata_versions* versions);

/* The plugins seen so far (loaded, refused, shadowed), in load order, as a snapshot: its
 * strings stay valid until strata_plugin_list_release. Does not start the runtime: call
 * strata_init first. */
typedef struct strata_plugin_list strata_plugin_list;
typedef enum strata_plugin_state {
  STRATA_PLUGIN_LOADED = 0,
  STRATA_PLUGIN_REFUSED = 1, /* failed a check or threw while registering; `reason` says why */
  STRATA_PLUGIN_SHADOWED = 2 /* the same name was loaded first from `reason` (a path) */
} strata_plugin_state;
typedef struct strata_plugin_info {
  size_t struct_size; /* set by the caller: sizeof(strata_plugin_info) */
  const char* name;   /* "" when the descriptor could not be read */
  const char* version;
  const char* description;
  const char* path;
  strata_plugin_state state;
  int32_t usable;      /* 0 when loaded but its probe says it cannot run here */
  const char* reason;  /* refused: why; shadowed: the winner's path; not usable: why; else "" */
  const char* status;  /* one line as `strata plugins` prints it: "loaded", "refused: ..." */
  uint32_t abi_major, abi_minor; /* what it was built for (0 when unreadable) */
} strata_plugin_info;
STRATA_C_EXPORT strata_status* strata_get_plugins(strata_plugin_list** list);
STRATA_C_EXPORT strata_status* strata_plugin_list_count(const strata_plugin_list* list, size_t* count);
STRATA_C_EXPORT strata_status* strata_plugin_list_get(const strata_plugin_list* list, size_t index,
                                                      strata_plugin_info* info);
STRATA_C_EXPORT void strata_plugin_list_release(strata_plugin_list* list);

/* The logger's threshold (STRATA_LOG_LEVEL at start-up; default warning). */
typedef enum strata_log_level {
  STRATA_LOG_DEBUG = 0,
  STRATA_LOG_INFO = 1,
  STRATA_LOG_WARNING = 2,
  STRATA_LOG_ERROR = 3,
  STRATA_LOG_OFF = 4
} strata_log_level;
STRATA_C_EXPORT strata_status* strata_get_log_level(strata_log_level* level);
STRATA_C_EXPORT strata_status* strata_set_log_level(strata_log_level level);

/* The devices of the loaded backends, cpu first, as a snapshot (strings valid until
 * strata_device_list_release). A backend that cannot run here (no driver) appears once,
 * under its device type, with usable 0 and the reason. */
typedef struct strata_device_list strata_device_list;
typedef struct strata_device_info {
  size_t struct_size;      /* set by the caller: sizeof(strata_device_info) */
  const char* name;        /* "cpu:0", "cuda:0"; an unusable backend: its type ("cuda") */
  const char* type;        /* "cpu", "cuda" */
  int32_t index;           /* -1 for an unusable backend */
  int32_t usable;          /* 1: strata_model_to_device(model, name) can use it */
  const char* description; /* the backend's words for it; "" when unusable */
  const char* reason;      /* why it is not usable; "" when usable */
} strata_device_info;
STRATA_C_EXPORT strata_status* strata_get_devices(strata_device_list** list);
STRATA_C_EXPORT strata_status* strata_device_list_count(const strata_device_list* list, size_t* count);
STRATA_C_EXPORT strata_status* strata_device_list_get(const strata_device_list* list, size_t index,
                                                      strata_device_info* info);
STRATA_C_EXPORT void strata_device_list_release(strata_device_list* list);

/* A shape: `rank` dimensions, -1 for an unknown one. A plain value of fixed meaning, so
 * it has no struct_size. */
typedef struct strata_shape {
  int32_t rank;
  int64_t dims[STRATA_MAX_RANK];
} strata_shape;

/* The shapes of the outputs for inputs of `input_shapes` (one per model input; -1 for a
 * dimension not known yet, e.g. the batch), without running the model. An input shape the
 * model cannot take is refused naming the input (STRATA_SHAPE_ERROR). */
STRATA_C_EXPORT strata_status* strata_model_output_shapes(const strata_model* model, const strata_shape* input_shapes,
                                                          size_t input_count, strata_shape* output_shapes,
                                                          size_t output_count);

/* ---- version 3: training -------------------------------------------------------------- */

/* Named scalar results of a training call, in the order Keras reports them: "loss" first,
 * then the metrics, then "val_..." ones. A C host reads them without parsing JSON. */
typedef struct strata_logs strata_logs;
STRATA_C_EXPORT strata_status* strata_logs_count(const strata_logs* logs, size_t* count);
/* Name and value of entry `index`; either out-parameter may be NULL. The name is valid
 * until strata_logs_release. */
STRATA_C_EXPORT strata_status* strata_logs_get(const strata_logs* logs, size_t index, const char** name,
                                               double* value);
/* The value named `name` ("loss", "mae", "val_loss"); STRATA_VALUE_ERROR listing the
 * names held when there is none. */
STRATA_C_EXPORT strata_status* strata_logs_find(const strata_logs* logs, const char* name, double* value);
/* Accepts NULL. */
STRATA_C_EXPORT void strata_logs_release(strata_logs* logs);

/* Compiles the model with the training configuration saved in the file it was loaded from
 * (loss, metrics, loss weights, optimizer) and restores the file's optimizer state
 * (iteration and slots), so training resumes where the file's left off: Keras's
 * load_model(compile=True). The file is read again; the model keeps its own weights.
 * STRATA_VALUE_ERROR naming the file when it holds no training configuration. */
STRATA_C_EXPORT strata_status* strata_model_compile_from_file(strata_model* model);
/* Compiles the model as Keras's compile(optimizer, loss, metrics) does, with a fresh
 * optimizer. Each argument is a name ("adam", "mse", "mae") or Keras JSON (text starting
 * with '{', '[' or '"'): optimizer "adam" or
 * {"class_name": "Adam", "config": {"learning_rate": 0.001}}, loss "mse", metrics
 * ["mae"] (or "mae") or NULL for none.
 * An unknown name gives STRATA_UNKNOWN_OBJECT. */
STRATA_C_EXPORT strata_status* strata_model_compile(strata_model* model, const char* optimizer, const char* loss,
                                                    const char* metrics);
/* *compiled = 1 when the model is compiled, else 0. */
STRATA_C_EXPORT strata_status* strata_model_is_compiled(const strata_model* model, int32_t* compiled);

/* Options of strata_model_fit. Zero it, then set struct_size to sizeof(strata_fit_options);
 * a zeroed struct gives batch_size 32, epochs 1, no shuffling, no validation, silent. */
typedef struct strata_fit_options {
  size_t struct_size;      /* set by the caller: sizeof(strata_fit_options) */
  int64_t batch_size;      /* 0: 32 */
  int32_t epochs;          /* the epoch to stop after (as Keras counts, with initial_epoch); 0: 1 */
  int32_t initial_epoch;   /* the epoch to start at (resuming a run) */
  double validation_split; /* [0, 1): the last fraction of the samples, before shuffling */
  int32_t shuffle;         /* 1: shuffle the samples each epoch (from the global seed) */
  int32_t verbose;         /* 0 silent, 1 progress bar, 2 one line per epoch (on stdout) */
  /* version 4 (read only when struct_size covers it): Keras's sample_weight, NULL for none,
   * else a rank-1 buffer of one weight per sample (any numeric dtype). It weights each
   * sample's loss for every output; the compiled metrics stay unweighted, as Keras's
   * `metrics` (not `weighted_metrics`) are. With validation_split, the held-out samples
   * keep their weights: val_loss is weighted, as Keras's is. */
  const struct strata_buffer* sample_weight;
} strata_fit_options;

/* Trains the model on caller buffers, as Keras's fit(x, y, ...) does: `x` one buffer per
 * model input, `y` one per output, every buffer with the same number of samples (its first
 * dimension). Buffers are checked as strata_model_predict checks its inputs (a floating
 * target is converted to a floating output's dtype; integer labels are taken as given).
 * `options` may be NULL (the zeroed defaults). On success, when not NULL: *history is
 * Keras's History.history as JSON, {"loss": [...], "mae": [...], "val_loss": [...]}, keys
 * in log order, one value per epoch trained (Python's json.dumps text: NaN for a NaN),
 * freed with strata_string_release; *logs holds the last epoch's values
 * (strata_logs_release). An uncompiled model gives STRATA_VALUE_ERROR. */
STRATA_C_EXPORT strata_status* strata_model_fit(strata_model* model, const strata_buffer* x, size_t x_count,
                                                const strata_buffer* y, size_t y_count,
                                                const strata_fit_options* options, char** history,
                                                strata_logs** logs);
/* One gradient step on exactly this batch (metrics reset first, as Keras's default);
 * *logs (when not NULL) receives loss and metrics. */
STRATA_C_EXPORT strata_status* strata_model_train_on_batch(strata_model* model, const strata_buffer* x,
                                                           size_t x_count, const strata_buffer* y, size_t y_count,
                                                           strata_logs** logs);
/* Loss and metrics over the samples in batches of `batch_size` (0: 32), without updating
 * the weights; *logs (when not NULL) receives them. */
STRATA_C_EXPORT strata_status* strata_model_evaluate(strata_model* model, const strata_buffer* x, size_t x_count,
                                                     const strata_buffer* y, size_t y_count, int64_t batch_size,
                                                     strata_logs** logs);
/* strata_model_save (version 1) writes a compiled model's training configuration and
 * optimizer state too, so strata_model_load + strata_model_compile_from_file resumes. */

/* ---- version 4: sample weights and test_on_batch --------------------------------------- */

/* `sample_weight` below is Keras's sample_weight: NULL for none, else a rank-1 buffer holding
 * one weight per sample (shape [samples], any numeric dtype but bool), checked like a target
 * (STRATA_SHAPE_ERROR naming it when its length is not the samples'). Each sample's loss is
 * multiplied by its weight before the mean over the batch (Keras's sum over batch size), for
 * every output; the compiled metrics are not weighted (Keras's `metrics`, not
 * `weighted_metrics`). strata_fit_options.sample_weight does the same for strata_model_fit.
 * strata_model_predict (version 1) already is Keras's predict_on_batch: one batch, inference. */

/* strata_model_train_on_batch with sample weights. */
STRATA_C_EXPORT strata_status* strata_model_train_on_batch_weighted(strata_model* model, const strata_buffer* x,
                                                                    size_t x_count, const strata_buffer* y,
                                                                    size_t y_count,
                                                                    const strata_buffer* sample_weight,
                                                                    strata_logs** logs);
/* Keras's test_on_batch(x, y, sample_weight): loss and metrics of exactly this batch in
 * inference mode (metrics reset first), without updating the weights; *logs (when not NULL)
 * receives them. */
STRATA_C_EXPORT strata_status* strata_model_test_on_batch(strata_model* model, const strata_buffer* x, size_t x_count,
                                                          const strata_buffer* y, size_t y_count,
                                                          const strata_buffer* sample_weight, strata_logs** logs);
/* strata_model_evaluate with sample weights (Keras's evaluate(x, y, batch_size,
 * sample_weight=...)). */
STRATA_C_EXPORT strata_status* strata_model_evaluate_weighted(strata_model* model, const strata_buffer* x,
                                                              size_t x_count, const strata_buffer* y, size_t y_count,
                                                              const strata_buffer* sample_weight, int64_t batch_size,
                                                              strata_logs** logs);

/* ---- version 5: threads ------------------------------------------------------------------ */

/* How many threads one op may use (ONNX Runtime's intra_op_num_threads; C++:
 * strata/threads.hpp). n >= 1 caps every op at n threads; 0, the default, is automatic: up
 * to the cores OpenMP sees, small ops on the calling thread, fewer threads while other
 * processes keep the cores busy. STRATA_NUM_THREADS sets the start value. A negative n is
 * STRATA_INVALID_ARGUMENT. Takes effect from the next op on. */
STRATA_C_EXPORT strata_status* strata_set_num_threads(int32_t n);
/* The per-process setting (0 = automatic). */
STRATA_C_EXPORT strata_status* strata_get_num_threads(int32_t* n);
/* A per-model setting for the calls on `model` (predict, fit, evaluate, train_on_batch,
 * test_on_batch): n >= 1 threads per op during them, 0 (the default) = the per-process
 * setting. Needs exclusive access to the model, like loading it. */
STRATA_C_EXPORT strata_status* strata_model_set_num_threads(strata_model* model, int32_t n);
STRATA_C_EXPORT strata_status* strata_model_get_num_threads(const strata_model* model, int32_t* n);

/* ---- the versioned function table ------------------------------------------------------- */

/* Every call above, in the order of their versions. Entries are only ever appended. */
typedef struct strata_api {
  /* version 1 */
  strata_code (*status_code)(const strata_status* status);
  const char* (*status_message)(const strata_status* status);
  void (*status_release)(strata_status* status);
  strata_status* (*init)(const char* const* plugin_paths, size_t count);
  const char* (*version)(void);
  strata_status* (*list_plugins)(char** text);
  void (*string_release)(char* text);
  strata_status* (*model_load)(const char* path, const char* format, strata_model** model);
  void (*model_release)(strata_model* model);
  strata_status* (*model_input_count)(const strata_model* model, size_t* count);
  strata_status* (*model_output_count)(const strata_model* model, size_t* count);
  strata_status* (*model_input_info)(const strata_model* model, size_t index, const char** name, strata_dtype* dtype,
                                     int64_t* shape, int32_t* rank);
  strata_status* (*model_output_info)(const strata_model* model, size_t index, const char** name, strata_dtype* dtype,
                                      int64_t* shape, int32_t* rank);
  strata_status* (*model_to_device)(strata_model* model, const char* device);
  strata_status* (*model_predict)(const strata_model* model, const strata_buffer* inputs, size_t input_count,
                                  strata_buffer* outputs, size_t output_count);
  strata_status* (*model_save)(const strata_model* model, const char* path, const char* format);
  strata_status* (*convert)(const char* in, const char* out, const char* format);
  /* version 2 */
  strata_status* (*get_versions)(strata_versions* versions);
  strata_status* (*get_plugins)(strata_plugin_list** list);
  strata_status* (*plugin_list_count)(const strata_plugin_list* list, size_t* count);
  strata_status* (*plugin_list_get)(const strata_plugin_list* list, size_t index, strata_plugin_info* info);
  void (*plugin_list_release)(strata_plugin_list* list);
  strata_status* (*get_log_level)(strata_log_level* level);
  strata_status* (*set_log_level)(strata_log_level level);
  strata_status* (*get_devices)(strata_device_list** list);
  strata_status* (*device_list_count)(const strata_device_list* list, size_t* count);
  strata_status* (*device_list_get)(const strata_device_list* list, size_t index, strata_device_info* info);
  void (*device_list_release)(strata_device_list* list);
  strata_status* (*model_output_shapes)(const strata_model* model, const strata_shape* input_shapes,
                                        size_t input_count, strata_shape* output_shapes, size_t output_count);
  /* version 3 */
  strata_status* (*logs_count)(const strata_logs* logs, size_t* count);
  strata_status* (*logs_get)(const strata_logs* logs, size_t index, const char** name, double* value);
  strata_status* (*logs_find)(const strata_logs* logs, const char* name, double* value);
  void (*logs_release)(strata_logs* logs);
  strata_status* (*model_compile_from_file)(strata_model* model);
  strata_status* (*model_compile)(strata_model* model, const char* optimizer, const char* loss, const char* metrics);
  strata_status* (*model_is_compiled)(const strata_model* model, int32_t* compiled);
  strata_status* (*model_fit)(strata_model* model, const strata_buffer* x, size_t x_count, const strata_buffer* y,
                              size_t y_count, const strata_fit_options* options, char** history, strata_logs** logs);
  strata_status* (*model_train_on_batch)(strata_model* model, const strata_buffer* x, size_t x_count,
                                         const strata_buffer* y, size_t y_count, strata_logs** logs);
  strata_status* (*model_evaluate)(strata_model* model, const strata_buffer* x, size_t x_count,
                                   const strata_buffer* y, size_t y_count, int64_t batch_size, strata_logs** logs);
  /* version 4 */
  strata_status* (*model_train_on_batch_weighted)(strata_model* model, const strata_buffer* x, size_t x_count,
                                                  const strata_buffer* y, size_t y_count,
                                                  const strata_buffer* sample_weight, strata_logs** logs);
  strata_status* (*model_test_on_batch)(strata_model* model, const strata_buffer* x, size_t x_count,
                                        const strata_buffer* y, size_t y_count, const strata_buffer* sample_weight,
                                        strata_logs** logs);
  strata_status* (*model_evaluate_weighted)(strata_model* model, const strata_buffer* x, size_t x_count,
                                            const strata_buffer* y, size_t y_count,
                                            const strata_buffer* sample_weight, int64_t batch_size,
                                            strata_logs** logs);
  /* version 5 */
  strata_status* (*set_num_threads)(int32_t n);
  strata_status* (*get_num_threads)(int32_t* n);
  strata_status* (*model_set_num_threads)(strata_model* model, int32_t n);
  strata_status* (*model_get_num_threads)(const strata_model* model, int32_t* n);
} strata_api;

/* Sets *api to the runtime's table when it provides `version` (1 <= version <= the
 * runtime's STRATA_C_API_VERSION); pass the STRATA_C_API_VERSION you compiled with. A newer
 * version than the runtime's is refused with STRATA_INVALID_ARGUMENT naming both (the
 * host was built against a newer header: use a runtime at least that new). The table has
 * static storage. Thread safety: may be called concurrently. */
STRATA_C_EXPORT strata_status* strata_get_api(uint32_t version, const strata_api** api);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_C_API_H_ */
