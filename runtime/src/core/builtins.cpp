#include "core/builtins.hpp"
#include "distribute/replica.hpp"

#include "device/cpu_backend.hpp"
#include "layers/model_internal.hpp"
#include "ops/internal.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/registrar.hpp"

namespace strata::internal {

void register_runtime_entries(Registry& registry) {
  Registrar registrar(registry, "runtime");
  registrar.add<ObjectKind::kBackend>("cpu", [] { return make_cpu_backend(); });
  register_builtin_ops(registrar);
  register_distribute_ops(registrar);  // strata::all_reduce's op (distribute/all_reduce_op.cpp)
  register_model_classes(registrar);
  registrar.commit();
}

}  // namespace strata::internal
