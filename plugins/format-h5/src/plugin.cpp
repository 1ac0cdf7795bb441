// The plugin entry point of format-h5: registers the "h5" format (h5_format.cpp).
#include <hdf5.h>

#include "h5_format.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  // No HDF5 clean-up at exit: HDF5's own error paths on damaged object headers leak blocks
  // of its free lists, and its at-exit H5close then loops and prints "HDF5: infinite loop
  // closing library" after the command's error. Strata holds no HDF5 file open between
  // calls (saves build an in-memory image committed by write_file_atomically), so there is
  // nothing to flush (docs/DECISIONS.md, "Issue 20, killed saves and error hygiene").
  // Effective only before HDF5's first use in the process, which is why it is here.
  H5dont_atexit();
  r.add<strata::ObjectKind::kFormat>("h5", strata::h5::make_format);
}

}  // namespace

STRATA_PLUGIN("format-h5", "0.1.0", "Keras HDF5 models and weights (tf-keras 2.17 layout)", register_all);
