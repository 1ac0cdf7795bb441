// Every plugin has one shape and keeps to its own files (issue 17, "Structure" and "Done
// when"; docs/EXTENDING.md):
//   - plugins/NAME/src/plugin.cpp holds the entry point and nothing else: it is the only
//     file of the plugin with STRATA_PLUGIN(...), and it defines no class;
//   - plugins/NAME/CMakeLists.txt lists its sources (no file(GLOB)), and links no other
//     plugin's core library;
//   - a plugin includes its own files and the SDK's public headers only (and the two shared
//     libraries' headers: generated protobuf, hdf5/src); the backend tier
//     (strata/plugin/backend.hpp) only when it is a backend (backend-*).
// The same rules are checked on the SDK's plugin template and the example plugins.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = STRATA_SOURCE_DIR;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_source(const fs::path& p) {
  static const std::set<std::string> exts = {".cpp", ".hpp", ".h", ".cc", ".cu", ".cuh"};
  return exts.count(p.extension().string()) > 0;
}

std::vector<fs::path> sources_of(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && is_source(e.path())) out.push_back(e.path());
  }
  return out;
}

// The in-tree plugins: every directory under plugins/ with a CMakeLists.txt.
std::vector<fs::path> plugin_dirs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kRoot / "plugins")) {
    if (e.is_directory() && fs::exists(e.path() / "CMakeLists.txt")) out.push_back(e.path());
  }
  return out;
}

std::string rel(const fs::path& p) { return p.lexically_relative(kRoot).generic_string(); }

// Why the `#include` of `header` in `file` (of the plugin in `plugin_dir`) crosses a
// boundary, or empty. `backend` says whether the plugin is a backend.
std::string include_offence(const fs::path& plugin_dir, const fs::path& file, const std::string& header,
                            bool angled, bool backend) {
  const bool sdk = fs::exists(kRoot / "sdk" / "include" / header);
  if (header == "strata/plugin/backend.hpp" && !backend) return "the backend tier, in a plugin that is no backend";
  if (sdk) return {};
  if (angled) return {};  // a system or third-party header (<cuda_runtime.h>, <dnnl.hpp>, <hdf5.h>)
  for (const fs::path& base : {file.parent_path(), plugin_dir, plugin_dir / "src"}) {
    const fs::path found = (base / header).lexically_normal();
    if (!fs::exists(found)) continue;
    const std::string r = found.lexically_relative(plugin_dir).generic_string();
    if (r.rfind("..", 0) == 0) return "a file outside the plugin (" + rel(found) + ")";
    return {};
  }
  // The shared non-SDK dependencies: generated protobuf headers (Strata::proto) and Strata's
  // HDF5 layer (hdf5/src, Strata::hdf5), each one shared library that several formats link.
  if (header.size() > 5 && header.compare(header.size() - 5, 5, ".pb.h") == 0) return {};
  if (header.find('/') == std::string::npos && fs::exists(kRoot / "hdf5" / "src" / header)) return {};
  return "a header that is neither the plugin's own nor the SDK's (another plugin's or the runtime's?)";
}

std::string check_includes(const fs::path& plugin_dir, bool backend) {
  static const std::regex include(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::string out;
  for (const auto& file : sources_of(plugin_dir)) {
    std::istringstream in(read(file));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      const std::string why = include_offence(plugin_dir, file, m[2].str(), m[1].str() == "<", backend);
      if (!why.empty()) out += rel(file) + ":" + std::to_string(n) + ": #include " + m[2].str() + ": " + why + "\n";
    }
  }
  return out;
}

std::string check_shape(const fs::path& dir) {
  std::string out;
  const fs::path entry = dir / "src" / "plugin.cpp";
  if (!fs::exists(entry)) return rel(dir) + ": has no src/plugin.cpp (the entry point)\n";
  static const std::regex macro(R"(^\s*STRATA_PLUGIN(_WITH_DEPENDENCIES)?\s*\()", std::regex::multiline);
  for (const auto& file : sources_of(dir)) {
    if (file != entry && std::regex_search(read(file), macro)) {
      out += rel(file) + ": STRATA_PLUGIN belongs in src/plugin.cpp only\n";
    }
  }
  const std::string text = read(entry);
  if (!std::regex_search(text, macro)) out += rel(entry) + ": has no STRATA_PLUGIN(...)\n";
  static const std::regex type_definition(R"(^\s*(class|struct)\s+\w+[^;]*\{)", std::regex::multiline);
  if (std::regex_search(text, type_definition)) {
    out += rel(entry) + ": defines a type; the entry point only registers what other files define\n";
  }
  const std::string cmake = read(dir / "CMakeLists.txt");
  if (cmake.find("file(GLOB") != std::string::npos) out += rel(dir) + "/CMakeLists.txt: lists no sources by glob\n";
  static const std::regex core_use(R"(\bstrata_(?!add_plugin_core)\w+_core\b)");
  static const std::regex core_def(R"(strata_add_plugin_core\(\s*(strata_\w+_core))");
  std::set<std::string> defined;
  for (std::sregex_iterator it(cmake.begin(), cmake.end(), core_def), end; it != end; ++it) defined.insert((*it)[1]);
  for (std::sregex_iterator it(cmake.begin(), cmake.end(), core_use), end; it != end; ++it) {
    if (!defined.count((*it)[0])) out += rel(dir) + "/CMakeLists.txt: uses " + (*it)[0].str() + ", another plugin's core\n";
  }
  return out;
}

