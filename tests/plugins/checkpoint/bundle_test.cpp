// Tensor bundles: round trips, the entry encoding TensorFlow uses, every kind of bad input
// (each a FormatError naming the file, never a crash), object-graph checks, and the commit
// points of a save under a file system that fails on the Nth call.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "failing_file_system.hpp"
#include "bundle.hpp"
#include "crc32c.hpp"
#include "format_checkpoint.hpp"
#include "fixture_dir.hpp"
#include "object_graph.hpp"
#include "strata/checkpoint.hpp"
#include "strata/error.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/tf/tensor_bundle.pb.h"
#include "strata/tf/trackable_object_graph.pb.h"
#include "table.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata;
using namespace strata::ckpt;

// tests/data/checkpoint (2.17, compiled in) or $STRATA_CHECKPOINT_FIXTURE_DIR (the second
// version: tests/interop/fixture_set_current_venv.sh).
const fs::path kFixtures = strata::test::fixture_dir("STRATA_CHECKPOINT_FIXTURE_DIR", STRATA_CHECKPOINT_FIXTURES);

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("strata_ckpt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::vector<std::pair<std::string, Tensor>> sample_tensors(float base = 1.0f) {
  return {
      {"a/kernel/.ATTRIBUTES/VARIABLE_VALUE", Tensor::from_vector<float>({base, 2, 3, 4, 5, 6}, Shape{2, 3})},
      {"a/bias/.ATTRIBUTES/VARIABLE_VALUE", Tensor::from_vector<float>({base * 7, 8, 9}, Shape{3})},
      {"step/.ATTRIBUTES/VARIABLE_VALUE", Tensor::scalar<std::int64_t>(42)},
      {"names/.ATTRIBUTES/VARIABLE_VALUE", Tensor::from_strings({"x", "", "hello"}, Shape{3})},
  };
}

CheckpointObjectGraph sample_graph() {
  CheckpointObjectGraph g;
  g.nodes.resize(3);
  g.nodes[0].children = {{1, "a"}, {2, "root"}};
  g.nodes[1].attributes = {{"VARIABLE_VALUE", "a/kernel", "a/kernel/.ATTRIBUTES/VARIABLE_VALUE"}};
  g.nodes[0].has_checkpoint_values = true;
  g.nodes[1].has_checkpoint_values = true;
  g.nodes[2].has_checkpoint_values = false;
  return g;
}

fs::path write_sample(const fs::path& dir, float base = 1.0f) {
  const fs::path prefix = dir / "ckpt";
  CheckpointContents c;
  c.tensors = sample_tensors(base);
  const auto graph = sample_graph();
  c.object_graph = &graph;
  write_bundle(prefix, c);
  return prefix;
}

template <class Fn>
std::string format_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(no FormatError)";
}

