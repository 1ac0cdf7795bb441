// Byte-level tests of the .index table: CRC-32C and masking against published check values,
// the table layout against facts decoded by hand from TensorFlow-written files (docs
// FORMATS.md §3.2), restart points, Snappy blocks, and identity with TensorFlow's bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "fixture_dir.hpp"
#include "crc32c.hpp"
#include "snappy.hpp"
#include "strata/error.hpp"
#include "strata/plugin/file_system.hpp"
#include "table.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata::ckpt;

// tests/data/checkpoint (2.17, compiled in) or $STRATA_CHECKPOINT_FIXTURE_DIR (the second
// version: tests/interop/fixture_set_current_venv.sh).
const fs::path kFixtures = strata::test::fixture_dir("STRATA_CHECKPOINT_FIXTURE_DIR", STRATA_CHECKPOINT_FIXTURES);

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(Crc32c, PublishedCheckValues) {
  // RFC 3720 (iSCSI) appendix B.4 and the common "123456789" check value.
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46dd794eu);
}

TEST(Crc32c, ExtendingEqualsOneShotAtEveryAlignment) {
  std::string data(1000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 3));
  const std::uint32_t whole = crc32c(data);
  for (std::size_t split = 0; split < 40; ++split) {
    EXPECT_EQ(crc32c_extend(crc32c(data.data(), split), data.data() + split, data.size() - split), whole) << split;
  }
  for (std::size_t start = 1; start < 9; ++start) {  // unaligned starts against a one-byte-at-a-time reference
    std::uint32_t bytewise = 0;
    for (std::size_t i = start; i < data.size(); ++i) bytewise = crc32c_extend(bytewise, data.data() + i, 1);
    EXPECT_EQ(crc32c(data.data() + start, data.size() - start), bytewise);
  }
}

TEST(Crc32c, LongBuffersTakeTheInterleavedPathAndAgree) {
  std::string data(100000, '\0');
  std::uint32_t x = 12345;
  for (auto& c : data) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
  for (std::size_t start : {0u, 1u, 3u, 8u}) {
    for (std::size_t len : {12288u, 12289u, 24576u + 17u, 99000u}) {
      std::uint32_t bytewise = 0;
      for (std::size_t i = 0; i < len; ++i) bytewise = crc32c_extend(bytewise, data.data() + start + i, 1);
      EXPECT_EQ(crc32c(data.data() + start, len), bytewise) << start << " " << len;
    }
  }
}

