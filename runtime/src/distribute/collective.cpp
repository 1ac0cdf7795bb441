// The SDK's collective interface (strata/plugin/collective.hpp): its error kind, names and
// the environment's default timeout.
#include "strata/plugin/collective.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace strata {

CollectiveError::~CollectiveError() = default;
const char* CollectiveError::kind() const noexcept {
  return "CollectiveError";
}

CollectiveRequest::~CollectiveRequest() = default;
Communicator::~Communicator() = default;

std::string_view reduce_op_name(ReduceOp op) noexcept {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kMean:
      return "mean";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
  }
  return "unknown";
}

double default_collective_timeout() {
  const char* text = std::getenv("STRATA_COLLECTIVE_TIMEOUT");
  if (text == nullptr || *text == '\0') return 60.0;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text, &end);
  STRATA_CHECK(errno == 0 && end != text && *end == '\0' && std::isfinite(value) && value > 0, ValueError,
               "STRATA_COLLECTIVE_TIMEOUT must be a positive number of seconds, got '", text, "'");
  return value;
}

}  // namespace strata
