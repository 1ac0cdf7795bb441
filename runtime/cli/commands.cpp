// `strata info`, `strata predict`, `strata convert`, `strata fit`, `strata evaluate`.
#include "commands.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <iostream>
#include <optional>

#include "strata/distribute.hpp"
#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/saving.hpp"
#include "strata/strata.hpp"
#include "strata/training.hpp"

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace strata::cli {
namespace {

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc,
                        const po::positional_options_description& pos, const char* command) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(command) + ": " + e.what());
  }
  return vm;
}

// The first format whose sniffer recognises `path`.
std::shared_ptr<Format> sniff_any(const fs::path& path) {
  for (const auto& f : available_formats()) {
    if (f->sniff(path)) return f;
  }
  return nullptr;
}

// The names of a model's inputs (its Input layers', a signature's keys) and outputs (the
// output layers', a signature's keys); empty where the model declares none (subclassed).
std::vector<std::string> port_names(const std::vector<Tensor>& ports) {
  std::vector<std::string> names;
  for (const auto& t : ports) {
    if (!t.is_symbolic()) return {};
    names.push_back(t.node()->layer ? t.node()->layer->name() : t.node()->name);
  }
  return names;
}

std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out.empty() ? "(none: the model does not name them)" : out;
}

// "NAME=FILE" → {NAME, FILE}; "FILE" → {"", FILE}. A file path may hold '=' only after a '/'.
std::pair<std::string, std::string> split_named(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || arg.find('/') < eq) return {"", arg};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// Orders the files of a repeatable option (--input, --x, --y, ...) by the model's inputs or
// outputs: "FILE" in the model's order, or "NAME=FILE" by name (every one named, each name
// once). `names` are the model's (port_names); an unknown name lists them.
std::vector<std::string> order_named(const std::vector<std::string>& args, const std::vector<std::string>& names,
                                     const char* option, const char* what) {
  std::vector<std::string> ordered(args.size());
  std::size_t named = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto [name, file] = split_named(args[i]);
    if (name.empty()) {
      ordered[i] = file;
      continue;
    }
    ++named;
    const auto it = std::find(names.begin(), names.end(), name);
    STRATA_CHECK(it != names.end(), ValueError, option, " ", args[i], ": the model has no ", what, " '", name,
                 "'; its ", what, "s: ", listed(names));
    const auto index = static_cast<std::size_t>(it - names.begin());
    STRATA_CHECK(index < ordered.size(), ValueError, option, ": the model has ", names.size(), " ", what, "s (",
                 listed(names), ") but ", args.size(), " ", option, " files were given");
    STRATA_CHECK(ordered[index].empty(), ValueError, option, ": ", what, " '", name, "' is given twice");
    ordered[index] = file;
  }
  STRATA_CHECK(named == 0 || named == args.size(), ValueError, option, ": name every ", what,
               " (NAME=FILE) or none (files in the model's ", what, " order)");
  return ordered;
}

