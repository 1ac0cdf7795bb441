#include "h5_vfd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>

namespace strata::h5 {
namespace {

// What H5Pset_driver copies into the property list.
struct DriverInfo {
  const unsigned char* memory = nullptr;  // null: read the named file
  std::size_t size = 0;
};

// HDF5 allocates nothing for a driver's file: the driver's struct starts with H5FD_t.
struct CheckedFile {
  H5FD_t pub;  // filled in by HDF5 after open
  int fd = -1;
  const unsigned char* memory = nullptr;
  haddr_t eof = 0;
  haddr_t eoa = 0;
  unsigned length_size = 8;  // "size of lengths" from the superblock
};

thread_local std::string t_problem;

constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
constexpr unsigned char kGlobalHeapSignature[4] = {'G', 'C', 'O', 'L'};

std::uint64_t decode_length(const unsigned char* p, unsigned length_size) {
  std::uint64_t v = 0;
  for (unsigned i = 0; i < length_size && i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  // A 16-byte length with any of its upper 8 bytes set is larger than any file.
  for (unsigned i = 8; i < length_size; ++i) {
    if (p[i]) return ~std::uint64_t{0};
  }
  return v;
}

std::string check_heap(const unsigned char* bytes, std::size_t size, unsigned length_size, haddr_t addr,
                       haddr_t eof) {
  const std::size_t header = 8 + length_size;  // signature, version, reserved, collection size
  if (size < header) return "";                // HDF5 reports a short collection itself
  if (std::memcmp(bytes, kGlobalHeapSignature, 4) != 0) return "";  // HDF5 checks the signature
  const std::uint64_t collection = decode_length(bytes + 8, length_size);
  if (collection < header) return "global heap collection declares " + std::to_string(collection) + " bytes";
  if (eof != HADDR_UNDEF && (collection > eof || addr > eof - collection)) {
    return "global heap collection at byte " + std::to_string(addr) + " declares " + std::to_string(collection) +
           " bytes, past the end of the file (" + std::to_string(eof) + " bytes)";
  }
  if (size < collection) return "";  // the first, speculative read: HDF5 reads it all next
  const std::size_t object_header = 8 + length_size;  // index, references, reserved, size
  std::uint64_t p = header;
  while (p < collection) {
    if (p + object_header > collection) break;  // HDF5 takes a too-small tail as free space
    const unsigned index = bytes[p] | (unsigned{bytes[p + 1]} << 8);
    const std::uint64_t object = decode_length(bytes + p + 8, length_size);
    const std::uint64_t room = collection - p;
    // Object 0 is the free space: its size includes its header. Others are padded to 8.
    const bool fits = index == 0 ? object >= object_header && object <= room
                                 : object <= room && object_header + ((object + 7) & ~std::uint64_t{7}) <= room;
    if (!fits) {
      return "global heap collection at byte " + std::to_string(addr) + ": object " + std::to_string(index) +
             " of " + std::to_string(object) + " bytes does not fit in the collection (" +
             std::to_string(collection) + " bytes)";
    }
    p += index == 0 ? object : object_header + ((object + 7) & ~std::uint64_t{7});
  }
  return "";
}

herr_t refuse(const std::string& why) {
  t_problem = why;
  return -1;
}

// ---- driver callbacks ----------------------------------------------------------------------

void* fapl_copy(const void* info) {
  auto* out = new (std::nothrow) DriverInfo(*static_cast<const DriverInfo*>(info));
  return out;
}

herr_t fapl_free(void* info) {
  delete static_cast<DriverInfo*>(info);
  return 0;
}

H5FD_t* open_file(const char* name, unsigned flags, hid_t fapl, haddr_t /*maxaddr*/) {
  if (flags & (H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_CREAT)) {
    refuse("the checked reader opens files read-only");
    return nullptr;
  }
  const auto* info = static_cast<const DriverInfo*>(H5Pget_driver_info(fapl));
  auto* f = new (std::nothrow) CheckedFile();
  if (!f) return nullptr;
  if (info && info->memory) {
    f->memory = info->memory;
    f->eof = info->size;
  } else {
    f->fd = ::open(name, O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (f->fd < 0 || ::fstat(f->fd, &st) != 0) {
      refuse(std::string("cannot open: ") + std::strerror(errno));
      if (f->fd >= 0) ::close(f->fd);
      delete f;
      return nullptr;
    }
    f->eof = static_cast<haddr_t>(st.st_size);
  }
  return &f->pub;
}

herr_t close_file(H5FD_t* file) {
  auto* f = reinterpret_cast<CheckedFile*>(file);
  if (f->fd >= 0) ::close(f->fd);
  delete f;
  return 0;
}

herr_t query(const H5FD_t*, unsigned long* flags) {
  // Metadata aggregation/accumulation stay off so that each global heap read reaches
  // read_file whole and typed. Data sieving only buffers raw data.
  if (flags) *flags = H5FD_FEAT_DATA_SIEVE;
  return 0;
}

haddr_t get_eoa(const H5FD_t* file, H5FD_mem_t) { return reinterpret_cast<const CheckedFile*>(file)->eoa; }

herr_t set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  reinterpret_cast<CheckedFile*>(file)->eoa = addr;
  return 0;
}

haddr_t get_eof(const H5FD_t* file, H5FD_mem_t) { return reinterpret_cast<const CheckedFile*>(file)->eof; }

herr_t get_handle(H5FD_t* file, hid_t, void** handle) {
  auto* f = reinterpret_cast<CheckedFile*>(file);
  if (!handle) return -1;
  *handle = f->fd >= 0 ? static_cast<void*>(&f->fd) : const_cast<unsigned char*>(f->memory);
  return 0;
}

herr_t read_file(H5FD_t* file, H5FD_mem_t type, hid_t, haddr_t addr, size_t size, void* buffer) {
  auto* f = reinterpret_cast<CheckedFile*>(file);
  auto* out = static_cast<unsigned char*>(buffer);
  if (addr == HADDR_UNDEF || addr > f->eoa || size > f->eoa - addr) {
    return refuse("a read of " + std::to_string(size) + " bytes at byte " + std::to_string(addr) +
                  " goes past the end of the file's address space");
  }
  // Bytes past the end of the file read as zeros (as HDF5's own drivers do).
  const std::size_t have = addr >= f->eof ? 0 : static_cast<std::size_t>(std::min<haddr_t>(size, f->eof - addr));
  if (f->memory) {
    if (have) std::memcpy(out, f->memory + addr, have);
  } else {
    std::size_t done = 0;
    while (done < have) {
      const ssize_t n = ::pread(f->fd, out + done, have - done, static_cast<off_t>(addr + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return refuse(std::string("read failed: ") + (n < 0 ? std::strerror(errno) : "unexpected end of file"));
      done += static_cast<std::size_t>(n);
    }
  }
  if (have < size) std::memset(out + have, 0, size - have);

  if (type == H5FD_MEM_SUPER && size >= 16 && std::memcmp(out, kSignature, 8) == 0) {
    // Superblock versions 0 and 1 keep "size of lengths" at byte 14, versions 2 and 3 at 10.
    const unsigned version = out[8];
    const unsigned length_size = version < 2 ? out[14] : out[10];
    if (length_size == 2 || length_size == 4 || length_size == 8 || length_size == 16) f->length_size = length_size;
  }
  // HDF5 1.10 reads global heap collections as raw data (H5F_block_read maps
  // H5FD_MEM_GHEAP to H5FD_MEM_DRAW), so a raw read that starts with a collection header is
  // checked as one. Tensor bytes that happen to start with "GCOL\1\0\0\0" and an
  // impossible size would be refused: a false alarm on a file nobody writes, never a crash.
  if ((type == H5FD_MEM_GHEAP || type == H5FD_MEM_DRAW) && size >= 8 &&
      std::memcmp(out, kGlobalHeapSignature, 4) == 0 && out[4] == 1 && out[5] == 0 && out[6] == 0 && out[7] == 0) {
    std::string problem = check_heap(out, size, f->length_size, addr, f->eof);
    if (!problem.empty()) return refuse(problem);
  }
  return 0;
}

herr_t write_file(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) {
  return refuse("the checked reader does not write");
}

herr_t truncate_file(H5FD_t*, hid_t, hbool_t) { return 0; }

// What both drivers share: a name, the address range, HDF5's default close degree and
// free-list map, no property-list copies beyond their own info.
H5FD_class_t driver_class(const char* name) {
  H5FD_class_t c;
  std::memset(&c, 0, sizeof c);
  c.name = name;
  c.maxaddr = (static_cast<haddr_t>(1) << 62) - 1;
  c.fc_degree = H5F_CLOSE_WEAK;
  for (auto& m : c.fl_map) m = H5FD_MEM_DEFAULT;
  return c;
}

H5FD_class_t make_checked_class() {
  H5FD_class_t c = driver_class("strata_checked_read");
  c.fapl_size = sizeof(DriverInfo);
  c.fapl_copy = fapl_copy;
  c.fapl_free = fapl_free;
  c.open = open_file;
  c.close = close_file;
  c.query = query;
  c.get_eoa = get_eoa;
  c.set_eoa = set_eoa;
  c.get_eof = get_eof;
  c.get_handle = get_handle;
  c.read = read_file;
  c.write = write_file;
  c.truncate = truncate_file;
  return c;
}

// A driver's registration. HDF5 keeps a pointer to the class and calls into it until the
// ID is released, so the plugin unregisters it when it is unloaded (its code goes away).
class DriverRegistration {
 public:
  explicit DriverRegistration(H5FD_class_t cls) : cls_(cls) {}
  ~DriverRegistration() {
    if (id_ >= 0 && H5Iis_valid(id_) > 0) H5FDunregister(id_);
  }
  // Registered once; again if HDF5 was closed and reopened in between.
  hid_t id() {
    std::lock_guard<std::mutex> lock(m_);
    if (id_ < 0 || H5Iis_valid(id_) <= 0) id_ = H5FDregister(&cls_);
    return id_;
  }

 private:
  H5FD_class_t cls_;
  std::mutex m_;
  hid_t id_ = H5I_INVALID_HID;
};

DriverRegistration checked_driver(make_checked_class());

// ---- the piece driver (writing) ----------------------------------------------------------

struct PieceFile {
  H5FD_t pub;
  PieceSink* sink = nullptr;
};

// Raw data writes at least this large are borrowed when they come from a lent tensor.
constexpr std::size_t kBorrowMin = std::size_t{64} << 10;

void* piece_fapl_copy(const void* info) { return new (std::nothrow) PieceSink*(*static_cast<PieceSink* const*>(info)); }
herr_t piece_fapl_free(void* info) {
  delete static_cast<PieceSink**>(info);
  return 0;
}

H5FD_t* piece_open(const char*, unsigned, hid_t fapl, haddr_t) {
  const auto* info = static_cast<PieceSink* const*>(H5Pget_driver_info(fapl));
  if (!info || !*info) return nullptr;
  auto* f = new (std::nothrow) PieceFile();
  if (!f) return nullptr;
  f->sink = *info;
  return &f->pub;
}

herr_t piece_close(H5FD_t* file) {
  auto* f = reinterpret_cast<PieceFile*>(file);
  f->sink->closed = true;
  delete f;
  return 0;
}

herr_t piece_query(const H5FD_t*, unsigned long* flags) {
  // As HDF5's core driver: metadata aggregated and accumulated, small raw data aggregated.
  if (flags) {
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_AGGREGATE_SMALLDATA;
  }
  return 0;
}

haddr_t piece_get_eoa(const H5FD_t* file, H5FD_mem_t) { return reinterpret_cast<const PieceFile*>(file)->sink->eoa; }
herr_t piece_set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  reinterpret_cast<PieceFile*>(file)->sink->eoa = addr;
  return 0;
}
haddr_t piece_get_eof(const H5FD_t* file, H5FD_mem_t) { return reinterpret_cast<const PieceFile*>(file)->sink->eof; }

herr_t piece_read(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buffer) {
  reinterpret_cast<PieceFile*>(file)->sink->read(addr, size, static_cast<unsigned char*>(buffer));
  return 0;
}

herr_t piece_write(H5FD_t* file, H5FD_mem_t type, hid_t, haddr_t addr, size_t size, const void* buffer) {
  PieceSink& sink = *reinterpret_cast<PieceFile*>(file)->sink;
  const auto* p = static_cast<const char*>(buffer);
  PieceSink::Write w;
  w.addr = addr;
  w.size = size;
  if (type == H5FD_MEM_DRAW && size >= kBorrowMin) {
    for (const Tensor& t : sink.lent) {
      const auto* begin = static_cast<const char*>(t.data());
      if (p >= begin && size <= t.nbytes() && p - begin <= static_cast<std::ptrdiff_t>(t.nbytes() - size)) {
        w.borrowed = p;
        break;
      }
    }
  }
  try {
    if (!w.borrowed) w.owned.assign(p, size);
    sink.writes.push_back(std::move(w));
  } catch (...) {
    return refuse("out of memory while building the file");
  }
  sink.eof = std::max<haddr_t>(sink.eof, addr + size);
  return 0;
}

herr_t piece_truncate(H5FD_t* file, hid_t, hbool_t) {
  PieceSink& sink = *reinterpret_cast<PieceFile*>(file)->sink;
  sink.eof = sink.eoa;
  return 0;
}

H5FD_class_t make_piece_class() {
  H5FD_class_t c = driver_class("strata_piece_write");
  c.fapl_size = sizeof(PieceSink*);
  c.fapl_copy = piece_fapl_copy;
  c.fapl_free = piece_fapl_free;
  c.open = piece_open;
  c.close = piece_close;
  c.query = piece_query;
  c.get_eoa = piece_get_eoa;
  c.set_eoa = piece_set_eoa;
  c.get_eof = piece_get_eof;
  c.read = piece_read;
  c.write = piece_write;
  c.truncate = piece_truncate;
  return c;
}

DriverRegistration piece_driver(make_piece_class());

}  // namespace

void PieceSink::read(haddr_t addr, std::size_t size, unsigned char* out) const {
  std::memset(out, 0, size);
  const haddr_t end = addr + size;
  for (const Write& w : writes) {
    const haddr_t lo = std::max<haddr_t>(addr, w.addr), hi = std::min<haddr_t>(end, w.addr + w.size);
    if (lo >= hi) continue;
    const char* src = w.borrowed ? w.borrowed : w.owned.data();
    std::memcpy(out + (lo - addr), src + (lo - w.addr), hi - lo);
  }
}

void PieceSink::finish() {
  // A borrowed write stays a piece of its own unless a later write overlaps it.
  std::vector<std::size_t> live;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const Write& w = writes[i];
    if (!w.borrowed || w.addr + w.size > eof) continue;
    bool overlapped = false;
    for (std::size_t j = i + 1; j < writes.size() && !overlapped; ++j) {
      overlapped = writes[j].addr < w.addr + w.size && w.addr < writes[j].addr + writes[j].size;
    }
    if (!overlapped) live.push_back(i);
  }
  std::sort(live.begin(), live.end(), [&](std::size_t a, std::size_t b) { return writes[a].addr < writes[b].addr; });
  // The gaps between live borrowed writes, filled from every other write in order.
  struct Gap {
    haddr_t begin, end;
  };
  std::vector<Gap> spans;
  haddr_t at = 0;
  for (std::size_t k : live) {
    spans.push_back({at, writes[k].addr});
    at = writes[k].addr + writes[k].size;
  }
  spans.push_back({at, eof});
  gaps.clear();
  for (const Gap& g : spans) gaps.emplace_back(static_cast<std::size_t>(g.end - g.begin), '\0');
  std::vector<bool> is_live(writes.size(), false);
  for (std::size_t k : live) is_live[k] = true;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    if (is_live[i]) continue;
    const Write& w = writes[i];
    const char* src = w.borrowed ? w.borrowed : w.owned.data();
    // The first gap that ends after the write begins.
    auto it = std::upper_bound(spans.begin(), spans.end(), w.addr, [](haddr_t a, const Gap& g) { return a < g.end; });
    for (; it != spans.end() && it->begin < w.addr + w.size; ++it) {
      const haddr_t lo = std::max(it->begin, w.addr), hi = std::min(it->end, w.addr + w.size);
      if (lo < hi) std::memcpy(gaps[it - spans.begin()].data() + (lo - it->begin), src + (lo - w.addr), hi - lo);
    }
  }
  pieces.clear();
  for (std::size_t k = 0; k < live.size(); ++k) {
    pieces.emplace_back(gaps[k]);
    pieces.emplace_back(writes[live[k]].borrowed, writes[live[k]].size);
  }
  pieces.emplace_back(gaps.back());
}

hid_t piece_write_fapl(PieceSink* sink) {
  const hid_t driver = piece_driver.id();
  if (driver < 0) return H5I_INVALID_HID;
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return fapl;
  if (H5Pset_driver(fapl, driver, &sink) < 0) {
    H5Pclose(fapl);
    return H5I_INVALID_HID;
  }
  return fapl;
}

hid_t checked_read_fapl(const void* memory, std::size_t size) {
  const hid_t driver = checked_driver.id();
  if (driver < 0) return H5I_INVALID_HID;
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return fapl;
  const DriverInfo info{static_cast<const unsigned char*>(memory), size};
  if (H5Pset_driver(fapl, driver, &info) < 0) {
    H5Pclose(fapl);
    return H5I_INVALID_HID;
  }
  return fapl;
}

std::string take_checked_driver_problem() {
  std::string out = std::move(t_problem);
  t_problem.clear();
  return out;
}

std::string check_global_heap(const unsigned char* bytes, std::size_t size) {
  return check_heap(bytes, size, 8, 0, HADDR_UNDEF);
}

}  // namespace strata::h5
