// Which format a save or load picks, decided only by what the loaded formats declare
// (issue 17): the shipped formats' claims give the Keras saving guide's rules; a test
// plugin's claims are used like the shipped ones; two test plugins claiming one extension
// for the same use are a PluginError naming both; the messages list the claims and say
// what to do. Expected formats come from the Keras guide (.h5/.hdf5/.keras → H5, .json →
// architecture, no extension → SavedModel for a model and a TF checkpoint for weights).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "strata/strata.hpp"

namespace fs = std::filesystem;

namespace strata {
namespace {

class FormatSelection : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    initialize();  // the build's plugin directory: the shipped format plugins
    PluginManager::global().load(STRATA_TEST_FORMAT_A);
    PluginManager::global().load(STRATA_TEST_FORMAT_B);
  }

  static fs::path dir() {
    static const fs::path d = [] {
      fs::path p = fs::temp_directory_path() / ("strata_format_selection_" + std::to_string(::getpid()));
      fs::create_directories(p);
      return p;
    }();
    return d;
  }
  static std::string saving_model(const std::string& file) { return format_for_saving(dir() / file, "", false)->name(); }
  static std::string saving_weights(const std::string& file) { return format_for_saving(dir() / file, "", true)->name(); }
};

// The message of the error `f` throws as E; fails the test when it throws nothing or else.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "nothing thrown";
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define EXPECT_CONTAINS(text, part) EXPECT_TRUE(contains(text, part)) << "'" << (part) << "' missing in: " << (text)
#define EXPECT_LACKS(text, part) EXPECT_FALSE(contains(text, part)) << "'" << (part) << "' unexpected in: " << (text)

TEST_F(FormatSelection, ShippedFormatsClaimTheKerasExtensions) {
  EXPECT_EQ(saving_model("m.h5"), "h5");
  EXPECT_EQ(saving_model("m.hdf5"), "h5");
  // Keras 3 (and tf-keras since 2.13): ".keras" is the zip archive, format-keras's.
  EXPECT_EQ(saving_model("m.keras"), "keras");
  EXPECT_EQ(saving_model("M.H5"), "h5");  // extensions compare lower-case
  EXPECT_EQ(saving_model("m.json"), "json");
  EXPECT_EQ(saving_model("m"), "savedmodel");
  EXPECT_EQ(saving_weights("w.h5"), "h5");
  // Keras 3's weights files: the longest claim wins (".weights.h5" over ".h5").
  EXPECT_EQ(saving_weights("w.weights.h5"), "keras");
  EXPECT_EQ(saving_weights("W.Weights.H5"), "keras");
  EXPECT_EQ(saving_weights("w.weights.json"), "keras");
  EXPECT_EQ(saving_weights("xweights.h5"), "h5");  // the claim is ".weights.h5", dot included
  EXPECT_EQ(saving_weights("w"), "checkpoint");
  EXPECT_EQ(saving_weights("w.ckpt"), "checkpoint");
}

TEST_F(FormatSelection, KerasExtensionIsNeverHdf5WhenSavingButAnHdf5FileNamedKerasLoads) {
  // Keras 3 refuses save_weights to ".keras"; so does Strata (no weights claim).
  const std::string weights = message_of<ValueError>([] { (void)format_for_saving(dir() / "w.keras", "", true); });
  EXPECT_CONTAINS(weights, "format 'keras' claims '.keras' for models");
  // A legacy H5 file named ".keras" (Keras 2.x up to 2.12) loads by its content.
  std::ofstream(dir() / "legacy.keras", std::ios::binary) << std::string("\x89HDF\r\n\x1a\n", 8) << "rest";
  EXPECT_EQ(format_for_loading(dir() / "legacy.keras", "", false)->name(), "h5");
}

