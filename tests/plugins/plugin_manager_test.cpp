// The plugin loader against real shared libraries built by tests/plugins/CMakeLists.txt.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "strata/custom_objects.hpp"
#include "strata/error.hpp"
#include "strata/log.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/plugin/registrar.hpp"
#include "strata/plugins.hpp"
#include "strata/tensor.hpp"
#include "strata/version.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

fs::path plugin_file(const std::string& variant) {
  std::string file = variant;
  std::replace(file.begin(), file.end(), '_', '_');
  return fs::path(STRATA_TEST_PLUGIN_ROOT) / variant / ("strata-test-" + variant + ".so");
}

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The backend a test plugin registers works: its code runs after loading.
void expect_backend_works(Registry& registry, const std::string& device_type) {
  auto factory = registry.find<ObjectKind::kBackend>(device_type);
  ASSERT_NE(factory, nullptr);
  std::shared_ptr<Backend> backend = (*factory)();
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->device_type(), device_type);
  BackendDevice& dev = backend->device(0);
  const float in[3] = {1, 2, 3};
  float out[3] = {};
  void* p = dev.allocate(sizeof in);
  dev.copy_from_host(p, in, sizeof in);
  dev.copy_to_host(out, p, sizeof out);
  dev.deallocate(p, sizeof in);
  EXPECT_EQ(out[2], 3.0f);
}

TEST(PluginManager, LoadsAGoodPlugin) {
  Registry registry;
  PluginManager manager(registry);
  const PluginInfo info = manager.load(plugin_file("good"));
  EXPECT_EQ(info.state, PluginState::kLoaded);
  EXPECT_EQ(info.status(), "loaded");
  EXPECT_EQ(info.name, "test-good");
  EXPECT_EQ(info.version, "1.2.3");
  EXPECT_EQ(info.abi_major, unsigned{STRATA_PLUGIN_ABI_MAJOR});
  EXPECT_EQ(info.abi_minor, unsigned{STRATA_PLUGIN_ABI_MINOR});
  EXPECT_EQ(info.toolchain_tag, runtime_toolchain_tag());
  ASSERT_EQ(info.entries.size(), 2u);
  auto m = registry.find_erased(ObjectKind::kLayer, "TestGoodLayer");
  ASSERT_NE(m.value, nullptr);
  EXPECT_EQ(m.provider, "test-good");
  expect_backend_works(registry, "plugtest");
  // Loading the same file again returns the same record and registers nothing twice.
  EXPECT_EQ(manager.load(plugin_file("good")).state, PluginState::kLoaded);
  EXPECT_EQ(manager.plugins().size(), 1u);
}

struct RefusalCase {
  const char* variant;
  std::vector<std::string> expected;  // substrings of the PluginError text besides the path
};

class PluginRefusal : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(PluginRefusal, NamesFileAndValuesLeavesRegistryUnchangedAndGoodPluginStillLoads) {
  const RefusalCase& c = GetParam();
  Registry registry;
  PluginManager manager(registry);
  const fs::path file = plugin_file(c.variant);
  ASSERT_TRUE(fs::exists(file)) << file;
  const std::size_t before = registry.size();
  try {
    manager.load(file);
    FAIL() << "plugin " << c.variant << " was not refused";
  } catch (const PluginError& e) {
    const std::string text = e.what();
    EXPECT_TRUE(contains(text, file.string())) << text;
    for (const auto& part : c.expected) EXPECT_TRUE(contains(text, part)) << "missing '" << part << "' in: " << text;
  }
  EXPECT_EQ(registry.size(), before);
  const auto records = manager.plugins();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].state, PluginState::kRefused);
  EXPECT_TRUE(contains(records[0].status(), "refused: "));

  EXPECT_EQ(manager.load(plugin_file("good")).state, PluginState::kLoaded);
  expect_backend_works(registry, "plugtest");
}

