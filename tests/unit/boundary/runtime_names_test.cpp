// The runtime names no plugin, format, file extension or device type of a plugin
// (DESIGN.md, "Formats declare their extensions and sniffers; the runtime names no plugin,
// format, extension or device type"). This test reads every source file under
// runtime/src, takes its string literals (comments and #include lines skipped) and fails
// on any literal that names one, unless the allow-list below says why it must stay.
//
// runtime/cli is not scanned: the CLI's demo saves files the way a user would
// ("model.h5", format "json"), which is what it demonstrates (docs/DECISIONS.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Literal {
  int line;
  std::string text;
};

bool identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The string literals of a C++ source, with their line numbers. Skips comments, #include
// lines, character literals and digit separators (1'000); reads raw strings R"x(...)x".
std::vector<Literal> string_literals(const std::string& text) {
  std::vector<Literal> out;
  const std::size_t n = text.size();
  std::size_t i = 0;
  int line = 1;
  bool line_start = true;  // only blanks since the last newline
  while (i < n) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
      line_start = true;
      continue;
    }
    if (text.compare(i, 2, "//") == 0) {
      i = std::min(text.find('\n', i), n);
      continue;
    }
    if (text.compare(i, 2, "/*") == 0) {
      const std::size_t end = std::min(text.find("*/", i + 2), n - 2) + 2;
      line += static_cast<int>(std::count(text.begin() + static_cast<long>(i), text.begin() + static_cast<long>(end), '\n'));
      i = end;
      line_start = false;
      continue;
    }
    if (c == '#' && line_start) {
      std::size_t j = i + 1;
      while (j < n && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (text.compare(j, 7, "include") == 0) {
        i = std::min(text.find('\n', i), n);
        continue;
      }
    }
    if (c != ' ' && c != '\t') line_start = false;
    const bool raw = c == 'R' && i + 1 < n && text[i + 1] == '"' &&
                     (i == 0 || !identifier_char(text[i - 1]) || text[i - 1] == 'L' || text[i - 1] == '8' ||
                      text[i - 1] == 'u' || text[i - 1] == 'U');
    if (raw) {
      const std::size_t open = text.find('(', i + 2);
      if (open == std::string::npos) break;
      const std::string close = ")" + text.substr(i + 2, open - i - 2) + "\"";
      const std::size_t end = std::min(text.find(close, open), n);
      out.push_back({line, text.substr(open + 1, end - open - 1)});
      line += static_cast<int>(std::count(text.begin() + static_cast<long>(open), text.begin() + static_cast<long>(end), '\n'));
      i = end + close.size();
      continue;
    }
    if (c == '"') {
      std::string s;
      std::size_t j = i + 1;
      while (j < n && text[j] != '"' && text[j] != '\n') {
        if (text[j] == '\\' && j + 1 < n) s += text[j++];
        s += text[j++];
      }
      out.push_back({line, s});
      i = j + 1;
      continue;
    }
    if (c == '\'') {
      const bool separator = i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1])) && i + 1 < n &&
                             std::isxdigit(static_cast<unsigned char>(text[i + 1]));
      if (!separator) {
        std::size_t j = i + 1;
        while (j < n && text[j] != '\'' && text[j] != '\n') j += text[j] == '\\' ? 2 : 1;
        i = j + 1;
        continue;
      }
    }
    ++i;
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

// Why `literal` (on source line `source_line`) names something the runtime must not, or
// empty. The lists hold what Strata's plugins provide today; a new plugin's names belong
// here too.
std::string offence(const std::string& literal, const std::string& source_line) {
  static const std::regex extension(R"(\.(h5|hdf5|keras|json|npz|ckpt|pb|pbtxt|onnx)\b)", std::regex::icase);
  static const std::regex device(R"(\b(cuda|onednn|dnnl|rocm|gpu)\b)", std::regex::icase);
  static const std::regex provider_context(R"(provider|plugin|entries_from)");
  static const std::vector<std::string> formats = {"h5", "hdf5", "json", "savedmodel", "saved_model", "checkpoint",
                                                   "npz", "onnx"};
  if (std::regex_search(literal, extension)) return "a file extension";
  if (std::find(formats.begin(), formats.end(), lower(literal)) != formats.end()) return "a format";
  if (literal.find("format-") != std::string::npos || literal.find("backend-") != std::string::npos) {
    return "a plugin";
  }
  if ((literal == "layers" || literal == "training") && std::regex_search(source_line, provider_context)) {
    return "a plugin (as a registry provider)";
  }
  if (std::regex_search(literal, device)) return "a device type";
  return {};
}

