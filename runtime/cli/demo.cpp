// `strata demo`: Strata's main job. Builds the Keras saving guide's models, trains them on
// generated data with Keras's progress bar, prints their summaries and final metrics,
// then saves and reloads them in every format whose plugin is loaded and prints a table
// of what was saved where and whether the reloaded model predicts the same and resumes
// training exactly.
#include "demo.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <sstream>

#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugins.hpp"
#include "strata/saving.hpp"
#include "strata/strata.hpp"

namespace fs = std::filesystem;

namespace strata::cli {
namespace {

Tensor uniform_host(std::mt19937_64& rng, const Shape& shape) {
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& x : v) x = dist(rng);
  return Tensor::from_vector<float>(v, shape);
}

// The guide's first model: Input(32) -> Dense(1), adam + mean_squared_error.
std::shared_ptr<Model> regression_model() {
  Tensor inputs = Input(Shape{32});
  Tensor outputs = (*make_layer("Dense", Config{{"units", 1}}))(inputs);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs});
  model->compile(Config("adam"), Config("mean_squared_error"));
  return model;
}

// The guide's 784-64-64-10 "3_layer_mlp".
std::shared_ptr<Model> mlp_model() {
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}, {"name", "dense_1"}}))(inputs);
  x = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}, {"name", "dense_2"}}))(x);
  Tensor outputs = (*make_layer("Dense", Config{{"units", 10}, {"name", "predictions"}}))(x);
  auto model = std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "3_layer_mlp");
  model->compile(Config("rmsprop"),
                 Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}},
                 Config::array({"accuracy"}));
  return model;
}

// "Digits": 784 features whose class is decided by a fixed random linear teacher.
std::pair<Tensor, Tensor> digits(std::mt19937_64& rng, std::int64_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  static std::vector<float> teacher;
  if (teacher.empty()) {
    std::mt19937_64 teacher_rng(7);
    teacher.resize(784 * 10);
    for (auto& w : teacher) w = normal(teacher_rng);
  }
  std::vector<float> x(static_cast<std::size_t>(n * 784));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < 784; ++j) x[static_cast<std::size_t>(i * 784 + j)] = normal(rng) > 0.8f ? 1.0f : 0.0f;
    int best = 0;
    float best_score = -1e30f;
    for (int c = 0; c < 10; ++c) {
      float score = 0;
      for (std::int64_t j = 0; j < 784; ++j) score += x[static_cast<std::size_t>(i * 784 + j)] * teacher[static_cast<std::size_t>(j * 10 + c)];
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    y[static_cast<std::size_t>(i)] = best;
  }
  return {Tensor::from_vector<float>(x, Shape{n, 784}), Tensor::from_vector<std::int64_t>(y, Shape{n})};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<float>(), y = b.to_vector<float>();
  if (x.size() != y.size()) return INFINITY;
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, static_cast<double>(std::abs(x[i] - y[i])));
  return d;
}

struct Row {
  std::string model, what, format, path, predictions, resumed, error;
};

std::string fmt_diff(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, d == 0 ? "identical" : "max |diff| %.2e", d);
  return buf;
}

// Saves `model` one way, reloads it, and checks predictions and (whole models) that the
// next training step of the original and of the reloaded model give the same loss.
Row save_and_reload(const std::string& label, const std::shared_ptr<Model>& model, const std::string& what,
                    const std::string& format, const fs::path& path, const Tensor& x, const Tensor& y) {
  Row row{label, what, format, path.string(), "", "", ""};
  try {
    get_format(format);
  } catch (const Error&) {
    row.path.assign(1, '-');
    row.predictions = detail::concat("skipped: plugin format-", format, " not loaded");
    return row;
  }
  try {
    std::shared_ptr<Model> reloaded;
    if (what == "whole model") {
      save_model(*model, path, SaveOptions{format});
      reloaded = load_model(path, LoadOptions{format});
    } else if (what == "architecture") {
      save_model(*model, path, SaveOptions{format});
      reloaded = load_model(path, LoadOptions{format});
      reloaded->set_weights(model->get_weights());  // the JSON holds no weights
    } else {
      save_weights(*model, path, SaveOptions{format});
      reloaded = clone_model(*model);
      // As in the guide: rebuild the model in code, compile it the same way, then load the
      // weights. A TF checkpoint and a Keras 3 weights file also hold the optimizer's state,
      // which the compiled model's optimizer takes, so every value in the file must be used.
      const Config tc = model->training_config();
      reloaded->compile(tc["optimizer_config"], tc["loss"]);
      const LoadStatus status = reloaded->load_weights(path, LoadOptions{format});
      if (format == "checkpoint" || format == "keras") status.assert_consumed();
      else status.assert_existing_objects_matched();
    }
    row.predictions = fmt_diff(max_abs_diff(model->predict(x), reloaded->predict(x)));
    const bool holds_optimizer = what == "whole model" || format == "checkpoint" || format == "keras";
    if (holds_optimizer && reloaded->is_compiled()) {
      // Resume: the next step of the original and of the reloaded model, on one batch.
      const double a = model->train_on_batch({x}, {y}).at("loss");
      const double b = reloaded->train_on_batch({x}, {y}).at("loss");
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s (loss %.9g vs %.9g)", a == b ? "bit-identical" : "DIFFERS", a, b);
      row.resumed = buf;
    } else {
      row.resumed = what == "whole model" ? std::string("n/a (not compiled)")
                    : what == "weights"   ? std::string("n/a (no optimizer state in the file)")
                                          : detail::concat("n/a (", what, ")");
    }
  } catch (const Error& e) {
    std::string text = e.what();
    row.predictions = "FAILED";
    row.error = text.substr(0, text.find('\n'));
  }
  return row;
}

