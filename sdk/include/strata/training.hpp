// What Model::fit / evaluate exchange with their callers: logs, history, options and
// callbacks (Keras's protocol).
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "strata/config.hpp"
#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Model;

// Named scalar results in the order Keras reports them ("loss" first, then metrics,
// then "val_..." ones).
class Logs {
 public:
  void set(const std::string& name, double value);
  std::optional<double> get(const std::string& name) const;
  double at(const std::string& name) const;  // ValueError naming the missing key
  const std::vector<std::pair<std::string, double>>& items() const noexcept { return items_; }
  bool empty() const noexcept { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

struct History {
  std::vector<int> epoch;
  std::map<std::string, std::vector<double>> history;
};

class Callback {
 public:
  virtual ~Callback();
  void set_model(Model* model) noexcept { model_ = model; }
  Model* model() const noexcept { return model_; }

  virtual void on_train_begin(const Logs&) {}
  virtual void on_train_end(const Logs&) {}
  virtual void on_epoch_begin(int /*epoch*/, const Logs&) {}
  virtual void on_epoch_end(int /*epoch*/, const Logs&) {}
  virtual void on_train_batch_begin(int /*batch*/, const Logs&) {}
  virtual void on_train_batch_end(int /*batch*/, const Logs&) {}
  virtual void on_test_begin(const Logs&) {}
  virtual void on_test_end(const Logs&) {}
  virtual void on_test_batch_end(int /*batch*/, const Logs&) {}

 private:
  Model* model_ = nullptr;
};

struct FitOptions {
  std::int64_t batch_size = 32;
  int epochs = 1;
  // 0 silent, 1 progress bar (redrawn in place on a terminal; the final line only
  // otherwise), 2 one line per epoch.
  int verbose = 1;
  // The last fraction of the samples (taken before shuffling) is held out for validation.
  double validation_split = 0.0;
  std::optional<std::pair<std::vector<Tensor>, std::vector<Tensor>>> validation_data;
  bool shuffle = true;
  int initial_epoch = 0;
  std::vector<std::shared_ptr<Callback>> callbacks;
  Tensor sample_weight;            // optional, one weight per sample
  std::ostream* out = nullptr;     // where progress goes; default std::cout
};

// ---- built-in callbacks --------------------------------------------------------------

// Stops training when `monitor` has not improved by min_delta for `patience` epochs.
class EarlyStopping final : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    double min_delta = 0.0;
    int patience = 0;
    std::string mode = "auto";  // "min", "max", "auto" (max for accuracy-like names)
    std::optional<double> baseline;
    bool restore_best_weights = false;
    int start_from_epoch = 0;
  };
  explicit EarlyStopping(Options options);
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs&) override;
  int stopped_epoch() const noexcept { return stopped_epoch_; }

 private:
  Options options_;
  bool maximize_ = false;
  double best_ = 0;
  int wait_ = 0;
  int stopped_epoch_ = 0;
  int best_epoch_ = 0;
  std::vector<Tensor> best_weights_;
};

// Sets the optimizer's learning rate at the start of each epoch to schedule(epoch, lr).
class LearningRateScheduler final : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int epoch, double lr)> schedule);
  void on_epoch_begin(int epoch, const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  std::function<double(int, double)> schedule_;
};

// Multiplies the learning rate by `factor` when `monitor` stops improving.
class ReduceLROnPlateau final : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    double factor = 0.1;
    int patience = 10;
    std::string mode = "auto";
    double min_delta = 1e-4;
    int cooldown = 0;
    double min_lr = 0.0;
  };
  explicit ReduceLROnPlateau(Options options);
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;

 private:
  Options options_;
  bool maximize_ = false;
  double best_ = 0;
  int wait_ = 0;
  int cooldown_counter_ = 0;
};

// Saves the model (or its weights) at the end of each epoch through the format plugins
// (strata/saving.hpp: the format comes from the extension, e.g. ".h5"), as Keras's
// ModelCheckpoint does. `filepath` may hold Python format fields: {epoch} (1-based),
// {epoch:02d}, and any log key, e.g. {val_loss:.2f} or {loss}. With save_best_only a file
// is written only when `monitor` improves on the best value seen so far (missing from the
// logs: a warning, nothing saved). The best value lives in the callback, not in fit(): to
// keep it across a resumed run, copy get_state() of the old callback into set_state() of
// the new one. Errors of a save (IOError, ValueError) propagate out of fit().
class ModelCheckpoint final : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    bool save_best_only = false;
    bool save_weights_only = false;
    std::string mode = "auto";  // "min", "max", "auto" (max for accuracy-like names)
    std::optional<double> initial_value_threshold;  // the best value to beat at the start
    int verbose = 0;  // 1: log a line (info level) for each save or skipped save
  };
  ModelCheckpoint(std::string filepath, Options options);
  explicit ModelCheckpoint(std::string filepath) : ModelCheckpoint(std::move(filepath), Options()) {}
  void on_epoch_end(int epoch, const Logs& logs) override;

  // The best monitored value so far (±infinity before any), and the files written.
  double best() const noexcept { return best_; }
  const std::vector<std::string>& saved_files() const noexcept { return saved_; }
  // {"best": <number or null>, "monitor": ..., "mode": "min"|"max"}: what a resumed run
  // needs. set_state throws ValueError when monitor or mode differ from this callback's.
  Config get_state() const;
  void set_state(const Config& state);
  // The path for `epoch` (0-based, written 1-based as Keras does) and these logs.
  // ValueError naming a field that is neither "epoch" nor a log key.
  std::string format_filepath(int epoch, const Logs& logs) const;

 private:
  std::string filepath_;
  Options options_;
  bool maximize_ = false;
  double best_ = 0;
  std::vector<std::string> saved_;
};

// Writes one CSV row per epoch: epoch,<log keys...> (Keras's CSVLogger).
class CSVLogger final : public Callback {
 public:
  explicit CSVLogger(std::string path, char separator = ',', bool append = false);
  ~CSVLogger() override;
  void on_train_begin(const Logs&) override;
  void on_epoch_end(int epoch, const Logs& logs) override;
  void on_train_end(const Logs&) override;

 private:
  struct File;
  std::string path_;
  char separator_;
  bool append_;
  std::unique_ptr<File> file_;
  std::vector<std::string> keys_;
};

// ---- the traced train step (plugin ABI 2.6) ---------------------------------------------

// Model::train_step's default implementation (what fit and train_on_batch run) traces the
// forward pass, the loss and the gradients once per input signature into one graph and runs
// its compiled plan at each step; the optimizer, constraints and metrics stay eager after
// it. It falls back to the eager step where tracing would not be exact (docs/USER_GUIDE.md,
// "The traced train step"). On by default unless the environment variable
// STRATA_TRACED_TRAIN_STEP is "0"; set_traced_train_step_enabled overrides the environment
// for the whole process (graphs already traced are kept for when it is turned back on).
void set_traced_train_step_enabled(bool enabled) noexcept;
bool traced_train_step_enabled() noexcept;

// Process-wide counts since start (or the last reset), for tests and diagnostics.
struct TracedTrainStepStats {
  std::uint64_t traced_steps = 0;  // train steps whose gradients came from a traced graph
  std::uint64_t eager_steps = 0;   // train steps run eagerly (switched off or fallen back)
  std::uint64_t traces = 0;        // graphs traced (one per model, compile and signature)
  std::uint64_t fallbacks = 0;     // traces given up: that signature runs eagerly
};
TracedTrainStepStats traced_train_step_stats() noexcept;
void reset_traced_train_step_stats() noexcept;

}  // namespace strata

STRATA_API_END
