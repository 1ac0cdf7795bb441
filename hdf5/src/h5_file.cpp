#include "h5_file.hpp"

#include "h5_vfd.hpp"

#include <H5PLpublic.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "strata/device.hpp"

namespace strata::h5 {
namespace {

std::recursive_mutex& session_mutex() {
  static auto* m = new std::recursive_mutex();
  return *m;
}
thread_local int t_session_depth = 0;

std::string join_components(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
  return out;
}

// Printable form of a name read from a file (control bytes escaped, length capped).
std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i <= path.size()) {
    const std::size_t j = std::min(path.find('/', i), path.size());
    std::string_view part = path.substr(i, j - i);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    i = j + 1;
  }
  return parts;
}

struct WalkState {
  std::vector<std::string> frames;
};

}  // namespace

// ---- Handle / Session / errors -----------------------------------------------------------------

void Handle::reset() noexcept {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
  H5Eclear2(H5E_DEFAULT);
  id_ = H5I_INVALID_HID;
}

Session::Session() : lock_(session_mutex()) {
  if (t_session_depth++ > 0) return;
  H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (H5PLget_loading_state(&old_plugin_state_) >= 0) {
    restore_plugins_ = true;
    H5PLset_loading_state(0);
  }
  H5Eclear2(H5E_DEFAULT);
}

Session::~Session() {
  if (--t_session_depth > 0) return;
  H5Eclear2(H5E_DEFAULT);
  take_checked_driver_problem();
  if (restore_plugins_) H5PLset_loading_state(old_plugin_state_);
  H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_);
}

std::string take_error_stack() {
  std::vector<std::string> entries;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto* out = static_cast<std::vector<std::string>*>(data);
        if (out->size() < 64) {
          std::string text = e->func_name ? std::string(e->func_name) + "(): " : std::string();
          text += e->desc ? printable(e->desc) : std::string("(no description)");
          out->push_back(std::move(text));
        }
        return 0;
      },
      &entries);
  H5Eclear2(H5E_DEFAULT);
  // The API function's message only (issue 20: the rest of the stack is HDF5's internals,
  // often a dozen clauses, and says nothing a user can act on).
  return entries.empty() ? std::string() : entries.front();
}

std::string hdf5_detail() {
  const std::string problem = take_checked_driver_problem();
  const std::string stack = take_error_stack();
  if (stack.empty() && problem.empty()) return {};
  return " (" + (problem.empty() ? std::string() : problem + "; ") + "HDF5: " + stack + ")";
}

// ---- File --------------------------------------------------------------------------------------

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;

File::~File() {
  file_.reset();  // before the sink the piece driver writes into
}

void File::lend(const Tensor& t) const {
  if (sink_) sink_->lend(t);
}

std::string File::where() const { return "'" + label_ + "'"; }

File File::open(const std::filesystem::path& path) {
  std::error_code ec;
  STRATA_CHECK(std::filesystem::exists(path, ec), IOError, "'", path.string(), "' does not exist");
  STRATA_CHECK(!std::filesystem::is_directory(path, ec), IOError, "'", path.string(),
               "' is a directory, not an H5 file (a SavedModel directory? load it with the savedmodel format)");
  Handle fapl(checked_read_fapl(nullptr, 0));
  STRATA_CHECK(fapl.valid(), IOError, "cannot open '", path.string(), "'", hdf5_detail());
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
  STRATA_CHECK(f.valid(), FormatError, "'", path.string(),
               "' is not a readable HDF5 file (not HDF5, truncated or damaged)", hdf5_detail());
  File file(std::move(f), path.string());
  file.attach_raw(RawBytes::of_file(path));
  return file;
}

void File::attach_raw(std::shared_ptr<const RawBytes> raw) {
  raw_ = std::move(raw);
  Handle fcpl(H5Fget_create_plist(file_.get()));
  size_t offsets = 0, lengths = 0;
  hsize_t userblock = 0;
  STRATA_CHECK(fcpl.valid() && H5Pget_sizes(fcpl.get(), &offsets, &lengths) >= 0 &&
                   H5Pget_userblock(fcpl.get(), &userblock) >= 0,
               FormatError, where(), ": cannot read the superblock's address sizes", hdf5_detail());
  STRATA_CHECK((offsets == 2 || offsets == 4 || offsets == 8) && (lengths == 2 || lengths == 4 || lengths == 8),
               FormatError, where(), ": unsupported HDF5 address sizes (offsets ", offsets, ", lengths ", lengths,
               " bytes)");
  layout_ = RawLayout{userblock, static_cast<unsigned>(offsets), static_cast<unsigned>(lengths)};
}

File File::open_image(std::string_view bytes, std::string label) {
  STRATA_CHECK(!bytes.empty(), FormatError, "'", label, "' is empty (0 bytes): not an HDF5 file");
  Handle fapl(checked_read_fapl(bytes.data(), bytes.size()));
  STRATA_CHECK(fapl.valid(), IOError, "cannot prepare to read '", label, "'", hdf5_detail());
  static std::atomic<unsigned long> counter{0};
  const std::string name = "strata-h5-image-" + std::to_string(counter.fetch_add(1));
  Handle f(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()));
  STRATA_CHECK(f.valid(), FormatError, "'", label, "' is not a readable HDF5 file (not HDF5, truncated or damaged)",
               hdf5_detail());
  File file(std::move(f), std::move(label));
  file.attach_raw(RawBytes::of_memory(bytes));
  return file;
}

