// Checks what a third party relies on, run by tests/sdk/*.sh against plugins found on
// STRATA_PLUGIN_PATH (the SDK template plugin and the npz format example):
//
//   strata_sdk_check save DIR          build a model that uses template>Scale, template>cube;
//                                      write DIR/model.json, DIR/w.npz, DIR/w_ckpt, DIR/x.npy, DIR/y.npy
//   strata_sdk_check load DIR WEIGHTS  load DIR/model.json (classes found by name), load WEIGHTS
//                                      (format picked by extension/content), predict == DIR/y.npy
//   strata_sdk_check optimizer         one template>SignSGD step moves each weight by exactly lr
//
// Exit status 0 when every check passed; 1 with a message otherwise.
#include <strata/strata.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace fs = std::filesystem;
using strata::Config;
using strata::Shape;
using strata::Tensor;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok: " : "FAILED: ") << what << "\n";
  if (!ok) ++failures;
}

std::shared_ptr<strata::Model> build_model() {
  auto model = std::make_shared<strata::Sequential>(
      std::vector<std::shared_ptr<strata::Layer>>{
          strata::make_layer("Dense", Config{{"units", 3},
                                             {"activation", "template>cube"},
                                             {"name", "features"},
                                             {"batch_input_shape", {nullptr, 4}}}),
          strata::make_layer("template>Scale", Config{{"initial", 2.0}, {"name", "scale"}}),
          strata::make_layer("Dense", Config{{"units", 1}, {"name", "head"}})},
      "sdk_check_model");
  model->predict(Tensor::zeros(strata::DType::kFloat32, Shape{1, 4}));  // builds every layer
  return model;
}

Tensor inputs() {
  return Tensor::from_vector<float>({0.5f, -0.25f, 1.0f, 0.75f, -1.0f, 0.5f, 0.25f, 2.0f, 0.1f, 0.2f, 0.3f, 0.4f},
                                    Shape{3, 4});
}

int save(const fs::path& dir) {
  fs::create_directories(dir);
  auto model = build_model();
  // Trained-looking weights: the scale must come back as 3.5, not as its initial 2.0.
  auto scale = model->get_layer("scale");
  scale->set_weights({Tensor::scalar<float>(3.5f)});
  check(scale->class_name() == "template>Scale", "the template layer is registered as template>Scale");
  strata::save_model(*model, dir / "model.json");
  check(strata::format_for_saving(dir / "w.npz", "", true)->name() == "npz", "save_weights picks npz for .npz");
  model->save_weights(dir / "w.npz");
  model->save_weights(dir / "w_ckpt");
  strata::write_npy(dir / "x.npy", inputs());
  strata::write_npy(dir / "y.npy", model->predict(inputs()));
  return 0;
}

int load(const fs::path& dir, const fs::path& weights) {
  auto model = strata::load_model(dir / "model.json");
  bool found = false;
  for (const auto& layer : model->layers()) found = found || layer->class_name() == "template>Scale";
  check(found, "model.json names template>Scale and loading it found the class");
  check(strata::model_config(*model)["config"]["layers"][1]["config"]["activation"] == "template>cube",
        "the Dense layer's activation is template>cube");
  const auto format = strata::format_for_loading(weights, "", true)->name();
  std::cout << "weights '" << weights.string() << "' load as format " << format << "\n";
  const bool npz = weights.extension() == ".npz";
  check(format == (npz ? "npz" : "checkpoint"), "load_weights picks the format of " + weights.filename().string());
  const strata::LoadStatus status = model->load_weights(weights);
  status.assert_consumed();
  check(status.restored() == 5, "5 weights restored (got " + std::to_string(status.restored()) + ")");
  check(model->get_layer("scale")->get_weights()[0].item<float>() == 3.5f, "the Scale weight is 3.5 again");
  const auto got = model->predict(strata::read_npy(dir / "x.npy")).to_vector<float>();
  const auto want = strata::read_npy(dir / "y.npy").to_vector<float>();
  check(got == want, "predictions equal the saved model's, bit for bit");
  return 0;
}

int optimizer() {
  auto model = build_model();
  model->compile(Config{{"class_name", "template>SignSGD"}, {"config", {{"learning_rate", 0.125}}}},
                 Config("mean_squared_error"));
  check(model->optimizer()->class_name() == "template>SignSGD", "compile found template>SignSGD");
  const auto before = model->get_weights();
  model->train_on_batch({inputs()}, {Tensor::from_vector<float>({1.0f, -2.0f, 3.0f}, Shape{3, 1})});
  const auto after = model->get_weights();
  // SignSGD moves every weight with a non-zero gradient by lr (up to float32 rounding of
  // w - lr); Adam or SGD would move them by different amounts.
  std::size_t moved = 0, total = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    const auto b = before[i].to_vector<float>(), a = after[i].to_vector<float>();
    for (std::size_t j = 0; j < b.size(); ++j) {
      ++total;
      const double d = std::fabs(static_cast<double>(a[j]) - b[j]);
      if (std::fabs(d - 0.125) < 1e-6) ++moved;
      else if (d != 0.0) check(false, "a weight moved by " + std::to_string(d) + ", not 0 or 0.125");
    }
  }
  check(moved > total / 2, std::to_string(moved) + " of " + std::to_string(total) + " weights moved by 0.125");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    strata::initialize();
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "save" && argc == 3) save(argv[2]);
    else if (cmd == "load" && argc == 4) load(argv[2], argv[3]);
    else if (cmd == "optimizer" && argc == 2) optimizer();
    else {
      std::cerr << "usage: strata_sdk_check save DIR | load DIR WEIGHTS | optimizer\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cout << "FAILED: " << e.what() << "\n";
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
