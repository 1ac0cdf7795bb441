#include "bundle.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <thread>
#include <utility>

#include "crc32c.hpp"
#include "object_graph.hpp"
#include "strata/error.hpp"
#include "strata/plugin/file_system.hpp"
#include "strata/tf/tensor_bundle.pb.h"
#include "table.hpp"

namespace fs = std::filesystem;

namespace strata::ckpt {
namespace {

constexpr int kMaxShards = 1 << 16;
constexpr std::size_t kMaxRank = 64;
constexpr std::size_t kMaxIndexBytes = std::size_t{1} << 31;
constexpr std::size_t kCopyChunk = std::size_t{1} << 20;
constexpr std::uint64_t kMapWindow = std::uint64_t{16} << 20;
constexpr std::uint64_t kParallelFillBytes = std::uint64_t{64} << 20;


// Checked a * b for non-negative values.
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

fs::path index_path(const fs::path& prefix) { return fs::path(prefix.string() + ".index"); }

fs::path shard_path(const fs::path& prefix, int shard, int num_shards) {
  char buf[64];
  std::snprintf(buf, sizeof buf, ".data-%05d-of-%05d", shard, num_shards);
  return fs::path(prefix.string() + buf);
}

ParsedIndex parse_index(std::string_view bytes, std::string_view what) {
  ParsedIndex out;
  auto table = read_table(bytes, what);
  STRATA_CHECK(!table.empty() && table.front().first.empty(), FormatError, what,
               ": the bundle header (the entry under the empty key) is missing");
  {
    tf::BundleHeaderProto header;
    const auto& v = table.front().second;
    STRATA_CHECK(header.ParseFromArray(v.data(), static_cast<int>(v.size())), FormatError, what,
                 ": the bundle header is not a valid BundleHeaderProto");
    STRATA_CHECK(header.num_shards() >= 1 && header.num_shards() <= kMaxShards, FormatError, what,
                 ": the bundle header declares ", header.num_shards(), " data shards (expected 1 to ", kMaxShards, ")");
    out.header.num_shards = header.num_shards();
    out.header.big_endian = header.endianness() == tf::BundleHeaderProto::BIG;
    STRATA_CHECK(header.endianness() == tf::BundleHeaderProto::BIG || header.endianness() == tf::BundleHeaderProto::LITTLE,
                 FormatError, what, ": unknown endianness ", static_cast<int>(header.endianness()));
    const auto& version = header.version();
    STRATA_CHECK(version.producer() >= 0 && version.min_consumer() <= 1, FormatError, what,
                 ": the checkpoint needs a bundle reader of version ", version.min_consumer(),
                 " or newer (this one is version 1)");
    for (const int bad : version.bad_consumers()) {
      STRATA_CHECK(bad != 1, FormatError, what, ": the checkpoint declares bundle readers of version 1 unfit to read it");
    }
  }
  for (std::size_t i = 1; i < table.size(); ++i) {
    const auto& [key, value] = table[i];
    tf::BundleEntryProto proto;
    STRATA_CHECK(proto.ParseFromArray(value.data(), static_cast<int>(value.size())), FormatError, what, ": the entry of '",
                 key, "' is not a valid BundleEntryProto");
    STRATA_CHECK(proto.slices_size() == 0, FormatError, what, ": '", key,
                 "' is a partitioned (sliced) variable, which Strata does not read");
    BundleEntry e;
    e.tf_dtype = static_cast<int>(proto.dtype());
    try {
      e.dtype = dtype_from_tf(e.tf_dtype);
    } catch (const Error&) {
      STRATA_THROW(FormatError, what, ": '", key, "' has TensorFlow dtype ", e.tf_dtype, ", which Strata does not support");
    }
    STRATA_CHECK(!proto.shape().unknown_rank() && static_cast<std::size_t>(proto.shape().dim_size()) <= kMaxRank,
                 FormatError, what, ": '", key, "' has an unknown rank or a rank above ", kMaxRank);
    std::uint64_t elements = 1;
    for (const auto& d : proto.shape().dim()) {
      STRATA_CHECK(d.size() >= 0, FormatError, what, ": '", key, "' has a negative dimension (", d.size(), ")");
      STRATA_CHECK(!mul_overflows(elements, static_cast<std::uint64_t>(d.size()), elements) &&
                       elements <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                   FormatError, what, ": '", key, "' has a shape whose element count overflows");
      e.shape.push_back(d.size());
    }
    e.num_elements = static_cast<std::int64_t>(elements);
    STRATA_CHECK(proto.shard_id() >= 0 && proto.shard_id() < out.header.num_shards, FormatError, what, ": '", key,
                 "' is in data shard ", proto.shard_id(), " of a checkpoint with ", out.header.num_shards, " shards");
    STRATA_CHECK(proto.offset() >= 0 && proto.size() >= 0, FormatError, what, ": '", key,
                 "' has a negative offset or size");
    e.shard_id = proto.shard_id();
    e.offset = static_cast<std::uint64_t>(proto.offset());
    e.size = static_cast<std::uint64_t>(proto.size());
    STRATA_CHECK(e.offset <= std::numeric_limits<std::uint64_t>::max() - e.size, FormatError, what, ": '", key,
                 "' has an offset and size that overflow");
    e.masked_crc = proto.crc32c();
    if (e.dtype == DType::kString) {
      // At least one length byte per element, plus the 4-byte length checksum.
      STRATA_CHECK(elements <= e.size && (elements == 0 || e.size >= elements + 4), FormatError, what, ": '", key,
                   "' holds ", elements, " strings in only ", e.size, " bytes");
    } else {
      std::uint64_t expected = 0;
      STRATA_CHECK(!mul_overflows(elements, dtype_size(e.dtype), expected) && expected == e.size, FormatError, what,
                   ": '", key, "' is ", e.size, " bytes but its shape and dtype (", dtype_name(e.dtype), ", ",
                   Shape(e.shape).to_string(), ") need ", expected);
    }
    out.entries.emplace(key, std::move(e));
  }
  return out;
}

std::vector<std::string> decode_strings(std::string_view bytes, std::int64_t count, std::uint32_t masked_crc,
                                        std::string_view what) {
  std::string_view in = bytes;
  std::vector<std::uint64_t> lengths;
  lengths.reserve(static_cast<std::size_t>(std::min<std::int64_t>(count, static_cast<std::int64_t>(bytes.size()))));
  std::uint32_t lengths_crc = 0;
  std::uint64_t total = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    std::uint64_t len = 0;
    STRATA_CHECK(get_varint64(in, len), FormatError, what, ": string length ", i, " is truncated");
    if (len <= 0xffffffffu) {
      std::string le;
      put_fixed32(le, static_cast<std::uint32_t>(len));
      lengths_crc = crc32c_extend(lengths_crc, le.data(), 4);
    } else {
      std::string le;
      put_fixed64(le, len);
      lengths_crc = crc32c_extend(lengths_crc, le.data(), 8);
    }
    STRATA_CHECK(len <= bytes.size() && total + len <= bytes.size(), FormatError, what, ": string ", i,
                 " claims ", len, " bytes, more than the entry holds");
    total += len;
    lengths.push_back(len);
  }
  STRATA_CHECK(in.size() >= 4, FormatError, what, ": the string lengths' checksum is missing");
  const std::uint32_t stored_lengths_crc = decode_fixed32(in.data());
  STRATA_CHECK(unmask_crc(stored_lengths_crc) == lengths_crc, FormatError, what,
               ": the string lengths do not match their checksum (the data file is corrupt)");
  std::uint32_t running = crc32c_extend(lengths_crc, in.data(), 4);
  in.remove_prefix(4);
  STRATA_CHECK(in.size() == total, FormatError, what, ": the strings need ", total, " bytes but the entry has ",
               in.size(), " after their lengths");
  running = crc32c_extend(running, in.data(), in.size());
  STRATA_CHECK(running == unmask_crc(masked_crc), FormatError, what,
               ": checksum mismatch (the data file is corrupt)");
  std::vector<std::string> out;
  out.reserve(lengths.size());
  for (const auto len : lengths) {
    out.emplace_back(in.substr(0, static_cast<std::size_t>(len)));
    in.remove_prefix(static_cast<std::size_t>(len));
  }
  return out;
}

// ---- reader ---------------------------------------------------------------------------------------

BundleReader::BundleReader(fs::path prefix) : prefix_(std::move(prefix)) {
  const fs::path index_file = index_path(prefix_);
  const std::string what = detail::concat("checkpoint index '", index_file.string(), "'");
  const std::string bytes = read_file(index_file, kMaxIndexBytes);
  index_ = parse_index(bytes, what);
  const int n = index_.header.num_shards;
  shard_sizes_.assign(static_cast<std::size_t>(n), 0);
  fds_.assign(static_cast<std::size_t>(n), -1);
  std::vector<bool> checked(static_cast<std::size_t>(n), false);
  for (const auto& [key, e] : index_.entries) {
    const auto s = static_cast<std::size_t>(e.shard_id);
    const fs::path shard = shard_path(prefix_, e.shard_id, n);
    if (!checked[s]) {
      std::error_code ec;
      const auto size = fs::file_size(shard, ec);
      STRATA_CHECK(!ec, FormatError, "checkpoint '", prefix_.string(), "': data shard '", shard.string(),
                   "' is missing or unreadable (", ec.message(), ")");
      shard_sizes_[s] = size;
      checked[s] = true;
    }
    STRATA_CHECK(e.offset + e.size <= shard_sizes_[s], FormatError, "checkpoint '", prefix_.string(), "': '", key,
                 "' (bytes ", e.offset, " to ", e.offset + e.size, ") runs past the end of data shard '",
                 shard.string(), "' (", shard_sizes_[s], " bytes): the data file is truncated");
  }
}

BundleReader::~BundleReader() {
  for (const int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

int BundleReader::shard_fd(int shard) const {
  std::lock_guard lock(fd_mutex_);
  int& fd = fds_[static_cast<std::size_t>(shard)];
  if (fd < 0) {
    const fs::path p = shard_path(prefix_, shard, index_.header.num_shards);
    fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    STRATA_CHECK(fd >= 0, IOError, "cannot open data shard '", p.string(), "': ", std::strerror(errno));
  }
  return fd;
}

std::vector<std::string> BundleReader::keys() const {
  std::vector<std::string> out;
  out.reserve(index_.entries.size());
  for (const auto& [k, e] : index_.entries) out.push_back(k);
  return out;
}

bool BundleReader::has_tensor(std::string_view key) const { return index_.entries.find(key) != index_.entries.end(); }

const BundleEntry& BundleReader::entry(std::string_view key) const {
  auto it = index_.entries.find(key);
  STRATA_CHECK(it != index_.entries.end(), ValueError, "checkpoint '", prefix_.string(), "' has no tensor '", key, "'");
  return it->second;
}

DType BundleReader::dtype(std::string_view key) const { return entry(key).dtype; }
Shape BundleReader::shape(std::string_view key) const { return Shape(entry(key).shape); }

void BundleReader::read_into(const BundleEntry& e, std::string_view key, void* dst) const {
  const int fd = shard_fd(e.shard_id);
  const fs::path shard = shard_path(prefix_, e.shard_id, index_.header.num_shards);
  auto* out = static_cast<char*>(dst);
  std::uint32_t crc = 0;
  auto truncated = [&] {
    STRATA_THROW(FormatError, "checkpoint '", prefix_.string(), "': data shard '", shard.string(),
                 "' ended while reading '", key, "' (the file is truncated)");
  };
  if (e.size >= kMmapThreshold) {
    // Large tensors: the shard is mapped window by window (pre-faulted), each window copied
    // and checksummed chunk by chunk while the chunk is in cache, then unmapped, so the
    // mapping never adds more than a window to the process's memory.
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    for (std::uint64_t done = 0; done < e.size;) {
      const std::uint64_t at = e.offset + done;
      const std::uint64_t start = at - at % page;
      const std::uint64_t take = std::min<std::uint64_t>(kMapWindow, e.size - done);
      const auto length = static_cast<std::size_t>(at + take - start);
      void* map = ::mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, static_cast<off_t>(start));
      STRATA_CHECK(map != MAP_FAILED, IOError, "cannot map data shard '", shard.string(), "': ", std::strerror(errno));
      const char* src = static_cast<const char*>(map) + (at - start);
      for (std::uint64_t w = 0; w < take;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kCopyChunk, take - w));
        std::memcpy(out + done + w, src + w, n);
        crc = crc32c_extend(crc, out + done + w, n);
        w += n;
      }
      ::munmap(map, length);
      done += take;
    }
  } else {
    // Small tensors: pread straight into the destination, checksumming each chunk while it
    // is still in cache.
    for (std::uint64_t done = 0; done < e.size;) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kCopyChunk, e.size - done));
      const ssize_t n = ::pread(fd, out + done, want, static_cast<off_t>(e.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) truncated();
      crc = crc32c_extend(crc, out + done, static_cast<std::size_t>(n));
      done += static_cast<std::uint64_t>(n);
    }
  }
  // String entries carry a checksum of another shape; decode_strings checks it.
  STRATA_CHECK(e.dtype == DType::kString || crc == unmask_crc(e.masked_crc), FormatError, "checkpoint '", prefix_.string(), "': the bytes of '", key,
               "' in data shard '", shard.string(), "' do not match their checksum (the data file is corrupt)");
}

