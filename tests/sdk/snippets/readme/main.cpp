// README.md's "A short tour" block (tour.inc) as the body of main. Its #include lines come
// first in the block; the headers are included here already (#pragma once), so inside main
// they expand to nothing.
#include <strata/model.hpp>
#include <strata/ops.hpp>
#include <strata/strata.hpp>

#include <iostream>

int main() {
#include "tour.inc"
  std::cout << "predict: " << y.shape().to_string() << "\nconfig class: " << config.value("class_name", "") << "\n";
  return 0;
}
