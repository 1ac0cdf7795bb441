#include "h5_raw.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "h5_file.hpp"
#include "strata/error.hpp"

namespace strata::h5 {
namespace {

constexpr std::uint16_t kMsgAttribute = 0x000C;
constexpr std::uint16_t kMsgContinuation = 0x0010;
constexpr std::uint16_t kMsgAttributeInfo = 0x0015;
constexpr unsigned kClassVlen = 9;
constexpr std::size_t kMaxChunks = 256;        // object header chunks followed
constexpr std::size_t kMaxChunkBytes = 1 << 24;  // one object header chunk

class FdBytes final : public RawBytes {
 public:
  explicit FdBytes(const std::filesystem::path& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    STRATA_CHECK(fd_ >= 0, IOError, "cannot open '", path.string(), "': ", std::strerror(errno));
    const off_t end = ::lseek(fd_, 0, SEEK_END);
    size_ = end < 0 ? 0 : static_cast<std::uint64_t>(end);
  }
  ~FdBytes() override { ::close(fd_); }
  std::uint64_t size() const override { return size_; }
  std::string read(std::uint64_t at, std::size_t n, std::string_view what, const std::string& label) const override {
    STRATA_CHECK(at <= size_ && n <= size_ - at, FormatError, "'", label, "': ", what, " (", n, " bytes at byte ", at,
                 ") lies past the end of the file (", size_, " bytes)");
    std::string out(n, '\0');
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(at + done));
      if (got < 0 && errno == EINTR) continue;
      STRATA_CHECK(got > 0, IOError, "'", label, "': cannot read ", what, ": ",
                   got < 0 ? std::strerror(errno) : "unexpected end of file");
      done += static_cast<std::size_t>(got);
    }
    return out;
  }

 private:
  int fd_;
  std::uint64_t size_ = 0;
};

