/* The C API from C: the header compiles as C11 with every warning an error; version 1's
 * layout is pinned (static assertions, and a host built against the frozen version 1
 * header runs against this runtime: v1_host.c); the runtime refuses a newer version than
 * its own with a clear message; the version 2 calls work through the table.
 *
 * usage: strata_c_api_c_test MODEL   (MODEL: examples/embed_cpp/make_model.cpp's file)
 * Prints "FAILED: ..." and exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <strata/c_api.h>

#include "v1_host.h"

/* Version 1 of the table is 17 entries, version 2 appends 12, version 3 appends 10, version 4
 * appends 3; nothing moves. */
#define ENTRY sizeof(void (*)(void))
_Static_assert(offsetof(strata_api, status_code) == 0, "version 1 layout");
_Static_assert(offsetof(strata_api, init) == 3 * ENTRY, "version 1 layout");
_Static_assert(offsetof(strata_api, model_load) == 7 * ENTRY, "version 1 layout");
_Static_assert(offsetof(strata_api, model_predict) == 14 * ENTRY, "version 1 layout");
_Static_assert(offsetof(strata_api, convert) == 16 * ENTRY, "version 1 layout");
_Static_assert(offsetof(strata_api, get_versions) == 17 * ENTRY, "version 2 starts after version 1");
_Static_assert(offsetof(strata_api, model_output_shapes) == 28 * ENTRY, "version 2 layout");
_Static_assert(offsetof(strata_api, logs_count) == 29 * ENTRY, "version 3 starts after version 2");
_Static_assert(offsetof(strata_api, model_fit) == 36 * ENTRY, "version 3 layout");
_Static_assert(offsetof(strata_api, model_evaluate) == 38 * ENTRY, "version 3 layout");
_Static_assert(offsetof(strata_api, model_train_on_batch_weighted) == 39 * ENTRY, "version 4 starts after version 3");
_Static_assert(offsetof(strata_api, model_test_on_batch) == 40 * ENTRY, "version 4 layout");
_Static_assert(offsetof(strata_api, model_evaluate_weighted) == 41 * ENTRY, "version 4 layout");
_Static_assert(offsetof(strata_api, set_num_threads) == 42 * ENTRY, "version 5 starts after version 4");
_Static_assert(offsetof(strata_api, model_get_num_threads) == 45 * ENTRY, "version 5 layout");
_Static_assert(sizeof(strata_api) == 46 * ENTRY, "an entry was added without raising STRATA_C_API_VERSION here");
_Static_assert(STRATA_C_API_VERSION == 5, "update this test's pinned layout for the new version");
/* strata_fit_options: version 3's fields, then version 4's sample_weight. */
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(offsetof(strata_fit_options, verbose) == 36 && offsetof(strata_fit_options, sample_weight) == 40 &&
                   sizeof(strata_fit_options) == 48,
               "strata_fit_options's layout (LP64)");
#endif
_Static_assert(offsetof(strata_fit_options, struct_size) == 0, "struct_size must stay first");
/* strata_buffer: struct_size first, so every version can read it. */
_Static_assert(offsetof(strata_buffer, struct_size) == 0, "struct_size must stay first");
_Static_assert(offsetof(strata_versions, struct_size) == 0, "struct_size must stay first");
_Static_assert(offsetof(strata_plugin_info, struct_size) == 0, "struct_size must stay first");
_Static_assert(offsetof(strata_device_info, struct_size) == 0, "struct_size must stay first");
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(offsetof(strata_buffer, dtype) == 8 && offsetof(strata_buffer, rank) == 12 &&
                   offsetof(strata_buffer, shape) == 16 && offsetof(strata_buffer, data) == 80 &&
                   offsetof(strata_buffer, capacity) == 88 && offsetof(strata_buffer, size) == 96 &&
                   sizeof(strata_buffer) == 104,
               "strata_buffer's version 1 layout (LP64)");
#endif

static int failures = 0;

static void check(int ok, const char* what, strata_status* s) {
  if (!ok) {
    printf("FAILED: %s%s%s\n", what, s ? ": " : "", s ? strata_status_message(s) : "");
    ++failures;
  }
}

/* The layout the frozen header gives must be this header's, value for value. */
static void layout_matches_the_frozen_header(void) {
  const size_t mine[] = {
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
      sizeof(strata_buffer), 17 * ENTRY /* the version 1 table's size: a prefix of today's */};
  size_t frozen[32];
  const size_t n = v1_host_layout(frozen, 32), want = sizeof mine / sizeof mine[0];
  size_t i;
  check(n == want, "the frozen layout has as many values as this test checks", NULL);
  for (i = 0; i < n && i < want; ++i) {
    if (frozen[i] != mine[i]) {
      printf("FAILED: layout value %zu: %zu in the frozen version 1 header, %zu now\n", i, frozen[i], mine[i]);
      ++failures;
    }
  }
}

