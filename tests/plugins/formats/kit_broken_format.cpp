// A deliberately careless weights format ("kitbroken"), for the test that the format kit
// fails a format that breaks its rules (formats.kit.catches_a_broken_format): it writes with
// std::ofstream straight to the path (no file-system seam, no commit point, overwrite=false
// ignored) and reads without checking sizes (a short file loads zeros, silently). Its round
// trip is correct, so only the rule checks must fail.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "strata/format.hpp"
#include "strata/model.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/tensor.hpp"

namespace {

class BrokenFormat final : public strata::Format {
 public:
  std::string name() const override { return "kitbroken"; }
  std::vector<std::string> weights_extensions() const override { return {".kitbroken"}; }
  unsigned capabilities() const override { return strata::kSaveWeights | strata::kLoadWeights; }
  bool sniff(const std::filesystem::path&) const override { return false; }
  void save_weights(const strata::Model& model, const std::filesystem::path& path,
                    const strata::SaveOptions&) const override {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (const auto& w : model.get_weights()) {
      const auto v = w.to_vector<float>();
      out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
    }
  }
  strata::LoadStatus load_weights(strata::Model& model, const std::filesystem::path& path,
                                  const strata::LoadOptions&) const override {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<strata::Tensor> values;
    std::size_t at = 0;
    for (const auto& w : model.get_weights()) {
      std::vector<float> v(static_cast<std::size_t>(w.shape().num_elements()), 0.0f);
      const std::size_t n = std::min(v.size() * sizeof(float), bytes.size() - std::min(at, bytes.size()));
      if (n > 0) std::copy_n(bytes.data() + at, n, reinterpret_cast<char*>(v.data()));
      at += v.size() * sizeof(float);
      values.push_back(strata::Tensor::from_vector(v, w.shape()));
    }
    model.set_weights(values);
    return strata::LoadStatus(path.string(), {}, {}, values.size());
  }
};

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kFormat>("kitbroken", [] { return std::make_shared<BrokenFormat>(); });
}

}  // namespace

STRATA_PLUGIN("test-kit-broken-format", "1.0.0", "a careless format the format kit must fail", register_all);
