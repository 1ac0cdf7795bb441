// A host application embedding Strata through the C++ API: start the runtime with an
// extra plugin directory, load a model, describe it, predict, check the result.
//
// usage: embed_cpp MODEL [PLUGIN_DIR]
// MODEL is the file examples/embed_cpp/make_model.cpp writes (expected outputs there).
#include <strata/strata.hpp>

#include <cmath>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: embed_cpp MODEL [PLUGIN_DIR]\n";
    return 2;
  }
  try {
    // Plugins: PLUGIN_DIR (if given), then STRATA_PLUGIN_PATH and <prefix>/lib/strata/plugins.
    strata::RuntimeOptions options;
    if (argc > 2) options.plugin_directories.emplace_back(argv[2]);
    strata::initialize(options);
    std::cout << "Strata " << strata::runtime_version() << ", " << strata::PluginManager::global().plugins().size()
              << " plugins loaded\n";

    // Any loadable format: chosen by content, then extension. Errors are strata::Error.
    strata::LoadOptions load;
    load.compile = false;
    std::shared_ptr<strata::Model> model = strata::load_model(argv[1], load);
    for (const auto& t : model->inputs()) {
      std::cout << "input:  " << strata::dtype_name(t.dtype()) << t.shape().to_string() << "\n";
    }
    for (const auto& t : model->outputs()) {
      std::cout << "output: " << strata::dtype_name(t.dtype()) << t.shape().to_string() << "\n";
    }

    // predict is const and may be called from many threads at once.
    const strata::Tensor x = strata::Tensor::from_vector<float>({1, 2, 3, 4, -1, -2, -3, -4}, strata::Shape{2, 4});
    const std::vector<float> y = model->predict(x).to_vector<float>();
    const std::vector<float> want = {15.3f, 15.3f, 0.0f, 0.0f};  // by hand: see make_model.cpp
    bool ok = y.size() == want.size();
    for (std::size_t i = 0; ok && i < y.size(); ++i) ok = std::fabs(y[i] - want[i]) <= 1e-5f;
    std::cout << "predictions:";
    for (float v : y) std::cout << " " << v;
    std::cout << (ok ? "  (as computed by hand)\n" : "  FAILED: expected 15.3 15.3 0 0\n");
    return ok ? 0 : 1;
  } catch (const strata::Error& e) {
    std::cerr << "FAILED: " << e.what() << "\n";
    return 1;
  }
}