// A plugin built for an older minor of the same major loads: minors only add (ABI 2.1
// added recorded_call_arguments and the per-node contract of CallArgumentsLayer).
TEST(PluginManager, LoadsAPluginBuiltForAnOlderMinor) {
  static_assert(STRATA_PLUGIN_ABI_MINOR > 0, "the older_minor test plugin needs a minor below the runtime's");
  Registry registry;
  PluginManager manager(registry);
  const PluginInfo info = manager.load(plugin_file("older_minor"));
  EXPECT_EQ(info.state, PluginState::kLoaded) << info.status();
  EXPECT_EQ(info.abi_major, unsigned{STRATA_PLUGIN_ABI_MAJOR});
  EXPECT_EQ(info.abi_minor, 0u);
}

std::string runtime_abi() {
  return std::to_string(STRATA_PLUGIN_ABI_MAJOR) + "." + std::to_string(STRATA_PLUGIN_ABI_MINOR);
}

INSTANTIATE_TEST_SUITE_P(
    AllChecks, PluginRefusal,
    ::testing::Values(
        RefusalCase{"abi_major", {"built for plugin ABI 9.0", "this runtime speaks " + runtime_abi()}},
        RefusalCase{"abi_minor",
                    {"built for plugin ABI " + std::to_string(kPluginAbiMajor) + "." + std::to_string(kPluginAbiMinor + 1), "this runtime speaks " + runtime_abi(), "needs a newer runtime"}},
        RefusalCase{"toolchain",
                    {"built with toolchain 'gcc99;libstdc++/cxx11abi=0;c++201703L;json3.9.1'",
                     std::string("this runtime was built with '") + runtime_toolchain_tag() + "'"}},
        RefusalCase{"struct_size", {"descriptor is 8 bytes", "needs at least " + std::to_string(kPluginDescriptorMinSize)}},
        RefusalCase{"no_entry", {"does not export the entry point 'strata_plugin_entry'"}},
        RefusalCase{"unresolved", {"dynamic loader", "strata_test_symbol_that_does_not_exist"}},
        RefusalCase{"throws", {"registration failed, nothing was registered",
                               "test plugin failed on purpose while registering"}}),
    [](const auto& info) { return std::string(info.param.variant); });