// Runs `command` through the shell and returns its exit status and output.
int run_process(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// Part 4: the guide's subclassed model, shipped in a plugin (the test plugin
// test-custom-objects), saved as a SavedModel and predicted by fresh `strata predict`
// processes with the plugin on STRATA_PLUGIN_PATH and without it. Returns false when a
// check fails.
bool custom_model_in_fresh_processes(const fs::path& dir, const Tensor& x, const Tensor& y) {
  std::cout << "\n== 4. The guide's custom model from a plugin, reloaded in fresh processes ==\n";
#ifndef STRATA_GUIDE_PLUGIN
  std::cout << "skipped: the guide's custom-objects plugin (tests/plugins/custom) is not part of this build\n";
  return true;
#else
  // Both paths are relative to the directory of the executable, so that the binary names no
  // build path: STRATA_GUIDE_PLUGIN_INSTALLED where `cmake --install` puts the plugin
  // (<libdir>/strata/demo, off the plugin search path), STRATA_GUIDE_PLUGIN in the build tree.
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  fs::path plugin;
  for (const char* relative : {STRATA_GUIDE_PLUGIN_INSTALLED, STRATA_GUIDE_PLUGIN}) {
    const fs::path candidate = (exe_dir / relative).lexically_normal();
    if (fs::exists(candidate, ec)) {
      plugin = candidate;
      break;
    }
  }
  if (plugin.empty()) {
    std::cout << "skipped: the guide's plugin is not installed ("
              << (exe_dir / STRATA_GUIDE_PLUGIN_INSTALLED).lexically_normal().string() << ")\n";
    return true;
  }
  PluginManager::global().load(plugin);  // a second load of the same file returns its record
  auto model = model_from_config(Config{{"class_name", "SubclassedModel"}, {"config", Config::object()}});
  model->compile(Config("rmsprop"), Config{{"class_name", "SparseCategoricalCrossentropy"}, {"config", {{"from_logits", true}}}});
  FitOptions fit;
  fit.epochs = 1;
  fit.batch_size = 64;
  fit.verbose = 0;
  model->fit(x, y, fit);
  const Tensor probe = slice(x, {0, 0}, {8, 784});
  const Tensor want = model->predict(probe);
  const fs::path saved = dir / "custom_model_savedmodel", no_traces = dir / "custom_model_no_traces";
  save_model(*model, saved);
  SaveOptions plain;
  plain.save_traces = false;
  save_model(*model, no_traces, plain);
  write_npy(dir / "custom_probe.npy", probe);
  std::cout << "SubclassedModel (plugin " << plugin.filename().string() << ") trained 1 epoch, saved to "
            << saved.string() << "\n";
  const std::string self = quoted(fs::read_symlink("/proc/self/exe", ec));
  const auto predict = [&](const std::string& env, const fs::path& model_dir, const fs::path& out, std::string& log) {
    return run_process(env + " " + self + " predict " + quoted(model_dir) + " --input " +
                           quoted(dir / "custom_probe.npy") + " --output " + quoted(out),
                       log);
  };
  const std::string without = "env -u STRATA_PLUGIN_PATH";
  const std::string with = "env STRATA_PLUGIN_PATH=" + quoted(plugin.parent_path());
  bool ok = true;
  std::string log;
  // First: without the plugin the class really cannot be found.
  const int rc = predict(without, no_traces, dir / "custom_fail.npy", log);
  const bool lookup_failed = rc != 0 && log.find("SubclassedModel") != std::string::npos;
  std::cout << "  without the plugin, save_traces=false copy:  "
            << (lookup_failed ? "fails as it must: " + log.substr(0, log.find('\n')) : std::string("LOADED (the class was found)"))
            << "\n";
  ok = ok && lookup_failed;
  for (const auto& [label, env, file] : {std::tuple<std::string, std::string, std::string>{"without the plugin (traced graph)", without, "custom_without.npy"},
                                          {"with the plugin (its class)", with, "custom_with.npy"}}) {
    if (predict(env, saved, dir / file, log) != 0) {
      std::cout << "  " << label << ": FAILED: " << log.substr(0, log.find('\n')) << "\n";
      ok = false;
      continue;
    }
    const double d = max_abs_diff(read_npy(dir / file), want);
    std::cout << "  " << label << ": predictions " << fmt_diff(d) << "\n";
    ok = ok && d <= 1e-6;
  }
  return ok;
#endif
}

}  // namespace

