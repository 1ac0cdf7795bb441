// The "mpi" collective's factory (mpi_communicator.cpp).
#pragma once

#include <memory>

#include "strata/plugin/collective.hpp"

namespace strata::mpi {

// Joins MPI_COMM_WORLD (initialising MPI when the host has not); CollectiveError when MPI
// cannot start.
std::shared_ptr<Communicator> make_communicator(const CollectiveOptions& options);

}  // namespace strata::mpi