// Reads the .npy files of one repeatable option (--x, --y, ...), one per model input or
// output, in the model's order or by name (NAME=FILE: the Input layer's name, the output
// layer's name; order_named), memory-mapped (read_npy_mapped), checked against the model's symbolic tensors `specs` (empty
// for subclassed models: no check). Floating arrays take the spec's floating dtype (NumPy
// writes float64 by default; Keras casts too); integer arrays (sparse labels) stay as they are.
std::vector<Tensor> read_arrays(const std::vector<std::string>& args, const std::vector<Tensor>& specs,
                                const char* option, const char* what, const std::string& model_path,
                                const Device& device) {
  const auto names = port_names(specs);
  STRATA_CHECK(specs.empty() || args.size() == specs.size(), ValueError, "the model '", model_path, "' has ",
               specs.size(), " ", what, "s but ", args.size(), " ", option, " files were given (its ", what, "s: ",
               listed(names), "; repeat ", option, " once per ", what, ", in the model's ", what, " order, or as ",
               option, " NAME=FILE)");
  const auto files = order_named(args, names, option, what);
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    STRATA_CHECK(fs::exists(files[i]), IOError, option, " '", files[i], "' does not exist");
    Tensor x;
    {
      auto frame = ErrorContext::push("reading ", option, " '", files[i], "'");
      // Mapped, not read: only the pages a rank's batches touch are read, and the ranks of an
      // mpirun job on one machine share them in the page cache.
      x = read_npy_mapped(files[i]);
    }
    if (i < specs.size()) {
      const Shape& want = specs[i].shape();
      bool fits = want.has_known_rank() ? x.rank() == want.rank() : true;
      if (fits && want.has_known_rank()) {
        for (std::size_t d = 1; d < want.rank(); ++d) {
          if (want[d] != Shape::kUnknown && want[d] != x.shape()[d]) fits = false;
        }
      }
      // Keras's losses accept targets of rank one less than the output (sparse labels).
      if (!fits && std::string(what) == "output" && want.has_known_rank() && x.rank() + 1 == want.rank()) fits = true;
      STRATA_CHECK(fits, ShapeError, option, " '", files[i], "' has shape ", x.shape().to_string(), " but the model's ",
                   what, " ", i, i < names.size() ? " '" + names[i] + "'" : std::string(), " takes ",
                   want.to_string(), " (the first dimension is the samples)");
      if (is_floating(x.dtype()) && is_floating(specs[i].dtype())) x = cast(x, specs[i].dtype());
    }
    out.push_back(x.to(device));
  }
  return out;
}

// --sample-weight FILE: Keras's sample_weight, one weight per sample (shape [samples]).
Tensor read_sample_weight(const po::variables_map& vm, std::int64_t samples, const Device& device) {
  if (!vm.count("sample-weight")) return Tensor();
  const std::string file = vm["sample-weight"].as<std::string>();
  STRATA_CHECK(fs::exists(file), IOError, "--sample-weight '", file, "' does not exist");
  Tensor w;
  {
    auto frame = ErrorContext::push("reading --sample-weight '", file, "'");
    w = read_npy(file);
  }
  STRATA_CHECK(w.dtype() != DType::kBool, ValueError, "--sample-weight '", file,
               "' holds bools; give one number per sample (float32)");
  STRATA_CHECK(w.rank() == 1 && w.shape()[0] == samples, ShapeError, "--sample-weight '", file, "' has shape ",
               w.shape().to_string(), " but the inputs hold ", samples, " samples: give one weight per sample, shape (",
               samples, ",)");
  if (!is_floating(w.dtype())) w = cast(w, DType::kFloat32);
  return w.to(device);
}

// Keras's evaluate(x, y, batch_size, sample_weight): Model::evaluate takes no weights, so the
// batches go through test_step here (metrics reset first, as evaluate does).
Logs evaluate_weighted(Model& model, const std::vector<Tensor>& x, const std::vector<Tensor>& y, const Tensor& w,
                       std::int64_t batch_size) {
  STRATA_CHECK(batch_size > 0, ValueError, "evaluate: --batch-size must be > 0");
  const auto rows = [](const Tensor& t, std::int64_t start, std::int64_t len) {
    std::vector<std::int64_t> begin(t.rank(), 0), size = t.shape().dims();
    begin[0] = start;
    size[0] = len;
    return slice(t, begin, size);
  };
  const std::int64_t n = w.shape()[0];
  for (const auto* group : {&x, &y}) {
    for (const auto& t : *group) {
      STRATA_CHECK(t.rank() >= 1 && t.shape()[0] == n, ShapeError, "every input and target needs ", n,
                   " samples along the first dimension, got shape ", t.shape().to_string());
    }
  }
  model.reset_metrics();
  Logs logs;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t len = std::min(batch_size, n - start);
    std::vector<Tensor> bx, by;
    for (const auto& t : x) bx.push_back(rows(t, start, len));
    for (const auto& t : y) by.push_back(rows(t, start, len));
    logs = model.test_step(bx, by, rows(w, start, len));
  }
  return logs;
}

// Loads a model for fit/evaluate: it must carry its training configuration.
std::shared_ptr<Model> load_compiled(const std::string& path, const char* command) {
  std::error_code ec;
  STRATA_CHECK(fs::exists(path, ec), IOError, "'", path, "' does not exist");
  auto model = load_model(path);
  STRATA_CHECK(model->is_compiled(), ValueError, "'", path, "' holds no training configuration (loss, optimizer, "
               "metrics): ", command, " needs a compiled model; call model.compile(...) in Keras before saving it, "
               "and save with include_optimizer=True (the default)");
  return model;
}