File File::create_in_memory(std::string label) {
  auto sink = std::make_unique<PieceSink>();
  Handle fapl(piece_write_fapl(sink.get()));
  STRATA_CHECK(fapl.valid(), IOError, "cannot set up an in-memory HDF5 file for '", label, "'", hdf5_detail());
  static std::atomic<unsigned long> counter{0};
  const std::string name = "strata-h5-new-" + std::to_string(counter.fetch_add(1));
  Handle f(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  STRATA_CHECK(f.valid(), IOError, "cannot create an in-memory HDF5 file for '", label, "'", hdf5_detail());
  File file(std::move(f), std::move(label));
  file.sink_ = std::move(sink);
  return file;
}

std::uint64_t File::size() const {
  hsize_t size = 0;
  STRATA_CHECK(H5Fget_filesize(file_.get(), &size) >= 0, FormatError, "cannot get the size of ", where(), hdf5_detail());
  return size;
}

Image File::take_image() {
  STRATA_CHECK(sink_ != nullptr, ValueError, where(), " was not made in memory");
  const herr_t closed = H5Fclose(file_.get());
  file_ = Handle();
  STRATA_CHECK(closed >= 0 && sink_->closed, IOError, "cannot finish the HDF5 file ", where(),
               " (an object of the file is still open)", hdf5_detail());
  sink_->finish();
  return Image(std::move(sink_));
}

// ---- objects -----------------------------------------------------------------------------------

std::string object_path(hid_t obj) {
  const ssize_t n = H5Iget_name(obj, nullptr, 0);
  if (n <= 0 || n > (1 << 20)) {
    H5Eclear2(H5E_DEFAULT);
    return "?";
  }
  std::string name(static_cast<std::size_t>(n) + 1, '\0');
  H5Iget_name(obj, name.data(), name.size());
  name.resize(static_cast<std::size_t>(n));
  return printable(name);
}

namespace {

// Walks `path` from `base`; see open_object. Returns an invalid handle when a link is
// missing.
Handle walk(const File& file, hid_t base, std::string_view path, int depth, std::string_view what) {
  STRATA_CHECK(depth <= kMaxSoftLinkDepth, FormatError, file.where(), ": ", what, ": soft links nest deeper than ",
               kMaxSoftLinkDepth, " levels at '", printable(path), "' (a link loop?)");
  const std::vector<std::string> parts = split_path(path);
  Handle current;
  hid_t cur = base;
  if (!path.empty() && path.front() == '/') {
    current = Handle(H5Gopen2(file.id(), "/", H5P_DEFAULT));
    STRATA_CHECK(current.valid(), FormatError, file.where(), ": cannot open the root group", hdf5_detail());
    cur = current.get();
  }
  if (parts.empty()) {
    // The base itself: hand out a new reference.
    if (!current.valid()) {
      STRATA_CHECK(H5Iinc_ref(cur) >= 0, FormatError, file.where(), ": ", what, ": bad object", hdf5_detail());
      current = Handle(cur);
    }
    return current;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    STRATA_CHECK(H5Iget_type(cur) == H5I_GROUP || H5Iget_type(cur) == H5I_FILE, FormatError, file.where(), ": ", what,
                 ": '", printable(join_components(parts, i)), "' is not a group, so '", printable(path),
                 "' cannot be inside it");
    const htri_t exists = H5Lexists(cur, part.c_str(), H5P_DEFAULT);
    STRATA_CHECK(exists >= 0, FormatError, file.where(), ": ", what, ": cannot look up '", printable(part), "' in ",
                 object_path(cur), hdf5_detail());
    if (exists == 0) return Handle();
    H5L_info_t info;
    STRATA_CHECK(H5Lget_info(cur, part.c_str(), &info, H5P_DEFAULT) >= 0, FormatError, file.where(), ": ", what,
                 ": cannot read the link '", printable(part), "' in ", object_path(cur), hdf5_detail());
    Handle next;
    if (info.type == H5L_TYPE_HARD) {
      next = Handle(H5Oopen(cur, part.c_str(), H5P_DEFAULT));
      STRATA_CHECK(next.valid(), FormatError, file.where(), ": ", what, ": cannot open '", printable(part), "' in ",
                   object_path(cur), hdf5_detail());
    } else if (info.type == H5L_TYPE_SOFT) {
      const std::size_t size = info.u.val_size;
      STRATA_CHECK(size > 0 && size <= (1 << 16), FormatError, file.where(), ": ", what, ": soft link '",
                   printable(part), "' in ", object_path(cur), " has an implausible target size (", size, " bytes)");
      std::string target(size, '\0');
      STRATA_CHECK(H5Lget_val(cur, part.c_str(), target.data(), size, H5P_DEFAULT) >= 0, FormatError, file.where(),
                   ": ", what, ": cannot read soft link '", printable(part), "'", hdf5_detail());
      target.resize(strnlen(target.data(), target.size()));
      next = walk(file, cur, target, depth + 1, what);
      if (!next.valid()) {
        STRATA_THROW(FormatError, file.where(), ": ", what, ": soft link '", printable(join_components(parts, i + 1)),
                     "' points to '", printable(target), "', which does not exist in the file");
      }
    } else if (info.type == H5L_TYPE_EXTERNAL) {
      std::string target_file = "?", target_object = "?";
      const std::size_t size = info.u.val_size;
      if (size > 0 && size <= (1 << 16)) {
        std::string buf(size, '\0');
        unsigned flags = 0;
        const char* f = nullptr;
        const char* o = nullptr;
        if (H5Lget_val(cur, part.c_str(), buf.data(), size, H5P_DEFAULT) >= 0 &&
            H5Lunpack_elink_val(buf.data(), size, &flags, &f, &o) >= 0 && f && o) {
          target_file = printable(f);
          target_object = printable(o);
        }
      }
      H5Eclear2(H5E_DEFAULT);
      STRATA_THROW(FormatError, file.where(), ": ", what, ": '", printable(join_components(parts, i + 1)),
                   "' is an external link to '", target_object, "' in file '", target_file,
                   "'; external links are refused (a model file must not make Strata open other files)");
    } else {
      STRATA_THROW(FormatError, file.where(), ": ", what, ": '", printable(join_components(parts, i + 1)),
                   "' is a user-defined link (type ", static_cast<int>(info.type), "), which is refused");
    }
    current = std::move(next);
    cur = current.get();
  }
  return current;
}

void check_kind(const File& file, const Handle& obj, ObjectKind kind, std::string_view path, std::string_view what) {
  const H5I_type_t type = H5Iget_type(obj.get());
  if (kind == ObjectKind::kGroup) {
    STRATA_CHECK(type == H5I_GROUP || type == H5I_FILE, FormatError, file.where(), ": ", what, ": '", printable(path),
                 "' is not a group");
  } else {
    STRATA_CHECK(type == H5I_DATASET, FormatError, file.where(), ": ", what, ": '", printable(path),
                 "' is not a dataset");
  }
}

}  // namespace

Handle open_object(const File& file, hid_t base, std::string_view path, ObjectKind kind, std::string_view what) {
  Handle obj = walk(file, base, path, 0, what);
  if (obj.valid()) check_kind(file, obj, kind, path, what);
  return obj;
}

Handle require_object(const File& file, hid_t base, std::string_view path, ObjectKind kind, std::string_view what) {
  Handle obj = open_object(file, base, path, kind, what);
  STRATA_CHECK(obj.valid(), FormatError, file.where(), ": ", what, ": '", printable(path), "' does not exist in ",
               object_path(base));
  return obj;
}

bool object_exists(const File& file, hid_t base, std::string_view path) {
  return walk(file, base, path, 0, "looking up an object").valid();
}

// ---- attributes ----------------------------------------------------------------------------------

bool has_attribute(const File& file, hid_t obj, const std::string& name) {
  const htri_t e = H5Aexists(obj, name.c_str());
  STRATA_CHECK(e >= 0, FormatError, file.where(), ": cannot look up attribute '", printable(name), "' of ",
               object_path(obj), hdf5_detail());
  return e > 0;
}

namespace {

struct AttrData {
  const File* file = nullptr;
  hid_t obj = H5I_INVALID_HID;
  std::string name;
  Handle attr, type, space;
  H5T_class_t type_class = H5T_NO_CLASS;
  H5S_class_t space_class = H5S_NO_CLASS;
  std::size_t count = 0;  // elements
  std::string where;      // "attribute 'x' of /g in 'file'"
};

AttrData open_attribute(const File& file, hid_t obj, const std::string& name) {
  AttrData a;
  a.file = &file;
  a.obj = obj;
  a.name = name;
  a.where = "attribute '" + printable(name) + "' of " + object_path(obj) + " in " + file.where();
  a.attr = Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  STRATA_CHECK(a.attr.valid(), FormatError, "cannot open ", a.where, hdf5_detail());
  a.type = Handle(H5Aget_type(a.attr.get()));
  a.space = Handle(H5Aget_space(a.attr.get()));
  STRATA_CHECK(a.type.valid() && a.space.valid(), FormatError, "cannot read the type of ", a.where, hdf5_detail());
  a.type_class = H5Tget_class(a.type.get());
  a.space_class = H5Sget_simple_extent_type(a.space.get());
  STRATA_CHECK(a.type_class != H5T_NO_CLASS && a.space_class != H5S_NO_CLASS, FormatError, "cannot read the type of ",
               a.where, hdf5_detail());
  if (a.space_class == H5S_NULL) {
    a.count = 0;
  } else {
    const int rank = H5Sget_simple_extent_ndims(a.space.get());
    STRATA_CHECK(rank >= 0 && rank <= 1, FormatError, a.where, " has rank ", rank,
                 "; a string or name list must be a scalar or 1-D");
    const hssize_t n = H5Sget_simple_extent_npoints(a.space.get());
    STRATA_CHECK(n >= 0 && static_cast<std::size_t>(n) <= kMaxNames, FormatError, a.where, " declares ", n,
                 " elements (at most ", kMaxNames, " are accepted)");
    a.count = static_cast<std::size_t>(n);
  }
  return a;
}

// Frees the variable-length strings HDF5 allocated for a read, whatever happens.
struct VlenGuard {
  hid_t type, space;
  std::vector<char*>* ptrs;
  ~VlenGuard() {
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs->data());
    H5Eclear2(H5E_DEFAULT);
  }
};

std::vector<std::string> read_strings(const AttrData& a) {
  std::vector<std::string> out;
  if (a.count == 0) return out;
  const htri_t is_vlen = H5Tis_variable_str(a.type.get());
  STRATA_CHECK(is_vlen >= 0, FormatError, "cannot read the string type of ", a.where, hdf5_detail());
  const H5T_cset_t cset = H5Tget_cset(a.type.get());
  STRATA_CHECK(cset == H5T_CSET_ASCII || cset == H5T_CSET_UTF8, FormatError, a.where,
               " has an unknown character set (", static_cast<int>(cset), ")");
  out.reserve(a.count);
  if (is_vlen > 0 && a.file->raw()) {
    // Untrusted file: decoded by h5_raw, never by HDF5's unchecked vlen conversion.
    H5O_info_t info;
    STRATA_CHECK(H5Oget_info2(a.obj, &info, H5O_INFO_BASIC) >= 0, FormatError, "cannot locate ", a.where,
                 hdf5_detail());
    return read_vlen_string_attribute(*a.file->raw(), a.file->layout(), info.addr, a.name, a.count, a.where,
                                      a.file->label());
  }
  if (is_vlen > 0) {
    Handle mem(H5Tcopy(H5T_C_S1));
    STRATA_CHECK(mem.valid() && H5Tset_size(mem.get(), H5T_VARIABLE) >= 0 && H5Tset_cset(mem.get(), cset) >= 0,
                 FormatError, "cannot prepare to read ", a.where, hdf5_detail());
    std::vector<char*> ptrs(a.count, nullptr);
    herr_t rc;
    {
      VlenGuard guard{mem.get(), a.space.get(), &ptrs};
      rc = H5Aread(a.attr.get(), mem.get(), ptrs.data());
      if (rc >= 0) {
        std::size_t total = 0;
        for (char* p : ptrs) {
          const std::size_t len = p ? strnlen(p, kMaxStringBytes + 1) : 0;
          STRATA_CHECK(len <= kMaxStringBytes, FormatError, a.where, " holds a string longer than ", kMaxStringBytes,
                       " bytes");
          total += len;
          STRATA_CHECK(total <= kMaxAttributeBytes, FormatError, a.where, " holds more than ", kMaxAttributeBytes,
                       " bytes of strings");
          out.emplace_back(p ? p : "", len);
        }
      }
    }
    STRATA_CHECK(rc >= 0, FormatError, "cannot read ", a.where, hdf5_detail());
    return out;
  }
  const std::size_t size = H5Tget_size(a.type.get());
  STRATA_CHECK(size > 0 && size <= kMaxStringBytes, FormatError, a.where, " declares fixed-length strings of ", size,
               " bytes (at most ", kMaxStringBytes, " are accepted)");
  STRATA_CHECK(a.count <= kMaxAttributeBytes / size, FormatError, a.where, " declares ", a.count, " strings of ", size,
               " bytes: more than ", kMaxAttributeBytes, " bytes in all");
  const H5T_str_t pad = H5Tget_strpad(a.type.get());
  std::string buf(a.count * size, '\0');
  STRATA_CHECK(H5Aread(a.attr.get(), a.type.get(), buf.data()) >= 0, FormatError, "cannot read ", a.where,
               hdf5_detail());
  for (std::size_t i = 0; i < a.count; ++i) {
    std::string_view s(buf.data() + i * size, size);
    if (pad == H5T_STR_SPACEPAD) {
      const auto end = s.find_last_not_of(' ');
      s = end == std::string_view::npos ? std::string_view() : s.substr(0, end + 1);
    } else {
      s = s.substr(0, std::min(s.size(), s.find('\0')));
    }
    out.emplace_back(s);
  }
  return out;
}

}  // namespace

