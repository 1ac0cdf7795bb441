// Issue 20, error hygiene: a failing command writes exactly one stderr line (docs/CLI.md:
// "strata: error: <Kind>: ..."), which names the file, is bounded, and holds no raw control
// byte; no protobuf log lines before it, no "HDF5: infinite loop closing library" after it.
// The bad files are generated here from good ones (a committed tf-keras H5 and SavedModel,
// models saved by Strata), not committed.
#include <cstdlib>
#include <sstream>

#include "cli_test_util.hpp"
#include "strata/saving.hpp"

namespace strata::clitest {
namespace {

const fs::path kData = STRATA_TEST_DATA_DIR;
// A message may name two paths and a few "while ..." frames besides the echoed bytes.
constexpr std::size_t kMaxLine = 1500;

struct CliRun {
  int status = -1;
  std::string err;
};

// Runs `strata ARGS` with stdout discarded and stderr kept apart.
CliRun run_cli(const std::string& args, const fs::path& dir) {
  const fs::path err = dir / "stderr.txt";
  const int rc = std::system((cli() + " " + args + " >/dev/null 2>" + q(err)).c_str());
  CliRun r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream in(err, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  r.err = s.str();
  return r;
}

std::string shown(const std::string& text) {
  std::string out;
  for (const char ch : text.substr(0, 3000)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
      out += ch;
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "<%02x>", c);
      out += b;
    }
  }
  return out;
}

// The one-line error contract, and that the line names `file`.
void expect_one_error_line(const CliRun& r, const std::string& file, const std::string& what) {
  SCOPED_TRACE(what + ": stderr was\n" + shown(r.err));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.err), 1u);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_EQ(r.err.rfind("strata: error: ", 0), 0u);
  EXPECT_NE(r.err.find(file), std::string::npos) << "the error does not name " << file;
  EXPECT_LE(r.err.size(), kMaxLine);
  for (std::size_t i = 0; i + 1 < r.err.size(); ++i) {
    const auto c = static_cast<unsigned char>(r.err[i]);
    ASSERT_TRUE(c >= 0x20 && c != 0x7f) << "raw control byte " << int(c) << " at " << i;
  }
  EXPECT_EQ(r.err.find("libprotobuf"), std::string::npos);
  EXPECT_EQ(r.err.find("infinite loop"), std::string::npos);
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A .npy v1.0 file with `header` as its header text (padded) and `data` after it.
std::string npy_with_header(std::string header, const std::string& data) {
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  return out + header + data;
}

class CliErrorHygiene : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

// HDF5 damage in the optimizer weights' object header: HDF5's own error path leaks free-list
// blocks there, and its at-exit clean-up then printed "HDF5: infinite loop closing library"
// and a line of package names after the command's output; its error stack went whole into
// the message. Overwrites 32 bytes with 0xff at offsets around that header in the committed
// tf-keras fixture (21040 is one that leaks).
TEST_F(CliErrorHygiene, DamagedH5GivesOneLineAndNothingAfter) {
  const std::string good = read_bytes(kData / "h5" / "functional_shared.h5");
  ASSERT_GT(good.size(), 21200u);
  int failed = 0;
  for (std::size_t at = 21024; at <= 21056; at += 8) {
    std::string bad = good;
    for (std::size_t i = at; i < at + 32; ++i) bad[i] = '\xff';
    const fs::path file = dir_ / ("damaged_" + std::to_string(at) + ".h5");
    write_bytes(file, bad);
    const CliRun r = run_cli("info " + q(file), dir_);
    // `info` describes what it can (exit 0, nothing on stderr) or fails with one line.
    if (r.status == 0) {
      EXPECT_EQ(r.err, "") << "offset " << at << ": " << shown(r.err);
      continue;
    }
    ++failed;
    expect_one_error_line(r, file.string(), "info of H5 damaged at " + std::to_string(at));
  }
  std::cout << failed << " of 5 damaged H5 files failed to load\n";
}