TEST(Bundle, RoundTripOfEveryKind) {
  const fs::path dir = fresh_dir("roundtrip");
  const fs::path prefix = write_sample(dir);
  BundleReader r(prefix);
  EXPECT_EQ(r.keys(), (std::vector<std::string>{"_CHECKPOINTABLE_OBJECT_GRAPH", "a/bias/.ATTRIBUTES/VARIABLE_VALUE",
                                                "a/kernel/.ATTRIBUTES/VARIABLE_VALUE", "names/.ATTRIBUTES/VARIABLE_VALUE",
                                                "step/.ATTRIBUTES/VARIABLE_VALUE"}));
  EXPECT_EQ(r.get_tensor("a/kernel/.ATTRIBUTES/VARIABLE_VALUE", Device::cpu()).to_vector<float>(),
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.shape("a/kernel/.ATTRIBUTES/VARIABLE_VALUE"), (Shape{2, 3}));
  EXPECT_EQ(r.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE", Device::cpu()).item<std::int64_t>(), 42);
  const Tensor names = r.get_tensor("names/.ATTRIBUTES/VARIABLE_VALUE", Device::cpu());
  EXPECT_EQ(std::vector<std::string>(names.strings().begin(), names.strings().end()),
            (std::vector<std::string>{"x", "", "hello"}));
  const auto g = r.object_graph();
  ASSERT_TRUE(g.has_value());
  ASSERT_EQ(g->nodes.size(), 3u);
  EXPECT_EQ(g->nodes[1].attributes[0].checkpoint_key, "a/kernel/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_EQ(g->nodes[2].has_checkpoint_values, std::optional<bool>(false));
  EXPECT_EQ(r.variable_to_dtype_map().at("step/.ATTRIBUTES/VARIABLE_VALUE"), DType::kInt64);
  EXPECT_THROW(r.get_tensor("nope", Device::cpu()), ValueError);
}

TEST(Bundle, EntryEncodingIsTensorFlows) {
  const fs::path dir = fresh_dir("encoding");
  const fs::path prefix = write_sample(dir);
  const auto table = read_table(strata::read_file(prefix.string() + ".index"), "index");
  // Header: num_shards 1, version {producer 1} = 08 01 1a 02 08 01 (FORMATS.md §3.3).
  EXPECT_EQ(table[0].second, std::string("\x08\x01\x1a\x02\x08\x01", 6));
  // A scalar still carries an empty shape (12 00); int64 = dtype 9.
  for (const auto& [k, v] : table) {
    if (k != "step/.ATTRIBUTES/VARIABLE_VALUE") continue;
    EXPECT_EQ(v.substr(0, 4), std::string("\x08\x09\x12\x00", 4));
  }
  // Data: tensors in the given order, the object graph last; the int64 is 8 LE bytes.
  const std::string data = strata::read_file(prefix.string() + ".data-00000-of-00001");
  EXPECT_EQ(data.substr(24 + 12, 8), std::string("\x2a\0\0\0\0\0\0\0", 8));
  // Strings: varint lengths (1, 0, 5), masked CRC of the lengths as uint32 LE, then bytes.
  const std::string strings = data.substr(24 + 12 + 8);
  EXPECT_EQ(strings.substr(0, 3), std::string("\x01\x00\x05", 3));
  const std::string lengths_le("\x01\0\0\0\0\0\0\0\x05\0\0\0", 12);
  EXPECT_EQ(decode_fixed32(strings.data() + 3), mask_crc(crc32c(lengths_le)));
  EXPECT_EQ(strings.substr(7, 6), "xhello");
}

TEST(Bundle, ReadsTensorFlowsStringEntryChecksum) {
  // The object graph entry of a TensorFlow-written checkpoint verifies (its CRC covers the
  // lengths as uint32, the stored length CRC and the bytes).
  BundleReader r(kFixtures / "custom_layer/custom_layer-1");
  EXPECT_TRUE(r.object_graph().has_value());
}

TEST(Bundle, ObjectGraphBytesRoundTripTensorFlows) {
  for (const char* name : {"sequential/ckpt", "adam/ckpt", "legacy_adam/ckpt", "rnn/ckpt"}) {
    BundleReader r(kFixtures / name);
    const auto& e = r.index().entries.at(kObjectGraphKey);
    const std::string raw = r.read_raw(e, kObjectGraphKey);
    const std::string bytes = decode_strings(raw, 1, e.masked_crc, name).front();
    EXPECT_EQ(serialize_object_graph(parse_object_graph(bytes, name)), bytes) << name;
  }
}

TEST(Bundle, LargeTensorsRoundTripAndAreChecksummed) {
  // Above kMmapThreshold the reader maps the shard window by window (two windows here).
  const fs::path dir = fresh_dir("large");
  std::vector<float> big(static_cast<std::size_t>(5) << 20);  // 20 MiB: two 16 MiB windows
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 1000) * 0.5f;
  CheckpointContents c;
  c.tensors = {{"big", Tensor::from_vector<float>(big, Shape{static_cast<std::int64_t>(big.size())})},
               {"small", Tensor::scalar<float>(1.5f)}};
  write_bundle(dir / "ckpt", c);
  {
    BundleReader r(dir / "ckpt");
    EXPECT_EQ(r.get_tensor("big", Device::cpu()).to_vector<float>(), big);
  }
  const fs::path shard = dir / "ckpt.data-00000-of-00001";
  std::string data = strata::read_file(shard);
  data[data.size() / 2] = static_cast<char>(data[data.size() / 2] ^ 0x40);
  write_bytes(shard, data);
  BundleReader r(dir / "ckpt");
  EXPECT_NE(format_error_of([&] { (void)r.get_tensor("big", Device::cpu()); }).find("checksum"), std::string::npos);
  EXPECT_EQ(r.get_tensor("small", Device::cpu()).item<float>(), 1.5f);
}

// Large saves spread their values over data shards written in parallel (balanced by bytes,
// largest first); a rewrite of the prefix takes one more (empty) shard so that it never
// replaces a file the old index refers to.
TEST(Bundle, LargeSavesSpreadOverShardsWrittenInParallel) {
  const fs::path dir = fresh_dir("parallel");
  const auto values = [](float base) {
    std::vector<std::pair<std::string, Tensor>> t = sample_tensors(base);
    t.emplace_back("big/.ATTRIBUTES/VARIABLE_VALUE", Tensor::from_vector<float>(std::vector<float>(3000, base), Shape{3000}));
    t.emplace_back("mid/.ATTRIBUTES/VARIABLE_VALUE", Tensor::from_vector<float>(std::vector<float>(2000, base + 1), Shape{2000}));
    t.emplace_back("low/.ATTRIBUTES/VARIABLE_VALUE", Tensor::from_vector<float>(std::vector<float>(1000, base + 2), Shape{1000}));
    return t;
  };
  const BundleWriteOptions parallel{.parallel_from_bytes = 0, .max_data_shards = 4, .cores = 3};
  const auto graph = sample_graph();
  const auto save = [&](float base) {
    CheckpointContents c;
    c.tensors = values(base);
    c.object_graph = &graph;
    write_bundle(dir / "ckpt", c, parallel);
  };
  const auto shard_files = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().filename().string().find(".data-") != std::string::npos) names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto check = [&](float base, int num_shards) {
    BundleReader r(dir / "ckpt");
    EXPECT_EQ(r.index().header.num_shards, num_shards);
    for (const auto& [key, t] : values(base)) {
      if (t.dtype() == DType::kString) {
        EXPECT_EQ(r.get_tensor(key, Device::cpu()).strings().size(), t.strings().size()) << key;
      } else if (t.dtype() == DType::kFloat32) {
        EXPECT_EQ(r.get_tensor(key, Device::cpu()).to_vector<float>(), t.to_vector<float>()) << key;
      }
    }
    // The three large values each lead one of the three data shards.
    EXPECT_EQ(r.index().entries.at("big/.ATTRIBUTES/VARIABLE_VALUE").shard_id, 0);
    EXPECT_EQ(r.index().entries.at("mid/.ATTRIBUTES/VARIABLE_VALUE").shard_id, 1);
    EXPECT_EQ(r.index().entries.at("low/.ATTRIBUTES/VARIABLE_VALUE").shard_id, 2);
    std::vector<std::uint64_t> used(static_cast<std::size_t>(num_shards), 0);
    for (const auto& [key, e] : r.index().entries) used[static_cast<std::size_t>(e.shard_id)] += e.size;
    for (int s = 0; s < num_shards; ++s) {
      EXPECT_EQ(fs::file_size(shard_path(dir / "ckpt", s, num_shards)), used[static_cast<std::size_t>(s)]) << s;
    }
  };
  save(1.0f);
  check(1.0f, 3);
  EXPECT_EQ(shard_files(), (std::vector<std::string>{"ckpt.data-00000-of-00003", "ckpt.data-00001-of-00003",
                                                     "ckpt.data-00002-of-00003"}));
  save(2.0f);  // the old index uses three shards: this save uses four, the last one empty
  check(2.0f, 4);
  EXPECT_EQ(fs::file_size(shard_path(dir / "ckpt", 3, 4)), 0u);
  EXPECT_EQ(shard_files().size(), 4u);
  save(3.0f);
  check(3.0f, 3);
  EXPECT_EQ(shard_files().size(), 3u);
  // Below the threshold, or on one core, one shard.
  CheckpointContents c;
  c.tensors = values(4.0f);
  write_bundle(dir / "small", c, {.parallel_from_bytes = 1 << 20, .max_data_shards = 4, .cores = 3});
  EXPECT_EQ(BundleReader(dir / "small").index().header.num_shards, 1);
  write_bundle(dir / "one_core", c, {.parallel_from_bytes = 0, .max_data_shards = 4, .cores = 1});
  EXPECT_EQ(BundleReader(dir / "one_core").index().header.num_shards, 1);
}