// The text of the UnknownObjectError that resolving `name` as a layer raises.
std::string unknown_layer_error(Registry& registry, const std::string& name) {
  ObjectResolver resolver(nullptr, &registry);
  EXPECT_EQ(resolver.find_erased(ObjectKind::kLayer, name, {}).value, nullptr);
  try {
    resolver.raise_if_missing();
  } catch (const UnknownObjectError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UnknownObjectError for " << name;
  return {};
}

TEST(PluginManager, UnknownClassErrorNamesRefusedAndShadowedPluginsWithTheirReasons) {
  Registry registry;
  PluginManager manager(registry);
  manager.load(plugin_file("good"));
  manager.load(plugin_file("good_copy"));  // same plugin name: shadowed
  EXPECT_THROW(manager.load(plugin_file("abi_major")), PluginError);
  const std::string text = unknown_layer_error(registry, "pkg_x>NotThere");
  EXPECT_TRUE(contains(text, "Unknown layer: 'pkg_x>NotThere'")) << text;
  // Another ABI major may lay its descriptor out differently: only its version is read, so
  // the refused plugin is named by its path.
  EXPECT_TRUE(contains(text, "? (" + plugin_file("abi_major").string() +
                                 "): refused: built for plugin ABI 9.0; this runtime speaks " + runtime_abi()))
      << text;
  EXPECT_FALSE(contains(text, "test-abi-major")) << text;
  EXPECT_TRUE(contains(text, "(" + plugin_file("good_copy").string() + "): shadowed by " +
                                 plugin_file("good").string()))
      << text;
  EXPECT_FALSE(contains(text, "No plugins are loaded")) << text;
}

TEST(PluginManager, UnknownClassErrorWithNothingLoadedSaysHowToLoadPlugins) {
  Registry registry;
  PluginManager manager(registry);
  std::string text = unknown_layer_error(registry, "Dense");
  EXPECT_TRUE(contains(text, "No plugins are loaded: call strata::initialize()")) << text;
  EXPECT_FALSE(contains(text, "refused")) << text;
  // Everything found refused: still nothing loaded, and the refusal is named.
  EXPECT_THROW(manager.load(plugin_file("toolchain")), PluginError);
  text = unknown_layer_error(registry, "Dense");
  EXPECT_TRUE(contains(text, "No plugins are loaded (every plugin found was refused or shadowed)")) << text;
  EXPECT_TRUE(contains(text, "'test-toolchain'")) << text;
  EXPECT_TRUE(contains(text, "refused: built with toolchain")) << text;
}

TEST(PluginManager, BareNameOfTwoPackagesIsAmbiguousNotUnknown) {
  Registry registry;
  PluginManager manager(registry);
  manager.load(plugin_file("pkg_a"));
  manager.load(plugin_file("pkg_b"));
  ObjectResolver resolver(nullptr, &registry);
  EXPECT_EQ(resolver.find_erased(ObjectKind::kLayer, "SharedName", {}).value, nullptr);
  ASSERT_EQ(resolver.missing().size(), 1u);
  EXPECT_TRUE(resolver.missing()[0].ambiguous);
  const std::string text = unknown_layer_error(registry, "SharedName");
  EXPECT_TRUE(contains(text, "Ambiguous layer: 'SharedName' matches 2 registered classes: "
                             "'pkg_a>SharedName' from 'test-pkg-a', 'pkg_b>SharedName' from 'test-pkg-b'. "
                             "Name one of them in full (package>Name)"))
      << text;
  EXPECT_FALSE(contains(text, "Unknown layer")) << text;
  // The packaged names themselves resolve.
  EXPECT_NE(registry.find_erased(ObjectKind::kLayer, "pkg_a>SharedName").value, nullptr);
}

TEST(PluginManager, DeclaredDependenciesAreListedAndTheMissingOnesNamed) {
  Registry registry;
  PluginManager manager(registry);
  const PluginInfo needs = manager.load(plugin_file("needs"));
  EXPECT_EQ(needs.dependencies, (std::vector<std::string>{"test-good", "test-not-there"}));
  auto missing = manager.missing_dependencies();
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_TRUE(contains(missing[0], "'test-needs' needs 'test-good', which is not loaded")) << missing[0];
  manager.load(plugin_file("good"));
  missing = manager.missing_dependencies();
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_TRUE(contains(missing[0], "'test-needs' needs 'test-not-there'")) << missing[0];
  // A plugin declaring none (STRATA_PLUGIN) lists none.
  EXPECT_TRUE(manager.load(plugin_file("good")).dependencies.empty());
}

TEST(PluginManager, DuplicateNamesAcrossPluginsNameBothAndCommitNothing) {
  Registry registry;
  PluginManager manager(registry);
  manager.load(plugin_file("dup_a"));
  const std::size_t before = registry.size();
  try {
    manager.load(plugin_file("dup_b"));
    FAIL();
  } catch (const PluginError& e) {
    const std::string text = e.what();
    EXPECT_TRUE(contains(text, plugin_file("dup_b").string())) << text;
    EXPECT_TRUE(contains(text, "'test-dup-b' registers layer 'DuplicateLayer'")) << text;
    EXPECT_TRUE(contains(text, "'test-dup-a' already registered")) << text;
  }
  EXPECT_EQ(registry.size(), before);
  EXPECT_FALSE(registry.contains(ObjectKind::kBackend, "dupb"));  // its other entry was not committed
  EXPECT_EQ(registry.find_erased(ObjectKind::kLayer, "DuplicateLayer").provider, "test-dup-a");
}

TEST(PluginManager, SameNameTwiceFirstWinsSecondIsShadowed) {
  Registry registry;
  PluginManager manager(registry);
  manager.load(plugin_file("good"));
  const std::size_t before = registry.size();
  const PluginInfo copy = manager.load(plugin_file("good_copy"));
  EXPECT_EQ(copy.state, PluginState::kShadowed);
  EXPECT_EQ(copy.status(), "shadowed by " + plugin_file("good").string());
  EXPECT_EQ(registry.size(), before);
}

TEST(PluginManager, ProbeSaysPresentButNotUsable) {
  Registry registry;
  PluginManager manager(registry);
  const PluginInfo info = manager.load(plugin_file("unusable"));
  EXPECT_EQ(info.state, PluginState::kLoaded);
  EXPECT_FALSE(info.usable);
  EXPECT_EQ(info.status(), "present, not usable: no test hardware (simulated)");
  EXPECT_TRUE(registry.contains(ObjectKind::kLayer, "UnusableLayer"));
}

TEST(PluginManager, MissingFileIsAPluginErrorNamingIt) {
  Registry registry;
  PluginManager manager(registry);
  try {
    manager.load("/nonexistent/strata-nothing.so");
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_TRUE(contains(e.what(), "/nonexistent/strata-nothing.so")) << e.what();
    EXPECT_TRUE(contains(e.what(), "no such file")) << e.what();
  }
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/strata-plugin-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path subdir(const std::string& name, std::initializer_list<const char*> variants) const {
    fs::path dir = path_ / name;
    fs::create_directories(dir);
    for (const char* v : variants) fs::copy_file(plugin_file(v), dir / plugin_file(v).filename());
    return dir;
  }

 private:
  fs::path path_;
};

TEST(PluginManager, DirectoryLoadingReportsAndSkipsRefusals) {
  TempDir tmp;
  const fs::path dir = tmp.subdir("mixed", {"abi_major", "good", "throws"});
  std::vector<std::string> warnings;
  auto previous = set_log_sink([&](LogLevel l, std::string_view t) {
    if (l == LogLevel::kWarning) warnings.emplace_back(t);
  });
  Registry registry;
  PluginManager manager(registry);
  const auto infos = manager.load_directory(dir);
  set_log_sink(previous);
  ASSERT_EQ(infos.size(), 3u);
  int loaded = 0, refused = 0;
  for (const auto& i : infos) (i.state == PluginState::kLoaded ? loaded : refused)++;
  EXPECT_EQ(loaded, 1);
  EXPECT_EQ(refused, 2);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_TRUE(contains(warnings[0], "strata-test-abi_major.so")) << warnings[0];
  EXPECT_TRUE(contains(warnings[0], "built for plugin ABI 9.0")) << warnings[0];
  expect_backend_works(registry, "plugtest");
  EXPECT_FALSE(registry.contains(ObjectKind::kLayer, "ThrowsLayer"));
}

class EnvGuard {
 public:
  EnvGuard(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~EnvGuard() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(PluginSearchPath, EnvironmentThenDefaultEmptyEntriesIgnored) {
  EnvGuard env("STRATA_PLUGIN_PATH", "/opt/a::/opt/b:");
  const auto path = plugin_search_path();
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(path[0], fs::path("/opt/a"));
  EXPECT_EQ(path[1], fs::path("/opt/b"));
  EXPECT_EQ(path[2], default_plugin_directory());
  EXPECT_EQ(default_plugin_directory(), runtime_library_path().parent_path() / "strata" / "plugins");
  EXPECT_EQ(default_plugin_directory(), fs::path(STRATA_BUILD_PLUGIN_DIR));
}

TEST(PluginSearchPath, CurrentDirectoryIsNeverSearched) {
  TempDir tmp;
  const fs::path here = tmp.subdir("cwd", {"good"});
  const fs::path old = fs::current_path();
  fs::current_path(here);
  {
    EnvGuard env("STRATA_PLUGIN_PATH", ":");
    Registry registry;
    PluginManager manager(registry);
    manager.load_search_path();
    for (const auto& p : manager.plugins()) EXPECT_NE(p.path.parent_path(), here) << p.path;
    EXPECT_FALSE(registry.contains(ObjectKind::kLayer, "TestGoodLayer"));
  }
  fs::current_path(old);
}

TEST(PluginSearchPath, ShadowingFollowsSearchOrder) {
  TempDir tmp;
  const fs::path first = tmp.subdir("first", {"good_copy"});
  const fs::path second = tmp.subdir("second", {"good"});
  EnvGuard env("STRATA_PLUGIN_PATH", first.string() + ":" + second.string());
  Registry registry;
  PluginManager manager(registry);
  manager.load_search_path();
  std::map<std::string, PluginState> states;
  for (const auto& p : manager.plugins()) states[p.path.parent_path().filename().string()] = p.state;
  EXPECT_EQ(states["first"], PluginState::kLoaded);
  EXPECT_EQ(states["second"], PluginState::kShadowed);
}

// Each plugin exports only its entry point(s): hidden visibility plus the version script.
TEST(PluginExports, OnlyEntryPoints) {
  std::vector<fs::path> files;
  for (const auto& dir : {fs::path(STRATA_TEST_PLUGIN_ROOT), fs::path(STRATA_BUILD_PLUGIN_DIR)}) {
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.path().extension() == ".so") files.push_back(e.path());
    }
  }
  ASSERT_GE(files.size(), 12u);
  const std::set<std::string> allowed = {"strata_plugin_entry", "strata_plugin_probe"};
  for (const auto& f : files) {
    const std::string out = run("nm -D --defined-only '" + f.string() + "' 2>&1");
    std::set<std::string> symbols;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      const auto space = line.rfind(' ');
      if (space != std::string::npos) symbols.insert(line.substr(space + 1));
    }
    for (const auto& s : symbols) EXPECT_TRUE(allowed.count(s)) << f << " exports " << s;
    if (f.filename() != "strata-test-no_entry.so") {
      EXPECT_TRUE(symbols.count("strata_plugin_entry")) << f << ": " << out;
    }
  }
}