class MemoryBytes final : public RawBytes {
 public:
  explicit MemoryBytes(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  std::string read(std::uint64_t at, std::size_t n, std::string_view what, const std::string& label) const override {
    STRATA_CHECK(at <= bytes_.size() && n <= bytes_.size() - at, FormatError, "'", label, "': ", what, " (", n,
                 " bytes at byte ", at, ") lies past the end of the file (", bytes_.size(), " bytes)");
    return std::string(bytes_.substr(at, n));
  }

 private:
  std::string_view bytes_;
};

// Little-endian reads within [pos, end) of a buffer; overruns are FormatErrors.
class Cursor {
 public:
  Cursor(const std::string& bytes, std::size_t pos, std::size_t end, const std::string& where)
      : b_(bytes), pos_(pos), end_(std::min(end, bytes.size())), where_(where) {}
  std::uint64_t uint(unsigned width) {
    need(width);
    std::uint64_t v = 0;
    for (unsigned i = 0; i < width; ++i) {
      const auto byte = static_cast<unsigned char>(b_[pos_ + i]);
      if (i < 8) {
        v |= std::uint64_t{byte} << (8 * i);
      } else {
        STRATA_CHECK(byte == 0, FormatError, where_, ": a ", width, "-byte number is larger than any file");
      }
    }
    pos_ += width;
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(uint(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(uint(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
  void skip(std::uint64_t n) {
    need(n);
    pos_ += static_cast<std::size_t>(n);
  }
  bool undefined_address(unsigned width) {
    need(width);
    bool all = true;
    for (unsigned i = 0; i < width; ++i) all = all && static_cast<unsigned char>(b_[pos_ + i]) == 0xff;
    return all;
  }
  std::size_t pos() const { return pos_; }
  std::size_t left() const { return end_ - pos_; }
  void need(std::uint64_t n) const {
    STRATA_CHECK(n <= end_ - pos_, FormatError, where_, ": the HDF5 structure ends early (", n, " more bytes needed at byte ",
                 pos_, " of ", end_, ")");
  }

 private:
  const std::string& b_;
  std::size_t pos_;
  std::size_t end_;
  const std::string& where_;
};

std::uint64_t pad8(std::uint64_t n) { return (n + 7) & ~std::uint64_t{7}; }

struct Message {
  std::uint16_t type;
  const std::string* chunk;
  std::size_t offset;  // of the data in *chunk
  std::size_t size;
};

// Every message of an object header, continuation chunks included.
class HeaderWalker {
 public:
  HeaderWalker(const RawBytes& raw, const RawLayout& layout, const std::string& where, const std::string& label)
      : raw_(raw), layout_(layout), where_(where), label_(label) {}

  std::vector<Message> messages(std::uint64_t header_address) {
    const std::string prefix = read_at(header_address, 4, "the object header");
    if (prefix == "OHDR") {
      walk_v2(header_address);
    } else {
      walk_v1(header_address);
    }
    return std::move(messages_);
  }

 private:
  std::string read_at(std::uint64_t relative, std::uint64_t n, std::string_view what) {
    STRATA_CHECK(relative <= raw_.size() && layout_.base <= raw_.size() - relative, FormatError, where_, ": ", what,
                 " at address ", relative, " lies outside the file");
    STRATA_CHECK(n <= kMaxChunkBytes, FormatError, where_, ": ", what, " declares ", n, " bytes (at most ",
                 kMaxChunkBytes, " are accepted)");
    return raw_.read(layout_.base + relative, static_cast<std::size_t>(n), what, label_);
  }

  // Reads the chunk at `at` once: a continuation that points back at a chunk already read
  // (a loop) is refused, and all chunks together stay within the file's size.
  void add_chunk(std::uint64_t at, std::uint64_t length) {
    STRATA_CHECK(chunks_.size() < kMaxChunks, FormatError, where_, ": the object header has more than ", kMaxChunks,
                 " continuation chunks");
    STRATA_CHECK(visited_.insert(at).second, FormatError, where_,
                 ": the object header's continuation chunks form a loop (address ", at, ")");
    total_ += length;
    STRATA_CHECK(total_ <= raw_.size(), FormatError, where_, ": the object header's chunks add up to more than the file");
    chunks_.push_back(std::make_unique<std::string>(read_at(at, length, "an object header chunk")));
  }

  // Version 1: 16-byte prefix, then messages of an 8-byte header and 8-aligned data.
  void walk_v1(std::uint64_t address) {
    std::string prefix = read_at(address, 16, "the object header");
    Cursor c(prefix, 0, 16, where_);
    const unsigned version = c.u8();
    STRATA_CHECK(version == 1, FormatError, where_, ": unknown object header version ", version);
    c.skip(1);
    c.u16();  // number of messages (continuations may leave it stale: not relied on)
    c.u32();  // reference count
    const std::uint32_t size = c.u32();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> pending{{address + 16, size}};
    while (!pending.empty()) {
      const auto [at, length] = pending.front();
      pending.erase(pending.begin());
      add_chunk(at, length);
      const std::string& chunk = *chunks_.back();
      Cursor m(chunk, 0, chunk.size(), where_);
      while (m.left() >= 8) {
        const std::uint16_t type = m.u16();
        const std::uint16_t msize = m.u16();
        m.skip(4);  // flags, reserved
        m.need(msize);
        messages_.push_back({type, &chunk, m.pos(), msize});
        if (type == kMsgContinuation) pending.push_back(continuation(chunk, m.pos(), msize));
        m.skip(msize);
      }
    }
  }

  // Version 2: "OHDR" prefix, 4-byte messages headers (6 with creation order), checksums.
  void walk_v2(std::uint64_t address) {
    std::string prefix = read_at(address, 4 + 2 + 16 + 4 + 8, "the object header");
    Cursor c(prefix, 4, prefix.size(), where_);
    const unsigned version = c.u8();
    STRATA_CHECK(version == 2, FormatError, where_, ": unknown object header version ", version);
    const unsigned flags = c.u8();
    if (flags & 0x20) c.skip(16);  // times
    if (flags & 0x10) c.skip(4);   // attribute phase change values
    const std::uint64_t chunk0 = c.uint(1u << (flags & 3));
    const bool creation_order = (flags & 0x04) != 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> pending{{address + c.pos(), chunk0}};
    bool first = true;
    while (!pending.empty()) {
      const auto [at, length] = pending.front();
      pending.erase(pending.begin());
      // Chunk 0's size counts its messages only; an "OCHK" continuation's length counts
      // its signature and checksum too. Both end with a 4-byte checksum.
      const std::size_t skip = first ? 0 : 4;
      STRATA_CHECK(first || length >= 8, FormatError, where_, ": an object header continuation chunk is too short");
      add_chunk(at, first ? length + 4 : length);
      first = false;
      const std::string& chunk = *chunks_.back();
      if (skip) {
        STRATA_CHECK(chunk.compare(0, 4, "OCHK") == 0, FormatError, where_,
                     ": an object header continuation chunk lacks its OCHK signature");
      }
      const std::size_t end = chunk.size() - 4;  // the checksum
      const std::size_t header = creation_order ? 6 : 4;
      Cursor m(chunk, skip, end, where_);
      while (m.left() >= header) {
        const std::uint8_t type = m.u8();
        const std::uint16_t msize = m.u16();
        m.skip(header - 3);
        m.need(msize);
        messages_.push_back({type, &chunk, m.pos(), msize});
        if (type == kMsgContinuation) pending.push_back(continuation(chunk, m.pos(), msize));
        m.skip(msize);
      }
    }
  }

  std::pair<std::uint64_t, std::uint64_t> continuation(const std::string& chunk, std::size_t at, std::size_t size) {
    Cursor c(chunk, at, at + size, where_);
    const std::uint64_t offset = c.uint(layout_.offset_size);
    const std::uint64_t length = c.uint(layout_.length_size);
    return {offset, length};
  }

  const RawBytes& raw_;
  const RawLayout& layout_;
  const std::string& where_;
  const std::string& label_;
  std::vector<std::unique_ptr<std::string>> chunks_;
  std::vector<Message> messages_;
  std::set<std::uint64_t> visited_;
  std::uint64_t total_ = 0;

 public:
  // Keeps the chunk buffers that messages() points into alive.
  std::vector<std::unique_ptr<std::string>> take_chunks() { return std::move(chunks_); }
};

// One global heap collection: object index -> (offset in bytes, size).
struct Collection {
  std::string bytes;
  std::map<unsigned, std::pair<std::size_t, std::uint64_t>> objects;
};

Collection read_collection(const RawBytes& raw, const RawLayout& layout, std::uint64_t address,
                           const std::string& where, const std::string& label) {
  const std::string what = "the global heap collection at address " + std::to_string(address);
  const std::size_t header = 8 + layout.length_size;
  STRATA_CHECK(address <= raw.size() && layout.base <= raw.size() - address, FormatError, where, ": ", what,
               " lies outside the file");
  Collection col;
  std::string head = raw.read(layout.base + address, header, what, label);
  Cursor c(head, 0, head.size(), where);
  STRATA_CHECK(head.compare(0, 4, "GCOL") == 0, FormatError, where, ": ", what, " lacks its GCOL signature");
  c.skip(4);
  const unsigned version = c.u8();
  STRATA_CHECK(version == 1, FormatError, where, ": ", what, " has unknown version ", version);
  c.skip(3);
  const std::uint64_t size = c.uint(layout.length_size);
  STRATA_CHECK(size >= header && size <= kMaxAttributeBytes + header, FormatError, where, ": ", what, " declares ",
               size, " bytes");
  col.bytes = raw.read(layout.base + address, static_cast<std::size_t>(size), what, label);
  const std::size_t object_header = 8 + layout.length_size;
  Cursor o(col.bytes, header, col.bytes.size(), where);
  while (o.left() >= object_header) {
    const unsigned index = o.u16();
    o.skip(6);  // reference count, reserved
    const std::uint64_t osize = o.uint(layout.length_size);
    if (index == 0) {  // free space: its size includes its header
      STRATA_CHECK(osize >= object_header && osize - object_header <= o.left(), FormatError, where, ": ", what,
                   " has a free-space block that does not fit");
      o.skip(osize - object_header);
      continue;
    }
    STRATA_CHECK(osize <= o.left() && pad8(osize) <= o.left(), FormatError, where, ": ", what, ": object ", index,
                 " of ", osize, " bytes does not fit in the collection");
    STRATA_CHECK(col.objects.emplace(index, std::make_pair(o.pos(), osize)).second, FormatError, where, ": ", what,
                 " holds object ", index, " twice");
    o.skip(pad8(osize));
  }
  return col;
}

}  // namespace

std::shared_ptr<const RawBytes> RawBytes::of_file(const std::filesystem::path& path) {
  return std::make_shared<FdBytes>(path);
}

std::shared_ptr<const RawBytes> RawBytes::of_memory(std::string_view bytes) {
  return std::make_shared<MemoryBytes>(bytes);
}

std::vector<std::string> read_vlen_string_attribute(const RawBytes& raw, const RawLayout& layout,
                                                    std::uint64_t header_address, const std::string& name,
                                                    std::size_t expected, const std::string& where,
                                                    const std::string& label) {
  HeaderWalker walker(raw, layout, where, label);
  const std::vector<Message> messages = walker.messages(header_address);
  const auto chunks = walker.take_chunks();
  bool dense = false;
  std::optional<Message> found;
  for (const Message& msg : messages) {
    if (msg.type == kMsgAttributeInfo) {
      Cursor c(*msg.chunk, msg.offset, msg.offset + msg.size, where);
      c.skip(1);
      const unsigned flags = c.u8();
      if (flags & 1) c.skip(2);
      dense = dense || !c.undefined_address(layout.offset_size);
      continue;
    }
    if (msg.type != kMsgAttribute) continue;
    Cursor c(*msg.chunk, msg.offset, msg.offset + msg.size, where);
    const unsigned version = c.u8();
    STRATA_CHECK(version >= 1 && version <= 3, FormatError, where, ": an attribute message has unknown version ",
                 version);
    const unsigned flags = c.u8();
    const std::uint16_t name_size = c.u16();
    c.skip(4);
    if (version == 3) c.skip(1);
    c.need(name_size);
    const std::string_view stored(msg.chunk->data() + c.pos(), name_size);
    if (name_size == name.size() + 1 && stored.substr(0, name.size()) == name && stored.back() == '\0') {
      STRATA_CHECK(version == 1 || (flags & 3) == 0, FormatError, where,
                   " uses a shared datatype or dataspace, which this reader does not read");
      found = msg;
      break;
    }
  }
  STRATA_CHECK(found.has_value(), FormatError, where,
               dense ? " is kept in dense attribute storage (a fractal heap), which this reader does not read; "
                       "re-save the file with h5py's default libver"
                     : " is not among the attribute messages of its object header");

  const Message& msg = *found;
  Cursor c(*msg.chunk, msg.offset, msg.offset + msg.size, where);
  const unsigned version = c.u8();
  c.skip(1);
  const std::uint16_t name_size = c.u16();
  const std::uint16_t type_size = c.u16();
  const std::uint16_t space_size = c.u16();
  if (version == 3) c.skip(1);
  c.skip(version == 1 ? pad8(name_size) : name_size);

  // Datatype: a variable-length string whose elements are length, heap address, index.
  const std::size_t type_at = c.pos();
  c.need(type_size);
  {
    Cursor t(*msg.chunk, type_at, type_at + type_size, where);
    const unsigned class_version = t.u8();
    const unsigned bits = t.u8();
    t.skip(2);
    const std::uint32_t element = t.u32();
    STRATA_CHECK((class_version & 0x0f) == kClassVlen && (bits & 0x0f) == 1, FormatError, where,
                 " is not stored as a variable-length string (datatype class ", class_version & 0x0f, ")");
    STRATA_CHECK(element == 4 + layout.offset_size + 4, FormatError, where, " declares ", element,
                 "-byte variable-length elements; expected ", 4 + layout.offset_size + 4);
  }
  c.skip(version == 1 ? pad8(type_size) : type_size);

  // Dataspace: the element count.
  const std::size_t space_at = c.pos();
  c.need(space_size);
  std::uint64_t count = 1;
  {
    Cursor s(*msg.chunk, space_at, space_at + space_size, where);
    const unsigned sversion = s.u8();
    const unsigned rank = s.u8();
    s.skip(1);  // flags
    STRATA_CHECK(sversion == 1 || sversion == 2, FormatError, where, ": unknown dataspace version ", sversion);
    STRATA_CHECK(rank <= kMaxRank, FormatError, where, " has rank ", rank);
    bool null_space = false;
    if (sversion == 1) {
      s.skip(5);
    } else {
      null_space = s.u8() == 2;
    }
    for (unsigned i = 0; i < rank; ++i) {
      const std::uint64_t d = s.uint(layout.length_size);
      STRATA_CHECK(d == 0 || count <= kMaxNames / d, FormatError, where, " declares more than ", kMaxNames,
                   " elements");
      count *= d;
    }
    if (null_space) count = 0;
  }
  c.skip(version == 1 ? pad8(space_size) : space_size);
  STRATA_CHECK(count == expected, FormatError, where, " holds ", count, " elements in its message but HDF5 reports ",
               expected);

  const std::size_t element = 4 + layout.offset_size + 4;
  c.need(count * element);
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(count));
  std::map<std::uint64_t, Collection> collections;
  std::uint64_t total = 0, collection_bytes = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint32_t length = c.u32();
    const std::uint64_t address = c.uint(layout.offset_size);
    const std::uint32_t index = c.u32();
    if (length == 0) {
      out.emplace_back();
      continue;
    }
    STRATA_CHECK(length <= kMaxStringBytes, FormatError, where, " holds a string of ", length, " bytes (at most ",
                 kMaxStringBytes, " are accepted)");
    total += length;
    STRATA_CHECK(total <= kMaxAttributeBytes, FormatError, where, " holds more than ", kMaxAttributeBytes,
                 " bytes of strings");
    auto it = collections.find(address);
    if (it == collections.end()) {
      it = collections.emplace(address, read_collection(raw, layout, address, where, label)).first;
      // Distinct collections of a real file do not overlap: together they fit in it.
      collection_bytes += it->second.bytes.size();
      STRATA_CHECK(collection_bytes <= raw.size(), FormatError, where,
                   " refers to global heap collections larger than the file together");
    }
    const Collection& col = it->second;
    const auto obj = col.objects.find(index);
    STRATA_CHECK(obj != col.objects.end(), FormatError, where, ": string ", i, " refers to heap object ", index,
                 ", which the global heap collection at address ", address, " does not hold");
    STRATA_CHECK(obj->second.second >= length, FormatError, where, ": string ", i, " claims ", length,
                 " bytes but its heap object holds ", obj->second.second);
    std::string_view s(col.bytes.data() + obj->second.first, length);
    s = s.substr(0, std::min(s.size(), s.find('\0')));  // C strings end at the first NUL
    out.emplace_back(s);
  }
  return out;
}

}  // namespace strata::h5