// --device wins over STRATA_DEVICE (as in predict).
void enter_device(std::optional<DeviceScope>& scope, const po::variables_map& vm) {
  if (vm.count("device")) {
    auto frame = ErrorContext::push("reading --device");
    scope.emplace(Device(vm["device"].as<std::string>()));
  }
}

std::vector<std::string> strings(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

// Keeps each epoch's logs in the order Keras's History.history has its keys (loss, the
// metrics, then val_*), which History's map does not.
class OrderedHistory final : public Callback {
 public:
  void on_epoch_end(int /*epoch*/, const Logs& logs) override {
    for (const auto& item : logs.items()) {
      const std::string& k = item.first;
      const double v = item.second;
      auto it = std::find_if(items.begin(), items.end(), [&k](const auto& e) { return e.first == k; });
      if (it == items.end()) {
        items.emplace_back(k, std::vector<double>{});
        it = std::prev(items.end());
      }
      it->second.push_back(v);
    }
  }
  std::vector<std::pair<std::string, std::vector<double>>> items;
};

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    STRATA_CHECK(out.good(), IOError, "cannot write '", tmp.string(), "'");
    out << text;
    out.close();
    STRATA_CHECK(out.good(), IOError, "cannot write '", tmp.string(), "'");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  STRATA_CHECK(!ec, IOError, "cannot rename '", tmp.string(), "' to '", path.string(), "': ", ec.message());
}

}  // namespace

int cmd_info(const std::vector<std::string>& args) {
  po::options_description desc("info");
  desc.add_options()("path", po::value<std::string>()->required(), "")("full", "");
  po::positional_options_description pos;
  pos.add("path", 1);
  const auto vm = parse(args, desc, pos, "info");
  const bool full = vm.count("full") > 0;
  const fs::path path = vm["path"].as<std::string>();
  std::error_code ec;
  STRATA_CHECK(fs::exists(path, ec) || fs::exists(path.string() + ".index", ec), IOError, "'", path.string(),
               "' does not exist");
  auto format = sniff_any(path);
  STRATA_CHECK(format != nullptr, FormatError, "'", path.string(),
               "' is not in any format the loaded plugins recognise (`strata plugins` lists them)");
  std::cout << format->describe(path);
  // Exit 0 once the file is described: what cannot be built (a weights-only file, a
  // TensorFlow SavedModel without Keras metadata, a missing class) is reported, not fatal.
  // A plugin that fails is an error of the run, not of the file: it still exits 1.
  if (format->capabilities() & (kLoadModel | kLoadArchitecture)) {
    LoadOptions options;
    options.format = format->name();
    // The summary needs the architecture, not the weights (issue 22: `info` of a 400 MB
    // file read all of it): a format that builds a model from its file without reading the
    // weights (kLoadArchitecture) does so, its initializers skipped, so the weights' memory
    // is reserved but never touched. --full, and formats that cannot, load the whole model
    // (weights and optimizer state: the state's sizes, steps taken, loss scale).
    const bool architecture_only = !full && (format->capabilities() & kLoadArchitecture) != 0;
    const auto load = [&](const LoadOptions& o) -> std::shared_ptr<Model> {
      if (!architecture_only) return load_model(path, o);
      auto frame = ErrorContext::push("loading a model from '", path.string(), "' as ", format->name());
      SkipWeightInitializers skip;
      return format->load_architecture(path, o);
    };
    std::shared_ptr<Model> model;
    std::string unavailable;
    try {
      model = load(options);
    } catch (const PluginError&) {
      throw;
    } catch (const Error& e) {
      // Maybe only the training configuration cannot be restored (an optimizer, loss or
      // metric class that is not registered): show the model without it.
      unavailable = std::string(e.kind()) + ": " + e.what();
      std::replace(unavailable.begin(), unavailable.end(), '\n', ' ');
      options.compile = false;
      try {
        model = load(options);
      } catch (const PluginError&) {
        throw;
      } catch (const Error& again) {
        std::string text = std::string(again.kind()) + ": " + again.what();
        std::replace(text.begin(), text.end(), '\n', ' ');
        std::cout << "\nmodel: not loadable: " << text << "\n";
        return 0;
      }
    }
    std::cout << "\n" << model->summary();
    if (!unavailable.empty()) {
      std::cout << "optimizer: unavailable: " << unavailable << "\n";
    } else if (model->is_compiled()) {
      const auto& opt = model->optimizer();
      std::cout << "optimizer: " << opt->class_name() << " " << to_python_json(opt->get_config()) << "\n";
      if (architecture_only) return 0;  // the state was not read (--full reads it)
      std::int64_t values = 0;
      for (const auto& v : opt->variables()) values += v.shape().num_elements();
      std::cout << "optimizer state: " << opt->variables().size() << " variables, " << values << " values, "
                << opt->iterations().value().item<std::int64_t>() << " steps taken\n";
      if (const LossScale* ls = loss_scale(*opt)) {
        std::cout << "loss scale: " << ls->class_name << ", " << (ls->dynamic ? "dynamic" : "fixed") << ", current "
                  << ls->scale.value().to(Device::cpu()).item<float>() << " (initial " << ls->initial_scale;
        if (ls->dynamic) {
          std::cout << ", doubled after " << ls->growth_steps << " finite steps; "
                    << ls->good_steps.value().to(Device::cpu()).item<std::int64_t>() << " so far";
        }
        std::cout << ")\n";
      }
    } else {
      std::cout << "not compiled (no training configuration)\n";
    }
  }
  return 0;
}