// ---- bad input --------------------------------------------------------------------------------

TEST(BadInput, EveryTruncationOfTheIndexIsAFormatError) {
  const fs::path dir = fresh_dir("truncate");
  const fs::path prefix = write_sample(dir);
  const std::string index = strata::read_file(prefix.string() + ".index");
  for (std::size_t n = 0; n < index.size(); ++n) {
    write_bytes(prefix.string() + ".index", index.substr(0, n));
    const std::string msg = format_error_of([&] { BundleReader r(prefix); });
    EXPECT_NE(msg.find(prefix.string() + ".index"), std::string::npos) << n << ": " << msg;
  }
}

TEST(BadInput, EveryBitFlipInTheIndexIsCaughtOrHarmless) {
  const fs::path dir = fresh_dir("bitflip");
  const fs::path prefix = write_sample(dir);
  const std::string index = strata::read_file(prefix.string() + ".index");
  const auto good = read_table(index, "good");
  std::size_t caught = 0;
  for (std::size_t byte = 0; byte < index.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = index;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      write_bytes(prefix.string() + ".index", bad);
      try {
        BundleReader r(prefix);
        // Only the footer's zero padding is not covered by a checksum.
        EXPECT_EQ(read_table(bad, "bad"), good) << byte << ":" << bit;
      } catch (const FormatError&) {
        ++caught;
      }
    }
  }
  EXPECT_GT(caught, index.size() * 8 - 8 * 40);
}

