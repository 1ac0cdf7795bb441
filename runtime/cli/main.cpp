// The strata command-line tool.
//
//   strata --version
//   strata plugins [--verbose]
//   strata fit MODEL --x X.npy --y Y.npy --save OUT ...   (kUsage lists every command)
//
// Every command loads the plugins on the search path first (plus any --plugin FILE).
// Errors are one line on stderr and exit status 1; usage errors exit with 2.
#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "demo.hpp"
#include "strata/strata.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "usage: strata [--plugin FILE]... COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  demo [--dir DIR]      build, train, save and reload the Keras saving guide's models (the main job)\n"
    "  plugins [--verbose]   list plugins: path, version, ABI, status; --verbose adds each plugin's\n"
    "                        entries and each format's extensions (models, weights) and capabilities\n"
    "  info PATH [--full]    format, versions, summary of any loadable file, from its architecture where the\n"
    "                        format can build one without the weights (H5); --full loads the weights and\n"
    "                        optimizer state too (state sizes, steps taken, loss scale)\n"
    "  predict MODEL --input [NAME=]X.npy... --output Y.npy|NAME=Y.npy... [--device D] [--batch-size N]\n"
    "          [--signature NAME]\n"
    "                        run the model on .npy inputs; one output file per model output (Y.npy, Y_1.npy, ...)\n"
    "                        or the outputs named; a SavedModel without Keras metadata runs serving_default or\n"
    "                        --signature NAME;\n"
    "                        D: cpu, cuda:0 (TensorFlow's GPU:0 too); default STRATA_DEVICE, else cpu\n"
    "  convert IN OUT [--format NAME] [--weights-into ARCH [--expect-partial] [--max-shard-size GB]]\n"
    "                        re-save a model (or, with --weights-into, weights) in the format of OUT;\n"
    "                        a compiled ARCH takes a checkpoint's optimizer values too; --expect-partial\n"
    "                        converts the model's weights and leaves the values no weight takes;\n"
    "                        --max-shard-size: Keras 3 sharded weights (OUT.weights.json), GB per shard\n"
    "  fit MODEL --x X.npy --y Y.npy --save OUT [--epochs N] [--batch-size B] [--initial-epoch E]\n"
    "      [--validation-split F | --validation-x VX.npy --validation-y VY.npy] [--history H.json]\n"
    "      [--checkpoint PATH] [--no-shuffle] [--sample-weight W.npy] [--verbose 0|1|2] [--device D]\n"
    "      [--distribute COLLECTIVE|none]\n"
    "                        train a compiled model file (the loss, optimizer and metrics it was saved with)\n"
    "                        as Keras's fit does, then save it to OUT in the format of OUT's extension;\n"
    "                        repeat --x (--y) once per model input (output), in the model's order, or by\n"
    "                        name: --x NAME=X.npy (Input layer), --y NAME=Y.npy (output layer); --sample-weight:\n"
    "                        one weight per sample (Keras's sample_weight); samples\n"
    "                        are shuffled every epoch unless --no-shuffle; --history writes History.history\n"
    "                        as JSON; --checkpoint saves after every epoch (ModelCheckpoint: {epoch:02d}, {loss});\n"
    "                        data-parallel over --distribute's collective (e.g. mpi), chosen by itself under\n"
    "                        mpirun (`mpirun -np N strata fit ...`): --batch-size is the global batch, each\n"
    "                        rank trains on its shard, rank 0 prints and writes (docs/DISTRIBUTED.md)\n"
    "  evaluate MODEL --x X.npy --y Y.npy [--batch-size B] [--sample-weight W.npy] [--verbose 0|1|2] [--device D]\n"
    "                        the loss and metrics of a compiled model file on these arrays, one per line\n"
    "  bench MODEL [--input X.npy | --batch N] [--mode predict|call|traced] [--iterations N] [--time S] [--json] ...\n"
    "                        load time, first-call latency, latency percentiles, throughput (docs/CLI.md)\n"
    "  version               print the runtime version, plugin ABI and toolchain tag\n"
    "\n"
    "options:\n"
    "  --plugin FILE         load this plugin file before the search path (repeatable)\n"
    "  --version             same as the version command\n"
    "  -h, --help            this text\n"
    "\n"
    "environment: STRATA_PLUGIN_PATH (':'-separated plugin directories), STRATA_LOG_LEVEL, STRATA_DEVICE\n";

using strata::cli::UsageError;

