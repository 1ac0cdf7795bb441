/* A C99 host that trains a model file through version 3 of the C API, every call taken
 * from strata_get_api(3)'s table: compile from the file's training configuration, fit,
 * train_on_batch, evaluate, the logs handle, save and resume, refusals. Built against the
 * frozen version 3 header (frozen/strata_c_api_v3.h): its strata_fit_options has version
 * 3's size, so it also checks that a version 3 host keeps working with a newer runtime.
 *
 * usage: strata_c_api_training_c_test MODEL.h5 SAVED.h5
 *   MODEL.h5: tests/data/h5/sequential.h5 (tf-keras, 4 features -> 3 classes, compiled with
 *   Adam, categorical_crossentropy and accuracy); SAVED.h5: a path to write.
 * Prints "FAILED: ..." and exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frozen/strata_c_api_v3.h"

static int failures = 0;
static const strata_api* api = NULL;

static void check(int ok, const char* what, strata_status* s) {
  if (!ok) {
    printf("FAILED: %s%s%s\n", what, s ? ": " : "", s ? api->status_message(s) : "");
    ++failures;
  }
}

/* Checks that `s` succeeded, reporting and releasing it otherwise; 1 on success. */
static int ok(strata_status* s, const char* what) {
  check(s == NULL, what, s);
  api->status_release(s);
  return s == NULL;
}

static float x[6 * 4] = {0.5f, -1.0f, 0.25f, 2.0f,  -0.5f, 1.5f, 1.0f,  -2.0f, 1.0f,  0.0f, -0.75f, 0.5f,
                         -1.0f, 0.5f, 0.75f, -0.25f, 2.0f, -0.5f, 0.0f, 1.0f,  0.25f, 1.0f, -1.5f,  -1.0f};
static float y[6 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1};

static strata_buffer buffer(float* data, int64_t rows, int64_t cols) {
  strata_buffer b;
  memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  b.dtype = STRATA_FLOAT32;
  b.rank = 2;
  b.shape[0] = rows;
  b.shape[1] = cols;
  b.data = data;
  b.capacity = b.size = (size_t)(rows * cols) * sizeof(float);
  return b;
}

/* The "loss" of one train_on_batch step (NAN when it failed). */
static double step_loss(strata_model* model, const strata_buffer* bx, const strata_buffer* by) {
  strata_logs* logs = NULL;
  double loss = NAN;
  if (ok(api->model_train_on_batch(model, bx, 1, by, 1, &logs), "train_on_batch")) {
    ok(api->logs_find(logs, "loss", &loss), "logs_find(loss)");
  }
  api->logs_release(logs);
  return loss;
}

