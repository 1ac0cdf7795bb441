// RandomStandardNormal, RandomUniform and TruncatedNormal: element i is a pure function of
// (seed, seed2, i) through plugin/philox.hpp, exactly as docs/OPS.md specifies, so the
// values match every other backend whatever the threading. The loop is cloned per CPU
// feature level (dispatch.hpp), each rounding as the baseline build does.
#include "common.hpp"
#include "dispatch.hpp"
#include "kernels.hpp"
#include "strata/plugin/philox.hpp"

namespace strata::onednn {
namespace {

enum class Distribution { kNormal, kUniform, kTruncatedNormal };

template <class T>
STRATA_CPU_INLINE void random_range(T* __restrict o, std::int64_t seed, std::int64_t seed2, Distribution dist,
                                    std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) {
    const auto index = static_cast<std::uint64_t>(i);
    switch (dist) {
      case Distribution::kUniform:
        if constexpr (std::is_same_v<T, float>) {
          o[i] = philox::uniform_float(seed, seed2, index);
        } else {
          o[i] = philox::uniform_double(seed, seed2, index);
        }
        break;
      case Distribution::kNormal: o[i] = static_cast<T>(philox::normal(seed, seed2, index)); break;
      case Distribution::kTruncatedNormal: o[i] = static_cast<T>(philox::truncated_normal(seed, seed2, index)); break;
    }
  }
}

// Cloned per CPU feature level (dispatch.hpp; target_clones does not apply to templates).
STRATA_CPU_CLONES void random_cloned(float* o, std::int64_t seed, std::int64_t seed2, Distribution dist,
                                     std::int64_t begin, std::int64_t end) {
  random_range(o, seed, seed2, dist, begin, end);
}
STRATA_CPU_CLONES void random_cloned(double* o, std::int64_t seed, std::int64_t seed2, Distribution dist,
                                     std::int64_t begin, std::int64_t end) {
  random_range(o, seed, seed2, dist, begin, end);
}

template <class T>
void random_values(KernelContext& ctx, Distribution dist) {
  check_num_inputs(ctx, 1);
  check_output_dims(ctx, 0, host_ints(ctx, 0));
  const std::int64_t seed = ctx.attrs().get_or<std::int64_t>("seed", 0);
  const std::int64_t seed2 = ctx.attrs().get_or<std::int64_t>("seed2", 0);
  T* o = out<T>(ctx, 0);
  const std::int64_t n = ctx.output_meta(0).shape.num_elements();
  parallel_for(n, kGrainExpensive,
               [&](std::int64_t begin, std::int64_t end) { random_cloned(o, seed, seed2, dist, begin, end); });
}

}  // namespace

void register_random_kernels(Registrar& r) {
  const std::pair<const char*, Distribution> ops[] = {{"RandomStandardNormal", Distribution::kNormal},
                                                      {"RandomUniform", Distribution::kUniform},
                                                      {"TruncatedNormal", Distribution::kTruncatedNormal}};
  for (const auto& [name, dist] : ops) {
    add_f(r, name, [dist = dist](auto tag) {
      using T = typename decltype(tag)::type;
      return [dist](KernelContext& ctx) { random_values<T>(ctx, dist); };
    });
  }
}

}  // namespace strata::onednn
