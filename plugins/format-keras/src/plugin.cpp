// The plugin entry point of format-keras: registers the "keras" format (keras_format.cpp),
// Keras 3's `.keras` archive and its `.weights.h5` / `.weights.json` weights files.
#include <hdf5.h>

#include "keras_format.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

void register_all(strata::Registrar& r) {
  H5dont_atexit();  // as format-h5 (see there): no HDF5 clean-up at exit
  r.add<strata::ObjectKind::kFormat>("keras", strata::keras::make_format);
}

}  // namespace

STRATA_PLUGIN("format-keras", "0.1.0", "Keras 3 '.keras' archives and '.weights.h5' weights", register_all);