TEST(BadInput, EveryByteOfTheDataShardIsChecksummed) {
  const fs::path dir = fresh_dir("databits");
  const fs::path prefix = write_sample(dir);
  const fs::path shard = prefix.string() + ".data-00000-of-00001";
  const std::string data = strata::read_file(shard);
  BundleReader good(prefix);
  for (std::size_t byte = 0; byte < data.size(); ++byte) {
    std::string bad = data;
    bad[byte] = static_cast<char>(bad[byte] ^ 0x10);
    write_bytes(shard, bad);
    BundleReader r(prefix);
    int errors = 0;
    for (const auto& k : r.keys()) {
      try {
        if (k == kObjectGraphKey) (void)r.object_graph();
        else (void)r.get_tensor(k, Device::cpu());
      } catch (const FormatError& e) {
        ++errors;
        EXPECT_NE(std::string(e.what()).find(prefix.string()), std::string::npos) << e.what();
      }
    }
    EXPECT_EQ(errors, 1) << "byte " << byte;
  }
}

TEST(BadInput, WrongMagic) {
  const fs::path dir = fresh_dir("magic");
  const fs::path prefix = write_sample(dir);
  std::string index = strata::read_file(prefix.string() + ".index");
  index.back() = 'x';
  write_bytes(prefix.string() + ".index", index);
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("magic"), std::string::npos);
}

TEST(BadInput, CrcMismatchIsNamed) {
  const fs::path dir = fresh_dir("crc");
  const fs::path prefix = write_sample(dir);
  std::string index = strata::read_file(prefix.string() + ".index");
  index[5] = static_cast<char>(index[5] ^ 1);  // inside the first data block
  write_bytes(prefix.string() + ".index", index);
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("CRC mismatch"), std::string::npos);
}

std::string with_footer(std::string file, std::uint64_t meta_off, std::uint64_t meta_size, std::uint64_t idx_off,
                        std::uint64_t idx_size) {
  std::string footer;
  put_varint64(footer, meta_off);
  put_varint64(footer, meta_size);
  put_varint64(footer, idx_off);
  put_varint64(footer, idx_size);
  footer.resize(40, '\0');
  put_fixed64(footer, kTableMagic);
  file.replace(file.size() - 48, 48, footer);
  return file;
}

TEST(BadInput, BlockHandlesOutsideTheFile) {
  const fs::path dir = fresh_dir("handles");
  const fs::path prefix = write_sample(dir);
  const std::string index = strata::read_file(prefix.string() + ".index");
  for (const auto& bad : {with_footer(index, 0, 8, 1u << 30, 14), with_footer(index, 0, 8, 10, 1ull << 40),
                          with_footer(index, ~0ull >> 1, 8, 10, 14), with_footer(index, 0, index.size(), 0, 8)}) {
    write_bytes(prefix.string() + ".index", bad);
    const std::string msg = format_error_of([&] { BundleReader r(prefix); });
    EXPECT_TRUE(msg.find("outside") != std::string::npos || msg.find("CRC") != std::string::npos) << msg;
  }
}

// An index whose single entry says what we want it to say.
std::string index_with_entry(const tf::BundleEntryProto& entry, int num_shards = 1) {
  TableBuilder t;
  tf::BundleHeaderProto h;
  h.set_num_shards(num_shards);
  h.mutable_version()->set_producer(1);
  t.add("", h.SerializeAsString());
  t.add("v", entry.SerializeAsString());
  return t.finish();
}