std::string BundleReader::read_raw(const BundleEntry& e, std::string_view key) const {
  std::string bytes(static_cast<std::size_t>(e.size), '\0');
  if (e.size > 0) read_into(e, key, bytes.data());
  else STRATA_CHECK(e.dtype == DType::kString || unmask_crc(e.masked_crc) == 0, FormatError, "checkpoint '", prefix_.string(), "': the empty value of '", key,
                    "' does not match its checksum");
  return bytes;
}

Tensor BundleReader::get_tensor(std::string_view key, const Device& device) const {
  const BundleEntry& e = entry(key);
  if (e.dtype == DType::kString) {
    const std::string raw = read_raw(e, key);
    auto values = decode_strings(raw, e.num_elements, e.masked_crc,
                                 detail::concat("checkpoint '", prefix_.string(), "': '", key, "'"));
    return Tensor::from_strings(values, Shape(e.shape));
  }
  Tensor t = Tensor::empty(e.dtype, Shape(e.shape), Device::cpu());
  if (e.size > 0) {
    read_into(e, key, t.mutable_data());
  } else {
    STRATA_CHECK(unmask_crc(e.masked_crc) == 0, FormatError, "checkpoint '", prefix_.string(), "': the empty value of '",
                 key, "' does not match its checksum");
  }
  if (index_.header.big_endian) {
    const std::size_t width = dtype_size(e.dtype);
    auto* p = static_cast<unsigned char*>(t.mutable_data());
    for (std::uint64_t i = 0; width > 1 && i < e.size; i += width) std::reverse(p + i, p + i + width);
  }
  return t.to(device);
}

