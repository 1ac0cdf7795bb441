// An out-of-tree format plugin: model weights as a NumPy .npz archive.
//
// The file is what numpy.savez writes: a zip archive of uncompressed ("stored") members,
// one .npy file per weight. A member is named after the weight's path in the model:
// "<layer name>/<weight name>.npy" for the layers of a Sequential or Functional model,
// "<tracked name>/<weight name>.npy" below a subclassed layer (the name its parent gave
// it with track()), so `numpy.load("w.npz")["dense_1/kernel"]` is that Dense kernel.
//
// Loading matches members to weights by path. Every member must fit its weight (dtype and
// shape) before any weight is assigned; a load that matches nothing is an error; otherwise
// the LoadStatus lists what did not match and the caller decides (assert_consumed, ...).
// Compressed archives (numpy.savez_compressed), ZIP64 archives and archives spanning
// several files are refused with a FormatError saying so.
//
// The zip and CRC-32 code is here on purpose: the plugin needs nothing but the Strata SDK.
#include <strata/error.hpp>
#include <strata/format.hpp>
#include <strata/model.hpp>
#include <strata/npy.hpp>
#include <strata/plugin/file_system.hpp>
#include <strata/plugin/registrar.hpp>

#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

namespace fs = std::filesystem;
using strata::FormatError;
using strata::ValueError;

constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr std::size_t kMaxNpzBytes = std::size_t{1} << 34;  // 16 GiB

// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zip uses it.
std::uint32_t crc32(std::string_view data) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : data) c = table[(c ^ byte) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put16(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}
std::uint32_t get16(std::string_view s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8;
}
std::uint32_t get32(std::string_view s, std::size_t at) { return get16(s, at) | get16(s, at + 2) << 16; }

struct Member {
  std::string name;
  std::string data;
};

// A zip archive of stored members. DOS time 1980-01-01 00:00 keeps files reproducible.
std::string zip_store(const std::vector<Member>& members) {
  std::string out, central;
  for (const auto& m : members) {
    STRATA_CHECK(m.data.size() < 0xFFFFFFFFu && out.size() < 0xFFFFFFFFu && m.name.size() < 0xFFFF,
                 ValueError, "weight '", m.name, "' does not fit a zip archive without ZIP64");
    const std::uint32_t crc = crc32(m.data);
    const auto size = static_cast<std::uint32_t>(m.data.size());
    const auto offset = static_cast<std::uint32_t>(out.size());
    auto common = [&](std::string& h) {
      put16(h, 20);                 // version needed: 2.0
      put16(h, 0);                  // flags
      put16(h, 0);                  // method: stored
      put16(h, 0);                  // time
      put16(h, (0 << 9) | (1 << 5) | 1);  // date 1980-01-01
      put32(h, crc);
      put32(h, size);               // compressed
      put32(h, size);               // uncompressed
      put16(h, static_cast<std::uint32_t>(m.name.size()));
      put16(h, 0);                  // extra length
    };
    put32(out, kLocalHeader);
    common(out);
    out += m.name;
    out += m.data;

    put32(central, kCentralHeader);
    put16(central, 20);             // version made by
    common(central);
    put16(central, 0);              // comment length
    put16(central, 0);              // disk number
    put16(central, 0);              // internal attributes
    put32(central, 0);              // external attributes
    put32(central, offset);
    central += m.name;
  }
  STRATA_CHECK(members.size() < 0xFFFF && out.size() < 0xFFFFFFFFu, ValueError,
               "too many or too large weights for a zip archive without ZIP64");
  const auto central_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  put32(out, kEndOfCentralDirectory);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(members.size()));
  put16(out, static_cast<std::uint32_t>(members.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, central_offset);
  put16(out, 0);  // comment length
  return out;
}

// Reads every member of a zip archive of stored members. Every offset and size is checked
// against the file before it is used; every member's CRC-32 is verified.
std::vector<Member> zip_read(std::string_view file, const std::string& source) {
  auto bad = [&](const auto&... what) { STRATA_THROW(FormatError, "'", source, "' is not a valid .npz: ", what...); };
  if (file.size() < 22) bad("shorter than a zip end record");
  // The end record is the last 22 bytes plus a comment of at most 65535 bytes.
  std::size_t eocd = std::string_view::npos;
  const std::size_t lowest = file.size() > 22 + 0xFFFF ? file.size() - 22 - 0xFFFF : 0;
  for (std::size_t at = file.size() - 22 + 1; at-- > lowest;) {
    if (get32(file, at) == kEndOfCentralDirectory) {
      eocd = at;
      break;
    }
  }
  if (eocd == std::string_view::npos) bad("no zip end-of-central-directory record");
  const std::uint32_t disk = get16(file, eocd + 4), cd_disk = get16(file, eocd + 6);
  const std::uint32_t count = get16(file, eocd + 10);
  const std::uint64_t cd_size = get32(file, eocd + 12), cd_offset = get32(file, eocd + 16);
  if (disk != 0 || cd_disk != 0 || get16(file, eocd + 8) != count) bad("multi-volume archives are not supported");
  if (cd_offset == 0xFFFFFFFFu || count == 0xFFFF) bad("ZIP64 archives are not supported");
  if (cd_offset + cd_size > eocd) bad("the central directory lies outside the file");

  std::vector<Member> members;
  std::set<std::string> names;
  std::size_t at = static_cast<std::size_t>(cd_offset);
  const std::size_t cd_end = static_cast<std::size_t>(cd_offset + cd_size);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (at + 46 > cd_end || get32(file, at) != kCentralHeader) bad("central directory entry ", i, " is damaged");
    const std::uint32_t flags = get16(file, at + 8), method = get16(file, at + 10);
    const std::uint32_t crc = get32(file, at + 16);
    const std::uint64_t csize = get32(file, at + 20), usize = get32(file, at + 24);
    const std::size_t name_len = get16(file, at + 28), extra_len = get16(file, at + 30), comment_len = get16(file, at + 32);
    const std::uint64_t local = get32(file, at + 42);
    if (at + 46 + name_len + extra_len + comment_len > cd_end) bad("central directory entry ", i, " is damaged");
    std::string name(file.substr(at + 46, name_len));
    at += 46 + name_len + extra_len + comment_len;
    if (method != 0) {
      bad("member '", name, "' is compressed (method ", method,
          "); only stored members are supported (numpy.savez, not numpy.savez_compressed)");
    }
    if (flags & 1u) bad("member '", name, "' is encrypted");
    if (csize != usize) bad("member '", name, "' has different stored and unpacked sizes");
    if (csize == 0xFFFFFFFFu || local == 0xFFFFFFFFu) bad("ZIP64 archives are not supported");
    if (local + 30 > file.size() || get32(file, static_cast<std::size_t>(local)) != kLocalHeader) {
      bad("the local header of member '", name, "' is missing");
    }
    const std::size_t lh = static_cast<std::size_t>(local);
    const std::uint64_t data_at = local + 30 + get16(file, lh + 26) + get16(file, lh + 28);
    if (data_at + csize > cd_offset) bad("member '", name, "' runs past the archive's data");
    std::string data(file.substr(static_cast<std::size_t>(data_at), static_cast<std::size_t>(csize)));
    if (crc32(data) != crc) bad("member '", name, "' fails its CRC-32 check");
    if (!names.insert(name).second) bad("member '", name, "' appears twice");
    members.push_back({std::move(name), std::move(data)});
  }
  return members;
}