// An error message as the one stderr line the CLI promises (docs/CLI.md): line breaks become
// spaces, any other control byte is escaped (\xNN) so no file content can drive the
// terminal, and the line is capped at kMaxErrorBytes. Readers already bound what they echo
// of a file (strata::file_text); this is the last guard for all of them.
constexpr std::size_t kMaxErrorBytes = 4096;
std::string one_line(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      char piece[8];
      std::snprintf(piece, sizeof piece, "\\x%02x", c);
      out += piece;
    } else {
      out += ch;
    }
  }
  if (out.size() > kMaxErrorBytes) {
    out.resize(kMaxErrorBytes);
    out += "... (message cut)";
  }
  return out;
}

void print_version() {
  std::cout << "strata " << strata::runtime_version() << "\n"
            << "plugin ABI " << strata::runtime_plugin_abi_major() << "." << strata::runtime_plugin_abi_minor()
            << "\n"
            << "toolchain " << strata::runtime_toolchain_tag() << "\n";
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// "models .h5 .hdf5; weights (none)" and the capabilities of one registered format, as
// the format itself declares them.
std::string describe_format(const std::string& name) {
  std::shared_ptr<strata::Format> format;
  try {
    format = strata::get_format(name);
  } catch (const strata::Error& e) {
    return std::string("cannot be made: ") + e.what();
  }
  const auto list = [](const std::vector<std::string>& exts) {
    if (exts.empty()) return std::string(" (none)");
    std::string out;
    for (const auto& e : exts) out += " " + (e.empty() ? std::string("(no extension)") : e);
    return out;
  };
  static constexpr std::pair<unsigned, const char*> kCapabilities[] = {
      {strata::kSaveModel, "save-model"},         {strata::kLoadModel, "load-model"},
      {strata::kSaveWeights, "save-weights"},     {strata::kLoadWeights, "load-weights"},
      {strata::kSaveArchitecture, "save-architecture"}, {strata::kLoadArchitecture, "load-architecture"}};
  std::string caps;
  for (const auto& [bit, text] : kCapabilities) {
    if (format->capabilities() & bit) caps += std::string(caps.empty() ? "" : ", ") + text;
  }
  return "models" + list(format->model_extensions()) + "; weights" + list(format->weights_extensions()) +
         "; can " + (caps.empty() ? std::string("nothing") : caps);
}

int cmd_plugins(const std::vector<std::string>& args) {
  po::options_description desc("plugins");
  desc.add_options()("verbose,v", "list every registered entry");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
  } catch (const po::error& e) {
    throw UsageError(std::string("plugins: ") + e.what());
  }
  const bool verbose = vm.count("verbose") > 0;

  std::cout << "Plugin search path (in order):\n";
  const auto path = strata::plugin_search_path();
  for (std::size_t i = 0; i < path.size(); ++i) {
    std::cout << "  " << path[i].string() << (i + 1 == path.size() ? "  (default)" : "  (STRATA_PLUGIN_PATH)")
              << "\n";
  }
  std::cout << "\n";

  struct Row {
    std::string name, version, abi, status, path, description;
    std::vector<strata::RegistryEntryInfo> entries;
    std::vector<std::string> needs;
  };
  std::vector<Row> rows;
  const auto abi = std::to_string(strata::runtime_plugin_abi_major()) + "." +
                   std::to_string(strata::runtime_plugin_abi_minor());
  rows.push_back({"runtime", strata::runtime_version(), abi, "built-in", strata::runtime_library_path().string(),
                  "the runtime's own entries", strata::Registry::global().entries_from("runtime"), {}});
  for (const auto& p : strata::PluginManager::global().plugins()) {
    Row r;
    r.name = p.name.empty() ? "?" : p.name;
    r.version = p.version.empty() ? "?" : p.version;
    r.abi = p.has_descriptor ? std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor) : "?";
    r.status = p.status();
    r.path = p.path.string();
    r.description = p.description;
    r.entries = p.entries;
    r.needs = p.dependencies;
    rows.push_back(std::move(r));
  }
  std::size_t wn = 4, wv = 7, wa = 3;
  for (const auto& r : rows) {
    wn = std::max(wn, r.name.size());
    wv = std::max(wv, r.version.size());
    wa = std::max(wa, r.abi.size());
  }
  std::cout << pad("NAME", wn + 2) << pad("VERSION", wv + 2) << pad("ABI", wa + 2) << "STATUS\n";
  for (const auto& r : rows) {
    std::cout << pad(r.name, wn + 2) << pad(r.version, wv + 2) << pad(r.abi, wa + 2) << r.status << "\n";
    std::cout << pad("", wn + 2) << "path: " << r.path << "\n";
    if (!r.needs.empty()) {
      std::cout << pad("", wn + 2) << "needs:";
      for (const auto& d : r.needs) {
        const bool loaded = std::any_of(rows.begin(), rows.end(), [&](const Row& o) { return o.name == d && o.status == "loaded"; });
        std::cout << " " << d << (loaded ? "" : " (not loaded)");
      }
      std::cout << "\n";
    }
    if (verbose) {
      if (!r.description.empty()) std::cout << pad("", wn + 2) << "description: " << r.description << "\n";
      std::map<std::string, std::vector<std::string>> by_kind;
      for (const auto& e : r.entries) by_kind[std::string(strata::kind_name(e.kind))].push_back(e.name);
      for (const auto& [kind, names] : by_kind) {
        std::cout << pad("", wn + 2) << kind << " (" << names.size() << "):";
        if (kind == "kernel") {
          // "Op:device:dtype" entries, grouped: Op[device: dtype,dtype] ...
          std::map<std::string, std::map<std::string, std::vector<std::string>>> ops;
          for (const auto& n : names) {
            const auto a = n.find(':'), b = n.rfind(':');
            ops[n.substr(0, a)][n.substr(a + 1, b - a - 1)].push_back(n.substr(b + 1));
          }
          for (const auto& [op, devices] : ops) {
            std::cout << " " << op << "[";
            bool first_device = true;
            for (const auto& [device, dtypes] : devices) {
              std::cout << (first_device ? "" : "; ") << device << ":";
              for (std::size_t i = 0; i < dtypes.size(); ++i) std::cout << (i ? "," : "") << dtypes[i];
              first_device = false;
            }
            std::cout << "]";
          }
        } else {
          for (const auto& n : names) std::cout << " " << n;
        }
        std::cout << "\n";
      }
      for (const auto& e : r.entries) {
        if (e.kind != strata::ObjectKind::kFormat && e.kind != strata::ObjectKind::kCheckpointStore) continue;
        std::cout << pad("", wn + 2) << "format " << e.name << ": " << describe_format(e.name) << "\n";
      }
    }
  }
  std::cout << "\nDevices:";
  for (const auto& d : strata::available_devices()) std::cout << " " << d.to_string();
  std::cout << "\n";
  return 0;
}

