// The collective-nccl plugin: collective "nccl", all-reduce/broadcast/all-gather/barrier
// between GPUs over NCCL (device type "cuda"). Built whenever nvcc and nccl.h are found;
// libnccl is loaded on first use, so on a machine without a GPU or NCCL the plugin loads,
// registers "nccl", reports why it is not usable (`strata plugins`), and creating a
// communicator is a CollectiveError saying so.
#include "nccl_communicator.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kCollective>("nccl", strata::nccl::make_communicator);
}

}  // namespace

STRATA_PLUGIN("collective-nccl", "0.1.0",
              "collective \"nccl\": all-reduce between GPUs over NCCL (libnccl loaded on first use)", register_all)
STRATA_PLUGIN_PROBE(strata::nccl::probe)
