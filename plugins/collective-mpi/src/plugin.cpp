// The plugin entry point of collective-mpi: registers the "mpi" collective
// (mpi_communicator.cpp) for data-parallel training (strata/distribute.hpp).
#include "mpi_communicator.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kCollective>("mpi", strata::mpi::make_communicator);
}

}  // namespace

STRATA_PLUGIN("collective-mpi", "0.1.0", "Data-parallel collectives over MPI (the \"mpi\" collective)", register_all)
