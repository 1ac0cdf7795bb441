// The tests' .npy reader and writer against bytes numpy 1.26 wrote (np.save). For these
// shapes numpy's header is 118 bytes - the dict text, spaces, '\n' - so the data starts
// at byte 128, a multiple of 64.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

#include "npy.hpp"
#include "strata/error.hpp"
#include "strata/tensor.hpp"

namespace strata::testing {
namespace {

namespace fs = std::filesystem;

// magic, version, header length, header padded with spaces to 117 bytes, '\n', data.
std::string numpy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  header.append(117 - dict.size(), ' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  if (major == 1) {
    out += std::string("\x76\x00", 2);
  } else {  // 4-byte length: the header is then 2 bytes shorter to keep the alignment
    header.erase(header.size() - 3, 2);
    out += std::string("\x74\x00\x00\x00", 4);
  }
  return out + header + data;
}

const std::string kFloat32Dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
// [[1.5, -2, 0.25], [4, 5, -6]]
const std::string kFloat32Data("\x00\x00\xc0\x3f\x00\x00\x00\xc0\x00\x00\x80\x3e\x00\x00\x80\x40\x00\x00\xa0\x40\x00\x00\xc0\xc0",
                               24);

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("strata-npy-test-" + std::to_string(::getpid()) + "-" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path file_with(const std::string& name, const std::string& bytes) const {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  static std::string contents(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

TEST_F(NpyTest, ReadsFloat32Matrix) {
  const Tensor t = read_npy(file_with("a.npy", numpy_bytes(kFloat32Dict, kFloat32Data)));
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.device(), Device::cpu());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, -2.f, 0.25f, 4.f, 5.f, -6.f}));
}

// read_npy_mapped: the file's pages, mapped privately, owned by the tensors made from them.
bool mapped(const fs::path& path) {
  std::ifstream maps("/proc/self/maps");
  const std::string text{std::istreambuf_iterator<char>(maps), std::istreambuf_iterator<char>()};
  return text.find(fs::canonical(path).string()) != std::string::npos;
}

TEST_F(NpyTest, MappedArraysReadTheFileInPlaceAndUnmapWithTheirLastTensor) {
  const fs::path path = file_with("m.npy", numpy_bytes(kFloat32Dict, kFloat32Data));
  Tensor t = read_npy_mapped(path);
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, -2.f, 0.25f, 4.f, 5.f, -6.f}));
  EXPECT_TRUE(mapped(path)) << "the tensor is not a mapping of the file";
  Tensor copy = t;
  t = Tensor();
  EXPECT_TRUE(mapped(path)) << "unmapped while a tensor still uses it";
  // A write lands in a private copy of the page, never in the file.
  static_cast<float*>(copy.mutable_data())[0] = 42.f;
  EXPECT_EQ(copy.to_vector<float>()[0], 42.f);
  EXPECT_EQ(read_npy(path).to_vector<float>()[0], 1.5f);
  copy = Tensor();
  EXPECT_FALSE(mapped(path)) << "still mapped after the last tensor went";
}

TEST_F(NpyTest, MappedReadsWhatItCannotMapAndRefusesWhatReadRefuses) {
  // bool arrays are checked element by element: read, not mapped
  const fs::path bools = file_with("b.npy", numpy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                                          std::string("\x01\x00\x01", 3)));
  const Tensor b = read_npy_mapped(bools);
  EXPECT_EQ(b.dtype(), DType::kBool);
  std::vector<std::uint8_t> values(3);
  b.copy_to_host(values.data(), 3);
  EXPECT_EQ(values, (std::vector<std::uint8_t>{1, 0, 1}));
  EXPECT_FALSE(mapped(bools));
  // a truncated file is the FormatError read_npy gives, and nothing stays mapped
  const fs::path cut = file_with("cut.npy", numpy_bytes(kFloat32Dict, kFloat32Data.substr(0, 20)));
  EXPECT_THROW(read_npy_mapped(cut), FormatError);
  EXPECT_FALSE(mapped(cut));
  EXPECT_THROW(read_npy_mapped(dir_ / "missing.npy"), IOError);
}

