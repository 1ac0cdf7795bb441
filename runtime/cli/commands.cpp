// `strata info`, `strata predict`, `strata convert`.
#include "commands.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <iostream>
#include <optional>

#include "strata/npy.hpp"
#include "strata/ops.hpp"
#include "strata/saving.hpp"
#include "strata/strata.hpp"

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

}  // namespace

int cmd_info(const std::vector<std::string>& args) {
  po::options_description desc("info");
  desc.add_options()("path", po::value<std::string>()->required(), "");
  po::positional_options_description pos;
  pos.add("path", 1);
  const auto vm = parse(args, desc, pos, "info");
  const fs::path path = vm["path"].as<std::string>();
  std::error_code ec;
  STRATA_CHECK(fs::exists(path, ec) || fs::exists(path.string() + ".index", ec), IOError, "'", path.string(),
               "' does not exist");
  auto format = sniff_any(path);
  STRATA_CHECK(format != nullptr, FormatError, "'", path.string(),
               "' is not in any format the loaded plugins recognise (`strata plugins` lists them)");
  std::cout << format->describe(path);
  if (format->capabilities() & (kLoadModel | kLoadArchitecture)) {
    LoadOptions options;
    options.format = format->name();
    auto model = load_model(path, options);
    std::cout << "\n" << model->summary();
    if (model->is_compiled()) {
      const auto& opt = model->optimizer();
      std::cout << "optimizer: " << opt->class_name() << " " << to_python_json(opt->get_config()) << "\n";
      std::int64_t values = 0;
      for (const auto& v : opt->variables()) values += v.shape().num_elements();
      std::cout << "optimizer state: " << opt->variables().size() << " variables, " << values << " values, "
                << opt->iterations().value().item<std::int64_t>() << " steps taken\n";
    } else {
      std::cout << "not compiled (no training configuration)\n";
    }
  }
  return 0;
}

namespace {

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

}  // namespace

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
  std::vector<std::string> ordered(files.size());
  std::size_t named = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto [name, file] = split_named(files[i]);
    if (name.empty()) {
      ordered[i] = file;
      continue;
    }
    ++named;
    const auto it = std::find(in_names.begin(), in_names.end(), name);
    STRATA_CHECK(it != in_names.end(), ValueError, "--input ", files[i], ": the model has no input '", name,
                 "'; its inputs: ", listed(in_names));
    const auto index = static_cast<std::size_t>(it - in_names.begin());
    STRATA_CHECK(ordered[index].empty(), ValueError, "--input: input '", name, "' is given twice");
    ordered[index] = file;
  }
  STRATA_CHECK(named == 0 || named == files.size(), ValueError,
               "--input: name every input (NAME=FILE) or none (files in the model's input order)");
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    auto frame = ErrorContext::push("reading input '", ordered[i], "'");
    Tensor x = read_npy(ordered[i]);
    if (i < input_specs.size() && is_floating(x.dtype()) && is_floating(input_specs[i].dtype())) {
      x = cast(x, input_specs[i].dtype());
    }
    inputs.push_back(x.to(device));
  }
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
      "format", po::value<std::string>()->default_value(""), "")("weights-into", po::value<std::string>()->default_value(""), "");
  po::positional_options_description pos;
  pos.add("in", 1).add("out", 1);
  const auto vm = parse(args, desc, pos, "convert");
  const fs::path in = vm["in"].as<std::string>(), out = vm["out"].as<std::string>();
  SaveOptions save;
  save.format = vm["format"].as<std::string>();
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
    auto model = load_model(arch);
    model->load_weights(in).assert_consumed();
    save_weights(*model, out, save);
    std::cout << "converted the weights of '" << in.string() << "' to '" << out.string() << "'\n";
    return 0;
  }
  auto model = load_model(in);
  save_model(*model, out, save);
  std::cout << "converted '" << in.string() << "' to '" << out.string() << "'\n";
  return 0;
}

}  // namespace strata::cli
