// The plugin entry point of format-checkpoint: registers the "checkpoint" checkpoint store
// (checkpoint_store.cpp); the runtime makes it the "checkpoint" weights format.
#include <google/protobuf/stubs/logging.h>

#include <string>

#include "format_checkpoint.hpp"
#include "strata/log.hpp"
#include "strata/plugin/registrar.hpp"

namespace {

// Protobuf's own log lines ("[libprotobuf ERROR ...] String field ... contains invalid
// UTF-8") go to Strata's log at debug level: a file protobuf refuses becomes the reader's one
// FormatError naming the file, not extra stderr lines before it (issue 20). The handler is
// process-wide: the last plugin that sets it wins, and each sets the same behaviour.
void route_protobuf_log(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  strata::log_debug("protobuf (", level == google::protobuf::LOGLEVEL_ERROR ? "error" : "log", " at ", file, ":", line,
                    "): ", message);
}

void register_all(strata::Registrar& r) {
  google::protobuf::SetLogHandler(route_protobuf_log);
  r.add<strata::ObjectKind::kCheckpointStore>("checkpoint", strata::ckpt::make_store);
}

}  // namespace

STRATA_PLUGIN("format-checkpoint", "0.1.0",
              "TensorFlow checkpoints (tensor bundles, object graphs, the checkpoint state file)", register_all);