// What must stay, each with the reason. A literal is allowed in one file only; an entry
// that no longer matches anything fails the test, so the list cannot rot.
struct Allowed {
  const char* file;     // relative to runtime/src
  const char* literal;  // the whole literal, as written in the source
  const char* why;
};
const Allowed kAllowed[] = {
    // Public API that is one format by its name, as in Keras: save_model_hdf5 /
    // load_model_hdf5 (save_format="h5") and saved_model::load (tf.saved_model.load).
    // Each only fills LoadOptions/SaveOptions::format; a missing plugin is the ordinary
    // "format 'h5' is not available" error.
    {"saving/saving.cpp", "h5", "save_model_hdf5 / load_model_hdf5 are H5 by name"},
    {"saving/saved_model.cpp", "savedmodel", "saved_model::load is SavedModel by name"},
    // Help text of the device parser, giving an example a user knows; the parser treats
    // every device type alike.
    {"device/device.cpp", "' is not a device type: use a lower-case name such as cpu or cuda",
     "an example in a usage message"},
    {"device/device.cpp", "' is not a device: write TYPE or TYPE:INDEX, e.g. cpu or cuda:0",
     "an example in a usage message"},
    // TensorFlow's device names (issue 19): "GPU:0" / "/device:GPU:0" mean the CUDA backend,
    // Strata's only GPU backend. A second GPU backend would have to declare the alias itself
    // (docs/DECISIONS.md, "Issue 19, devices").
    {"device/device.cpp", "gpu", "TensorFlow's GPU device name, read as the CUDA backend's type"},
    {"device/device.cpp", "cuda", "TensorFlow's GPU device name, read as the CUDA backend's type"},
    {"device/device.cpp", " (TensorFlow's GPU:0 and /device:GPU:0 are read as cuda:0)",
     "the usage message says how TensorFlow's device names are read"},
};

fs::path runtime_sources() { return fs::path(STRATA_SOURCE_DIR) / "runtime" / "src"; }

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(RuntimeNames, ScannerFindsLiteralsOutsideCommentsAndIncludes) {
  const std::string source =
      "#include \"format.h5\"\n"
      "// get_format(\"h5\") in a comment\n"
      "/* \".json\" in a block\n comment */ auto a = R\"x(raw \"savedmodel\")x\";\n"
      "int n = 1'000; char q = '\"'; auto b = \"checkpoint\";\n"
      "auto c = \"escaped \\\" .npz\";\n";
  const auto found = string_literals(source);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].line, 4);
  EXPECT_EQ(found[0].text, "raw \"savedmodel\"");
  EXPECT_EQ(found[1].line, 5);
  EXPECT_EQ(found[1].text, "checkpoint");
  EXPECT_EQ(found[2].line, 6);
  EXPECT_EQ(found[2].text, "escaped \\\" .npz");
  // What today's selection code held (before issue 17) is caught.
  EXPECT_EQ(offence(".keras", ""), "a file extension");
  EXPECT_EQ(offence("': use .h5/.hdf5/.keras (H5), .json (architecture)", ""), "a file extension");
  EXPECT_EQ(offence("savedmodel", ""), "a format");
  EXPECT_EQ(offence("format-h5", ""), "a plugin");
  EXPECT_EQ(offence("backend-onednn", ""), "a plugin");
  EXPECT_EQ(offence("layers", "  if (provider == \"layers\")"), "a plugin (as a registry provider)");
  EXPECT_EQ(offence("cuda", ""), "a device type");
  EXPECT_EQ(offence("cuda:0", ""), "a device type");
  // Keras vocabulary that is not a plugin's name stays allowed.
  EXPECT_EQ(offence("layers", "  c[\"layers\"] = list;"), "");
  EXPECT_EQ(offence("keras", ""), "");
  EXPECT_EQ(offence("cpu", ""), "");
  EXPECT_EQ(offence("config.json_like", ""), "");
}

