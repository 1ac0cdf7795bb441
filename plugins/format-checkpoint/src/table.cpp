#include "table.hpp"

#include <algorithm>
#include <cstring>

#include "crc32c.hpp"
#include "snappy.hpp"
#include "strata/error.hpp"

namespace strata::ckpt {

// ---- encoding helpers ---------------------------------------------------------------------

void put_varint64(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_fixed32(std::string& out, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xffu);
  out.append(b, 4);
}

void put_fixed64(std::string& out, std::uint64_t v) {
  put_fixed32(out, static_cast<std::uint32_t>(v & 0xffffffffu));
  put_fixed32(out, static_cast<std::uint32_t>(v >> 32));
}

bool get_varint64(std::string_view& in, std::uint64_t& v) noexcept {
  std::uint64_t result = 0;
  for (unsigned shift = 0; shift <= 63 && !in.empty(); shift += 7) {
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && (b & 0x7eu)) return false;  // more than 64 bits
    result |= static_cast<std::uint64_t>(b & 0x7fu) << shift;
    if ((b & 0x80u) == 0) {
      v = result;
      return true;
    }
  }
  return false;
}

bool get_varint32(std::string_view& in, std::uint32_t& v) noexcept {
  std::uint32_t result = 0;
  for (unsigned shift = 0; shift <= 28 && !in.empty(); shift += 7) {
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (shift == 28 && (b & 0xf0u)) return false;
    result |= static_cast<std::uint32_t>(b & 0x7fu) << shift;
    if ((b & 0x80u) == 0) {
      v = result;
      return true;
    }
  }
  return false;
}