TEST(PluginShape, IncludeCheckCatchesForeignHeaders) {
  const fs::path savedmodel = kRoot / "plugins" / "format-savedmodel";
  const fs::path checkpoint = kRoot / "plugins" / "format-checkpoint";
  const fs::path file = savedmodel / "src" / "plugin.cpp";
  EXPECT_EQ(include_offence(savedmodel, file, "strata/model.hpp", false, false), "");
  EXPECT_EQ(include_offence(savedmodel, file, "vector", true, false), "");
  EXPECT_NE(include_offence(savedmodel, file, "strata/plugin/backend.hpp", false, false), "");
  EXPECT_EQ(include_offence(kRoot / "plugins" / "backend-onednn", file, "strata/plugin/backend.hpp", false, true), "");
  // Another plugin's header, through a relative path or an include directory.
  EXPECT_NE(include_offence(savedmodel, file, "../../format-checkpoint/src/bundle.hpp", false, false), "");
  EXPECT_NE(include_offence(savedmodel, file, "bundle.hpp", false, false), "");
  EXPECT_EQ(include_offence(checkpoint, checkpoint / "src" / "plugin.cpp", "bundle.hpp", false, false), "");
  // The runtime's private headers.
  EXPECT_NE(include_offence(savedmodel, file, "core/foreign_exception.hpp", false, false), "");
}

// Why `text` (a source of a checkpoint-store plugin) calls back into the runtime's
// checkpoint machinery or its models, or empty: a store only moves bytes (issue 17; calls go
// runtime -> store, docs/PLUGINS.md "Checkpoint stores").
std::string store_callback_offence(const std::string& text) {
  static const std::regex checkpoint_api(R"(\bCheckpoint(Manager)?\s*(::|\(|\{)|\bload_checkpoint\s*\()");
  static const std::regex model_headers(R"(#\s*include\s*[<"]strata/(model|saving|layer)\.hpp[>"])");
  if (std::regex_search(text, checkpoint_api)) return "calls strata::Checkpoint";
  if (std::regex_search(text, model_headers)) return "includes a model header";
  return {};
}

TEST(PluginShape, CheckpointStoreNeverCallsBackIntoTheRuntime) {
  // The check catches what format-checkpoint did before checkpoint stores were a kind.
  EXPECT_NE(store_callback_offence("    Checkpoint::with_root(root).write(path, options.overwrite);"), "");
  EXPECT_NE(store_callback_offence("#include \"strata/model.hpp\""), "");
  EXPECT_EQ(store_callback_offence("struct CheckpointContents; class CheckpointReader; CheckpointState s;"), "");
  std::size_t stores = 0;
  for (const auto& dir : plugin_dirs()) {
    if (read(dir / "src" / "plugin.cpp").find("kCheckpointStore") == std::string::npos) continue;
    ++stores;
    for (const auto& file : sources_of(dir / "src")) {
      const std::string why = store_callback_offence(read(file));
      EXPECT_EQ(why, "") << rel(file) << " " << why;
    }
  }
  EXPECT_GE(stores, 1u) << "no plugin registers a checkpoint store (format-checkpoint should)";
}

TEST(PluginShape, EveryPluginHasOneEntryPointAndItsOwnFiles) {
  const auto dirs = plugin_dirs();
  ASSERT_GE(dirs.size(), 7u) << "too few plugins found under " << kRoot / "plugins";
  std::string offences;
  for (const auto& dir : dirs) {
    const bool backend = dir.filename().string().rfind("backend-", 0) == 0;
    offences += check_shape(dir);
    offences += check_includes(dir, backend);
  }
  EXPECT_EQ(offences, "");
}

// Third parties start from these: they keep to the public SDK too.
TEST(PluginShape, TemplateAndExamplePluginsUseOnlyThePublicSdk) {
  std::string offences;
  for (const fs::path& dir : {kRoot / "sdk" / "template", kRoot / "examples" / "custom_format_plugin"}) {
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    offences += check_includes(dir, false);
  }
  EXPECT_EQ(offences, "");
}

}  // namespace