// HDF5's error stack is cut to its first clause: a truncated file.
TEST_F(CliErrorHygiene, TruncatedH5NamesTheFileAndOneHdf5Clause) {
  const std::string good = read_bytes(kData / "h5" / "functional_shared.h5");
  const fs::path file = dir_ / "truncated.h5";
  write_bytes(file, good.substr(0, good.size() / 2));
  const CliRun r = run_cli("info " + q(file), dir_);
  expect_one_error_line(r, file.string(), "info of a truncated H5");
  const auto hdf5 = r.err.find("HDF5: ");
  ASSERT_NE(hdf5, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(';', hdf5), std::string::npos) << "more than one HDF5 clause: " << r.err;
}

// A SavedModel whose saved_model.pb has a string field with invalid UTF-8: protobuf logged
// "[libprotobuf ERROR ...] String field ... contains invalid UTF-8" to stderr first.
TEST_F(CliErrorHygiene, InvalidUtf8InSavedModelProtobufLogsNothing) {
  const fs::path sm = dir_ / "sm";
  fs::copy(kData / "savedmodel" / "gelu_dense", sm, fs::copy_options::recursive);
  std::string pb = read_bytes(sm / "saved_model.pb");
  const auto at = pb.find("serving_default");
  ASSERT_NE(at, std::string::npos);
  pb[at] = '\xff';
  write_bytes(sm / "saved_model.pb", pb);
  for (const char* name : {"info", "convert"}) {
    const std::string command = name;
    const std::string args = command == "info" ? "info " + q(sm) : "convert " + q(sm) + " " + q(dir_ / "out.h5");
    const CliRun r = run_cli(args, dir_);
    expect_one_error_line(r, (sm / "saved_model.pb").string(), command + " of a SavedModel with invalid UTF-8");
  }
}

// The same in keras_metadata.pb: `info` still describes the model (the metadata is read
// again from the graph), with no protobuf lines on stderr.
TEST_F(CliErrorHygiene, InvalidUtf8InKerasMetadataLogsNothing) {
  const fs::path sm = dir_ / "sm";
  fs::copy(kData / "savedmodel" / "gelu_dense", sm, fs::copy_options::recursive);
  std::string pb = read_bytes(sm / "keras_metadata.pb");
  const auto at = pb.find("\"class_name\"");
  ASSERT_NE(at, std::string::npos);
  pb[at + 1] = '\xff';
  write_bytes(sm / "keras_metadata.pb", pb);
  const CliRun r = run_cli("info " + q(sm), dir_);
  EXPECT_EQ(r.err.find("libprotobuf"), std::string::npos) << shown(r.err);
  if (r.status != 0) expect_one_error_line(r, sm.string(), "info of a SavedModel with bad metadata");
}

// Keras casts a Functional model's inputs to its Input layers' dtypes: an int32 .npy predicts
// like the same values in float32. An int32 array of the wrong shape names its file.
TEST_F(CliErrorHygiene, Int32NpyInputsPredictAndTheirErrorsNameTheFile) {
  const fs::path model = kData / "h5" / "functional_shared.h5";
  std::vector<std::int32_t> ints(10);
  std::vector<float> floats(10);
  for (int i = 0; i < 10; ++i) {
    ints[static_cast<std::size_t>(i)] = i - 4;
    floats[static_cast<std::size_t>(i)] = static_cast<float>(i - 4);
  }
  write_npy(dir_ / "xi.npy", Tensor::from_vector<std::int32_t>(ints, Shape{2, 5}));
  write_npy(dir_ / "xf.npy", Tensor::from_vector<float>(floats, Shape{2, 5}));
  std::string out;
  ASSERT_EQ(run_strata("predict " + q(model) + " --input " + q(dir_ / "xi.npy") + " --input " + q(dir_ / "xi.npy") +
                           " --output " + q(dir_ / "yi.npy"),
                       out),
            0)
      << out;
  ASSERT_EQ(run_strata("predict " + q(model) + " --input " + q(dir_ / "xf.npy") + " --input " + q(dir_ / "xf.npy") +
                           " --output " + q(dir_ / "yf.npy"),
                       out),
            0)
      << out;
  EXPECT_EQ(read_npy(dir_ / "yi.npy").to_vector<float>(), read_npy(dir_ / "yf.npy").to_vector<float>());

  write_npy(dir_ / "wide.npy", Tensor::from_vector<std::int32_t>(std::vector<std::int32_t>(14, 1), Shape{2, 7}));
  const CliRun r = run_cli("predict " + q(model) + " --input " + q(dir_ / "wide.npy") + " --input " +
                            q(dir_ / "xi.npy") + " --output " + q(dir_ / "y.npy"),
                        dir_);
  expect_one_error_line(r, (dir_ / "wide.npy").string(), "predict on an int32 array of the wrong shape");
}