int cmd_predict(const std::vector<std::string>& args) {
  po::options_description desc("predict");
  desc.add_options()("model", po::value<std::string>()->required(), "")(
      "input", po::value<std::vector<std::string>>()->required(), "")(
      "output", po::value<std::vector<std::string>>()->required(), "")("device", po::value<std::string>(), "")(
      "batch-size", po::value<std::int64_t>()->default_value(32), "")("signature", po::value<std::string>(), "");
  po::positional_options_description pos;
  pos.add("model", 1);
  const auto vm = parse(args, desc, pos, "predict");
  // --device wins over STRATA_DEVICE: with it, the environment is not even read (the scope
  // makes it every tensor's default); without it, the default device is STRATA_DEVICE's, else cpu.
  std::optional<DeviceScope> scope;
  if (vm.count("device")) {
    auto frame = ErrorContext::push("reading --device");
    scope.emplace(Device(vm["device"].as<std::string>()));
  }
  const Device device = default_device();
  LoadOptions options;
  options.compile = false;
  if (vm.count("signature")) options.signature = vm["signature"].as<std::string>();
  auto model = load_model(vm["model"].as<std::string>(), options);
  model->to(device);
  const auto input_specs = model->inputs();
  const auto in_names = port_names(input_specs);
  const auto files = vm["input"].as<std::vector<std::string>>();
  STRATA_CHECK(input_specs.empty() || files.size() == input_specs.size(), ValueError, "the model takes ",
               input_specs.size(), " inputs (", listed(in_names), ") but ", files.size(), " --input files were given");
  // Inputs in the model's order, or by name (--input NAME=FILE, every one named).
  const auto ordered = order_named(files, in_names, "--input", "input");
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    auto frame = ErrorContext::push("reading input '", ordered[i], "'");
    Tensor x = read_npy(ordered[i]);
    // A floating input takes integer and bool arrays too, cast as a Keras Functional model
    // casts its inputs to its Input layers' dtypes.
    if (i < input_specs.size() && is_floating(input_specs[i].dtype()) && x.dtype() != input_specs[i].dtype() &&
        (is_floating(x.dtype()) || is_integer(x.dtype()) || x.dtype() == DType::kBool)) {
      x = cast(x, input_specs[i].dtype());
    }
    // String arrays ('<U'/'|S') stay on the host, where string tensors live; the layers
    // that take them (StringLookup, TextVectorization) run there.
    inputs.push_back(x.dtype() == DType::kString ? x : x.to(device));
  }
  std::string input_files;
  for (const auto& f : ordered) input_files += (input_files.empty() ? "'" : ", '") + f + "'";
  auto predicting = ErrorContext::push("predicting with '", vm["model"].as<std::string>(), "' on ", input_files);
  const auto outputs = model->predict(inputs, vm["batch-size"].as<std::int64_t>());
  const auto out_names = port_names(model->outputs());
  // --output Y.npy: every output, Y.npy, Y_1.npy, ...; --output NAME=FILE (repeatable):
  // the outputs named.
  std::vector<std::pair<std::size_t, fs::path>> writes;
  const auto out_args = vm["output"].as<std::vector<std::string>>();
  if (out_args.size() == 1 && split_named(out_args[0]).first.empty()) {
    const fs::path out = out_args[0];
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      fs::path file = out;
      if (i > 0) file = out.parent_path() / detail::concat(out.stem().string(), "_", i, out.extension().string());
      writes.emplace_back(i, file);
    }
  } else {
    for (const auto& arg : out_args) {
      const auto [name, file] = split_named(arg);
      STRATA_CHECK(!name.empty(), ValueError, "--output ", arg, ": with several --output, name each (NAME=FILE)");
      const auto it = std::find(out_names.begin(), out_names.end(), name);
      STRATA_CHECK(it != out_names.end(), ValueError, "--output ", arg, ": the model has no output '", name,
                   "'; its outputs: ", listed(out_names));
      writes.emplace_back(static_cast<std::size_t>(it - out_names.begin()), file);
    }
  }
  for (const auto& [i, file] : writes) {
    write_npy(file, outputs[i]);
    std::cout << "wrote " << file.string() << " " << dtype_name(outputs[i].dtype()) << outputs[i].shape().to_string();
    if (i < out_names.size()) std::cout << " (output '" << out_names[i] << "')";
    std::cout << "\n";
  }
  return 0;
}