std::optional<CheckpointObjectGraph> BundleReader::object_graph() const {
  auto it = index_.entries.find(std::string_view(kObjectGraphKey));
  if (it == index_.entries.end()) return std::nullopt;
  const BundleEntry& e = it->second;
  const std::string what = detail::concat("checkpoint '", prefix_.string(), "': the object graph");
  STRATA_CHECK(e.dtype == DType::kString && e.num_elements == 1, FormatError, what,
               " must be one string, found a ", dtype_name(e.dtype), " tensor of shape ", Shape(e.shape).to_string());
  const std::string raw = read_raw(e, kObjectGraphKey);
  auto strings = decode_strings(raw, 1, e.masked_crc, what);
  return parse_object_graph(strings.front(), what);
}

// ---- writer ----------------------------------------------------------------------------------------

namespace {

std::string encode_string_tensor(const std::vector<std::string>& values, std::uint32_t& masked_crc) {
  std::string out;
  std::uint32_t crc = 0;
  std::size_t total = 0;
  for (const auto& v : values) {
    put_varint64(out, v.size());
    std::string le;
    if (v.size() <= 0xffffffffu) put_fixed32(le, static_cast<std::uint32_t>(v.size()));
    else put_fixed64(le, v.size());
    crc = crc32c_extend(crc, le.data(), le.size());
    total += v.size();
  }
  std::string crc_bytes;
  put_fixed32(crc_bytes, mask_crc(crc));
  out += crc_bytes;
  crc = crc32c_extend(crc, crc_bytes.data(), 4);
  out.reserve(out.size() + total);
  for (const auto& v : values) {
    out += v;
    crc = crc32c_extend(crc, v.data(), v.size());
  }
  masked_crc = mask_crc(crc);
  return out;
}

struct Pending {
  std::string key;
  const Tensor* tensor = nullptr;
  std::string encoded;  // strings
  bool is_string = false;
  std::uint64_t offset = 0, size = 0;
  int shard = 0;
  std::uint32_t masked_crc = 0;
};

void fill_shape(tf::TensorShapeProto* shape, const Shape& s) {
  for (const auto d : s.dims()) shape->add_dim()->set_size(d);
}

}  // namespace

