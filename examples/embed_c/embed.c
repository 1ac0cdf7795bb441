/* A host application in plain C embedding Strata through strata/c_api.h: start the
 * runtime with a plugin directory, check the C API version, list the plugins and devices,
 * load a model, describe its inputs and outputs, ask for the output shapes of a batch,
 * predict into buffers the caller owns (float32 and float64 input), and release everything.
 *
 * usage: embed_c MODEL [PLUGIN_DIR]
 * MODEL is the file examples/embed_cpp/make_model.cpp writes (expected outputs there). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <strata/c_api.h>

/* Prints the message of a failed call, releases the status, and returns 1. */
static int failed(strata_status* status, const char* what) {
  fprintf(stderr, "FAILED: %s: %s (code %d)\n", what, strata_status_message(status), (int)strata_status_code(status));
  strata_status_release(status);
  return 1;
}

static void print_shape(const int64_t* shape, int32_t rank) {
  printf("(");
  for (int32_t i = 0; i < rank; ++i) {
    if (shape[i] < 0) printf("None");
    else printf("%lld", (long long)shape[i]);
    printf(i + 1 < rank ? ", " : (rank == 1 ? "," : ""));
  }
  printf(")");
}

/* Predicts the two hand-computed rows; returns 0 when the result is right. */
static int predict_once(const strata_model* model) {
  float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  float y[4] = {0};
  const float want[4] = {15.3f, 15.3f, 0.0f, 0.0f}; /* by hand: see make_model.cpp */
  strata_buffer in, out;
  int i;
  memset(&in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  in.struct_size = out.struct_size = sizeof(strata_buffer);
  in.dtype = STRATA_FLOAT32;
  in.rank = 2;
  in.shape[0] = 2;
  in.shape[1] = 4;
  in.data = x;
  in.capacity = in.size = sizeof x;
  out.dtype = STRATA_FLOAT32;
  out.data = y;
  out.capacity = sizeof y;
  {
    strata_status* s = strata_model_predict(model, &in, 1, &out, 1);
    if (s) {
      fprintf(stderr, "FAILED: predict in a thread: %s\n", strata_status_message(s));
      strata_status_release(s);
      return 1;
    }
  }
  for (i = 0; i < 4; ++i) {
    if (fabsf(y[i] - want[i]) > 1e-5f) return 1;
  }
  return 0;
}

struct worker {
  const strata_model* model;
  int failures;
};

static void* predict_many(void* arg) {
  struct worker* w = (struct worker*)arg;
  int i;
  for (i = 0; i < 50; ++i) w->failures += predict_once(w->model);
  return NULL;
}

int main(int argc, char** argv) {
  strata_status* s;
  strata_model* model = NULL;
  size_t n_in = 0, n_out = 0, i;
  int rc = 1;

  if (argc < 2) {
    fprintf(stderr, "usage: embed_c MODEL [PLUGIN_DIR]\n");
    return 2;
  }
  {
    const char* paths[1];
    paths[0] = argc > 2 ? argv[2] : NULL;
    s = strata_init(paths, argc > 2 ? 1 : 0);
    if (s) return failed(s, "strata_init");
  }
  {
    /* The runtime must provide the C API version this program was compiled against. */
    const strata_api* api = NULL;
    strata_versions v;
    s = strata_get_api(STRATA_C_API_VERSION, &api);
    if (s) return failed(s, "strata_get_api");
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v;
    s = api->get_versions(&v);
    if (s) return failed(s, "strata_get_versions");
    printf("Strata %s (C API version %u, plugin ABI %u.%u)\n", v.version, (unsigned)v.c_api_version,
           (unsigned)v.plugin_abi_major, (unsigned)v.plugin_abi_minor);
  }
  {
    strata_plugin_list* plugins = NULL;
    size_t n = 0;
    s = strata_get_plugins(&plugins);
    if (s) return failed(s, "strata_get_plugins");
    s = strata_plugin_list_count(plugins, &n);
    printf("plugins:\n");
    for (i = 0; !s && i < n; ++i) {
      strata_plugin_info p;
      memset(&p, 0, sizeof p);
      p.struct_size = sizeof p;
      if ((s = strata_plugin_list_get(plugins, i, &p)) == NULL) {
        printf("  %s %s: %s (%s)\n", p.name, p.version, p.status, p.path);
      }
    }
    strata_plugin_list_release(plugins);
    if (s) return failed(s, "listing the plugins");
  }
  {
    strata_device_list* devices = NULL;
    size_t n = 0;
    s = strata_get_devices(&devices);
    if (s) return failed(s, "strata_get_devices");
    s = strata_device_list_count(devices, &n);
    printf("devices:");
    for (i = 0; !s && i < n; ++i) {
      strata_device_info d;
      memset(&d, 0, sizeof d);
      d.struct_size = sizeof d;
      if ((s = strata_device_list_get(devices, i, &d)) == NULL) {
        printf(d.usable ? " %s" : " %s (not usable: %s)", d.name, d.reason);
      }
    }
    printf("\n");
    strata_device_list_release(devices);
    if (s) return failed(s, "listing the devices");
  }

  s = strata_model_load(argv[1], NULL, &model);
  if (s) return failed(s, "strata_model_load");

  if ((s = strata_model_input_count(model, &n_in)) || (s = strata_model_output_count(model, &n_out))) {
    rc = failed(s, "counting inputs and outputs");
    goto done;
  }
  for (i = 0; i < n_in + n_out; ++i) {
    const char* name = NULL;
    strata_dtype dtype;
    int64_t shape[STRATA_MAX_RANK];
    int32_t rank = 0;
    s = i < n_in ? strata_model_input_info(model, i, &name, &dtype, shape, &rank)
                 : strata_model_output_info(model, i - n_in, &name, &dtype, shape, &rank);
    if (s) {
      rc = failed(s, "describing the model");
      goto done;
    }
    printf("%s %s: dtype %d, shape ", i < n_in ? "input" : "output", name, (int)dtype);
    print_shape(shape, rank);
    printf("\n");
  }

  {
    /* The output shape of a batch of two, without running the model. */
    strata_shape batch, scores;
    memset(&batch, 0, sizeof batch);
    batch.rank = 2;
    batch.dims[0] = 2;
    batch.dims[1] = 4;
    s = strata_model_output_shapes(model, &batch, 1, &scores, 1);
    if (s) {
      rc = failed(s, "strata_model_output_shapes");
      goto done;
    }
    printf("a batch of 2 gives scores of shape ");
    print_shape(scores.dims, scores.rank);
    printf("\n");
    if (scores.rank != 2 || scores.dims[0] != 2 || scores.dims[1] != 2) {
      fprintf(stderr, "FAILED: expected output shape (2, 2)\n");
      rc = 1;
      goto done;
    }
  }

  {
    /* Two rows of four features in, two rows of two scores out, all in our memory. */
    float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    float y[4] = {0};
    const float want[4] = {15.3f, 15.3f, 0.0f, 0.0f}; /* by hand: see make_model.cpp */
    strata_buffer in, out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    in.struct_size = out.struct_size = sizeof(strata_buffer);
    in.dtype = STRATA_FLOAT32;
    in.rank = 2;
    in.shape[0] = 2;
    in.shape[1] = 4;
    in.data = x;
    in.capacity = in.size = sizeof x;
    out.dtype = STRATA_FLOAT32;
    out.data = y;

    /* Too small a buffer is refused with STRATA_SHAPE_ERROR, and nothing is written. */
    out.capacity = sizeof y - 1;
    s = strata_model_predict(model, &in, 1, &out, 1);
    if (strata_status_code(s) != STRATA_SHAPE_ERROR) {
      rc = failed(s, "a too small output buffer was not refused");
      goto done;
    }
    printf("too small a buffer: %s\n", strata_status_message(s));
    strata_status_release(s);

    out.capacity = sizeof y;
    s = strata_model_predict(model, &in, 1, &out, 1);
    if (s) {
      rc = failed(s, "strata_model_predict");
      goto done;
    }
    printf("predictions, shape ");
    print_shape(out.shape, out.rank);
    printf(", %zu bytes:", out.size);
    rc = out.rank == 2 && out.shape[0] == 2 && out.shape[1] == 2 && out.size == sizeof y ? 0 : 1;
    for (i = 0; i < 4; ++i) {
      printf(" %g", (double)y[i]);
      if (fabsf(y[i] - want[i]) > 1e-5f) rc = 1;
    }
    printf(rc == 0 ? "  (as computed by hand)\n" : "  FAILED: expected shape (2, 2) and 15.3 15.3 0 0\n");
    if (rc) goto done;

    /* float64 input to a float32 model input is converted, as `strata predict` does. */
    {
      double xd[8] = {1, 2, 3, 4, -1, -2, -3, -4};
      in.dtype = STRATA_FLOAT64;
      in.data = xd;
      in.capacity = in.size = sizeof xd;
      memset(y, 0, sizeof y);
      s = strata_model_predict(model, &in, 1, &out, 1);
      if (s) {
        rc = failed(s, "strata_model_predict with float64 input");
        goto done;
      }
      printf("from float64 input:");
      for (i = 0; i < 4; ++i) {
        printf(" %g", (double)y[i]);
        if (fabsf(y[i] - want[i]) > 1e-5f) rc = 1;
      }
      printf(rc == 0 ? "  (as computed by hand)\n" : "  FAILED: expected 15.3 15.3 0 0\n");
    }
  }

  /* strata_model_predict may run on many threads at once on one model. */
  {
    pthread_t threads[4];
    struct worker workers[4];
    int t, bad = 0;
    for (t = 0; t < 4; ++t) {
      workers[t].model = model;
      workers[t].failures = 0;
      pthread_create(&threads[t], NULL, predict_many, &workers[t]);
    }
    for (t = 0; t < 4; ++t) {
      pthread_join(threads[t], NULL);
      bad += workers[t].failures;
    }
    printf("4 threads x 50 concurrent predictions: %d wrong\n", bad);
    if (bad) {
      fprintf(stderr, "FAILED: concurrent predictions\n");
      rc = 1;
    }
  }

  /* An error carries a message and a code; here, a file that does not exist. */
  {
    strata_model* missing = NULL;
    s = strata_model_load("no-such-model.h5", NULL, &missing);
    if (s == NULL || missing != NULL || strata_status_code(s) != STRATA_IO_ERROR) {
      fprintf(stderr, "FAILED: loading a missing file did not fail with STRATA_IO_ERROR\n");
      rc = 1;
    } else {
      printf("missing file: %s\n", strata_status_message(s));
    }
    strata_status_release(s);
    strata_model_release(missing);
  }

done:
  strata_model_release(model);
  return rc;
}