std::optional<std::string> read_string_attribute(const File& file, hid_t obj, const std::string& name) {
  if (!has_attribute(file, obj, name)) return std::nullopt;
  const AttrData a = open_attribute(file, obj, name);
  STRATA_CHECK(a.type_class == H5T_STRING, FormatError, a.where, " is not a string (HDF5 type class ",
               static_cast<int>(a.type_class), ")");
  STRATA_CHECK(a.count == 1, FormatError, a.where, " holds ", a.count, " strings where one was expected");
  return read_strings(a).at(0);
}

std::optional<std::vector<std::string>> read_string_list_attribute(const File& file, hid_t obj,
                                                                   const std::string& name) {
  if (!has_attribute(file, obj, name)) return std::nullopt;
  const AttrData a = open_attribute(file, obj, name);
  if (a.type_class == H5T_STRING) return read_strings(a);
  if (a.type_class == H5T_FLOAT || a.type_class == H5T_INTEGER) {
    // tf-keras writes the names of a weightless layer as np.asarray([]): float64, size 0.
    STRATA_CHECK(a.count == 0, FormatError, a.where, " holds ", a.count,
                 " numbers where a list of names was expected");
    return std::vector<std::string>{};
  }
  STRATA_THROW(FormatError, a.where, " is not a list of names (HDF5 type class ", static_cast<int>(a.type_class), ")");
}

