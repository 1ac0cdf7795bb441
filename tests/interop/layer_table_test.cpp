// docs/LAYERS.md lists every layer class tf_keras.layers exports with its state in Strata;
// this keeps the table true both ways: against the registry (always) and against
// dir(tf_keras.layers) (with the interop venv).
//   supported / alias  the class is registered (a config naming it loads);
//   refused            not registered, and a config naming it is an UnknownObjectError that
//                      names the class and says how to supply it;
//   not yet / base     not registered (a later issue, or an abstract base class).
// Every layer class the registry holds under Keras's module is in one of the two tables, so
// a new class cannot land without its row.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "interop_venv.hpp"
#include "strata/error.hpp"
#include "strata/model.hpp"
#include "strata/registry.hpp"
#include "strata/runtime.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

struct Row {
  std::string state;
  int table = 0;  // 1: exported by tf_keras.layers; 2: written into files by tf-keras, not exported
};

std::map<std::string, Row> read_table() {
  std::ifstream in(fs::path(STRATA_SOURCE_DIR) / "docs" / "LAYERS.md");
  EXPECT_TRUE(in.good()) << "docs/LAYERS.md is missing";
  static const std::regex row(R"(^\| `([A-Za-z0-9_]+)` \| (supported|alias|refused|not yet|base) \|)");
  std::map<std::string, Row> out;
  int table = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) ++table;
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    EXPECT_EQ(out.count(m[1]), 0u) << m[1] << " is listed twice";
    out[m[1]] = Row{m[2], table};
  }
  return out;
}

TEST(LayerTable, AgreesWithTheRegistry) {
  initialize();
  const auto table = read_table();
  ASSERT_GT(table.size(), 100u) << "docs/LAYERS.md has too few rows: is the table format unchanged?";
  for (const auto& [name, row] : table) {
    const bool registered = Registry::global().contains(ObjectKind::kLayer, name);
    if (row.state == "supported" || row.state == "alias") {
      EXPECT_TRUE(registered) << name << " is '" << row.state << "' in docs/LAYERS.md but no loaded plugin registers it";
    } else {
      EXPECT_FALSE(registered) << name << " is '" << row.state << "' in docs/LAYERS.md but is registered (update the row)";
    }
    if (row.state == "refused") {
      const Config config = {{"class_name", "Sequential"},
                             {"config", {{"name", "s"}, {"layers", {{{"class_name", name}, {"config", {{"name", "x"}}}}}}}}};
      try {
        (void)model_from_config(config);
        ADD_FAILURE() << name << " is 'refused' but a config naming it loaded";
      } catch (const UnknownObjectError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find(name), std::string::npos) << m;
        EXPECT_NE(m.find("plugin"), std::string::npos) << name << ": the error should say how to supply it: " << m;
      }
    }
  }
  for (const auto& e : Registry::global().entries(ObjectKind::kLayer)) {
    // Keras's own classes (keras.layers, and tf_keras modules such as TFOpLambda's); custom
    // classes of test plugins have no module.
    if (e.module.rfind("keras", 0) != 0 && e.module.rfind("tf_keras", 0) != 0) continue;
    if (e.module.rfind("keras.src.ops.", 0) == 0) continue;  // Keras 3's op classes: OpTableAgreesWithTheRegistry
    EXPECT_EQ(table.count(e.name), 1u) << e.name << " (plugin " << e.provider
                                        << ") is registered as a Keras layer but has no row in docs/LAYERS.md";
  }
}

// Keras 3's op classes (registered as "keras.src.ops.numpy>Add") are the rows
// "| `keras.src.ops.numpy.Add` | supported |" of docs/LAYERS.md's last table, both ways.
TEST(LayerTable, OpTableAgreesWithTheRegistry) {
  initialize();
  std::ifstream in(fs::path(STRATA_SOURCE_DIR) / "docs" / "LAYERS.md");
  ASSERT_TRUE(in.good());
  static const std::regex row(R"(^\| `(keras\.src\.ops\.[a-z]+)\.([A-Za-z0-9_]+)` \| supported \|)");
  std::set<std::string> listed;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) {
      const std::string name = m[1].str() + ">" + m[2].str();
      EXPECT_TRUE(listed.insert(name).second) << name << " is listed twice";
      EXPECT_TRUE(Registry::global().contains(ObjectKind::kLayer, name)) << name << " is listed but not registered";
    }
  }
  std::size_t registered = 0;
  for (const auto& e : Registry::global().entries(ObjectKind::kLayer)) {
    if (e.module.rfind("keras.src.ops.", 0) != 0) continue;
    ++registered;
    EXPECT_EQ(listed.count(e.name), 1u) << e.name << " is registered but has no row in docs/LAYERS.md";
  }
  EXPECT_EQ(listed.size(), registered);
}

TEST(LayerTable, ListsEveryClassTfKerasExports) {
  const fs::path python = test::interop_venv() / "bin" / "python";
  if (!fs::exists(python)) GTEST_SKIP() << "no tf-keras venv at " << test::interop_venv();
  const std::string command = "'" + python.string() + "' '" + STRATA_LIST_KERAS_LAYERS + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string text;
  std::array<char, 4096> buffer{};
  for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) text.append(buffer.data(), n);
  ASSERT_EQ(::pclose(pipe), 0) << text;
  std::set<std::string> exported;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    if (!l.empty() && l[0] != '#') exported.insert(l);
  }
  ASSERT_GT(exported.size(), 100u) << text;
  std::set<std::string> first_table;
  for (const auto& [name, row] : read_table()) {
    if (row.table == 1) first_table.insert(name);
  }
  for (const auto& n : exported) EXPECT_EQ(first_table.count(n), 1u) << "tf_keras.layers." << n << " has no row in docs/LAYERS.md";
  for (const auto& n : first_table) EXPECT_EQ(exported.count(n), 1u) << n << " is in the first table but tf_keras.layers has no such class";
}

}  // namespace
}  // namespace strata
