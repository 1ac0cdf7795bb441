// The "nccl" Communicator (nccl_communicator.cpp): collectives between GPUs over NCCL, for
// the buffers of one CUDA device per process.
#pragma once

#include <memory>

#include "strata/plugin/collective.hpp"

namespace strata::nccl {

// The factory registered as "nccl". Joins the job (see nccl_communicator.cpp for the
// bootstrap), selects this process's GPU and creates the NCCL communicator; CollectiveError
// when there is no CUDA device, no libnccl, no way to learn the job, or NCCL fails or does
// not answer within options.timeout_seconds.
std::shared_ptr<Communicator> make_communicator(const CollectiveOptions& options);

// The plugin's probe (STRATA_PLUGIN_PROBE): 1 when a CUDA device is usable, else 0 and why.
int probe(char* reason, std::size_t size);

}  // namespace strata::nccl