int cmd_convert(const std::vector<std::string>& args) {
  po::options_description desc("convert");
  desc.add_options()("in", po::value<std::string>()->required(), "")("out", po::value<std::string>()->required(), "")(
      "format", po::value<std::string>()->default_value(""), "")("weights-into", po::value<std::string>()->default_value(""), "")(
      "expect-partial", "")("max-shard-size", po::value<double>()->default_value(0.0), "");
  po::positional_options_description pos;
  pos.add("in", 1).add("out", 1);
  const auto vm = parse(args, desc, pos, "convert");
  const fs::path in = vm["in"].as<std::string>(), out = vm["out"].as<std::string>();
  SaveOptions save;
  save.format = vm["format"].as<std::string>();
  save.max_shard_size = vm["max-shard-size"].as<double>();
  const std::string arch = vm["weights-into"].as<std::string>();
  // The output's format first, so a wrong OUT fails before the input is read.
  const auto out_format = format_for_saving(out, save.format, !arch.empty());
  const unsigned caps = out_format->capabilities();
  if (arch.empty()) {
    STRATA_CHECK(caps & (kSaveModel | kSaveArchitecture), ValueError, "format '", out_format->name(),
                 "' cannot save models",
                 caps & kSaveWeights ? "; it holds weights only: convert weights with --weights-into ARCHITECTURE "
                                       "(the model file whose layers the weights fit)"
                                     : "");
  } else {
    STRATA_CHECK(caps & kSaveWeights, ValueError, "format '", out_format->name(), "' cannot save weights",
                 caps & (kSaveModel | kSaveArchitecture) ? "; it holds models: convert without --weights-into" : "");
  }
  if (!arch.empty()) {
    // Weights only: load them into the architecture given, then write them out.
    // A compiled ARCH (a model file with its training configuration) has its optimizer built
    // from that configuration, so a checkpoint's optimizer values land in its slots; a bare
    // architecture (Keras's to_json) takes the model's weights only, which --expect-partial
    // accepts as tf.train.Checkpoint's expect_partial() does.
    auto model = load_model(arch);
    const auto status = model->load_weights(in);
    if (vm.count("expect-partial")) {
      status.assert_existing_objects_matched();
      status.expect_partial();
      if (!status.unused_values().empty()) {
        std::cout << "left " << status.unused_values().size() << " values of '" << in.string()
                  << "' that no weight of the model took (--expect-partial)\n";
      }
    } else if (status.unset_weights().empty() && !status.unused_values().empty()) {
      const auto& unused = status.unused_values();
      std::string names;
      for (std::size_t i = 0; i < unused.size() && i < 4; ++i) names += (i ? ", " : "") + unused[i];
      if (unused.size() > 4) names += ", ...";
      status.expect_partial();
      STRATA_THROW(ValueError, "'", in.string(), "' holds ", unused.size(), " values that no weight of '", arch,
                  "' took (", names, ")", model->is_compiled() ? "" : "; ARCH has no training configuration, so it has "
                  "no optimizer to take a compiled model's optimizer values",
                  ": pass --expect-partial to convert the model's weights and leave them, or give --weights-into a "
                  "compiled model file (H5 or SavedModel with its optimizer) whose optimizer takes them");
    } else {
      status.assert_consumed();
    }
    save_weights(*model, out, save);
    std::cout << "converted the weights of '" << in.string() << "' to '" << out.string() << "'\n";
    return 0;
  }
  auto model = load_model(in);
  save_model(*model, out, save);
  std::cout << "converted '" << in.string() << "' to '" << out.string() << "'\n";
  return 0;
}