// The weights of `layer` with their paths ("dense_1/kernel"), each variable once, in the
// layer's weight order (trainable first). Children of Sequential/Functional models are
// named by layer name, children of other layers by the name they were tracked under.
void collect(const strata::Layer& layer, const std::string& prefix, std::unordered_set<std::uint64_t>& seen,
             std::vector<std::pair<std::string, strata::Variable>>& out) {
  for (const auto& w : layer.own_weights()) {
    if (seen.insert(w.variable.id()).second) out.emplace_back(prefix + w.name, w.variable);
  }
  const bool by_layer_name = dynamic_cast<const strata::Sequential*>(&layer) != nullptr ||
                             dynamic_cast<const strata::Functional*>(&layer) != nullptr;
  for (const auto& child : layer.children()) {
    collect(*child.layer, prefix + (by_layer_name ? child.layer->name() : child.name) + "/", seen, out);
  }
}

std::vector<std::pair<std::string, strata::Variable>> weight_paths(const strata::Model& model) {
  std::vector<std::pair<std::string, strata::Variable>> all;
  std::unordered_set<std::uint64_t> seen;
  collect(model, "", seen, all);
  // Keras order: trainable weights first, then the rest, each in the order found.
  std::vector<std::pair<std::string, strata::Variable>> out;
  for (const auto& p : all) if (p.second.trainable()) out.push_back(p);
  for (const auto& p : all) if (!p.second.trainable()) out.push_back(p);
  return out;
}