TEST_F(FormatSelection, APluginsClaimsChooseItsFormat) {
  EXPECT_EQ(saving_weights("w.tfa"), "testfmt_a");
  // testfmt_b declares only the old extensions() list: split by its capabilities.
  EXPECT_EQ(saving_weights("w.tfb"), "testfmt_b");
  EXPECT_EQ(saving_model("m.tfb"), "testfmt_b");
  // Claims are per use: testfmt_a claims .tfx for models only, so for weights only
  // testfmt_b claims it.
  EXPECT_EQ(saving_weights("w.tfx"), "testfmt_b");
}

TEST_F(FormatSelection, TwoFormatsClaimingOneExtensionForOneUseIsAPluginErrorNamingBoth) {
  const std::string saving = message_of<PluginError>([] { (void)format_for_saving(dir() / "m.tfx", "", false); });
  for (const char* part : {"'testfmt_a' (plugin test-format-a)", "'testfmt_b' (plugin test-format-b)",
                           "both claim the extension '.tfx' for models", "remove one of the two plugins",
                           "name the format explicitly"}) {
    EXPECT_CONTAINS(saving, part);
  }
  // Loading falls back to the same claims when no sniffer recognises the file.
  std::ofstream(dir() / "m.tfx") << "neither format's content";
  const std::string loading = message_of<PluginError>([] { (void)format_for_loading(dir() / "m.tfx", "", false); });
  EXPECT_CONTAINS(loading, "test-format-a");
  EXPECT_CONTAINS(loading, "test-format-b");
  // An explicit format name still chooses.
  EXPECT_EQ(format_for_saving(dir() / "m.tfx", "testfmt_a", false)->name(), "testfmt_a");
}

TEST_F(FormatSelection, NoFormatHandlesListsTheClaimsForThatUse) {
  const std::string models = message_of<ValueError>([] { (void)format_for_saving(dir() / "x.foo", "", false); });
  EXPECT_CONTAINS(models, "no format handles '" + (dir() / "x.foo").string() + "' (extension '.foo') for models");
  for (const char* part : {"'.h5' (h5)", "'.hdf5' (h5)", "'.keras' (keras)", "'.json' (json)",
                           "(no extension) (savedmodel)", "'.tfx' (testfmt_a)", "strata plugins --verbose"}) {
    EXPECT_CONTAINS(models, part);
  }
  EXPECT_LACKS(models, "'.ckpt'");  // a weights claim
  EXPECT_LACKS(models, "'.tfa'");

  const std::string weights = message_of<ValueError>([] { (void)format_for_saving(dir() / "x.foo", "", true); });
  for (const char* part : {"for weights", "'.h5' (h5)", "'.weights.h5' (keras)", "(no extension) (checkpoint)",
                           "'.ckpt' (checkpoint)", "'.tfa' (testfmt_a)"}) {
    EXPECT_CONTAINS(weights, part);
  }
  EXPECT_LACKS(weights, "'.json'");
}

TEST_F(FormatSelection, AClaimForTheOtherUseIsNamedWithTheCallThatFits) {
  // Keras: save_weights("w.json") is not a thing; the JSON format holds architectures.
  const std::string json = message_of<ValueError>([] { (void)format_for_saving(dir() / "w.json", "", true); });
  EXPECT_CONTAINS(json, "for weights; format 'json' claims '.json' for models (save_model/load_model)");
  const std::string tfa = message_of<ValueError>([] { (void)format_for_saving(dir() / "m.tfa", "", false); });
  EXPECT_CONTAINS(tfa, "format 'testfmt_a' claims '.tfa' for weights (save_weights/load_weights");
  EXPECT_CONTAINS(tfa, "--weights-into");
}

TEST_F(FormatSelection, AFormatThatIsNotLoadedNamesNoPluginButSaysHowToFindOne) {
  const std::string text = message_of<ValueError>([] { (void)get_format("onnx"); });
  EXPECT_CONTAINS(text, "format 'onnx' is not available");
  EXPECT_CONTAINS(text, "h5 (format-h5)");  // what IS loaded, with its provider
  EXPECT_CONTAINS(text, "Load the plugin that provides 'onnx'");
  EXPECT_CONTAINS(text, "`strata plugins`");
  const std::string typo = message_of<ValueError>([] { (void)get_format("h6"); });
  EXPECT_CONTAINS(typo, "did you mean 'h5'");
}