EncodedBundle encode_bundle(const std::vector<std::pair<std::string, Tensor>>& tensors,
                            const std::string* object_graph_bytes, int num_shards, int data_shards) {
  STRATA_CHECK(data_shards >= 1 && data_shards <= num_shards, ValueError, "a bundle of ", num_shards,
               " shards cannot hold its data in ", data_shards);
  std::vector<Pending> pending;
  pending.reserve(tensors.size() + 1);
  std::uint64_t total = 0;
  for (const auto& [key, t] : tensors) {
    STRATA_CHECK(t.defined() && !t.is_symbolic(), ValueError, "checkpoint value '", key, "' is not a concrete tensor");
    Pending p;
    p.key = key;
    p.tensor = &t;
    if (t.dtype() == DType::kString) {
      p.is_string = true;
      std::vector<std::string> values(t.strings().begin(), t.strings().end());
      p.encoded = encode_string_tensor(values, p.masked_crc);
      p.size = p.encoded.size();
    } else {
      p.size = t.nbytes();
    }
    total += p.size;
    pending.push_back(std::move(p));
  }
  Tensor graph_tensor;
  if (object_graph_bytes) {
    Pending p;
    p.key = kObjectGraphKey;
    p.is_string = true;
    p.encoded = encode_string_tensor({*object_graph_bytes}, p.masked_crc);
    p.size = p.encoded.size();
    total += p.size;
    pending.push_back(std::move(p));
  }

  EncodedBundle out;
  out.shards.resize(static_cast<std::size_t>(num_shards));
  // Values go to the data shards largest first, each to the shard holding the fewest bytes
  // so far (so shards written in parallel finish together); within a shard they keep their
  // order. With one data shard this is the plain concatenation.
  {
    std::vector<std::size_t> by_size(pending.size());
    for (std::size_t i = 0; i < by_size.size(); ++i) by_size[i] = i;
    std::stable_sort(by_size.begin(), by_size.end(),
                     [&](std::size_t a, std::size_t b) { return pending[a].size > pending[b].size; });
    std::vector<std::uint64_t> load(static_cast<std::size_t>(data_shards), 0);
    for (const std::size_t i : by_size) {
      const auto lightest = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
      pending[i].shard = lightest;
      load[static_cast<std::size_t>(lightest)] += pending[i].size;
    }
    for (auto& p : pending) {
      ShardPieces& shard = out.shards[static_cast<std::size_t>(p.shard)];
      p.offset = shard.size;
      shard.size += p.size;
    }
  }
  // Where each value's bytes are: a host tensor's own memory, or a host copy owned by the
  // shard (device tensors; strings are already encoded in their Pending).
  std::vector<std::string_view> views(pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    if (p.is_string) {
      views[i] = p.encoded;
    } else if (p.size == 0) {
      views[i] = {};
    } else if (p.tensor->host_accessible()) {
      views[i] = std::string_view(static_cast<const char*>(p.tensor->data()), static_cast<std::size_t>(p.size));
    } else {
      std::string& host = out.shards[static_cast<std::size_t>(p.shard)].owned.emplace_back(static_cast<std::size_t>(p.size), '\0');
      p.tensor->copy_to_host(host.data(), host.size());
      views[i] = host;
    }
  }
  // Checksums one value (strings were checksummed while encoding).
  auto fill = [&](Pending& p) {
    if (p.is_string) return;
    const std::string_view v = views[static_cast<std::size_t>(&p - pending.data())];
    p.masked_crc = mask_crc(v.empty() ? 0 : crc32c(v.data(), v.size()));
  };
  // Large host tensors are checksummed by this thread and one helper.
  std::vector<Pending*> helper_share;
  std::uint64_t mine = 0, theirs = 0;
  if (total >= kParallelFillBytes && std::thread::hardware_concurrency() > 1) {
    std::vector<Pending*> large;
    for (auto& p : pending) {
      if (!p.is_string && p.size >= kCopyChunk && p.tensor->host_accessible()) large.push_back(&p);
    }
    std::sort(large.begin(), large.end(), [](const Pending* a, const Pending* b) { return a->size > b->size; });
    for (Pending* p : large) {
      if (theirs < mine) {
        helper_share.push_back(p);
        theirs += p->size;
      } else {
        mine += p->size;
      }
    }
  }
  std::exception_ptr helper_error;
  std::thread helper;
  if (!helper_share.empty()) {
    helper = std::thread([&] {
      try {
        for (Pending* p : helper_share) fill(*p);
      } catch (...) {
        helper_error = std::current_exception();
      }
    });
  }
  try {
    for (auto& p : pending) {
      if (std::find(helper_share.begin(), helper_share.end(), &p) == helper_share.end()) fill(p);
    }
  } catch (...) {
    if (helper.joinable()) helper.join();
    throw;
  }
  if (helper.joinable()) helper.join();
  if (helper_error) std::rethrow_exception(helper_error);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    ShardPieces& data = out.shards[static_cast<std::size_t>(pending[i].shard)];
    if (pending[i].is_string) data.owned.push_back(std::move(pending[i].encoded));  // keep the bytes alive
    if (!views[i].empty()) data.pieces.push_back(pending[i].is_string ? std::string_view(data.owned.back()) : views[i]);
  }

  std::map<std::string_view, const Pending*> sorted;
  for (const auto& p : pending) {
    STRATA_CHECK(!p.key.empty(), ValueError, "checkpoint keys must not be empty (the empty key is the bundle header)");
    STRATA_CHECK(sorted.emplace(p.key, &p).second, ValueError, "checkpoint key '", p.key, "' is used twice");
  }
  TableBuilder table;
  tf::BundleHeaderProto header;
  header.set_num_shards(num_shards);
  header.mutable_version()->set_producer(1);
  table.add("", header.SerializeAsString());
  for (const auto& [key, p] : sorted) {
    tf::BundleEntryProto e;
    if (p->tensor) {
      e.set_dtype(static_cast<tf::DataType>(dtype_to_tf(p->tensor->dtype())));
      fill_shape(e.mutable_shape(), p->tensor->shape());
    } else {
      e.set_dtype(tf::DT_STRING);
      e.mutable_shape();
    }
    e.set_shard_id(p->shard);
    e.set_offset(static_cast<std::int64_t>(p->offset));
    e.set_size(static_cast<std::int64_t>(p->size));
    e.set_crc32c(p->masked_crc);
    table.add(key, e.SerializeAsString());
  }
  out.index = table.finish();
  return out;
}

}  // namespace strata::ckpt