TEST(RuntimeNames, RuntimeSourcesNameNoPluginFormatExtensionOrDeviceType) {
  const fs::path root = runtime_sources();
  ASSERT_TRUE(fs::is_directory(root)) << root;
  std::vector<bool> used(std::size(kAllowed), false);
  std::string offences;
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".h" && ext != ".cc" && ext != ".cu")) {
      continue;
    }
    ++files;
    const std::string rel = entry.path().lexically_relative(root).generic_string();
    const std::string text = read(entry.path());
    const auto lines = lines_of(text);
    for (const auto& lit : string_literals(text)) {
      const std::string& source_line = lit.line - 1 < static_cast<int>(lines.size()) ? lines[lit.line - 1] : text;
      const std::string why = offence(lit.text, source_line);
      if (why.empty()) continue;
      bool allowed = false;
      for (std::size_t k = 0; k < std::size(kAllowed); ++k) {
        if (rel == kAllowed[k].file && lit.text == kAllowed[k].literal) allowed = used[k] = true;
      }
      if (!allowed) offences += "runtime/src/" + rel + ":" + std::to_string(lit.line) + ": \"" + lit.text + "\" names " + why + "\n";
    }
  }
  EXPECT_GT(files, 20u) << "too few sources under " << root;
  EXPECT_EQ(offences, "") << "the runtime must take these from what plugins declare (Format::model_extensions, "
                             "the registry, ...), or the allow-list in this test must say why they stay";
  for (std::size_t k = 0; k < std::size(kAllowed); ++k) {
    EXPECT_TRUE(used[k]) << "allow-list entry no longer needed, remove it: " << kAllowed[k].file << " \""
                         << kAllowed[k].literal << "\"";
  }
}

// The layer classes a plugin registers (docs/LAYERS.md rows whose "where" column names a
// plugin source file, e.g. `attention.cpp`).
std::vector<std::string> plugin_layer_classes() {
  std::vector<std::string> out;
  static const std::regex row(R"(^\| `([A-Za-z0-9_>]+)` \| (supported|alias) \| [^|]*`[a-z0-9_]+\.cpp`)");
  std::istringstream in(read(fs::path(STRATA_SOURCE_DIR) / "docs" / "LAYERS.md"));
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) out.push_back(m[1]);
  }
  return out;
}

// What a layer class means is the class's business (issue 18: the Functional reader knew
// MultiHeadAttention's keywords and the writer wrote Bidirectional's kwargs by a class-name
// check; both moved onto the layers through CallArgumentsLayer). So no runtime source names a
// layer class a plugin registers. runtime/src/ops is not scanned: TensorFlow's op names
// (Conv2D, Softmax, Reshape, ...) are spelled like some layer classes.
TEST(RuntimeNames, RuntimeSourcesNameNoLayerClassOfAPlugin) {
  const auto classes = plugin_layer_classes();
  ASSERT_GT(classes.size(), 50u) << "docs/LAYERS.md lists too few plugin classes";
  for (const char* known : {"Bidirectional", "MultiHeadAttention", "Attention", "Dense"}) {
    EXPECT_NE(std::find(classes.begin(), classes.end(), known), classes.end()) << known;
  }
  const fs::path root = runtime_sources();
  std::string offences;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string rel = entry.path().lexically_relative(root).generic_string();
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp") || rel.rfind("ops/", 0) == 0) continue;
    for (const auto& lit : string_literals(read(entry.path()))) {
      if (std::find(classes.begin(), classes.end(), lit.text) != classes.end()) {
        offences += "runtime/src/" + rel + ":" + std::to_string(lit.line) + ": \"" + lit.text + "\"\n";
      }
    }
  }
  EXPECT_EQ(offences, "") << "the runtime names layer classes of a plugin; give the class an interface "
                             "(strata/plugin/call_arguments.hpp, ...) instead";
}

}  // namespace