namespace {

// The collective `strata fit` trains over: --distribute NAME; else "mpi" when a launcher
// started several copies (Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, MPICH's and Slurm's
// PMI set PMI_SIZE); else none. "none" turns it off.
std::string fit_collective(const po::variables_map& vm) {
  if (vm.count("distribute")) {
    const std::string name = vm["distribute"].as<std::string>();
    return name == "none" ? std::string() : name;
  }
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && std::atoi(value) > 1) return "mpi";
  }
  return {};
}

}  // namespace

int cmd_fit(const std::vector<std::string>& args) {
  po::options_description desc("fit");
  desc.add_options()("model", po::value<std::string>()->required(), "")(
      "x", po::value<std::vector<std::string>>()->required(), "")("y", po::value<std::vector<std::string>>()->required(), "")(
      "save", po::value<std::string>()->required(), "")("epochs", po::value<int>()->default_value(1), "")(
      "batch-size", po::value<std::int64_t>()->default_value(32), "")("validation-split", po::value<double>(), "")(
      "validation-x", po::value<std::vector<std::string>>(), "")("validation-y", po::value<std::vector<std::string>>(), "")(
      "history", po::value<std::string>(), "")("initial-epoch", po::value<int>()->default_value(0), "")(
      "checkpoint", po::value<std::string>(), "")("no-shuffle", "")("verbose", po::value<int>()->default_value(1), "")(
      "device", po::value<std::string>(), "")("sample-weight", po::value<std::string>(), "")(
      "distribute", po::value<std::string>(), "");
  po::positional_options_description pos;
  pos.add("model", 1);
  const auto vm = parse(args, desc, pos, "fit");
  const bool has_vx = vm.count("validation-x") > 0, has_vy = vm.count("validation-y") > 0;
  if (has_vx != has_vy) throw UsageError("fit: --validation-x and --validation-y go together");
  if (has_vx && vm.count("validation-split")) {
    throw UsageError("fit: give either --validation-split or --validation-x/--validation-y, not both");
  }
  const int verbose = vm["verbose"].as<int>();
  if (verbose < 0 || verbose > 2) throw UsageError("fit: --verbose is 0, 1 or 2");
  const std::string model_path = vm["model"].as<std::string>();
  const fs::path save_path = vm["save"].as<std::string>();
  // The output's format first, so a wrong --save fails before training; an architecture-only
  // format (.json) would drop what training made.
  const auto save_format = format_for_saving(save_path, "", false);
  STRATA_CHECK(save_format->capabilities() & kSaveModel, ValueError, "fit: --save '", save_path.string(),
               "' is in format '", save_format->name(), "', which does not hold a model's weights; save to .keras, .h5 or a "
               "SavedModel directory (no extension)");
  std::optional<DeviceScope> scope;
  enter_device(scope, vm);
  const Device device = default_device();
  auto model = load_compiled(model_path, "fit");
  model->to(device);
  // Data parallelism: every rank reads the whole arrays and fit trains on its shard of each
  // global batch (--batch-size is the global batch); only rank 0 prints and writes.
  std::optional<DistributionStrategy> strategy;
  if (const std::string collective = fit_collective(vm); !collective.empty()) {
    strategy.emplace(collective);
    strategy->distribute(*model);
  }
  const bool chief = !strategy || strategy->is_chief();
  const auto x = read_arrays(strings(vm, "x"), model->inputs(), "--x", "input", model_path, device);
  const auto y = read_arrays(strings(vm, "y"), model->outputs(), "--y", "output", model_path, device);

  FitOptions options;
  options.epochs = vm["epochs"].as<int>();
  options.batch_size = vm["batch-size"].as<std::int64_t>();
  options.initial_epoch = vm["initial-epoch"].as<int>();
  options.verbose = verbose;
  options.shuffle = vm.count("no-shuffle") == 0;
  options.sample_weight = read_sample_weight(vm, x.empty() || x[0].rank() == 0 ? 0 : x[0].shape()[0], device);
  if (vm.count("validation-split")) options.validation_split = vm["validation-split"].as<double>();
  if (has_vx) {
    options.validation_data.emplace(
        read_arrays(strings(vm, "validation-x"), model->inputs(), "--validation-x", "input", model_path, device),
        read_arrays(strings(vm, "validation-y"), model->outputs(), "--validation-y", "output", model_path, device));
  }
  auto history = std::make_shared<OrderedHistory>();
  options.callbacks.push_back(history);
  if (vm.count("checkpoint")) options.callbacks.push_back(std::make_shared<ModelCheckpoint>(vm["checkpoint"].as<std::string>()));
  model->fit(x, y, options);
  if (!chief) return 0;

  save_model(*model, save_path);
  std::cout << "saved '" << save_path.string() << "'\n";
  if (vm.count("history")) {
    Config dict = Config::object();
    for (const auto& [k, values] : history->items) {
      Config list = Config::array();
      for (double v : values) list.push_back(Config(v));
      dict[k] = list;
    }
    write_text_atomically(vm["history"].as<std::string>(), to_python_json(dict) + "\n");
    std::cout << "wrote the history to '" << vm["history"].as<std::string>() << "'\n";
  }
  return 0;
}

