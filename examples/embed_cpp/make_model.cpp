// Writes the model the embedding examples load: model.json, a Keras architecture whose
// initializers fix every weight, so the predictions can be computed by hand:
//
//   features (4) -> Dense(3, relu, kernel 0.5, bias 0.1) -> Dense(2, kernel 1, bias 0) "scores"
//
// For x = [1, 2, 3, 4]: hidden = relu(0.5 * 10 + 0.1) = 5.1 (each), scores = 3 * 5.1 = 15.3 (each).
// For x = [-1, -2, -3, -4]: hidden = relu(-4.9) = 0, scores = 0.
//
// usage: embed_make_model OUT.json
#include <strata/strata.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: embed_make_model OUT.json\n";
    return 2;
  }
  try {
    strata::initialize();  // loads the plugins (make_layer looks classes up in the registry)
    using strata::Config;
    auto constant = [](double v) { return Config{{"class_name", "Constant"}, {"config", {{"value", v}}}}; };
    strata::Tensor inputs = strata::Input(strata::Shape{4}, "features");
    strata::Tensor hidden = (*strata::make_layer("Dense", Config{{"units", 3},
                                                                 {"activation", "relu"},
                                                                 {"kernel_initializer", constant(0.5)},
                                                                 {"bias_initializer", constant(0.1)},
                                                                 {"name", "hidden"}}))(inputs);
    strata::Tensor scores = (*strata::make_layer("Dense", Config{{"units", 2},
                                                                 {"kernel_initializer", "ones"},
                                                                 {"bias_initializer", "zeros"},
                                                                 {"name", "scores"}}))(hidden);
    strata::Functional model({inputs}, {scores}, "embedding_example");
    strata::save_model(model, argv[1]);  // .json: the architecture (format-json)
    std::cout << "wrote " << argv[1] << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "embed_make_model: " << e.what() << "\n";
    return 1;
  }
}
