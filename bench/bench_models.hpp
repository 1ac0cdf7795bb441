// The models the inference benchmarks share: the saving guide's 784-64-64-10 MLP and a
// small CNN (Conv2D(8, 3x3, relu), MaxPooling2D, Flatten, Dense(32, relu), Dense(10) on
// 28x28x1), and seeded uniform [0, 1) inputs.
#pragma once

#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "strata/strata.hpp"

namespace strata::bench {

inline std::shared_ptr<Model> mlp_model() {
  Tensor inputs = Input(Shape{784}, "digits");
  Tensor x = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}}))(inputs);
  x = (*make_layer("Dense", Config{{"units", 64}, {"activation", "relu"}}))(x);
  Tensor outputs = (*make_layer("Dense", Config{{"units", 10}}))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "3_layer_mlp");
}

inline std::shared_ptr<Model> cnn_model() {
  Tensor inputs = Input(Shape{28, 28, 1}, "image");
  Tensor x = (*make_layer("Conv2D", Config{{"filters", 8}, {"kernel_size", 3}, {"activation", "relu"}}))(inputs);
  x = (*make_layer("MaxPooling2D", Config{{"pool_size", 2}}))(x);
  x = (*make_layer("Flatten", Config::object()))(x);
  x = (*make_layer("Dense", Config{{"units", 32}, {"activation", "relu"}}))(x);
  Tensor outputs = (*make_layer("Dense", Config{{"units", 10}}))(x);
  return std::make_shared<Functional>(std::vector<Tensor>{inputs}, std::vector<Tensor>{outputs}, "small_cnn");
}

// Uniform [0, 1) float32 values of `shape`, the same for every call (seed 1).
inline Tensor random_input(const Shape& shape) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(0, 1);
  std::vector<float> v(static_cast<std::size_t>(shape.num_elements()));
  for (auto& x : v) x = d(rng);
  return Tensor::from_vector<float>(v, shape);
}

}  // namespace strata::bench
