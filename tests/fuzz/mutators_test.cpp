// The fuzzers' structure-aware mutators (json_mutator.hpp, proto_mutator.hpp) do what
// issue 20 needs of them: they keep a well-formed input well-formed, write back exactly
// what they read, and from a real Keras config or SavedModel reach the shapes that broke
// Strata (a config nested 100k levels deep, sizes of 2^62, long lists, deeper messages)
// within a few thousand mutations, as libFuzzer would call them. Header-only: built in
// every build, no libFuzzer needed (its byte mutator is replaced below).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "json_mutator.hpp"
#include "proto_mutator.hpp"

// libFuzzer's byte mutator, which the mutators fall back to: one byte changed.
extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size) {
  if (size == 0 || max_size == 0) return 0;
  data[size / 2] ^= 0x5a;
  return size;
}

namespace {

using strata::fuzz::Json;

std::string read(const std::string& relative) {
  std::ifstream in(std::string(STRATA_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_FALSE(s.str().empty()) << relative;
  return s.str();
}

// Runs `steps` mutations as libFuzzer does (each from a corpus input: here the seed, or the
// last output for a few steps in a row), calling `see` on every output.
template <class Mutator, class See>
void run(Mutator& mutator, const std::string& seed, std::size_t max_size, int steps, See see) {
  std::string input = seed;
  for (int i = 0; i < steps; ++i) {
    if (i % 4 == 0) input = seed;
    std::string buffer = input;
    buffer.resize(max_size);
    const std::size_t n = mutator.mutate(reinterpret_cast<std::uint8_t*>(buffer.data()), input.size(), max_size,
                                         static_cast<unsigned>(i * 2654435761u));
    ASSERT_LE(n, max_size);
    buffer.resize(n);
    see(buffer);
    input = std::move(buffer);
  }
}

TEST(JsonMutator, WritesBackWhatItReadsIncludingPythonTokens) {
  const std::string text = read("tests/data/keras/3_layer_mlp.to_json.json");
  const Json doc = strata::fuzz::parse_text(text);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(strata::fuzz::parse_text(strata::fuzz::dump_text(doc)), doc);
  const std::string python = R"({"a": [NaN, -Infinity, Infinity, "NaN"], "b": {"c": 1e308}})";
  EXPECT_EQ(strata::fuzz::dump_text(strata::fuzz::parse_text(python)),
            R"({"a": [NaN, -Infinity, Infinity, "NaN"], "b": {"c": 1e+308}})");
}

TEST(JsonMutator, ReachesDeepNestingHugeSizesAndLongLists) {
  const std::string seed = read("tests/data/keras/3_layer_mlp.to_json.json");
  strata::fuzz::JsonMutator mutator;
  std::size_t deepest = 0, longest = 0, well_formed = 0;
  bool huge = false;
  constexpr int kSteps = 5000;
  run(mutator, seed, std::size_t{1} << 20, kSteps, [&](const std::string& out) {
    deepest = std::max(deepest, strata::fuzz::text_depth(out));
    huge = huge || out.find("4611686018427387904") != std::string::npos;  // 2^62
    const Json doc = strata::fuzz::parse_text(out);
    if (doc.is_discarded()) return;
    ++well_formed;
    std::vector<const Json*> stack{&doc};  // iterative: outputs are deep
    while (!stack.empty()) {
      const Json* j = stack.back();
      stack.pop_back();
      if (j->is_array()) longest = std::max(longest, j->size());
      if (j->is_structured()) {
        for (const auto& c : *j) stack.push_back(&c);
      }
    }
  });
  EXPECT_GE(deepest, 100000u) << "the nest step never made a config 100k levels deep";
  EXPECT_TRUE(huge) << "no size of 2^62";
  EXPECT_GE(longest, 10000u) << "the repeat step never made a long list";
  EXPECT_GE(well_formed, kSteps * 3 / 4u) << "most outputs must stay JSON";
}

TEST(ProtoMutator, WritesBackASavedModelByteForByte) {
  const std::string bytes = read("tests/data/savedmodel/embedding_sequential/saved_model.pb");
  strata::fuzz::ProtoMessage m;
  ASSERT_TRUE(strata::fuzz::parse_proto(bytes, m));
  std::string again;
  strata::fuzz::write_proto(m, again);
  EXPECT_EQ(again, bytes);
  EXPECT_GE(strata::fuzz::proto_depth(m), 5);
  strata::fuzz::ProtoMessage broken;
  EXPECT_FALSE(strata::fuzz::parse_proto(bytes.substr(0, bytes.size() - 3), broken));
}

TEST(ProtoMutator, ReachesHugeValuesDeeperMessagesAndKeepsTheWireFormat) {
  const std::string seed = read("tests/data/savedmodel/embedding_sequential/saved_model.pb");
  strata::fuzz::ProtoMessage original;
  ASSERT_TRUE(strata::fuzz::parse_proto(seed, original));
  const int seed_depth = strata::fuzz::proto_depth(original);
  strata::fuzz::ProtoMutator mutator(strata::fuzz::tensorflow_words());
  int deepest = 0;
  std::size_t well_formed = 0, changed = 0;
  std::uint64_t largest = 0;  // varint
  constexpr int kSteps = 600;
  run(mutator, seed, std::size_t{1} << 20, kSteps, [&](const std::string& out) {
    strata::fuzz::ProtoMessage m;
    if (!strata::fuzz::parse_proto(out, m)) return;
    ++well_formed;
    changed += out != seed;
    deepest = std::max(deepest, strata::fuzz::proto_depth(m));
    std::vector<const strata::fuzz::ProtoMessage*> stack{&m};
    while (!stack.empty()) {
      const auto* message = stack.back();
      stack.pop_back();
      for (const auto& f : message->fields) {
        if (f.wire == 0) largest = std::max(largest, f.value);
        if (f.sub) stack.push_back(f.sub.get());
      }
    }
  });
  EXPECT_GE(deepest, seed_depth + 10) << "the nest step never made a deeper message";
  EXPECT_GE(largest, std::uint64_t{1} << 62) << "no varint of 2^62 or more";
  EXPECT_GE(well_formed, kSteps * 3 / 4u);
  EXPECT_GE(changed, kSteps / 2u);
}

}  // namespace
