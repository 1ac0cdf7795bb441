#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <charconv>

#include "strata/log.hpp"
#include "strata/model.hpp"
#include "strata/saving.hpp"

namespace strata {
namespace {

bool maximize_for(const std::string& mode, const std::string& monitor) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  STRATA_CHECK(mode == "auto", ValueError, "mode must be auto, min or max, got '", mode, "'");
  // Keras: accuracy-like and AUC-like quantities are maximised.
  return monitor.find("acc") != std::string::npos || monitor.find("auc") != std::string::npos ||
         monitor.rfind("fmeasure") != std::string::npos;
}

bool improved(double current, double best, double min_delta, bool maximize) {
  return maximize ? current - min_delta > best : current + min_delta < best;
}

double worst(bool maximize) {
  return maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

}  // namespace

// ---- EarlyStopping -------------------------------------------------------------------------------

EarlyStopping::EarlyStopping(Options options) : options_(std::move(options)) {
  maximize_ = maximize_for(options_.mode, options_.monitor);
  options_.min_delta = std::abs(options_.min_delta);
}

void EarlyStopping::on_train_begin(const Logs&) {
  wait_ = 0;
  stopped_epoch_ = 0;
  best_ = options_.baseline ? *options_.baseline : worst(maximize_);
  best_weights_.clear();
  best_epoch_ = 0;
}

void EarlyStopping::on_epoch_end(int epoch, const Logs& logs) {
  const auto current = logs.get(options_.monitor);
  if (!current || epoch < options_.start_from_epoch) return;
  if (options_.restore_best_weights && best_weights_.empty()) best_weights_ = model()->get_weights();
  ++wait_;
  if (improved(*current, best_, options_.min_delta, maximize_)) {
    best_ = *current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) best_weights_ = model()->get_weights();
    if (!options_.baseline || improved(*current, *options_.baseline, options_.min_delta, maximize_)) wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model()->stop_training = true;
    if (options_.restore_best_weights && !best_weights_.empty()) model()->set_weights(best_weights_);
  }
}

void EarlyStopping::on_train_end(const Logs&) {}

// ---- ModelCheckpoint -------------------------------------------------------------------------------

ModelCheckpoint::ModelCheckpoint(std::string filepath, Options options)
    : filepath_(std::move(filepath)), options_(std::move(options)) {
  STRATA_CHECK(!filepath_.empty(), ValueError, "ModelCheckpoint needs a file path");
  // Keras's ModelCheckpoint: "auto" maximises accuracy-like names and fmeasure.
  maximize_ = options_.mode == "auto" ? (options_.monitor.find("acc") != std::string::npos ||
                                         options_.monitor.rfind("fmeasure", 0) == 0)
                                      : maximize_for(options_.mode, options_.monitor);
  best_ = options_.initial_value_threshold ? *options_.initial_value_threshold : worst(maximize_);
}

namespace {

// One Python format field with a spec ("02d", ".2f", ".4e", "") applied to a number.
std::string format_number(double value, bool is_integer, const std::string& spec, const std::string& field) {
  if (spec.empty()) {
    if (is_integer) return std::to_string(static_cast<long long>(value));
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest round trip, like Python's repr
    std::string out(buf, r.ptr);
    if (std::isfinite(value) && out.find_first_of(".eE") == std::string::npos) out += ".0";
    return out;
  }
  // [0][width][.precision][type] — the subset of Python's mini-language file names use.
  std::size_t i = 0;
  std::string flags, width, precision;
  if (i < spec.size() && spec[i] == '0') flags = "0", ++i;
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) width += spec[i++];
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) precision += spec[i++];
  }
  const char type = i < spec.size() ? spec[i++] : (is_integer ? 'd' : 'g');
  STRATA_CHECK(i == spec.size() && std::string("dfFeEgG").find(type) != std::string::npos, ValueError,
               "ModelCheckpoint: unsupported format spec '", spec, "' for field '", field, "'");
  char buf[128];
  if (type == 'd') {
    STRATA_CHECK(is_integer || value == std::floor(value), ValueError, "ModelCheckpoint: field '", field,
                 "' is not an integer, it cannot be formatted with 'd'");
    const std::string f = "%" + flags + width + "lld";
    std::snprintf(buf, sizeof buf, f.c_str(), static_cast<long long>(value));
  } else {
    const std::string f = "%" + flags + width + (precision.empty() ? "" : "." + precision) + type;
    std::snprintf(buf, sizeof buf, f.c_str(), value);
  }
  return buf;
}

}  // namespace

