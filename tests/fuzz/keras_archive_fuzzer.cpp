// libFuzzer target: Keras 3 `.keras` archives (format-keras). The input is the archive's bytes:
// ZipReader::open_memory with the default ZipLimits (the zip structure, names, sizes, methods),
// every member read up to a cap (decompression, CRC and size checks), config.json and
// metadata.json parsed as Python's JSON, then the whole load (load_archive_bytes: the model
// from config.json, compiled from its compile_config, weights and optimizer state from
// model.weights.h5, under a 4 MiB weight budget as the JSON fuzzers). Anything other than
// success or a strata::Error is a bug. Structure-aware in half of the mutations: a member's content is mutated (the JSON
// mutator for `.json` members, libFuzzer's bytes otherwise) and the archive written again by
// ZipWriter, so that mutated JSON arrives with a valid CRC instead of stopping at the CRC
// check; the other half mutates the archive's bytes. Seeds: tests/fuzz/keras_archive_seeds.py.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_mutator.hpp"
#include "keras_archive.hpp"
#include "mutator_dice.hpp"
#include "strata/error.hpp"
#include "strata/plugin/layers.hpp"
#include "strata/runtime.hpp"
#include "strata/saving.hpp"
#include "zip_archive.hpp"

namespace {

using strata::keras::ZipReader;

// What one member may make a read allocate here (the reader refuses larger ones first).
constexpr std::uint64_t kReadCap = std::uint64_t{1} << 20;

// The zip layer's part of a load: every member, then the JSON members Keras reads first.
void read_members(const ZipReader& archive) {
  for (const strata::keras::ZipMember& member : archive.members()) {
    try {
      (void)archive.read(member.name, kReadCap);
    } catch (const strata::Error&) {
      // One damaged member: the others are still read.
    }
  }
  for (const char* name : {"metadata.json", "config.json"}) {
    if (archive.find(name) == nullptr) continue;
    try {
      (void)strata::parse_python_json(archive.read(name, kReadCap), name);
    } catch (const strata::Error&) {
    }
  }
}

// The zip layer, then the whole-archive load (config → model, model.weights.h5 → weights).
void load(std::string_view bytes) {
  const ZipReader archive = ZipReader::open_memory(bytes, "fuzz.keras");
  read_members(archive);
  // Nested models cost O(models x depth) symbolic calls: bounded as in json_config_fuzzer.
  if (const auto* config = archive.find("config.json"); config != nullptr && config->size <= kReadCap) {
    if (strata::fuzz::too_many_models(archive.read("config.json", kReadCap))) return;
  }
  strata::WeightBudget budget(std::uint64_t{4} << 20, "fuzz.keras");  // DECISIONS.md, "Issue 20, fuzzing"
  strata::LoadOptions options;
  (void)strata::keras::load_archive_bytes(bytes, "fuzz.keras", options);
}

// The archive with one member's content mutated, written again with valid sizes and CRCs;
// "" when the input is no archive the reader takes.
std::string mutate_member(std::string_view input, std::size_t max_size, strata::fuzz::Dice& dice) {
  std::vector<std::pair<std::string, std::string>> members;
  try {
    const ZipReader archive = ZipReader::open_memory(input, "mutate.keras");
    std::size_t total = 0;  // the archive written again holds every member stored: at most max_size
    for (const strata::keras::ZipMember& m : archive.members()) {
      if (m.size > max_size - total) return {};
      total += m.size;
      members.emplace_back(m.name, archive.read(m.name, max_size));
    }
  } catch (const strata::Error&) {
    return {};
  }
  if (members.empty()) return {};
  auto& [name, content] = members[dice.pick(members.size())];
  const std::size_t cap = max_size;
  const std::size_t size = content.size();
  content.resize(cap);
  auto* data = reinterpret_cast<std::uint8_t*>(content.data());
  const bool json = name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0;
  content.resize(json ? strata::fuzz::mutate_json(data, size, cap, static_cast<unsigned>(dice.pick(1u << 30)))
                      : LLVMFuzzerMutate(data, size, cap));
  try {
    strata::keras::ZipWriter writer("mutated.keras");
    for (const auto& [n, c] : members) writer.add(n, {c}, /*dos_time_now=*/false);
    return writer.finish();
  } catch (const strata::Error&) {
    return {};
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  strata::initialize();
  return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max, unsigned seed) {
  strata::fuzz::Dice dice;
  dice.seed(seed);
  if (dice.pick(2) == 0) {
    const std::string mutated = mutate_member(std::string(reinterpret_cast<const char*>(data), size), max, dice);
    if (!mutated.empty() && mutated.size() <= max) return strata::fuzz::put_input(data, mutated);
  }
  return LLVMFuzzerMutate(data, size, max);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    load(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const strata::Error&) {
  }
  return 0;
}