int run_demo(const std::string& dir_arg) {
  fs::path dir = dir_arg;
  if (dir.empty()) {
    char tmpl[] = "/tmp/strata-demo-XXXXXX";
    STRATA_CHECK(::mkdtemp(tmpl) != nullptr, IOError, "cannot create a temporary directory for the demo");
    dir = tmpl;
  }
  fs::create_directories(dir);
  set_random_seed(42);
  std::mt19937_64 rng(42);
  std::cout << "Strata " << runtime_version() << " demo: the Keras saving guide's models\n\n";

  std::cout << "== 1. The guide's regression model (32 -> 1), adam + mean_squared_error ==\n";
  auto regression = regression_model();
  std::cout << regression->summary();
  const Tensor rx = uniform_host(rng, Shape{128, 32}), ry = uniform_host(rng, Shape{128, 1});
  FitOptions fit;
  fit.epochs = 5;
  regression->fit(rx, ry, fit);
  std::cout << "final loss: " << regression->evaluate(rx, ry).at("loss") << "\n\n";

  std::cout << "== 2. The guide's 3_layer_mlp (784 -> 64 -> 64 -> 10) on generated digits ==\n";
  auto mlp = mlp_model();
  std::cout << mlp->summary();
  const auto [mx, my] = digits(rng, 2048);
  FitOptions mfit;
  mfit.epochs = 3;
  mfit.batch_size = 64;
  mfit.validation_split = 0.2;
  mlp->fit(mx, my, mfit);
  const Logs logs = mlp->evaluate(mx, my, 256);
  std::cout << "final loss: " << logs.at("loss") << ", accuracy: " << logs.at("accuracy") << "\n\n";

  std::cout << "== 3. Save and reload (directory " << dir.string() << ") ==\n";
  std::vector<Row> rows;
  struct Plan {
    std::string what, format, file;
  };
  const std::vector<Plan> plans = {{"whole model", "keras", "model.keras"},
                                   {"whole model", "h5", "model.h5"},
                                   {"whole model", "savedmodel", "model_savedmodel"},
                                   {"architecture", "json", "model.json"},
                                   {"weights", "keras", "model.weights.h5"},
                                   {"weights", "h5", "weights.h5"},
                                   {"weights", "checkpoint", "weights_ckpt"}};
  for (const auto& [label, model, x, y] :
       std::vector<std::tuple<std::string, std::shared_ptr<Model>, Tensor, Tensor>>{
           {"regression", regression, rx, ry}, {"3_layer_mlp", mlp, mx, my}}) {
    for (const auto& p : plans) rows.push_back(save_and_reload(label, model, p.what, p.format, dir / (label + "_" + p.file), x, y));
  }
  std::size_t w[4] = {5, 5, 6, 11};  // at least the headers
  for (const auto& r : rows) {
    w[0] = std::max(w[0], r.model.size());
    w[1] = std::max(w[1], r.what.size());
    w[2] = std::max(w[2], r.format.size());
    w[3] = std::max(w[3], r.predictions.size());
  }
  auto pad = [](std::string s, std::size_t n) { return s.size() < n ? s + std::string(n - s.size(), ' ') : s; };
  std::cout << pad("MODEL", w[0] + 2) << pad("SAVED", w[1] + 2) << pad("FORMAT", w[2] + 2)
            << pad("PREDICTIONS", w[3] + 2) << "RESUMED TRAINING\n";
  bool ok = true;
  for (const auto& r : rows) {
    std::cout << pad(r.model, w[0] + 2) << pad(r.what, w[1] + 2) << pad(r.format, w[2] + 2) << pad(r.predictions, w[3] + 2)
              << r.resumed << "\n";
    if (r.path != "-") std::cout << pad("", w[0] + 2) << "at " << r.path << "\n";
    if (!r.error.empty()) std::cout << pad("", w[0] + 2) << "error: " << r.error << "\n";
    if (r.predictions.rfind("FAILED", 0) == 0 || r.resumed.rfind("DIFFERS", 0) == 0) ok = false;
    if (r.predictions.find("max |diff|") != std::string::npos) ok = false;
  }
  std::cout << (ok ? "\nEvery save that ran reloaded to the same predictions.\n" : "\nSome saves did not round-trip.\n");
  if (!custom_model_in_fresh_processes(dir, mx, my)) {
    std::cout << "The custom model did not reload in a fresh process as it must.\n";
    ok = false;
  }
  return ok ? 0 : 1;
}

}  // namespace strata::cli
