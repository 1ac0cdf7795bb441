// The model commands of the strata CLI. Each takes the arguments after the command name,
// returns the exit status, and throws UsageError for bad arguments (exit 2) and
// strata::Error for everything else (one line on stderr, exit 1).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace strata::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// info MODEL: format, versions, summary, optimizer and its state.
int cmd_info(const std::vector<std::string>& args);
// predict MODEL --input X.npy [--input X2.npy ...] --output Y.npy [--device D] [--batch-size N]
int cmd_predict(const std::vector<std::string>& args);
// convert IN OUT [--format NAME] [--weights-into ARCHITECTURE [--expect-partial]]
int cmd_convert(const std::vector<std::string>& args);
// fit MODEL --x X.npy [--x X2.npy ...] --y Y.npy [--y Y2.npy ...] --save OUT [--epochs N]
//     [--batch-size B] [--validation-split F | --validation-x V.npy --validation-y VY.npy]
//     [--history H.json] [--initial-epoch E] [--checkpoint PATH] [--no-shuffle] [--verbose V]
int cmd_fit(const std::vector<std::string>& args);
// evaluate MODEL --x X.npy [--x ...] --y Y.npy [--y ...] [--batch-size B] [--verbose V]
int cmd_evaluate(const std::vector<std::string>& args);
// bench MODEL [--input X.npy]... [--batch N] [--iterations N] [--time S] [--mode M] [--json] (bench.cpp)
int cmd_bench(const std::vector<std::string>& args);

}  // namespace strata::cli
