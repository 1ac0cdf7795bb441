// The format-savedmodel plugin module: registers the "savedmodel" format.
#include <google/protobuf/stubs/logging.h>

#include <string>

#include "savedmodel_format.hpp"
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
  r.add<strata::ObjectKind::kFormat>("savedmodel", [] { return strata::savedmodel::make_format(); });
}

}  // namespace

// variables/ is a TensorFlow checkpoint, read and written through the checkpoint format.
STRATA_PLUGIN_WITH_DEPENDENCIES(
    "format-savedmodel", "0.2.0",
    "TensorFlow SavedModel directories: tf-keras's (read) and Strata's with traced functions (read, write)",
    register_all, "format-checkpoint");