std::optional<std::vector<std::string>> read_chunked_names(const File& file, hid_t obj, const std::string& name) {
  if (auto whole = read_string_list_attribute(file, obj, name)) return whole;
  if (!has_attribute(file, obj, name + "0")) return std::nullopt;
  std::vector<std::string> out;
  for (std::size_t i = 0;; ++i) {
    const std::string chunk = name + std::to_string(i);
    auto part = read_string_list_attribute(file, obj, chunk);
    if (!part) break;
    STRATA_CHECK(i < kMaxNameChunks, FormatError, file.where(), ": attribute '", name, "' of ", object_path(obj),
                 " is split into more than ", kMaxNameChunks, " chunks");
    STRATA_CHECK(out.size() + part->size() <= kMaxNames, FormatError, file.where(), ": attribute '", name, "' of ",
                 object_path(obj), " lists more than ", kMaxNames, " names");
    out.insert(out.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
  }
  return out;
}

// ---- datasets -------------------------------------------------------------------------------------

namespace {

struct FloatLayout {
  std::size_t spos, epos, esize, mpos, msize;
};

bool float_layout_is(hid_t type, std::size_t size, const FloatLayout& want) {
  if (H5Tget_size(type) != size) return false;
  FloatLayout got{};
  if (H5Tget_fields(type, &got.spos, &got.epos, &got.esize, &got.mpos, &got.msize) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return got.spos == want.spos && got.epos == want.epos && got.esize == want.esize && got.mpos == want.mpos &&
         got.msize == want.msize;
}

constexpr FloatLayout kHalf{15, 10, 5, 0, 10};
constexpr FloatLayout kBFloat{15, 7, 8, 0, 7};
constexpr FloatLayout kSingle{31, 23, 8, 0, 23};
constexpr FloatLayout kDouble{63, 52, 11, 0, 52};

// A 2-byte float type with `layout` in `order`.
Handle small_float_type(const FloatLayout& layout, std::size_t ebias, H5T_order_t order) {
  Handle t(H5Tcopy(H5T_IEEE_F32LE));
  STRATA_CHECK(t.valid(), BackendError, "cannot make an HDF5 16-bit float type", hdf5_detail());
  STRATA_CHECK(H5Tset_fields(t.get(), layout.spos, layout.epos, layout.esize, layout.mpos, layout.msize) >= 0 &&
                   H5Tset_precision(t.get(), 16) >= 0 && H5Tset_size(t.get(), 2) >= 0 &&
                   H5Tset_ebias(t.get(), ebias) >= 0 && H5Tset_order(t.get(), order) >= 0,
               BackendError, "cannot make an HDF5 16-bit float type", hdf5_detail());
  return t;
}

// The HDF5 type that stores `dtype` (little-endian in files, native in memory). Bool is
// h5py's enum {FALSE: 0, TRUE: 1} over int8.
Handle type_for(DType dtype, bool file) {
  auto copy = [](hid_t t) {
    Handle h(H5Tcopy(t));
    STRATA_CHECK(h.valid(), BackendError, "cannot copy an HDF5 type", hdf5_detail());
    return h;
  };
  switch (dtype) {
    case DType::kFloat32: return copy(file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
    case DType::kFloat64: return copy(file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
    case DType::kInt8: return copy(file ? H5T_STD_I8LE : H5T_NATIVE_INT8);
    case DType::kUInt8: return copy(file ? H5T_STD_U8LE : H5T_NATIVE_UINT8);
    case DType::kInt32: return copy(file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
    case DType::kInt64: return copy(file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
    case DType::kFloat16: return small_float_type(kHalf, 15, H5T_ORDER_LE);
    case DType::kBFloat16: return small_float_type(kBFloat, 127, H5T_ORDER_LE);
    case DType::kBool: {
      Handle t(H5Tenum_create(file ? H5T_STD_I8LE : H5T_NATIVE_INT8));
      const std::int8_t f = 0, t1 = 1;
      STRATA_CHECK(t.valid() && H5Tenum_insert(t.get(), "FALSE", &f) >= 0 && H5Tenum_insert(t.get(), "TRUE", &t1) >= 0,
                   BackendError, "cannot make the HDF5 bool type", hdf5_detail());
      return t;
    }
    default: break;
  }
  STRATA_THROW(ValueError, "dtype ", dtype_name(dtype), " cannot be stored in an H5 file");
}

std::string describe_type(hid_t type, std::optional<DType>& dtype) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  dtype.reset();
  if (cls == H5T_FLOAT) {
    if (float_layout_is(type, 4, kSingle)) dtype = DType::kFloat32;
    else if (float_layout_is(type, 8, kDouble)) dtype = DType::kFloat64;
    else if (float_layout_is(type, 2, kHalf)) dtype = DType::kFloat16;
    else if (float_layout_is(type, 2, kBFloat)) dtype = DType::kBFloat16;
    if (dtype) return std::string(dtype_name(*dtype));
    return "float" + std::to_string(size * 8) + "(non-IEEE)";
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (is_signed && size == 1) dtype = DType::kInt8;
    if (!is_signed && size == 1) dtype = DType::kUInt8;
    if (is_signed && size == 4) dtype = DType::kInt32;
    if (is_signed && size == 8) dtype = DType::kInt64;
    return std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
  }
  if (cls == H5T_ENUM) {
    Handle base(H5Tget_super(type));
    std::optional<DType> base_dtype;
    const std::string base_name = base.valid() ? describe_type(base.get(), base_dtype) : std::string("?");
    const int members = H5Tget_nmembers(type);
    if (members == 2 && base_dtype && is_integer(*base_dtype)) dtype = DType::kBool;
    return "enum(" + base_name + ")";
  }
  if (cls == H5T_OPAQUE) return "opaque(" + std::to_string(size) + " bytes)";
  return "HDF5 type class " + std::to_string(static_cast<int>(cls));
}

// Keras 3's bfloat16 (saving_lib.H5IOStore): numpy has no HDF5 bfloat16 type, so h5py stores
// the values as a 2-byte opaque type and Keras marks the dataset with attribute
// dtype="bfloat16".
bool is_keras_bfloat16(const File& file, hid_t dataset, hid_t type) {
  if (H5Tget_class(type) != H5T_OPAQUE || H5Tget_size(type) != 2) return false;
  const auto tag = read_string_attribute(file, dataset, "dtype");
  return tag && *tag == "bfloat16";
}

}  // namespace

DatasetInfo inspect_dataset(const File& file, hid_t dataset) {
  DatasetInfo info;
  info.path = object_path(dataset);
  const std::string where = "dataset '" + info.path + "' in " + file.where();
  Handle space(H5Dget_space(dataset));
  STRATA_CHECK(space.valid(), FormatError, "cannot read the dataspace of ", where, hdf5_detail());
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  STRATA_CHECK(space_class == H5S_SCALAR || space_class == H5S_SIMPLE, FormatError, where,
               " has no data (null or unknown dataspace)", hdf5_detail());
  const int rank = H5Sget_simple_extent_ndims(space.get());
  STRATA_CHECK(rank >= 0 && static_cast<std::size_t>(rank) <= kMaxRank, FormatError, where, " has rank ", rank,
               " (at most ", kMaxRank, " is accepted)", hdf5_detail());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) {
    STRATA_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) == rank, FormatError,
                 "cannot read the shape of ", where, hdf5_detail());
  }
  std::vector<std::int64_t> shape;
  std::uint64_t elements = 1;
  bool overflow = false;
  for (hsize_t d : dims) {
    STRATA_CHECK(d <= static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max() / 2), FormatError, where,
                 " has an absurd dimension (", d, ")");
    shape.push_back(static_cast<std::int64_t>(d));
    if (d != 0 && elements > std::numeric_limits<std::uint64_t>::max() / d) overflow = true;
    elements *= d;
  }
  STRATA_CHECK(!overflow && elements <= (std::uint64_t{1} << 48), FormatError, where,
               " declares an absurd number of elements");
  info.shape = Shape(shape);

  Handle type(H5Dget_type(dataset));
  STRATA_CHECK(type.valid(), FormatError, "cannot read the datatype of ", where, hdf5_detail());
  info.type = describe_type(type.get(), info.dtype);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (is_keras_bfloat16(file, dataset, type.get())) {
    info.dtype = DType::kBFloat16;
    info.type = "bfloat16 (opaque, dtype attribute)";
  }
  STRATA_CHECK(cls == H5T_FLOAT || cls == H5T_INTEGER || (cls == H5T_ENUM && info.dtype == DType::kBool) ||
                   (cls == H5T_OPAQUE && info.dtype == DType::kBFloat16),
               FormatError, where, " holds ", info.type, ", which is not numeric weight data");
  const std::size_t type_size = H5Tget_size(type.get());
  STRATA_CHECK(type_size > 0 && type_size <= 16, FormatError, where, " has ", type_size, "-byte elements");

  Handle dcpl(H5Dget_create_plist(dataset));
  STRATA_CHECK(dcpl.valid(), FormatError, "cannot read the storage properties of ", where, hdf5_detail());
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  STRATA_CHECK(layout != H5D_VIRTUAL, FormatError, where,
               " is a virtual dataset (its data lives in other files); virtual datasets are refused");
  STRATA_CHECK(layout == H5D_CONTIGUOUS || layout == H5D_COMPACT || layout == H5D_CHUNKED, FormatError, where,
               " has an unknown storage layout (", static_cast<int>(layout), ")", hdf5_detail());
  const int external = H5Pget_external_count(dcpl.get());
  STRATA_CHECK(external == 0, FormatError, where,
               " keeps its data in external raw files; external storage is refused (a model file must not make "
               "Strata open other files)",
               hdf5_detail());
  const int filters = H5Pget_nfilters(dcpl.get());
  STRATA_CHECK(filters >= 0 && filters <= 32, FormatError, "cannot read the filters of ", where, hdf5_detail());
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, filter_config = 0;
    std::size_t nvalues = 0;
    char name[128] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues, nullptr,
                                           sizeof name, name, &filter_config);
    STRATA_CHECK(id >= 0, FormatError, "cannot read filter ", i, " of ", where, hdf5_detail());
    const htri_t avail = H5Zfilter_avail(id);
    H5Eclear2(H5E_DEFAULT);
    STRATA_CHECK(avail > 0, FormatError, where, " is compressed with HDF5 filter ", id, " ('",
                 printable(std::string_view(name, strnlen(name, sizeof name))),
                 "'), which this HDF5 library does not provide (only the built-in filters deflate, shuffle, "
                 "fletcher32, szip, nbit and scaleoffset are read; filter plugins such as LZF are never loaded)");
  }
  if (layout == H5D_CONTIGUOUS) {
    const haddr_t offset = H5Dget_offset(dataset);
    H5Eclear2(H5E_DEFAULT);
    if (offset != HADDR_UNDEF) {
      const std::uint64_t need = elements * type_size;
      const std::uint64_t size = file.size();
      STRATA_CHECK(offset <= size && need <= size - offset, FormatError, where, " claims ", need,
                   " bytes of data at offset ", offset, ", beyond the end of the file (", size,
                   " bytes): the file is truncated or damaged");
    }
  }
  info.stored_bytes = H5Dget_storage_size(dataset);
  return info;
}

