// Writes one adversarially sized file (linear_loads_files.hpp), for scripts/linear_loads.sh:
//   strata_linear_loads_generate ckpt-chain|ckpt-wide|sm-chain|sm-identity|sm-add|sm-wide|revive-chain|revive-layers N PATH
// PATH is a checkpoint prefix (ckpt-*) or a SavedModel directory (sm-*).
#include <cstdlib>
#include <iostream>
#include <string>

#include "linear_loads_files.hpp"
#include "strata/runtime.hpp"

int main(int argc, char** argv) {
  namespace ll = strata::test::linear_loads;
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " ckpt-chain|ckpt-wide|sm-chain|sm-identity|sm-add|sm-wide|revive-chain|revive-layers N PATH\n";
    return 2;
  }
  const std::string kind = argv[1];
  const int n = std::atoi(argv[2]);
  const std::filesystem::path path = argv[3];
  try {
    strata::initialize();
    if (kind == "ckpt-chain") ll::write_chain_checkpoint(path, n);
    else if (kind == "ckpt-wide") ll::write_wide_checkpoint(path, n);
    else if (kind == "sm-chain") ll::write_chain_savedmodel(path, n, "Neg");
    else if (kind == "sm-identity") ll::write_chain_savedmodel(path, n, "Identity");
    else if (kind == "sm-add") ll::write_chain_savedmodel(path, n, "AddV2");
    else if (kind == "sm-wide") ll::write_wide_savedmodel(path, n);
    else if (kind == "revive-chain") ll::write_revived_chain_savedmodel(path, n);
    else if (kind == "revive-layers") ll::write_layers_savedmodel(path, n);
    else {
      std::cerr << "unknown kind '" << kind << "'\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
