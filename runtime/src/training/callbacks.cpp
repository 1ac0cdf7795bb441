#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "strata/model.hpp"

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