TEST(PluginManager, GlobalPluginBackendServesTensors) {
  PluginManager::global().load(plugin_file("good"));
  Tensor t = Tensor::from_vector<float>({1, 2, 3}, Shape{3}, Device("plugtest:0"));
  EXPECT_EQ(t.device(), Device("plugtest:0"));
  EXPECT_EQ(t.to(Device::cpu()).to_vector<float>(), (std::vector<float>{1, 2, 3}));
}

TEST(Cli, PluginsListsStatusesAndEntries) {
  TempDir tmp;
  const fs::path first = tmp.subdir("first", {"good", "abi_major", "unusable", "needs"});
  const fs::path second = tmp.subdir("second", {"good_copy"});
  const std::string out = run("STRATA_PLUGIN_PATH='" + first.string() + ":" + second.string() + "' " +
                              STRATA_CLI_PATH + " plugins --verbose 2>/dev/null");
  EXPECT_TRUE(contains(out, first.string() + "  (STRATA_PLUGIN_PATH)")) << out;
  EXPECT_TRUE(contains(out, "test-good")) << out;
  EXPECT_TRUE(contains(out, "loaded")) << out;
  EXPECT_TRUE(contains(out, "refused: built for plugin ABI 9.0; this runtime speaks")) << out;
  EXPECT_TRUE(contains(out, "shadowed by " + (first / "strata-test-good.so").string())) << out;
  EXPECT_TRUE(contains(out, "present, not usable: no test hardware (simulated)")) << out;
  EXPECT_TRUE(contains(out, "layer (1): TestGoodLayer")) << out;
  EXPECT_TRUE(contains(out, "backend (1): cpu")) << out;  // the runtime's built-in entry
  EXPECT_TRUE(contains(out, "plugtest:0")) << out;        // devices of loaded backends
  EXPECT_TRUE(contains(out, "needs: test-good test-not-there (not loaded)")) << out;
  const std::string version = run(std::string(STRATA_CLI_PATH) + " --version");
  EXPECT_TRUE(contains(version, std::string("strata ") + runtime_version())) << version;
  EXPECT_TRUE(contains(version, runtime_toolchain_tag())) << version;
}

TEST(Cli, ExplicitRefusedPluginIsOneLineErrorAndNonZeroExit) {
  const std::string cmd = std::string(STRATA_CLI_PATH) + " --plugin " + plugin_file("abi_major").string() +
                          " plugins 2>&1 >/dev/null; echo \"rc=$?\"";
  const std::string out = run(cmd);
  EXPECT_TRUE(contains(out, "strata: error: PluginError: cannot load plugin '" + plugin_file("abi_major").string())) << out;
  EXPECT_TRUE(contains(out, "rc=1")) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
}

}  // namespace
}  // namespace strata