TEST_F(FormatSelection, AWeightsOnlyFormatCannotSaveOrLoadModelsAndSaysWhatDoes) {
  const auto model = std::make_shared<Sequential>();
  SaveOptions save;
  save.format = "checkpoint";
  const std::string saving = message_of<ValueError>([&] { save_model(*model, dir() / "m", save); });
  EXPECT_CONTAINS(saving, "format 'checkpoint' cannot save models; it holds weights only: save them with save_weights");
  EXPECT_CONTAINS(saving, "strata convert IN OUT --weights-into ARCHITECTURE");
  LoadOptions load;
  load.format = "checkpoint";
  const std::string loading = message_of<ValueError>([&] { (void)load_model(dir() / "m", load); });
  EXPECT_CONTAINS(loading, "format 'checkpoint' cannot load models; it holds weights only");
  EXPECT_CONTAINS(loading, "load_weights");
}

TEST_F(FormatSelection, AnArchitectureFormatCannotSaveWeightsAndSaysWhatDoes) {
  const auto model = std::make_shared<Sequential>();
  SaveOptions save;
  save.format = "json";
  const std::string text = message_of<ValueError>([&] { save_weights(*model, dir() / "w.json", save); });
  EXPECT_CONTAINS(text, "format 'json' cannot save weights; it holds models or architectures, not weights alone: use "
                        "save_model/load_model");
}

int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) output.append(buf.data(), n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(FormatCli, PluginsVerboseListsEachFormatsClaimsAndCapabilities) {
  std::string out;
  ASSERT_EQ(run_command(std::string("'") + STRATA_CLI_PATH + "' --plugin '" + STRATA_TEST_FORMAT_A +
                            "' plugins --verbose",
                        out),
            0)
      << out;
  for (const char* line : {
           "format h5: models .h5 .hdf5; weights .h5 .hdf5; can save-model, load-model, save-weights, "
           "load-weights, load-architecture\n",
           "format keras: models .keras; weights .weights.h5 .weights.json; can save-model, load-model, "
           "save-weights, load-weights, load-architecture\n",
           "format json: models .json; weights (none); can save-architecture, load-architecture\n",
           "format savedmodel: models (no extension); weights (none); can save-model, load-model, "
           "load-architecture\n",
           "format checkpoint: models (none); weights (no extension) .ckpt; can save-weights, load-weights\n",
           "format testfmt_a: models .tfx; weights .tfa; can save-weights, load-weights, save-architecture, "
           "load-architecture\n"}) {
    EXPECT_CONTAINS(out, line);
  }
}

TEST(FormatCli, ConvertToAWeightsOnlyExtensionSaysWeightsIntoBeforeReadingTheInput) {
  std::string out;
  const fs::path missing = fs::temp_directory_path() / "strata_no_such_model.h5";
  const int rc = run_command(std::string("'") + STRATA_CLI_PATH + "' --plugin '" + STRATA_TEST_FORMAT_A +
                                 "' convert '" + missing.string() + "' out.tfa",
                             out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_CONTAINS(out, "strata: error: ValueError: no format handles 'out.tfa' (extension '.tfa') for models");
  EXPECT_CONTAINS(out, "--weights-into");
  EXPECT_LACKS(out, "does not exist");  // the output was checked first
}

TEST(FormatCli, ConvertIntoAWeightsOnlyFormatByNameSaysWeightsInto) {
  std::string out;
  const fs::path missing = fs::temp_directory_path() / "strata_no_such_model.h5";
  const int rc = run_command(std::string("'") + STRATA_CLI_PATH + "' convert '" + missing.string() +
                                 "' out_ckpt --format checkpoint",
                             out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_CONTAINS(out, "strata: error: ValueError: format 'checkpoint' cannot save models; it holds weights only: "
                       "convert weights with --weights-into ARCHITECTURE");
  EXPECT_LACKS(out, "does not exist");
}

}  // namespace
}  // namespace strata