static void newer_and_zero_versions_are_refused(void) {
  const strata_api* sentinel = (const strata_api*)&failures; /* any non-NULL address */
  const strata_api* api = sentinel;
  strata_status* s = strata_get_api(STRATA_C_API_VERSION + 1, &api);
  check(strata_status_code(s) == STRATA_INVALID_ARGUMENT, "a newer version is refused", s);
  check(strstr(strata_status_message(s), "version 6") != NULL && strstr(strata_status_message(s), "versions 1 to 5"),
        "the refusal names both versions", s);
  check(api == sentinel, "a refused strata_get_api leaves api unset", NULL);
  printf("asking for version %d: %s\n", STRATA_C_API_VERSION + 1, strata_status_message(s));
  strata_status_release(s);
  s = strata_get_api(0, &api);
  check(strata_status_code(s) == STRATA_INVALID_ARGUMENT && api == sentinel, "version 0 is refused", s);
  strata_status_release(s);
}

static void version_2_calls_through_the_table(const char* model_path) {
  const strata_api* api = NULL;
  strata_status* s = strata_get_api(STRATA_C_API_VERSION, &api);
  check(s == NULL && api != NULL, "strata_get_api(STRATA_C_API_VERSION)", s);
  if (s) {
    strata_status_release(s);
    return;
  }
  check(api->model_predict == strata_model_predict && api->model_output_shapes == strata_model_output_shapes,
        "the table's entries are the exported functions", NULL);
  {
    strata_versions v;
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v;
    s = api->get_versions(&v);
    check(s == NULL && v.c_api_version == STRATA_C_API_VERSION && strcmp(v.version, strata_version()) == 0,
          "get_versions", s);
    strata_status_release(s);
  }
  {
    strata_log_level before = STRATA_LOG_OFF, now = STRATA_LOG_OFF;
    s = api->get_log_level(&before);
    check(s == NULL, "get_log_level", s);
    strata_status_release(s);
    s = api->set_log_level(STRATA_LOG_ERROR);
    check(s == NULL, "set_log_level", s);
    strata_status_release(s);
    s = api->get_log_level(&now);
    check(s == NULL && now == STRATA_LOG_ERROR, "the log level set is the one read back", s);
    strata_status_release(s);
    strata_status_release(api->set_log_level(before));
  }
  {
    strata_plugin_list* list = NULL;
    size_t n = 0, i;
    int json_loaded = 0;
    s = api->get_plugins(&list);
    check(s == NULL, "get_plugins", s);
    strata_status_release(s);
    s = api->plugin_list_count(list, &n);
    check(s == NULL && n > 0, "plugin_list_count", s);
    strata_status_release(s);
    for (i = 0; i < n; ++i) {
      strata_plugin_info p;
      memset(&p, 0, sizeof p);
      p.struct_size = sizeof p;
      s = api->plugin_list_get(list, i, &p);
      check(s == NULL, "plugin_list_get", s);
      strata_status_release(s);
      if (s == NULL && strcmp(p.name, "format-json") == 0 && p.state == STRATA_PLUGIN_LOADED) json_loaded = 1;
    }
    check(json_loaded, "format-json is listed as loaded", NULL);
    api->plugin_list_release(list);
  }
  {
    strata_device_list* list = NULL;
    strata_device_info d;
    s = api->get_devices(&list);
    check(s == NULL, "get_devices", s);
    strata_status_release(s);
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    s = api->device_list_get(list, 0, &d);
    check(s == NULL && strcmp(d.name, "cpu:0") == 0 && d.usable == 1, "the first device is a usable cpu:0", s);
    strata_status_release(s);
    api->device_list_release(list);
  }
  {
    strata_model* model = NULL;
    strata_shape in, out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    in.rank = 2;
    in.dims[0] = 3;
    in.dims[1] = 4;
    s = api->model_load(model_path, NULL, &model);
    check(s == NULL, "model_load", s);
    strata_status_release(s);
    if (model) {
      s = api->model_output_shapes(model, &in, 1, &out, 1);
      check(s == NULL && out.rank == 2 && out.dims[0] == 3 && out.dims[1] == 2, "output shapes of (3, 4): (3, 2)", s);
      strata_status_release(s);
    }
    api->model_release(model);
  }
}

int main(int argc, char** argv) {
  char why[1024] = "";
  if (argc != 2) {
    fprintf(stderr, "usage: strata_c_api_c_test MODEL\n");
    return 2;
  }
  layout_matches_the_frozen_header();
  if (v1_host_run(argv[1], why, sizeof why) != 0) {
    printf("FAILED: the host built against version 1: %s\n", why);
    ++failures;
  } else {
    printf("a host built against C API version 1 ran against this runtime (version %d)\n", STRATA_C_API_VERSION);
  }
  newer_and_zero_versions_are_refused();
  version_2_calls_through_the_table(argv[1]);
  printf(failures ? "%d check(s) FAILED\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