// "dtype": "string" on layers with weights: a ValueError about the config, naming the layer
// and the file, not an initializer's complaint.
TEST_F(CliErrorHygiene, StringDtypeInAConfigIsAConfigError) {
  const fs::path json = dir_ / "arch.json";
  save_model(*load_model(kData / "h5" / "functional_shared.h5"), json);
  std::string text = read_bytes(json);
  std::size_t replaced = 0;
  for (std::size_t at = text.find("\"float32\""); at != std::string::npos; at = text.find("\"float32\"", at)) {
    text.replace(at, 9, "\"string\"");
    ++replaced;
  }
  ASSERT_GT(replaced, 0u);
  const fs::path bad = dir_ / "string_dtype.json";
  write_bytes(bad, text);
  const CliRun r = run_cli("convert " + q(bad) + " " + q(dir_ / "out.h5"), dir_);
  expect_one_error_line(r, bad.string(), "convert of a config with dtype string");
  EXPECT_NE(r.err.find("ValueError"), std::string::npos);
  EXPECT_NE(r.err.find("dtype \"string\" in its config"), std::string::npos);
}

// Long binary garbage a message echoes: a .npy header, a JSON token, a class name. At most
// kMaxFileTextBytes of it, escaped.
TEST_F(CliErrorHygiene, EchoedFileBytesAreBoundedAndEscaped) {
  std::mt19937 rng(20);
  std::string garbage(6000, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng() & 0xff);
  const fs::path model = kData / "h5" / "functional_shared.h5";

  const fs::path npy = dir_ / "garbage.npy";
  write_bytes(npy, npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5), 'junk': '" +
                                       garbage.substr(0, 4000),
                                   std::string(40, '\0')));
  CliRun r = run_cli("predict " + q(model) + " --input " + q(npy) + " --input " + q(npy) + " --output " +
                      q(dir_ / "y.npy"),
                  dir_);
  expect_one_error_line(r, npy.string(), "predict on a .npy with a garbage header");
  EXPECT_NE(r.err.find("bytes)"), std::string::npos) << "the echo does not say it was cut: " << r.err;

  const fs::path json = dir_ / "arch.json";
  save_model(*load_model(model), json);
  const std::string good = read_bytes(json);
  const fs::path bad_json = dir_ / "garbage.json";
  write_bytes(bad_json, good.substr(0, 200) + garbage);
  r = run_cli("info " + q(bad_json), dir_);
  expect_one_error_line(r, bad_json.string(), "info of JSON with garbage");

  // A class name of 3000 characters, many of them control bytes (escaped in the JSON text).
  std::string name;
  for (int i = 0; i < 3000; ++i) name += i % 3 == 0 ? "\\u001b" : "x";
  std::string text = good;
  const auto at = text.find("\"class_name\": \"Dense\"");
  ASSERT_NE(at, std::string::npos) << text.substr(0, 300);
  text.replace(at, 21, "\"class_name\": \"" + name + "\"");
  const fs::path long_name = dir_ / "long_class.json";
  write_bytes(long_name, text);
  r = run_cli("convert " + q(long_name) + " " + q(dir_ / "out.h5"), dir_);
  expect_one_error_line(r, long_name.string(), "convert of a config with a long class name");
}

}  // namespace
}  // namespace strata::clitest
