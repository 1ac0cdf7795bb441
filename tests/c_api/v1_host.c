/* A host application built against version 1 of the C API (the frozen header), linked
 * with the current runtime: what must keep working as entries are appended. */
#include "v1_host.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frozen/strata_c_api_v1.h"

static const strata_api* api;

/* Records why, releases the status, returns 1. */
static int fail(char* why, size_t n, const char* what, strata_status* s) {
  snprintf(why, n, "%s: %s", what, s ? api->status_message(s) : "(no status)");
  if (s) api->status_release(s);
  return 1;
}

int v1_host_run(const char* model_path, char* why, size_t why_size) {
  strata_status* s;
  strata_model* model = NULL;
  size_t n_in = 0, n_out = 0;
  const char* name = NULL;
  strata_dtype dtype = STRATA_BOOL;
  int64_t shape[STRATA_MAX_RANK];
  int32_t rank = 0;
  float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  float y[4] = {0, 0, 0, 0};
  const float want[4] = {15.3f, 15.3f, 0.0f, 0.0f}; /* by hand: examples/embed_cpp/make_model.cpp */
  strata_buffer in, out;
  int i, rc = 0;

  s = strata_get_api(STRATA_C_API_VERSION, &api);
  if (s) {
    snprintf(why, why_size, "strata_get_api(1): %s", strata_status_message(s));
    strata_status_release(s);
    return 1;
  }
  if ((s = api->init(NULL, 0)) != NULL) return fail(why, why_size, "init", s);
  if ((s = api->model_load(model_path, NULL, &model)) != NULL) return fail(why, why_size, "model_load", s);
  if ((s = api->model_input_count(model, &n_in)) != NULL || (s = api->model_output_count(model, &n_out)) != NULL) {
    rc = fail(why, why_size, "counting", s);
    goto done;
  }
  if (n_in != 1 || n_out != 1) {
    snprintf(why, why_size, "expected 1 input and 1 output, got %zu and %zu", n_in, n_out);
    rc = 1;
    goto done;
  }
  if ((s = api->model_input_info(model, 0, &name, &dtype, shape, &rank)) != NULL) {
    rc = fail(why, why_size, "model_input_info", s);
    goto done;
  }
  if (strcmp(name, "features") != 0 || dtype != STRATA_FLOAT32 || rank != 2 || shape[0] != -1 || shape[1] != 4) {
    snprintf(why, why_size, "input 0 described as '%s' dtype %d rank %d", name, (int)dtype, (int)rank);
    rc = 1;
    goto done;
  }

  memset(&in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  in.struct_size = out.struct_size = sizeof(strata_buffer);
  in.dtype = out.dtype = STRATA_FLOAT32;
  in.rank = 2;
  in.shape[0] = 2;
  in.shape[1] = 4;
  in.data = x;
  in.capacity = in.size = sizeof x;
  out.data = y;
  out.capacity = sizeof y - 1;
  s = api->model_predict(model, &in, 1, &out, 1);
  if (api->status_code(s) != STRATA_SHAPE_ERROR || out.rank != 0) {
    rc = fail(why, why_size, "a too small output buffer was not refused with STRATA_SHAPE_ERROR", s);
    goto done;
  }
  api->status_release(s);
  out.capacity = sizeof y;
  if ((s = api->model_predict(model, &in, 1, &out, 1)) != NULL) {
    rc = fail(why, why_size, "model_predict", s);
    goto done;
  }
  if (out.rank != 2 || out.shape[0] != 2 || out.shape[1] != 2 || out.size != sizeof y) {
    snprintf(why, why_size, "output: rank %d, %zu bytes; expected (2, 2), 16 bytes", (int)out.rank, out.size);
    rc = 1;
    goto done;
  }
  for (i = 0; i < 4; ++i) {
    if (fabsf(y[i] - want[i]) > 1e-6f + 1e-5f * fabsf(want[i])) {
      snprintf(why, why_size, "output %d is %g, expected %g", i, (double)y[i], (double)want[i]);
      rc = 1;
      goto done;
    }
  }
  {
    strata_model* missing = NULL;
    s = api->model_load("no-such-model.h5", NULL, &missing);
    if (api->status_code(s) != STRATA_IO_ERROR || missing != NULL) {
      rc = fail(why, why_size, "a missing file did not give STRATA_IO_ERROR", s);
      goto done;
    }
    api->status_release(s);
  }

done:
  api->model_release(model);
  return rc;
}

size_t v1_host_layout(size_t* values, size_t max) {
  const size_t all[] = {
      offsetof(strata_api, status_code), offsetof(strata_api, status_message), offsetof(strata_api, status_release),
      offsetof(strata_api, init), offsetof(strata_api, version), offsetof(strata_api, list_plugins),
      offsetof(strata_api, string_release), offsetof(strata_api, model_load), offsetof(strata_api, model_release),
      offsetof(strata_api, model_input_count), offsetof(strata_api, model_output_count),
      offsetof(strata_api, model_input_info), offsetof(strata_api, model_output_info),
      offsetof(strata_api, model_to_device), offsetof(strata_api, model_predict), offsetof(strata_api, model_save),
      offsetof(strata_api, convert),
      offsetof(strata_buffer, struct_size), offsetof(strata_buffer, dtype), offsetof(strata_buffer, rank),
      offsetof(strata_buffer, shape), offsetof(strata_buffer, data), offsetof(strata_buffer, capacity),
      offsetof(strata_buffer, size),
      sizeof(strata_buffer), sizeof(strata_api)};
  size_t i, n = sizeof all / sizeof all[0];
  if (n > max) n = max;
  for (i = 0; i < n; ++i) values[i] = all[i];
  return n;
}