TEST(BadInput, EntrySizesMustMatchShapeAndDtype) {
  const fs::path dir = fresh_dir("sizes");
  const fs::path prefix = dir / "ckpt";
  write_bytes(prefix.string() + ".data-00000-of-00001", std::string(64, '\0'));
  tf::BundleEntryProto e;
  e.set_dtype(tf::DT_FLOAT);
  e.mutable_shape()->add_dim()->set_size(3);
  e.set_size(8);  // 3 floats need 12
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("need 12"), std::string::npos);
  e.set_size(12);
  e.mutable_shape()->mutable_dim(0)->set_size(-2);
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("negative dimension"), std::string::npos);
  e.mutable_shape()->mutable_dim(0)->set_size(1ll << 40);
  e.mutable_shape()->add_dim()->set_size(1ll << 40);
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("overflows"), std::string::npos);
  e.mutable_shape()->clear_dim();
  e.set_size(4);
  e.set_offset(62);  // past the 64-byte shard
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("truncated"), std::string::npos);
  e.set_offset(0);
  e.set_shard_id(3);
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("shard 3"), std::string::npos);
  e.set_shard_id(0);
  e.set_dtype(tf::DT_COMPLEX64);
  e.set_size(8);
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("dtype 8"), std::string::npos);
  e.set_dtype(tf::DT_FLOAT);
  e.set_size(4);
  e.add_slices();
  write_bytes(prefix.string() + ".index", index_with_entry(e));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("partitioned"), std::string::npos);
}

TEST(Bundle, EntriesAreReadFromTheirShard) {
  // As TensorFlow writes a model whose variables live on a GPU: the object graph in shard 0,
  // the variables in shard 1 (FORMATS.md §3.7).
  const fs::path dir = fresh_dir("twoshards");
  const fs::path prefix = dir / "ckpt";
  const std::string a("\x00\x00\x80\x3f", 4), b("\x00\x00\x00\x40\x00\x00\x40\x40", 8);  // 1.0f; 2.0f, 3.0f
  write_bytes(prefix.string() + ".data-00000-of-00002", "junk" + a);
  write_bytes(prefix.string() + ".data-00001-of-00002", b);
  TableBuilder t;
  tf::BundleHeaderProto h;
  h.set_num_shards(2);
  h.mutable_version()->set_producer(1);
  t.add("", h.SerializeAsString());
  tf::BundleEntryProto ea;
  ea.set_dtype(tf::DT_FLOAT);
  ea.mutable_shape();
  ea.set_offset(4);
  ea.set_size(4);
  ea.set_crc32c(mask_crc(crc32c(a)));
  t.add("a", ea.SerializeAsString());
  tf::BundleEntryProto eb;
  eb.set_dtype(tf::DT_FLOAT);
  eb.mutable_shape()->add_dim()->set_size(2);
  eb.set_shard_id(1);
  eb.set_size(8);
  eb.set_crc32c(mask_crc(crc32c(b)));
  t.add("b", eb.SerializeAsString());
  write_bytes(prefix.string() + ".index", t.finish());
  BundleReader r(prefix);
  EXPECT_EQ(r.get_tensor("a", Device::cpu()).item<float>(), 1.0f);
  EXPECT_EQ(r.get_tensor("b", Device::cpu()).to_vector<float>(), (std::vector<float>{2.0f, 3.0f}));
  fs::remove(prefix.string() + ".data-00001-of-00002");
  EXPECT_NE(format_error_of([&] { BundleReader again(prefix); }).find("data-00001-of-00002"), std::string::npos);
}

TEST(BadInput, MissingAndTruncatedShards) {
  const fs::path dir = fresh_dir("shards");
  const fs::path prefix = write_sample(dir);
  const fs::path shard = prefix.string() + ".data-00000-of-00001";
  const std::string data = strata::read_file(shard);
  write_bytes(shard, data.substr(0, data.size() - 1));
  EXPECT_NE(format_error_of([&] { BundleReader r(prefix); }).find("truncated"), std::string::npos);
  fs::remove(shard);
  const std::string msg = format_error_of([&] { BundleReader r(prefix); });
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find(shard.string()), std::string::npos) << msg;
}