Tensor read_dataset(const File& file, hid_t dataset, const DatasetInfo& info, DType dtype) {
  const std::string where = "dataset '" + info.path + "' in " + file.where();
  const std::int64_t n = info.shape.num_elements();
  if (n == 0) return Tensor::zeros(dtype, info.shape, Device::cpu());
  const std::size_t count = static_cast<std::size_t>(n);
  Handle file_type(H5Dget_type(dataset));
  STRATA_CHECK(file_type.valid(), FormatError, "cannot read the datatype of ", where, hdf5_detail());
  const H5T_class_t cls = H5Tget_class(file_type.get());
  if (cls == H5T_OPAQUE) {
    // Keras 3's bfloat16 (inspect_dataset accepts no other opaque data): the raw 2-byte
    // values, widened exactly for a float32 weight.
    STRATA_CHECK(info.dtype == DType::kBFloat16 && (dtype == DType::kBFloat16 || dtype == DType::kFloat32),
                 FormatError, where, " holds ", info.type, ", which cannot be read into a ", dtype_name(dtype),
                 " weight");
    Handle mem(H5Tcopy(file_type.get()));
    Tensor raw = Tensor::empty(DType::kBFloat16, info.shape, Device::cpu());
    STRATA_CHECK(mem.valid() && H5Dread(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.mutable_data()) >= 0,
                 FormatError, "cannot read ", where, hdf5_detail());
    if (dtype == DType::kBFloat16) return raw;
    Tensor out = Tensor::empty(DType::kFloat32, info.shape, Device::cpu());
    const auto* in = static_cast<const std::uint16_t*>(raw.data());
    auto* f = static_cast<float*>(out.mutable_data());
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint32_t bits = static_cast<std::uint32_t>(in[i]) << 16;
      std::memcpy(&f[i], &bits, sizeof bits);
    }
    return out;
  }
  if (dtype == DType::kBool || cls == H5T_ENUM) {
    STRATA_CHECK(dtype == DType::kBool || cls != H5T_ENUM, FormatError, where, " holds ", info.type,
                 ", which cannot be read into a ", dtype_name(dtype), " weight");
    std::vector<std::int64_t> values(count);
    if (cls == H5T_ENUM) {
      Handle base(H5Tget_super(file_type.get()));
      Handle native(base.valid() ? H5Tget_native_type(base.get(), H5T_DIR_ASCEND) : H5I_INVALID_HID);
      const std::size_t size = native.valid() ? H5Tget_size(native.get()) : 0;
      STRATA_CHECK(size >= 1 && size <= 8, FormatError, where, " has an unreadable enum base type", hdf5_detail());
      Handle mem(H5Tenum_create(native.get()));
      // Read the enum through a native enum of the same members.
      const int members = H5Tget_nmembers(file_type.get());
      for (int i = 0; i < members; ++i) {
        char* member = H5Tget_member_name(file_type.get(), static_cast<unsigned>(i));
        std::int64_t value = 0;
        const bool ok = member && H5Tget_member_value(file_type.get(), static_cast<unsigned>(i), &value) >= 0;
        if (ok) {
          // The member value is stored in the base type's size, little-endian in memory here.
          std::int64_t v = 0;
          std::memcpy(&v, &value, size);
          if (size < 8 && H5Tget_sign(native.get()) == H5T_SGN_2 && (v >> (size * 8 - 1)) & 1) {
            v |= ~((std::int64_t{1} << (size * 8)) - 1);
          }
          H5Tenum_insert(mem.get(), member, &value);
        }
        if (member) H5free_memory(member);
      }
      std::vector<unsigned char> raw(count * size);
      STRATA_CHECK(H5Dread(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0, FormatError,
                   "cannot read ", where, hdf5_detail());
      for (std::size_t i = 0; i < count; ++i) {
        std::int64_t v = 0;
        std::memcpy(&v, raw.data() + i * size, size);
        values[i] = v;
      }
    } else {
      STRATA_CHECK(H5Dread(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0, FormatError,
                   "cannot read ", where, hdf5_detail());
    }
    if (dtype == DType::kBool) {
      std::vector<std::uint8_t> bools(count);
      for (std::size_t i = 0; i < count; ++i) bools[i] = values[i] != 0;
      return Tensor::from_bools(bools, info.shape, Device::cpu());
    }
  }
  Handle mem = type_for(dtype, /*file=*/false);
  // Straight into the tensor's memory: no staging buffer, no second copy.
  Tensor out = Tensor::empty(dtype, info.shape, Device::cpu());
  STRATA_CHECK(H5Dread(dataset, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.mutable_data()) >= 0, FormatError,
               "cannot read ", where, " as ", dtype_name(dtype), hdf5_detail());
  return out;
}

// ---- writing -----------------------------------------------------------------------------------

namespace {

Handle link_create_plist(bool intermediate) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  STRATA_CHECK(lcpl.valid() && H5Pset_char_encoding(lcpl.get(), H5T_CSET_UTF8) >= 0 &&
                   (!intermediate || H5Pset_create_intermediate_group(lcpl.get(), 1) >= 0),
               IOError, "cannot set up HDF5 link creation", hdf5_detail());
  return lcpl;
}

void write_attribute(const File& file, hid_t obj, const std::string& name, hid_t type, hid_t space, const void* data) {
  Handle attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  STRATA_CHECK(attr.valid(), IOError, "cannot create attribute '", name, "' of ", object_path(obj), " in ",
               file.where(), hdf5_detail());
  if (data) {
    STRATA_CHECK(H5Awrite(attr.get(), type, data) >= 0, IOError, "cannot write attribute '", name, "' of ",
                 object_path(obj), " in ", file.where(), hdf5_detail());
  }
}

}  // namespace

