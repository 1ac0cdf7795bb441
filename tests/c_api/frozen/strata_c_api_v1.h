/* A frozen copy of what version 1 of strata/c_api.h declares, as a host built against
 * it saw it: the types, the first 17 entries of strata_api and the exported calls it uses. Never edit this file:
 * tests/c_api/v1_host.c is compiled against it to check that such a host keeps working
 * with the current runtime (docs/EMBEDDING.md, "C").
 */
#ifndef STRATA_C_API_V1_FROZEN_H_
#define STRATA_C_API_V1_FROZEN_H_

#include <stddef.h>
#include <stdint.h>

#define STRATA_C_API_VERSION 1
#define STRATA_MAX_RANK 8

typedef struct strata_status strata_status;

typedef enum strata_code {
  STRATA_OK = 0,
  STRATA_ERROR = 1,
  STRATA_VALUE_ERROR = 2,
  STRATA_SHAPE_ERROR = 3,
  STRATA_UNKNOWN_OBJECT = 4,
  STRATA_FORMAT_ERROR = 5,
  STRATA_IO_ERROR = 6,
  STRATA_PLUGIN_ERROR = 7,
  STRATA_BACKEND_ERROR = 8,
  STRATA_INVALID_ARGUMENT = 9
} strata_code;

typedef enum strata_dtype {
  STRATA_FLOAT32 = 1,
  STRATA_FLOAT64 = 2,
  STRATA_INT32 = 3,
  STRATA_UINT8 = 4,
  STRATA_INT8 = 6,
  STRATA_INT64 = 9,
  STRATA_BOOL = 10
} strata_dtype;

typedef struct strata_buffer {
  size_t struct_size;
  strata_dtype dtype;
  int32_t rank;
  int64_t shape[STRATA_MAX_RANK];
  void* data;
  size_t capacity;
  size_t size;
} strata_buffer;

typedef struct strata_model strata_model;

typedef struct strata_api {
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
} strata_api;

/* Also exported under their own names (a host reads a refusal of strata_get_api here). */
const char* strata_status_message(const strata_status* status);
void strata_status_release(strata_status* status);
strata_status* strata_get_api(uint32_t version, const strata_api** api);

#endif /* STRATA_C_API_V1_FROZEN_H_ */