TEST(BadInput, ObjectGraphs) {
  auto parse = [](const tf::TrackableObjectGraph& g) {
    return format_error_of([&] { parse_object_graph(g.SerializeAsString(), "graph"); });
  };
  tf::TrackableObjectGraph g;
  EXPECT_NE(parse(g).find("no nodes"), std::string::npos);
  auto* root = g.add_nodes();
  auto* a = g.add_nodes();
  auto* child = root->add_children();
  child->set_node_id(1);
  child->set_local_name("a");
  auto* loop = a->add_children();
  loop->set_node_id(0);  // back to the root: what tf.keras writes ("root"), accepted
  EXPECT_EQ(parse(g), "(no FormatError)");
  loop->set_node_id(1);  // a contains itself
  EXPECT_NE(parse(g).find("cycle"), std::string::npos);
  loop->set_node_id(7);
  EXPECT_NE(parse(g).find("outside"), std::string::npos);
  loop->set_node_id(-1);
  EXPECT_NE(parse(g).find("outside"), std::string::npos);
  loop->set_node_id(0);
  auto* slot = root->add_slot_variables();
  slot->set_original_variable_node_id(1);
  slot->set_slot_variable_node_id(5);
  EXPECT_NE(parse(g).find("outside"), std::string::npos);
  EXPECT_NE(format_error_of([] { parse_object_graph("\xff\xff\xff", "graph"); }).find("not a valid"), std::string::npos);
  // A longer cycle a -> b -> c -> a.
  tf::TrackableObjectGraph h;
  for (int i = 0; i < 4; ++i) h.add_nodes();
  for (int i = 0; i < 4; ++i) {
    auto* c = h.mutable_nodes(i)->add_children();
    c->set_node_id(i == 3 ? 1 : i + 1);
    c->set_local_name("next");
  }
  EXPECT_NE(parse(h).find("cycle"), std::string::npos);
}

// ---- commit points ------------------------------------------------------------------------------

using strata::test_support::FailingFileSystem;

float first_value(const fs::path& prefix) {
  BundleReader r(prefix);
  return r.get_tensor("a/kernel/.ATTRIBUTES/VARIABLE_VALUE", Device::cpu()).to_vector<float>()[0];
}

class CommitPoints : public ::testing::TestWithParam<bool> {};

// Every file-system call of a save fails in turn, with one data shard and with shards
// written in parallel by several threads.
TEST_P(CommitPoints, AFailedSaveLeavesThePreviousCheckpointLoadable) {
  const fs::path dir = fresh_dir(GetParam() ? "commit_parallel" : "commit");
  const BundleWriteOptions options =
      GetParam() ? BundleWriteOptions{.parallel_from_bytes = 0, .max_data_shards = 4, .cores = 3} : BundleWriteOptions{};
  float current = 1.0f;
  const fs::path prefix = write_sample(dir, current);
  FileSystem& real = file_system();
  bool succeeded = false;
  for (int n = 1; !succeeded && n < 40; ++n) {
    const float next = current + 1.0f;
    auto failing = std::make_shared<FailingFileSystem>(real, n);
    try {
      ScopedFileSystem scope(failing);
      CheckpointContents c;
      c.tensors = sample_tensors(next);
      const auto graph = sample_graph();
      c.object_graph = &graph;
      CheckpointState state;
      state.model_checkpoint_path = "ckpt";
      c.state = state;
      write_bundle(prefix, c, options);
      succeeded = failing->calls() < n;
      current = next;
    } catch (const IOError& e) {
      // The failure hit before or after the commit: either way one whole checkpoint loads.
      const float got = first_value(prefix);
      EXPECT_TRUE(got == current || got == next) << "failure at call " << n << ": " << e.what();
      current = got;
    }
    // No temporaries are left behind, whatever happened.
    for (const auto& entry : fs::directory_iterator(dir)) {
      EXPECT_EQ(entry.path().string().find("strata-tmp"), std::string::npos) << entry.path();
    }
    EXPECT_EQ(first_value(prefix), current) << "after failure at call " << n;
  }
  EXPECT_TRUE(succeeded);
  // Overwriting alternates shard layouts, so only the current layout's shards remain.
  int shards = 0;
  for (const auto& entry : fs::directory_iterator(dir)) shards += entry.path().string().find(".data-") != std::string::npos;
  BundleReader r(prefix);
  EXPECT_EQ(shards, r.index().header.num_shards);
}

INSTANTIATE_TEST_SUITE_P(Shards, CommitPoints, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "ParallelShards" : "OneShard"; });

}  // namespace