Handle create_group(const File& file, hid_t parent, const std::string& name) {
  // A '/' in `name` nests groups (tf-keras layer names such as "conv1/conv"); the groups
  // above the last one are created when missing and reused when present.
  Handle lcpl = link_create_plist(true);
  Handle g(H5Gcreate2(parent, name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  STRATA_CHECK(g.valid(), IOError, "cannot create group '", name, "' in ", object_path(parent), " of ", file.where(),
               hdf5_detail());
  return g;
}

void write_vlen_string_attribute(const File& file, hid_t obj, const std::string& name, std::string_view value,
                                 H5T_cset_t cset) {
  Handle type(H5Tcopy(H5T_C_S1));
  STRATA_CHECK(type.valid() && H5Tset_size(type.get(), H5T_VARIABLE) >= 0 && H5Tset_cset(type.get(), cset) >= 0 &&
                   H5Tset_strpad(type.get(), H5T_STR_NULLTERM) >= 0,
               IOError, "cannot make an HDF5 string type", hdf5_detail());
  Handle space(H5Screate(H5S_SCALAR));
  STRATA_CHECK(space.valid(), IOError, "cannot make an HDF5 dataspace", hdf5_detail());
  const std::string copy(value);
  const char* ptr = copy.c_str();
  write_attribute(file, obj, name, type.get(), space.get(), &ptr);
}

void write_fixed_strings_attribute(const File& file, hid_t obj, const std::string& name,
                                   const std::vector<std::string>& values, std::size_t itemsize) {
  if (values.empty()) {
    const hsize_t zero = 0;
    Handle space(H5Screate_simple(1, &zero, nullptr));
    STRATA_CHECK(space.valid(), IOError, "cannot make an HDF5 dataspace", hdf5_detail());
    write_attribute(file, obj, name, H5T_IEEE_F64LE, space.get(), nullptr);
    return;
  }
  Handle type(H5Tcopy(H5T_C_S1));
  STRATA_CHECK(type.valid() && H5Tset_size(type.get(), itemsize) >= 0 &&
                   H5Tset_strpad(type.get(), H5T_STR_NULLPAD) >= 0 && H5Tset_cset(type.get(), H5T_CSET_ASCII) >= 0,
               IOError, "cannot make an HDF5 string type", hdf5_detail());
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  STRATA_CHECK(space.valid(), IOError, "cannot make an HDF5 dataspace", hdf5_detail());
  std::string buf(values.size() * itemsize, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::memcpy(buf.data() + i * itemsize, values[i].data(), std::min(itemsize, values[i].size()));
  }
  write_attribute(file, obj, name, type.get(), space.get(), buf.data());
}

void write_name_list(const File& file, hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  std::size_t itemsize = 1;
  for (const auto& v : values) {
    STRATA_CHECK(v.size() <= kObjectHeaderLimit, ValueError, "cannot save '", printable(v), "' in attribute '", name,
                 "': it is longer than ", kObjectHeaderLimit, " bytes, the largest an H5 attribute element may be");
    itemsize = std::max(itemsize, v.size());
  }
  // np.array_split into n near-equal contiguous chunks; grow n until every chunk fits.
  std::size_t chunks = 1;
  auto largest = [&](std::size_t n) { return (values.size() + n - 1) / n; };
  while (largest(chunks) * itemsize > kObjectHeaderLimit) ++chunks;
  if (chunks == 1) {
    write_fixed_strings_attribute(file, obj, name, values, itemsize);
    return;
  }
  const std::size_t base = values.size() / chunks, extra = values.size() % chunks;
  std::size_t start = 0;
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t len = base + (c < extra ? 1 : 0);
    std::vector<std::string> part(values.begin() + static_cast<std::ptrdiff_t>(start),
                                  values.begin() + static_cast<std::ptrdiff_t>(start + len));
    write_fixed_strings_attribute(file, obj, name + std::to_string(c), part, itemsize);
    start += len;
  }
}

void write_dataset(const File& file, hid_t parent, const std::string& path, const Tensor& value) {
  Handle ftype = type_for(value.dtype(), /*file=*/true);
  Handle mtype = type_for(value.dtype(), /*file=*/false);
  Handle space;
  if (value.rank() == 0) {
    space = Handle(H5Screate(H5S_SCALAR));
  } else {
    std::vector<hsize_t> dims;
    for (auto d : value.shape().dims()) dims.push_back(static_cast<hsize_t>(d));
    space = Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  }
  STRATA_CHECK(space.valid(), IOError, "cannot make an HDF5 dataspace for '", path, "'", hdf5_detail());
  Handle lcpl = link_create_plist(true);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  STRATA_CHECK(dcpl.valid() && H5Pset_obj_track_times(dcpl.get(), 0) >= 0, IOError,
               "cannot set up HDF5 dataset creation", hdf5_detail());
  Handle ds(H5Dcreate2(parent, path.c_str(), ftype.get(), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT));
  STRATA_CHECK(ds.valid(), IOError, "cannot create dataset '", path, "' in ", object_path(parent), " of ",
               file.where(), hdf5_detail());
  if (value.num_elements() == 0) return;
  file.lend(value);
  STRATA_CHECK(H5Dwrite(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.data()) >= 0, IOError,
               "cannot write dataset '", path, "' in ", file.where(), hdf5_detail());
}

}  // namespace strata::h5