std::string ModelCheckpoint::format_filepath(int epoch, const Logs& logs) const {
  std::string out;
  for (std::size_t i = 0; i < filepath_.size(); ++i) {
    const char c = filepath_[i];
    if ((c == '{' || c == '}') && i + 1 < filepath_.size() && filepath_[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    const std::size_t end = filepath_.find('}', i);
    STRATA_CHECK(end != std::string::npos, ValueError, "ModelCheckpoint: unbalanced '{' in '", filepath_, "'");
    const std::string field = filepath_.substr(i + 1, end - i - 1);
    const std::size_t colon = field.find(':');
    const std::string key = field.substr(0, colon);
    const std::string spec = colon == std::string::npos ? std::string() : field.substr(colon + 1);
    if (key == "epoch") {
      out += format_number(epoch + 1, true, spec, key);
    } else {
      const auto v = logs.get(key);
      STRATA_CHECK(v.has_value(), ValueError, "ModelCheckpoint: the file path '", filepath_, "' names '", key,
                   "', which is neither 'epoch' nor a key of the logs");
      out += format_number(*v, false, spec, key);
    }
    i = end;
  }
  return out;
}

void ModelCheckpoint::on_epoch_end(int epoch, const Logs& logs) {
  if (options_.save_best_only) {
    const auto current = logs.get(options_.monitor);
    if (!current) {
      log_warning("ModelCheckpoint: can save the best model only with '", options_.monitor,
                  "' in the logs; skipping epoch ", epoch + 1);
      return;
    }
    if (!improved(*current, best_, 0.0, maximize_)) {
      if (options_.verbose > 0) {
        log_info("Epoch ", epoch + 1, ": ", options_.monitor, " did not improve from ", best_);
      }
      return;
    }
    if (options_.verbose > 0) {
      log_info("Epoch ", epoch + 1, ": ", options_.monitor, " improved from ", best_, " to ", *current);
    }
    best_ = *current;
  }
  const std::string path = format_filepath(epoch, logs);
  if (options_.save_weights_only) {
    save_weights(*model(), path);
  } else {
    save_model(*model(), path);
  }
  saved_.push_back(path);
  if (options_.verbose > 0) log_info("Epoch ", epoch + 1, ": saving model to ", path);
}

Config ModelCheckpoint::get_state() const {
  Config c = Config::object();
  c["best"] = std::isfinite(best_) ? Config(best_) : Config(nullptr);
  c["monitor"] = options_.monitor;
  c["mode"] = maximize_ ? "max" : "min";
  return c;
}

void ModelCheckpoint::set_state(const Config& state) {
  STRATA_CHECK(state.is_object() && state.contains("best"), ValueError,
               "ModelCheckpoint::set_state needs an object with 'best' (from get_state)");
  const std::string monitor = state.value("monitor", options_.monitor);
  const std::string mode = state.value("mode", std::string(maximize_ ? "max" : "min"));
  STRATA_CHECK(monitor == options_.monitor && mode == (maximize_ ? "max" : "min"), ValueError,
               "ModelCheckpoint::set_state: the state is for monitor '", monitor, "' (", mode,
               "), this callback monitors '", options_.monitor, "' (", maximize_ ? "max" : "min", ")");
  best_ = state["best"].is_number() ? state["best"].get<double>() : worst(maximize_);
}

// ---- LearningRateScheduler ---------------------------------------------------------------------------

LearningRateScheduler::LearningRateScheduler(std::function<double(int, double)> schedule)
    : schedule_(std::move(schedule)) {
  STRATA_CHECK(schedule_ != nullptr, ValueError, "LearningRateScheduler needs a schedule function");
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  auto& optimizer = model()->optimizer();
  const double lr = schedule_(epoch, optimizer->learning_rate());
  STRATA_CHECK(std::isfinite(lr), ValueError, "the learning-rate schedule returned ", lr, " for epoch ", epoch);
  optimizer->set_learning_rate(lr);
}

void LearningRateScheduler::on_epoch_end(int, const Logs&) {}

// ---- ReduceLROnPlateau --------------------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Options options) : options_(std::move(options)) {
  STRATA_CHECK(options_.factor < 1.0, ValueError, "ReduceLROnPlateau does not support a factor >= 1, got ", options_.factor);
  maximize_ = maximize_for(options_.mode, options_.monitor);
}

void ReduceLROnPlateau::on_train_begin(const Logs&) {
  best_ = worst(maximize_);
  wait_ = 0;
  cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(int, const Logs& logs) {
  const auto current = logs.get(options_.monitor);
  if (!current) return;
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (improved(*current, best_, options_.min_delta, maximize_)) {
    best_ = *current;
    wait_ = 0;
  } else if (cooldown_counter_ <= 0) {
    ++wait_;
    if (wait_ >= options_.patience) {
      auto& optimizer = model()->optimizer();
      const double old_lr = optimizer->learning_rate();
      if (old_lr > options_.min_lr) {
        optimizer->set_learning_rate(std::max(old_lr * options_.factor, options_.min_lr));
        cooldown_counter_ = options_.cooldown;
        wait_ = 0;
      }
    }
  }
}

// ---- CSVLogger ---------------------------------------------------------------------------------------

struct CSVLogger::File {
  std::ofstream stream;
};

CSVLogger::CSVLogger(std::string path, char separator, bool append)
    : path_(std::move(path)), separator_(separator), append_(append) {}
CSVLogger::~CSVLogger() = default;

void CSVLogger::on_train_begin(const Logs&) {
  file_ = std::make_unique<File>();
  file_->stream.open(path_, append_ ? std::ios::app : std::ios::trunc);
  STRATA_CHECK(file_->stream.good(), IOError, "CSVLogger cannot open '", path_, "' for writing");
  keys_.clear();
}

void CSVLogger::on_epoch_end(int epoch, const Logs& logs) {
  if (keys_.empty()) {
    for (const auto& [k, _] : logs.items()) keys_.push_back(k);
    std::sort(keys_.begin(), keys_.end());
    if (!append_ || file_->stream.tellp() == 0) {
      file_->stream << "epoch";
      for (const auto& k : keys_) file_->stream << separator_ << k;
      file_->stream << "\n";
    }
  }
  file_->stream << epoch;
  char buf[64];
  for (const auto& k : keys_) {
    const auto v = logs.get(k);
    if (v) {
      std::snprintf(buf, sizeof buf, "%.17g", *v);
      file_->stream << separator_ << buf;
    } else {
      file_->stream << separator_ << "NA";
    }
  }
  file_->stream << "\n";
  file_->stream.flush();
  STRATA_CHECK(file_->stream.good(), IOError, "CSVLogger could not write to '", path_, "'");
}

void CSVLogger::on_train_end(const Logs&) { file_.reset(); }

}  // namespace strata
