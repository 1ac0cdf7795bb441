// The beta/gamma settings BatchNormalization, LayerNormalization and GroupNormalization share
// (normalization.cpp, normalization_extra.cpp).
#pragma once

#include <memory>

#include "common.hpp"

namespace strata::layers {

// beta_initializer ("zeros" when missing), gamma_initializer ("ones"), beta_regularizer,
// gamma_regularizer, beta_constraint and gamma_constraint. read() reads them in that order
// with initializer_at & co. (their errors name the key). tf-keras writes the initializers and
// the rest apart (BatchNormalization puts its moving-statistics initializers between them), so
// writing takes two calls, each setting its keys in that order with serialized_or_null.
struct BetaGammaSettings {
  std::shared_ptr<Initializer> beta_initializer, gamma_initializer;
  std::shared_ptr<Regularizer> beta_regularizer, gamma_regularizer;
  std::shared_ptr<Constraint> beta_constraint, gamma_constraint;

  static BetaGammaSettings read(const Config& config) {
    BetaGammaSettings s;
    s.beta_initializer = initializer_at(config, "beta_initializer", "zeros");
    s.gamma_initializer = initializer_at(config, "gamma_initializer", "ones");
    s.beta_regularizer = regularizer_at(config, "beta_regularizer");
    s.gamma_regularizer = regularizer_at(config, "gamma_regularizer");
    s.beta_constraint = constraint_at(config, "beta_constraint");
    s.gamma_constraint = constraint_at(config, "gamma_constraint");
    return s;
  }
  void write_initializers(Config& config) const {
    config["beta_initializer"] = serialized_or_null(beta_initializer);
    config["gamma_initializer"] = serialized_or_null(gamma_initializer);
  }
  void write_regularizers_and_constraints(Config& config) const {
    config["beta_regularizer"] = serialized_or_null(beta_regularizer);
    config["gamma_regularizer"] = serialized_or_null(gamma_regularizer);
    config["beta_constraint"] = serialized_or_null(beta_constraint);
    config["gamma_constraint"] = serialized_or_null(gamma_constraint);
  }
};

}  // namespace strata::layers
