// Swapping a model onto another backend without touching the model: build and train it on
// the cpu, move it with Layer::to(), predict and train there, save its weights from the
// device and load them on the host. The target is argv[1] (default: cuda:0 when a usable
// CUDA device exists, else the cpu, so the program runs everywhere).
#include "guide.hpp"

using namespace guide;

namespace {

std::shared_ptr<strata::Model> make_model() {
  strata::set_random_seed(7);
  auto model = std::make_shared<strata::Sequential>(std::vector<std::shared_ptr<strata::Layer>>{
      strata::make_layer("Dense", Config{{"units", 32}, {"activation", "relu"}, {"input_shape", {16}}}),
      strata::make_layer("Dense", Config{{"units", 4}, {"activation", "softmax"}})});
  model->compile(Config("adam"), Config("sparse_categorical_crossentropy"));
  return model;
}

double largest_difference(const Tensor& a, const Tensor& b) {
  const auto x = a.to(strata::Device::cpu()).to_vector<float>(), y = b.to(strata::Device::cpu()).to_vector<float>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(x[i] - y[i])));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  strata::initialize();
  require_format("h5");
  const strata::Device cuda("cuda:0");
  const strata::Device target(argc > 1 ? argv[1] : (strata::is_device_available(cuda) ? "cuda:0" : "cpu"));
  if (!strata::is_device_available(target)) {
    try {
      Tensor::zeros(strata::DType::kFloat32, Shape{1}, target);  // throws BackendError with the backend's reason
    } catch (const strata::Error& e) {
      std::cout << "SKIPPED: " << e.what() << "\n";
    }
    return 77;
  }
  std::cout << "target device: " << target.to_string() << "\n";

  const Tensor x = strata::random_uniform(Shape{64, 16}, strata::DType::kFloat32, -1.0, 1.0, 3, strata::Device::cpu());
  std::vector<std::int32_t> labels(64);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 4);
  const Tensor y = Tensor::from_vector(labels, Shape{64}, strata::Device::cpu());

  // Built and trained on the cpu.
  auto model = make_model();
  model->train_on_batch({x}, {y});
  const Tensor on_host = model->predict(x);

  // Moved: every weight, the optimizer's slots and the metrics' states live on the target
  // now; inputs go there too.
  model->to(target);
  check(model->weights()[0].value().device() == target, "the weights live on " + target.to_string());
  check(model->optimizer()->variables().back().value().device() == target,
        "so do the optimizer's slots (training resumes there)");
  const Tensor there = model->predict(x.to(target));
  check(there.device() == target, "predictions are computed on " + target.to_string());
  check(largest_difference(there, on_host) < 1e-5, "and equal the cpu's within 1e-5");

  // New tensors follow a DeviceScope; training runs there.
  {
    strata::DeviceScope scope(target);
    const double loss = model->train_on_batch({x.to(target)}, {y.to(target)}).at("loss");
    check(std::isfinite(loss), "a training step on " + target.to_string() + " (loss " + std::to_string(loss) + ")");
  }

  // Saving reads the weights back through the backend; the file loads on the host.
  const auto dir = work_dir("devices");
  model->save_weights(dir / "trained.weights.h5");
  auto host_model = make_model();
  host_model->load_weights(dir / "trained.weights.h5").assert_existing_objects_matched();
  check(largest_difference(host_model->predict(x), model->predict(x.to(target))) < 1e-5,
        "weights saved from " + target.to_string() + " predict the same on the cpu");
  std::filesystem::remove_all(dir);
  return finish();
}