TEST_F(NpyTest, ReadsEveryDtype) {
  const Tensor i64 = read_npy(file_with(
      "i64.npy", numpy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", std::string("\x07\0\0\0\0\0\0\0", 8))));
  EXPECT_EQ(i64.dtype(), DType::kInt64);
  EXPECT_EQ(i64.shape(), Shape{});
  EXPECT_EQ(i64.item<std::int64_t>(), 7);

  const Tensor b = read_npy(file_with(
      "b.npy", numpy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x01\x00\x01", 3))));
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.shape(), (Shape{3}));
  std::vector<std::uint8_t> bools(3);
  b.copy_to_host(bools.data(), 3);
  EXPECT_EQ(bools, (std::vector<std::uint8_t>{1, 0, 1}));

  const Tensor u8 = read_npy(file_with(
      "u8.npy", numpy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", "\x01\x02\x03\x04")));
  EXPECT_EQ(u8.dtype(), DType::kUInt8);
  EXPECT_EQ(u8.to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{1, 2, 3, 4}));

  const Tensor f64 = read_npy(file_with(
      "f64.npy", numpy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "\x9a\x99\x99\x99\x99\x99\xb9\x3f")));
  EXPECT_EQ(f64.dtype(), DType::kFloat64);
  EXPECT_EQ(f64.to_vector<double>(), (std::vector<double>{0.1}));

  const Tensor i32 = read_npy(file_with(
      "i32.npy", numpy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "\xff\xff\xff\xff\xff\xff\xff\x7f")));
  EXPECT_EQ(i32.dtype(), DType::kInt32);
  EXPECT_EQ(i32.to_vector<std::int32_t>(), (std::vector<std::int32_t>{-1, 2147483647}));

  const Tensor empty = read_npy(
      file_with("e.npy", numpy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", "")));
  EXPECT_EQ(empty.shape(), (Shape{0, 3}));
}

TEST_F(NpyTest, ReadsFormatVersion2) {
  const Tensor t = read_npy(file_with("v2.npy", numpy_bytes(kFloat32Dict, kFloat32Data, 2)));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, -2.f, 0.25f, 4.f, 5.f, -6.f}));
}

TEST_F(NpyTest, WritesTheBytesNumpyWrites) {
  const fs::path a = dir_ / "a.npy";
  write_npy(a, Tensor::from_vector<float>({1.5f, -2.f, 0.25f, 4.f, 5.f, -6.f}, Shape{2, 3}));
  EXPECT_EQ(contents(a), numpy_bytes(kFloat32Dict, kFloat32Data));

  const fs::path s = dir_ / "s.npy";
  write_npy(s, Tensor::scalar<std::int64_t>(7));
  EXPECT_EQ(contents(s),
            numpy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", std::string("\x07\0\0\0\0\0\0\0", 8)));

  const fs::path b = dir_ / "b.npy";
  write_npy(b, Tensor::from_bools({1, 0, 1}, Shape{3}));
  EXPECT_EQ(contents(b),
            numpy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x01\x00\x01", 3)));

  const Tensor round_trip = read_npy(a);
  EXPECT_EQ(round_trip.to_vector<float>(), (std::vector<float>{1.5f, -2.f, 0.25f, 4.f, 5.f, -6.f}));
}

// np.save of np.array([["ab", "c\u00e9"], ["", "xyz"]]) (dtype '<U3') and of
// np.array([b"ab", b"", b"q\x00r"]) (dtype '|S3'), numpy 1.26: the data bytes below are
// numpy's, after its 128-byte preamble.
const std::string kUnicodeDict = "{'descr': '<U3', 'fortran_order': False, 'shape': (2, 2), }";
const std::string kUnicodeData(
    "a\0\0\0b\0\0\0\0\0\0\0c\0\0\0\xe9\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0x\0\0\0y\0\0\0z\0\0\0", 48);
const std::string kBytesDict = "{'descr': '|S3', 'fortran_order': False, 'shape': (3,), }";
const std::string kBytesData("ab\0\0\0\0q\0r", 9);

TEST_F(NpyTest, ReadsStringArrays) {
  const Tensor u = read_npy(file_with("u.npy", numpy_bytes(kUnicodeDict, kUnicodeData)));
  EXPECT_EQ(u.dtype(), DType::kString);
  EXPECT_EQ(u.shape(), (Shape{2, 2}));
  const auto us = u.strings();
  EXPECT_EQ(std::vector<std::string>(us.begin(), us.end()),
            (std::vector<std::string>{"ab", "c\xc3\xa9", "", "xyz"}));  // UTF-8 of U+00E9
  const Tensor b = read_npy(file_with("b.npy", numpy_bytes(kBytesDict, kBytesData)));
  const auto bs = b.strings();
  // numpy strips trailing NULs only: b"q\x00r" keeps its inner NUL.
  EXPECT_EQ(std::vector<std::string>(bs.begin(), bs.end()),
            (std::vector<std::string>{"ab", "", std::string("q\0r", 3)}));
}

TEST_F(NpyTest, WritesStringArraysAsNumpyDoes) {
  const fs::path u = dir_ / "u.npy";
  write_npy(u, Tensor::from_strings({"ab", "c\xc3\xa9", "", "xyz"}, Shape{2, 2}));
  EXPECT_EQ(contents(u), numpy_bytes(kUnicodeDict, kUnicodeData));
  // Not UTF-8 (or holding NUL): bytes.
  const fs::path b = dir_ / "b.npy";
  write_npy(b, Tensor::from_strings({"ab", "", std::string("q\0r", 3)}, Shape{3}));
  EXPECT_EQ(contents(b), numpy_bytes(kBytesDict, kBytesData));
  const Tensor back = read_npy(b);
  EXPECT_EQ(back.strings()[2], std::string("q\0r", 3));
  // np.array(["", ""]) is '<U1'.
  const fs::path e = dir_ / "e.npy";
  write_npy(e, Tensor::from_strings({"", ""}, Shape{2}));
  EXPECT_EQ(contents(e), numpy_bytes("{'descr': '<U1', 'fortran_order': False, 'shape': (2,), }", std::string(8, '\0')));
}

TEST_F(NpyTest, RejectsBadStringArrays) {
  // '>U2': big-endian UTF-32
  EXPECT_THROW(read_npy(file_with("be.npy", numpy_bytes("{'descr': '>U2', 'fortran_order': False, 'shape': (1,), }",
                                                        std::string(8, '\0')))),
               FormatError);
  // a code point above U+10FFFF, and a lone surrogate
  EXPECT_THROW(read_npy(file_with("cp.npy", numpy_bytes("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }",
                                                        std::string("\x00\x00\x11\x00", 4)))),
               FormatError);
  EXPECT_THROW(read_npy(file_with("sur.npy", numpy_bytes("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }",
                                                         std::string("\x00\xd8\x00\x00", 4)))),
               FormatError);
  // no width, a width with letters, one byte short
  EXPECT_THROW(read_npy(file_with("w.npy", numpy_bytes("{'descr': '<U', 'fortran_order': False, 'shape': (1,), }", ""))),
               FormatError);
  EXPECT_THROW(read_npy(file_with("w2.npy", numpy_bytes("{'descr': '|S2x', 'fortran_order': False, 'shape': (1,), }",
                                                        "ab"))),
               FormatError);
  EXPECT_THROW(read_npy(file_with("short.npy", numpy_bytes(kBytesDict, kBytesData.substr(0, 8)))), FormatError);
  // width 0 (numpy writes '<U1' for empty strings) with a huge shape: no bytes per element
  // passed the size check and asked for 1.2e11 strings (the npy fuzzer's finding)
  for (const char* descr : {"|U0", "<U0", "|S0"}) {
    EXPECT_THROW(read_npy(file_with("w0.npy", numpy_bytes(std::string("{'descr': '") + descr +
                                                              "', 'fortran_order': False, 'shape': (55, 555555553, 4), }",
                                                          ""))),
                 FormatError)
        << descr;
  }
}

TEST_F(NpyTest, RejectsWhatItDoesNotSupport) {
  // np.asfortranarray(np.ones((2, 2), np.float32))
  EXPECT_THROW(read_npy(file_with("f.npy", numpy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                                       std::string(16, '\0')))),
               FormatError);
  // np.ones(2, '>f4')
  EXPECT_THROW(read_npy(file_with("be.npy", numpy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                                        std::string("\x3f\x80\x00\x00\x3f\x80\x00\x00", 8)))),
               FormatError);
  // np.ones(2, np.float16)
  EXPECT_THROW(read_npy(file_with("f16.npy", numpy_bytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                                                         std::string("\x00\x3c\x00\x3c", 4)))),
               FormatError);
  // a pickled object array
  EXPECT_THROW(read_npy(file_with("o.npy", numpy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
                                                       std::string(8, '\0')))),
               FormatError);
  // data one byte short, one byte long
  const std::string full = numpy_bytes(kFloat32Dict, kFloat32Data);
  EXPECT_THROW(read_npy(file_with("short.npy", full.substr(0, full.size() - 1))), FormatError);
  EXPECT_THROW(read_npy(file_with("long.npy", full + "x")), FormatError);
  // a header length past the end of the file
  EXPECT_THROW(read_npy(file_with("hdr.npy", full.substr(0, 60))), FormatError);
  EXPECT_THROW(read_npy(file_with("magic.npy", "PK\x03\x04 not npy at all")), FormatError);
  EXPECT_THROW(read_npy(file_with("dict.npy", numpy_bytes("{'descr': '<f4', 'shape': (2, 3), }", kFloat32Data))),
               FormatError);
  EXPECT_THROW(read_npy(dir_ / "missing.npy"), IOError);
  try {
    read_npy(file_with("be2.npy", numpy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                              std::string(8, '\0'))));
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("be2.npy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(">f4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace strata::testing