TEST(Crc32c, MaskIsRotateRight15PlusDelta) {
  EXPECT_EQ(mask_crc(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc(0xe3069283u), 0xc78ab0e5u);     // hand computed: ror15 = 0x2506c60d; + delta
  EXPECT_EQ(mask_crc(crc32c("hello world")), 0x6dd87e00u);
  for (std::uint32_t v : {0u, 1u, 0x80000000u, 0xffffffffu, 0x12345678u}) EXPECT_EQ(unmask_crc(mask_crc(v)), v);
}

TEST(Table, EmptyBlockIsEightBytes) {
  BlockBuilder b(16);
  EXPECT_EQ(b.finish(), bytes({0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Table, KeyShortening) {
  EXPECT_EQ(short_successor("c/.ATTRIBUTES/VARIABLE_VALUE"), "d");
  EXPECT_EQ(short_successor("_CHECKPOINTABLE_OBJECT_GRAPH"), "`");
  EXPECT_EQ(short_successor(""), "");
  EXPECT_EQ(short_successor(bytes({0xff, 0xff, 0x01, 0x05})), bytes({0xff, 0xff, 0x02}));
  EXPECT_EQ(shortest_separator("abcdef", "abzz"), "abd");
  EXPECT_EQ(shortest_separator("abc", "abcd"), "abc");  // a prefix: unchanged
  EXPECT_EQ(shortest_separator("abc", "abd"), "abc");   // bumping would reach the limit
}

// The worked example of FORMATS.md §3.2: a two-key bundle index of 145 bytes decoded from
// a TensorFlow-written file. Our builder must lay it out at the same offsets.
TEST(Table, TwoKeyIndexMatchesTheDecodedTensorFlowLayout) {
  TableBuilder t;
  const std::string header = bytes({0x08, 0x01, 0x1a, 0x02, 0x08, 0x01});
  const std::string entry(12, 'e');
  t.add("", header);
  t.add("_CHECKPOINTABLE_OBJECT_GRAPH", entry);
  const std::string file = t.finish();
  ASSERT_EQ(file.size(), 145u);
  // Entry @0: shared 0, unshared 0, value length 6; entry @9: 0, 28, 12.
  EXPECT_EQ(file.substr(0, 3), bytes({0, 0, 6}));
  EXPECT_EQ(file.substr(3, 6), header);
  EXPECT_EQ(file.substr(9, 3), bytes({0, 28, 12}));
  // Entries end at 52, restart array [0], count 1: a 60-byte data block, then its trailer.
  EXPECT_EQ(file.substr(52, 8), bytes({0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(file[60], '\0');  // compression: none
  EXPECT_EQ(decode_fixed32(file.data() + 61), mask_crc(crc32c(file.substr(0, 61))));
  // Metaindex @65 (empty block), index @78: one entry (0, 1, 2) with key '`' and handle (0, 60).
  EXPECT_EQ(file.substr(65, 8), bytes({0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(file.substr(78, 6), bytes({0, 1, 2, '`', 0x00, 0x3c}));
  // Footer @97: handles (65, 8) and (78, 14), zero padding, magic 57 fb 80 8b 24 75 47 db.
  EXPECT_EQ(file.substr(97, 4), bytes({65, 8, 78, 14}));
  EXPECT_EQ(file.substr(101, 36), std::string(36, '\0'));
  EXPECT_EQ(file.substr(137), bytes({0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb}));

  const auto entries = read_table(file, "test");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, "");
  EXPECT_EQ(entries[0].second, header);
  EXPECT_EQ(entries[1].first, "_CHECKPOINTABLE_OBJECT_GRAPH");
}

TEST(Table, RestartPointsEvery16EntriesAndPrefixCompression) {
  TableBuilder t;
  for (int i = 0; i < 20; ++i) t.add("key/" + std::string(i < 10 ? "0" : "") + std::to_string(i), "v");
  const std::string file = t.finish();
  // The data block starts at 0; entry 1 ("key/01" after "key/00") shares 5 bytes.
  EXPECT_EQ(file.substr(0, 3), bytes({0, 6, 1}));
  EXPECT_EQ(file.substr(10, 3), bytes({5, 1, 1}));
  // Find the data block's restart array through the footer's handles.
  std::string_view footer(file.data() + file.size() - 48, 40);
  std::uint64_t meta_off, meta_size, idx_off, idx_size;
  ASSERT_TRUE(get_varint64(footer, meta_off) && get_varint64(footer, meta_size) && get_varint64(footer, idx_off) &&
              get_varint64(footer, idx_size));
  EXPECT_EQ(meta_size, 8u);
  // Data block = [0, meta_off - 5): last 4 bytes = 2 restarts, before them offsets [0, r].
  const std::size_t data_size = meta_off - 5;
  EXPECT_EQ(decode_fixed32(file.data() + data_size - 4), 2u);
  EXPECT_EQ(decode_fixed32(file.data() + data_size - 12), 0u);
  const std::uint32_t restart = decode_fixed32(file.data() + data_size - 8);
  EXPECT_EQ(file.substr(restart, 3), bytes({0, 6, 1}));  // entry 16 stores its key whole
  EXPECT_EQ(file.substr(restart + 3, 6), "key/16");
  // Index block: restart interval 1 → one restart per entry; one entry here.
  EXPECT_EQ(decode_fixed32(file.data() + idx_off + idx_size - 4), 1u);
  EXPECT_EQ(read_table(file, "test").size(), 20u);
}

TEST(Table, ManyBlocksRoundTrip) {
  TableOptions small;
  small.block_size = 256;
  TableBuilder t(small);
  std::vector<std::pair<std::string, std::string>> want;
  for (int i = 0; i < 500; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "layer_%04d/kernel", i);
    want.emplace_back(key, std::string(static_cast<std::size_t>(i % 37), static_cast<char>('a' + i % 26)));
    t.add(want.back().first, want.back().second);
  }
  EXPECT_EQ(read_table(t.finish(), "test"), want);
}

TEST(Table, KeysMustIncrease) {
  TableBuilder t;
  t.add("b", "1");
  EXPECT_THROW(t.add("a", "2"), strata::ValueError);
  EXPECT_THROW(t.add("b", "2"), strata::ValueError);
}

// The index TensorFlow wrote is reproduced byte for byte from its own entries.
TEST(Table, RebuildsTensorFlowIndexesByteForByte) {
  for (const char* name : {"sequential/ckpt", "functional/ckpt", "rnn/ckpt", "adam/ckpt", "legacy_adam/ckpt",
                           "custom_layer/custom_layer-1", "guide_pieces/ckpt-1"}) {
    const std::string original = strata::read_file(kFixtures / (std::string(name) + ".index"));
    TableBuilder t;
    for (const auto& [k, v] : read_table(original, name)) t.add(k, v);
    EXPECT_EQ(t.finish(), original) << name;
  }
}

TEST(Snappy, ReadsTheSnappyIndexMadeByLibsnappy) {
  // The generator leaves snappy/ out of a second-version directory when the system python3 has
  // no snappy module (python3-snappy); the committed set always has it.
  if (strata::test::fixture_dir_overridden("STRATA_CHECKPOINT_FIXTURE_DIR") && !fs::exists(kFixtures / "snappy")) {
    GTEST_SKIP() << "no snappy/ in this second-version fixture directory (no python3-snappy)";
  }
  const std::string compressed = strata::read_file(kFixtures / "snappy/ckpt.index");
  const std::string plain = strata::read_file(kFixtures / "sequential/ckpt.index");
  // The first data block starts at 0; its handle is the first index entry's value.
  std::string_view footer(compressed.data() + compressed.size() - 48, 40);
  std::uint64_t meta_off, meta_size, idx_off, idx_size;
  ASSERT_TRUE(get_varint64(footer, meta_off) && get_varint64(footer, meta_size) && get_varint64(footer, idx_off) &&
              get_varint64(footer, idx_size));
  std::string_view index_entry(compressed.data() + idx_off + 3 + static_cast<unsigned char>(compressed[idx_off + 1]),
                               static_cast<unsigned char>(compressed[idx_off + 2]));
  std::uint64_t data_off, data_size;
  ASSERT_TRUE(get_varint64(index_entry, data_off) && get_varint64(index_entry, data_size));
  EXPECT_EQ(compressed[data_off + data_size], static_cast<char>(kSnappyCompression));
  EXPECT_EQ(read_table(compressed, "snappy"), read_table(plain, "plain"));
}

TEST(Snappy, LiteralsAndCopies) {
  // Length 11; literal "abc" (tag (3-1)<<2 = 0x08); copy-1 of 4 at offset 3 (tag 0x01|(0<<2), offset 3);
  // copy-2 of 4 at offset 1 (tag ((4-1)<<2)|2 = 0x0e), overlapping: repeats the last byte.
  const std::string in = bytes({11, 0x08, 'a', 'b', 'c', 0x01, 3, 0x0e, 1, 0});
  EXPECT_EQ(snappy_uncompress(in, "t"), "abcabcaaaaa");
  // A 61-byte literal needs the one-byte length form (tag 60<<2).
  std::string lit = bytes({61, static_cast<char>(60 << 2), 60}) + std::string(61, 'z');
  EXPECT_EQ(snappy_uncompress(lit, "t"), std::string(61, 'z'));
}

TEST(Snappy, RejectsCorruptStreams) {
  EXPECT_THROW(snappy_uncompress("", "t"), strata::FormatError);                                // no length
  EXPECT_THROW(snappy_uncompress(bytes({5, 0x08, 'a', 'b'}), "t"), strata::FormatError);          // truncated literal
  EXPECT_THROW(snappy_uncompress(bytes({4, 0x01, 1}), "t"), strata::FormatError);                 // copy before start
  EXPECT_THROW(snappy_uncompress(bytes({2, 0x08, 'a', 'b', 'c'}), "t"), strata::FormatError);     // past the length
  EXPECT_THROW(snappy_uncompress(bytes({9, 0x08, 'a', 'b', 'c'}), "t"), strata::FormatError);     // ends short
  EXPECT_THROW(snappy_uncompress(bytes({0xff, 0xff, 0xff, 0xff, 0x0f, 0}), "t"), strata::FormatError);  // huge claim
}

}  // namespace