std::uint32_t decode_fixed32(const char* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::uint64_t decode_fixed64(const char* p) noexcept {
  return static_cast<std::uint64_t>(decode_fixed32(p)) | (static_cast<std::uint64_t>(decode_fixed32(p + 4)) << 32);
}

std::string shortest_separator(std::string start, std::string_view limit) {
  const std::size_t n = std::min(start.size(), limit.size());
  std::size_t diff = 0;
  while (diff < n && start[diff] == limit[diff]) ++diff;
  if (diff >= n) return start;  // one is a prefix of the other
  const auto byte = static_cast<unsigned char>(start[diff]);
  if (byte < 0xff && byte + 1 < static_cast<unsigned char>(limit[diff])) {
    start[diff] = static_cast<char>(byte + 1);
    start.resize(diff + 1);
  }
  return start;
}

std::string short_successor(std::string key) {
  for (std::size_t i = 0; i < key.size(); ++i) {
    const auto byte = static_cast<unsigned char>(key[i]);
    if (byte != 0xff) {
      key[i] = static_cast<char>(byte + 1);
      key.resize(i + 1);
      return key;
    }
  }
  return key;  // all 0xff (or empty): no shorter successor
}

// ---- building ---------------------------------------------------------------------------------

BlockBuilder::BlockBuilder(int restart_interval) : interval_(restart_interval) {}

void BlockBuilder::add(std::string_view key, std::string_view value) {
  std::size_t shared = 0;
  if (counter_ < interval_) {
    const std::size_t n = std::min(last_key_.size(), key.size());
    while (shared < n && last_key_[shared] == key[shared]) ++shared;
  } else {
    restarts_.push_back(static_cast<std::uint32_t>(buffer_.size()));
    counter_ = 0;
  }
  put_varint64(buffer_, shared);
  put_varint64(buffer_, key.size() - shared);
  put_varint64(buffer_, value.size());
  buffer_.append(key.substr(shared));
  buffer_.append(value);
  last_key_.assign(key);
  ++counter_;
}

std::size_t BlockBuilder::size_estimate() const noexcept { return buffer_.size() + restarts_.size() * 4 + 4; }

std::string BlockBuilder::finish() {
  std::string out = std::move(buffer_);
  for (const auto r : restarts_) put_fixed32(out, r);
  put_fixed32(out, static_cast<std::uint32_t>(restarts_.size()));
  buffer_.clear();
  restarts_.assign(1, 0);
  counter_ = 0;
  last_key_.clear();
  return out;
}

TableBuilder::TableBuilder(TableOptions options) : options_(options), data_(options.restart_interval) {}

BlockHandle TableBuilder::write_block(BlockBuilder& block) {
  const std::string contents = block.finish();
  BlockHandle handle{file_.size(), contents.size()};
  file_.append(contents);
  const char type = static_cast<char>(kNoCompression);
  file_.push_back(type);
  std::uint32_t crc = crc32c(contents);
  crc = crc32c_extend(crc, &type, 1);
  put_fixed32(file_, mask_crc(crc));
  return handle;
}

void TableBuilder::flush() {
  if (data_.empty()) return;
  pending_handle_ = write_block(data_);
  pending_index_entry_ = true;
}

namespace {
std::string encode_handle(const BlockHandle& h) {
  std::string out;
  put_varint64(out, h.offset);
  put_varint64(out, h.size);
  return out;
}
}  // namespace

void TableBuilder::add(std::string_view key, std::string_view value) {
  STRATA_CHECK(!has_entries_ || key > std::string_view(last_key_), ValueError, "table keys must be added in strictly increasing order: '",
               key, "' after '", last_key_, "'");
  if (pending_index_entry_) {
    index_.add(shortest_separator(last_key_, key), encode_handle(pending_handle_));
    pending_index_entry_ = false;
  }
  data_.add(key, value);
  last_key_.assign(key);
  has_entries_ = true;
  if (data_.size_estimate() >= options_.block_size) flush();
}

std::string TableBuilder::finish() {
  flush();
  BlockBuilder meta(options_.restart_interval);
  const BlockHandle meta_handle = write_block(meta);
  if (pending_index_entry_) {
    index_.add(short_successor(last_key_), encode_handle(pending_handle_));
    pending_index_entry_ = false;
  }
  const BlockHandle index_handle = write_block(index_);
  std::string footer = encode_handle(meta_handle) + encode_handle(index_handle);
  footer.resize(kFooterSize - 8, '\0');
  put_fixed64(footer, kTableMagic);
  file_.append(footer);
  return std::move(file_);
}

// ---- reading ------------------------------------------------------------------------------------

bool has_table_magic(std::string_view file) noexcept {
  return file.size() >= kFooterSize && decode_fixed64(file.data() + file.size() - 8) == kTableMagic;
}

namespace {

BlockHandle decode_handle(std::string_view& in, std::string_view what, const char* which) {
  BlockHandle h;
  STRATA_CHECK(get_varint64(in, h.offset) && get_varint64(in, h.size), FormatError, what, ": the ", which,
               " block handle is not a valid pair of varints");
  return h;
}

// The contents of the block at `h` (checked, decompressed).
std::string read_block(std::string_view file, const BlockHandle& h, std::uint64_t limit, std::string_view what,
                       const char* which) {
  STRATA_CHECK(h.offset <= limit && h.size <= limit - h.offset && kBlockTrailerSize <= limit - h.offset - h.size,
               FormatError, what, ": the ", which, " block handle (offset ", h.offset, ", size ", h.size,
               ") points outside the file's ", limit, " bytes of blocks");
  const char* base = file.data() + h.offset;
  const auto n = static_cast<std::size_t>(h.size);
  const auto type = static_cast<unsigned char>(base[n]);
  const std::uint32_t stored = unmask_crc(decode_fixed32(base + n + 1));
  const std::uint32_t actual = crc32c(base, n + 1);  // contents + type byte
  STRATA_CHECK(stored == actual, FormatError, what, ": CRC mismatch in the ", which, " block at offset ", h.offset,
               " (stored ", stored, ", computed ", actual, "): the file is corrupt");
  if (type == kNoCompression) return std::string(base, n);
  if (type == kSnappyCompression) return snappy_uncompress(std::string_view(base, n), detail::concat(what, ": ", which, " block at offset ", h.offset));
  STRATA_THROW(FormatError, what, ": the ", which, " block at offset ", h.offset, " uses compression type ",
               static_cast<int>(type), " (only 0 = none and 1 = Snappy exist)");
}

// Calls fn(key, value) for every entry of `block`, checking its structure.
template <class Fn>
void for_each_entry(std::string_view block, std::string_view what, const char* which, Fn&& fn) {
  STRATA_CHECK(block.size() >= 4, FormatError, what, ": a ", which, " block of ", block.size(),
               " bytes is too short for its restart count");
  const std::uint32_t num_restarts = decode_fixed32(block.data() + block.size() - 4);
  STRATA_CHECK(num_restarts <= (block.size() - 4) / 4, FormatError, what, ": a ", which, " block of ", block.size(),
               " bytes claims ", num_restarts, " restart points");
  const std::size_t restarts_at = block.size() - 4 - 4 * static_cast<std::size_t>(num_restarts);
  std::vector<std::uint32_t> restarts(num_restarts);
  for (std::uint32_t i = 0; i < num_restarts; ++i) {
    restarts[i] = decode_fixed32(block.data() + restarts_at + 4 * static_cast<std::size_t>(i));
    STRATA_CHECK(restarts[i] < restarts_at || (restarts_at == 0 && restarts[i] == 0), FormatError, what, ": restart point ", i, " of a ", which,
                 " block (offset ", restarts[i], ") lies outside its ", restarts_at, " bytes of entries");
    STRATA_CHECK(i == 0 || restarts[i] > restarts[i - 1], FormatError, what, ": the restart points of a ", which,
                 " block are not increasing");
  }
  std::string_view rest = block.substr(0, restarts_at);
  std::string key;
  std::size_t next_restart = 0;
  while (!rest.empty()) {
    const auto offset = static_cast<std::uint32_t>(restarts_at - rest.size());
    std::uint32_t shared = 0, unshared = 0, value_len = 0;
    STRATA_CHECK(get_varint32(rest, shared) && get_varint32(rest, unshared) && get_varint32(rest, value_len), FormatError,
                 what, ": a ", which, " block entry at offset ", offset, " has a truncated header");
    STRATA_CHECK(shared <= key.size(), FormatError, what, ": a ", which, " block entry at offset ", offset, " shares ",
                 shared, " bytes with a previous key of ", key.size());
    STRATA_CHECK(unshared <= rest.size() && value_len <= rest.size() - unshared, FormatError, what, ": a ", which,
                 " block entry at offset ", offset, " runs past the end of its block");
    if (next_restart < restarts.size() && restarts[next_restart] == offset) {
      STRATA_CHECK(shared == 0, FormatError, what, ": the ", which, " block entry at restart point ", offset,
                   " shares a prefix with the previous key");
      ++next_restart;
    }
    key.resize(shared);
    key.append(rest.substr(0, unshared));
    rest.remove_prefix(unshared);
    fn(std::string_view(key), rest.substr(0, value_len));
    rest.remove_prefix(value_len);
  }
  STRATA_CHECK(next_restart == restarts.size() || restarts_at == 0, FormatError, what, ": a ", which,
               " block has restart points that are not at entry boundaries");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> read_table(std::string_view file, std::string_view what) {
  STRATA_CHECK(file.size() >= kFooterSize, FormatError, what, " is truncated: ", file.size(),
               " bytes, less than a table footer (48)");
  STRATA_CHECK(has_table_magic(file), FormatError, what, " does not end with the table magic number (not a checkpoint index, or truncated)");
  const std::uint64_t blocks_end = file.size() - kFooterSize;
  std::string_view footer = file.substr(file.size() - kFooterSize, kFooterSize - 8);
  const BlockHandle meta = decode_handle(footer, what, "metaindex");
  const BlockHandle index = decode_handle(footer, what, "index");
  (void)read_block(file, meta, blocks_end, what, "metaindex");  // checked, contents unused (TF writes none)
  const std::string index_block = read_block(file, index, blocks_end, what, "index");

  std::vector<std::pair<std::string, std::string>> out;
  std::string previous_index_key;
  bool first_index = true;
  for_each_entry(index_block, what, "index", [&](std::string_view index_key, std::string_view value) {
    STRATA_CHECK(first_index || index_key > std::string_view(previous_index_key), FormatError, what,
                 ": index block keys are not increasing");
    first_index = false;
    previous_index_key.assign(index_key);
    std::string_view v = value;
    const BlockHandle h = decode_handle(v, what, "data");
    const std::string block = read_block(file, h, blocks_end, what, "data");
    for_each_entry(block, what, "data", [&](std::string_view key, std::string_view val) {
      STRATA_CHECK(out.empty() || key > std::string_view(out.back().first), FormatError, what, ": key '", key,
                   "' is not after the previous key '", out.back().first, "' (keys must be strictly increasing)");
      STRATA_CHECK(key <= index_key, FormatError, what, ": key '", key, "' sorts after its block's index key '",
                   index_key, "'");
      out.emplace_back(std::string(key), std::string(val));
    });
  });
  return out;
}

}  // namespace strata::ckpt