int main(int argc, char** argv) {
  strata_model* model = NULL;
  strata_model* resumed = NULL;
  strata_status* s;
  strata_buffer bx = buffer(x, 6, 4), by = buffer(y, 6, 3);
  if (argc != 3) {
    fprintf(stderr, "usage: strata_c_api_training_c_test MODEL.h5 SAVED.h5\n");
    return 2;
  }
  s = strata_get_api(3, &api);
  if (s != NULL) {
    printf("FAILED: strata_get_api(3): %s\n", strata_status_message(s));
    return 1;
  }
  {
    const strata_api* newer = api;
    s = strata_get_api(99, &newer);
    check(api->status_code(s) == STRATA_INVALID_ARGUMENT && newer == api &&
              strstr(api->status_message(s), "version 99") != NULL &&
              strstr(api->status_message(s), "versions 1 to ") != NULL,
          "asking for version 99 is refused, naming the versions this runtime provides", s);
    printf("asking for version 99: %s\n", api->status_message(s));
    api->status_release(s);
  }
  if (!ok(api->init(NULL, 0), "init") || !ok(api->model_load(argv[1], NULL, &model), "model_load")) return 1;

  { /* loaded for inference: not compiled, training refused */
    int32_t compiled = -1;
    strata_logs* logs = NULL;
    ok(api->model_is_compiled(model, &compiled), "model_is_compiled");
    check(compiled == 0, "strata_model_load does not compile", NULL);
    s = api->model_train_on_batch(model, &bx, 1, &by, 1, &logs);
    check(api->status_code(s) == STRATA_VALUE_ERROR && logs == NULL &&
              strstr(api->status_message(s), "strata_model_compile_from_file") != NULL,
          "train_on_batch of an uncompiled model is a STRATA_VALUE_ERROR naming the fix", s);
    api->status_release(s);
  }
  if (!ok(api->model_compile_from_file(model), "model_compile_from_file")) return 1;

  { /* train_on_batch: loss, then the file's metric */
    strata_logs* logs = NULL;
    size_t n = 0;
    const char* name = NULL;
    double value = NAN;
    if (ok(api->model_train_on_batch(model, &bx, 1, &by, 1, &logs), "train_on_batch")) {
      ok(api->logs_count(logs, &n), "logs_count");
      check(n == 2, "train_on_batch logs loss and accuracy", NULL);
      ok(api->logs_get(logs, 0, &name, &value), "logs_get(0)");
      check(name != NULL && strcmp(name, "loss") == 0 && isfinite(value) && value > 0, "logs[0] is a finite loss",
            NULL);
      ok(api->logs_get(logs, 1, &name, &value), "logs_get(1)");
      check(name != NULL && strcmp(name, "accuracy") == 0 && value >= 0 && value <= 1, "logs[1] is the accuracy",
            NULL);
    }
    api->logs_release(logs);
  }
  { /* fit: the history as JSON and the last epoch's logs */
    strata_fit_options options;
    char* history = NULL;
    strata_logs* last = NULL;
    double val_loss = NAN;
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.epochs = 3;
    options.batch_size = 2;
    options.validation_split = 0.5;
    if (ok(api->model_fit(model, &bx, 1, &by, 1, &options, &history, &last), "model_fit")) {
      printf("history: %s\n", history);
      check(strncmp(history, "{\"loss\": [", 10) == 0 && strstr(history, "\"val_accuracy\": [") != NULL,
            "the history holds loss ... val_accuracy", NULL);
      ok(api->logs_find(last, "val_loss", &val_loss), "logs_find(val_loss)");
      check(isfinite(val_loss), "the last epoch's val_loss is finite", NULL);
    }
    api->string_release(history);
    api->logs_release(last);
  }
  { /* evaluate changes nothing: twice the same */
    strata_logs* a = NULL;
    strata_logs* b = NULL;
    double la = NAN, lb = NAN;
    ok(api->model_evaluate(model, &bx, 1, &by, 1, 0, &a), "evaluate");
    ok(api->model_evaluate(model, &bx, 1, &by, 1, 4, &b), "evaluate");
    ok(api->logs_find(a, "loss", &la), "logs_find");
    ok(api->logs_find(b, "loss", &lb), "logs_find");
    check(isfinite(la) && fabs(la - lb) <= 1e-6 * fabs(la), "evaluate twice gives the same loss", NULL);
    api->logs_release(a);
    api->logs_release(b);
  }
  /* save, load, compile from the saved file: the next steps equal the ones in memory. A step
   * reports the loss before its update, so the second step's loss is the first to depend on
   * the optimizer state (Adam's iteration and slots) that the file must have kept. */
  if (ok(api->model_save(model, argv[2], NULL), "model_save") &&
      ok(api->model_load(argv[2], NULL, &resumed), "model_load(saved)") &&
      ok(api->model_compile_from_file(resumed), "model_compile_from_file(saved)")) {
    int step;
    for (step = 1; step <= 2; ++step) {
      const double from_file = step_loss(resumed, &bx, &by);
      const double in_memory = step_loss(model, &bx, &by);
      printf("step %d's loss: %.9g resumed from the file, %.9g in memory\n", step, from_file, in_memory);
      check(from_file == in_memory, "resuming from the saved file gives the in-memory steps, bit for bit", NULL);
    }
  }
  { /* a bad buffer: typed, nothing crashes */
    strata_buffer bad = bx;
    bad.struct_size = 0;
    s = api->model_train_on_batch(model, &bad, 1, &by, 1, NULL);
    check(api->status_code(s) == STRATA_INVALID_ARGUMENT && strstr(api->status_message(s), "struct_size is 0"),
          "a buffer with struct_size 0 is a STRATA_INVALID_ARGUMENT", s);
    api->status_release(s);
  }
  api->model_release(resumed);
  api->model_release(model);
  printf(failures ? "%d check(s) FAILED\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