int run(int argc, char** argv) {
  po::options_description global("global");
  global.add_options()("help,h", "")("version", "")("plugin", po::value<std::vector<std::string>>(), "")(
      "command", po::value<std::string>(), "")("args", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  pos.add("command", 1).add("args", -1);

  po::variables_map vm;
  std::vector<std::string> rest;
  try {
    auto parsed = po::command_line_parser(argc, argv).options(global).positional(pos).allow_unregistered().run();
    po::store(parsed, vm);
    rest = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (vm.count("version")) {
    print_version();
    return 0;
  }
  if (!vm.count("command")) throw UsageError("no command given");
  const std::string command = vm["command"].as<std::string>();
  // Arguments after the command, minus the command itself.
  std::vector<std::string> args;
  bool skipped = false;
  for (auto& a : rest) {
    if (!skipped && a == command) {
      skipped = true;
      continue;
    }
    args.push_back(a);
  }

  strata::RuntimeOptions options;
  if (vm.count("plugin")) {
    for (const auto& f : vm["plugin"].as<std::vector<std::string>>()) options.plugin_files.emplace_back(f);
  }
  strata::initialize(options);

  if (command == "plugins") return cmd_plugins(args);
  if (command == "info") return strata::cli::cmd_info(args);
  if (command == "predict") return strata::cli::cmd_predict(args);
  if (command == "convert") return strata::cli::cmd_convert(args);
  if (command == "fit") return strata::cli::cmd_fit(args);
  if (command == "evaluate") return strata::cli::cmd_evaluate(args);
  if (command == "bench") return strata::cli::cmd_bench(args);
  if (command == "demo") {
    po::options_description desc("demo");
    desc.add_options()("dir", po::value<std::string>()->default_value(""), "");
    po::variables_map dvm;
    try {
      po::store(po::command_line_parser(args).options(desc).run(), dvm);
    } catch (const po::error& e) {
      throw UsageError(std::string("demo: ") + e.what());
    }
    return strata::cli::run_demo(dvm["dir"].as<std::string>());
  }
  if (command == "version") {
    print_version();
    return 0;
  }
  if (command == "help") {
    std::cout << kUsage;
    return 0;
  }
  throw UsageError("unknown command '" + command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "strata: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const strata::Error& e) {
    std::cerr << "strata: error: " << e.kind() << ": " << one_line(e.what()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    // Not a bare "std::bad_alloc": the kind a failed allocation is everywhere else.
    std::cerr << "strata: error: BackendError: out of memory: an allocation this machine could not serve (if the "
                 "model's config asks for huge sizes, check it)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "strata: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}
