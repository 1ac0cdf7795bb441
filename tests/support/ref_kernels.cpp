#include "ref_kernels.hpp"

#include "ref_kernels_util.hpp"

namespace strata::testing {

void register_ref_kernels(Registrar& registrar) {
  ref::register_elementwise_kernels(registrar);
  ref::register_cast_kernels(registrar);
  ref::register_reduction_kernels(registrar);
  ref::register_array_kernels(registrar);
  ref::register_nn_kernels(registrar);
  ref::register_random_kernels(registrar);
}

}  // namespace strata::testing