int cmd_evaluate(const std::vector<std::string>& args) {
  po::options_description desc("evaluate");
  desc.add_options()("model", po::value<std::string>()->required(), "")(
      "x", po::value<std::vector<std::string>>()->required(), "")("y", po::value<std::vector<std::string>>()->required(), "")(
      "batch-size", po::value<std::int64_t>()->default_value(32), "")("verbose", po::value<int>()->default_value(1), "")(
      "device", po::value<std::string>(), "")("sample-weight", po::value<std::string>(), "");
  po::positional_options_description pos;
  pos.add("model", 1);
  const auto vm = parse(args, desc, pos, "evaluate");
  const int verbose = vm["verbose"].as<int>();
  if (verbose < 0 || verbose > 2) throw UsageError("evaluate: --verbose is 0, 1 or 2");
  const std::string model_path = vm["model"].as<std::string>();
  std::optional<DeviceScope> scope;
  enter_device(scope, vm);
  const Device device = default_device();
  auto model = load_compiled(model_path, "evaluate");
  model->to(device);
  const auto x = read_arrays(strings(vm, "x"), model->inputs(), "--x", "input", model_path, device);
  const auto y = read_arrays(strings(vm, "y"), model->outputs(), "--y", "output", model_path, device);
  const Tensor w = read_sample_weight(vm, x.empty() || x[0].rank() == 0 ? 0 : x[0].shape()[0], device);
  // With --sample-weight the batches run through test_step (Model::evaluate takes no weights),
  // without Keras's progress output; the name: value lines are the same.
  const Logs logs = w.defined() ? evaluate_weighted(*model, x, y, w, vm["batch-size"].as<std::int64_t>())
                                : model->evaluate(x, y, vm["batch-size"].as<std::int64_t>(), verbose);
  for (const auto& [k, v] : logs.items()) std::cout << k << ": " << to_python_json(Config(v)) << "\n";
  return 0;
}

}  // namespace strata::cli