class NpzFormat final : public strata::Format {
 public:
  std::string name() const override { return "npz"; }
  // Weights only: save_weights("w.npz") and load_weights("w.npz") pick this format.
  std::vector<std::string> model_extensions() const override { return {}; }
  std::vector<std::string> weights_extensions() const override { return {".npz"}; }
  unsigned capabilities() const override { return strata::kSaveWeights | strata::kLoadWeights; }

  // A zip archive whose first member is a .npy file.
  bool sniff(const fs::path& path) const override {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    char head[512] = {};
    in.read(head, sizeof head);
    const std::string_view h(head, static_cast<std::size_t>(in.gcount()));
    if (h.size() < 30 || get32(h, 0) != kLocalHeader) return false;
    const std::size_t name_len = get16(h, 26);
    if (name_len < 4 || 30 + name_len > h.size()) return false;
    return h.substr(30 + name_len - 4, 4) == ".npy";
  }

  void save_weights(const strata::Model& model, const fs::path& path, const strata::SaveOptions& options) const override {
    std::vector<Member> members;
    std::set<std::string> names;
    for (const auto& [name, variable] : weight_paths(model)) {
      STRATA_CHECK(names.insert(name).second, ValueError, "two weights of model '", model.name(),
                   "' have the path '", name, "'; give the layers unique names");
      members.push_back({name + ".npy", strata::npy_bytes(variable.value())});
    }
    STRATA_CHECK(!members.empty(), ValueError, "model '", model.name(),
                 "' has no weights to save (build it first: call it once or give it an input shape)");
    strata::write_file_atomically(path, zip_store(members), options.overwrite);
  }

  strata::LoadStatus load_weights(strata::Model& model, const fs::path& path, const strata::LoadOptions& options) const override {
    STRATA_CHECK(!options.by_name, ValueError, "the npz format always matches weights by path; by_name is an H5 option");
    const std::string file = strata::read_file(path, kMaxNpzBytes);
    std::map<std::string, strata::Tensor> values;
    for (auto& m : zip_read(file, path.string())) {
      STRATA_CHECK(m.name.size() > 4 && m.name.ends_with(".npy"), FormatError, "'", path.string(),
                   "' holds member '", m.name, "', which is not a .npy file");
      const std::string key = m.name.substr(0, m.name.size() - 4);
      values.emplace(key, strata::parse_npy(m.data, path.string() + ":" + m.name));
    }
    // Check everything first, then assign: a failed load changes no weight.
    std::vector<std::pair<strata::Variable, strata::Tensor>> assignments;
    std::vector<std::string> unset;
    std::set<std::string> used;
    for (const auto& [name, variable] : weight_paths(model)) {
      const auto it = values.find(name);
      if (it == values.end()) {
        unset.push_back(name);
        continue;
      }
      const strata::Tensor& v = it->second;
      STRATA_CHECK(v.dtype() == variable.dtype() && v.shape() == variable.shape(), ValueError, "'",
                   path.string(), "': weight '", name, "' is ", strata::dtype_name(v.dtype()), v.shape().to_string(),
                   " in the file but ", strata::dtype_name(variable.dtype()), variable.shape().to_string(),
                   " in model '", model.name(), "'");
      assignments.emplace_back(variable, v);
      used.insert(name);
    }
    STRATA_CHECK(!assignments.empty(), ValueError, "no weight of model '", model.name(), "' is in '",
                 path.string(), "' (", values.size(), " arrays, ", unset.size(),
                 " weights; weights are matched by layer name and weight name)");
    for (auto& [variable, value] : assignments) variable.assign(value);
    std::vector<std::string> unused;
    for (const auto& [name, value] : values) {
      if (!used.count(name)) unused.push_back(name);
    }
    return strata::LoadStatus(path.string(), std::move(unused), std::move(unset), assignments.size());
  }

  std::string describe(const fs::path& path) const override {
    const std::string file = strata::read_file(path, kMaxNpzBytes);
    std::string out = "format: npz (NumPy archive of weights; plugin format-npz)\n";
    for (const auto& m : zip_read(file, path.string())) {
      const strata::Tensor t = strata::parse_npy(m.data, path.string() + ":" + m.name);
      out += "  " + m.name.substr(0, m.name.size() - 4) + ": " + std::string(strata::dtype_name(t.dtype())) +
             t.shape().to_string() + "\n";
    }
    return out;
  }
};

void register_all(strata::Registrar& r) {
  r.add<strata::ObjectKind::kFormat>("npz", [] { return std::make_shared<NpzFormat>(); });
}

}  // namespace

STRATA_PLUGIN("format-npz", "1.0.0", "model weights as NumPy .npz archives (example out-of-tree format)", register_all);
