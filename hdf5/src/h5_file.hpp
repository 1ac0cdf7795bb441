// A small, defensive C++ layer over the HDF5 C library (1.10 API), private to the
// format-h5 plugin: RAII handles, HDF5 error stacks turned into Strata errors, link
// walking that refuses external and user-defined links, attribute readers for every
// string dialect Keras files use, and dataset readers that check rank, shape, dtype,
// layout and size against the file before anything is allocated.
//
// No HDF5 type leaves this plugin. Every message names the file (File::label()).
//
// Thread safety: every entry point of the plugin holds a Session while it talks to HDF5;
// HDF5 itself is built thread-safe on Debian, the Session serialises the few
// process-wide settings it changes (error printing, filter plugin loading).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h5_raw.hpp"
#include "h5_vfd.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/shape.hpp"
#include "strata/tensor.hpp"

namespace strata::h5 {

// Upper bounds for what a file may declare before we refuse it (untrusted input).
inline constexpr std::size_t kMaxRank = 32;
inline constexpr std::size_t kMaxNames = std::size_t{1} << 20;          // entries of a name list
inline constexpr std::size_t kMaxNameChunks = 1 << 16;                  // name0 ... nameN
inline constexpr std::size_t kMaxStringBytes = std::size_t{64} << 20;   // one string attribute
inline constexpr std::size_t kMaxAttributeBytes = std::size_t{256} << 20;  // one attribute, all elements
inline constexpr int kMaxSoftLinkDepth = 8;
// tf-keras's HDF5_OBJECT_HEADER_LIMIT: no attribute written is larger.
inline constexpr std::size_t kObjectHeaderLimit = 64512;

// Owns one HDF5 identifier and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) noexcept : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      other.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  void reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// While alive on a thread: HDF5 prints no errors (they are collected into our messages)
// and loads no filter plugins (loading a model never loads code). Restores both after.
// Sessions nest.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
  unsigned old_plugin_state_ = 0;
  bool restore_plugins_ = false;
};

// The text of the current HDF5 error stack ("H5Fopen(): unable to open file; ..."), at
// most a few entries, and clears it. Empty when the stack is empty.
std::string take_error_stack();
// " (HDF5: <stack>)" or "" when the stack is empty.
std::string hdf5_detail();

// A file built in memory (File::create_in_memory), laid out as pieces: metadata copied,
// large weights borrowed from the model's tensors (kept alive here). Write it with
// write_file_atomically(path, image.pieces()).
class Image {
 public:
  Image() = default;
  explicit Image(std::unique_ptr<PieceSink> sink) : sink_(std::move(sink)) {}
  std::span<const std::string_view> pieces() const noexcept {
    return sink_ ? std::span<const std::string_view>(sink_->pieces) : std::span<const std::string_view>();
  }
  std::uint64_t size() const noexcept { return sink_ ? sink_->eof : 0; }
  // The pieces concatenated (fuzzers and tests that need one buffer).
  std::string bytes() const {
    std::string out;
    for (const auto p : pieces()) out += p;
    return out;
  }

 private:
  std::unique_ptr<PieceSink> sink_;
};

// An open HDF5 file. `label` (the path as the user gave it) prefixes every message.
class File {
 public:
  // Opens an existing file read-only. FormatError naming the file (with HDF5's reason)
  // when it is not an HDF5 file or cannot be opened; IOError when it does not exist.
  static File open(const std::filesystem::path& path);
  // Opens a file image held in memory (read-only; `bytes` must outlive the File).
  static File open_image(std::string_view bytes, std::string label);
  // A new, empty file in memory (core driver, no backing store), superblock v0 and
  // old-style groups as h5py writes by default.
  static File create_in_memory(std::string label);

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  hid_t id() const noexcept { return file_.get(); }
  const std::string& label() const noexcept { return label_; }
  // The size of the file in bytes (its end of file).
  std::uint64_t size() const;
  // Closes a file made by create_in_memory and hands over its bytes as pieces. Every
  // object of the file must be closed before. The File is closed afterwards.
  Image take_image();
  // For files made by create_in_memory: the dataset about to be written from `t` may be
  // borrowed from `t`'s memory instead of copied (`t` is kept alive by the Image).
  void lend(const Tensor& t) const;

  // "'<label>'": for messages.
  std::string where() const;

  // The stored bytes and address layout, for what is decoded without HDF5 (h5_raw.hpp);
  // null for files created in memory (ours, trusted).
  const RawBytes* raw() const noexcept { return raw_.get(); }
  const RawLayout& layout() const noexcept { return layout_; }

 private:
  File(Handle file, std::string label) : file_(std::move(file)), label_(std::move(label)) {}
  void attach_raw(std::shared_ptr<const RawBytes> raw);
  Handle file_;
  std::string label_;
  std::unique_ptr<PieceSink> sink_;
  std::shared_ptr<const RawBytes> raw_;
  RawLayout layout_;
};

// ---- reading: objects ---------------------------------------------------------------------

enum class ObjectKind { kGroup, kDataset };

// Opens the object at `path` (relative to `base`, or absolute with a leading '/'),
// walking it one link at a time: hard links are followed; soft links are followed when
// they resolve inside the file (at most kMaxSoftLinkDepth deep); external and
// user-defined links are refused with a FormatError naming them. Returns an invalid
// handle when a link on the way does not exist. `what` describes the object for
// messages ("layer group 'dense'").
Handle open_object(const File& file, hid_t base, std::string_view path, ObjectKind kind, std::string_view what);
// The same, but a missing object is a FormatError naming `what` and the path.
Handle require_object(const File& file, hid_t base, std::string_view path, ObjectKind kind, std::string_view what);
// Whether `path` names an object (any kind), with the same link rules.
bool object_exists(const File& file, hid_t base, std::string_view path);
// The name of `obj` in the file ("/model_weights/dense"), for messages.
std::string object_path(hid_t obj);

// ---- reading: attributes -------------------------------------------------------------------

bool has_attribute(const File& file, hid_t obj, const std::string& name);
// A string attribute: a scalar or single-element 1-D string (fixed or variable length,
// ASCII or UTF-8). nullopt when absent; FormatError for anything else.
std::optional<std::string> read_string_attribute(const File& file, hid_t obj, const std::string& name);
// A list of strings: 1-D or scalar, fixed or variable length, either cset; an empty
// numeric array (tf-keras's `np.asarray([])`, float64) is the empty list. nullopt when
// absent; FormatError for anything else.
std::optional<std::vector<std::string>> read_string_list_attribute(const File& file, hid_t obj,
                                                                   const std::string& name);
// FORMATS §1.6: `name`, or else `name0`, `name1`, ... concatenated; nullopt when neither.
std::optional<std::vector<std::string>> read_chunked_names(const File& file, hid_t obj, const std::string& name);

// ---- reading: datasets ---------------------------------------------------------------------

struct DatasetInfo {
  std::string path;               // in the file, for messages
  Shape shape;                    // () for scalar dataspaces
  std::string type;               // "float32", "int64", "enum(int8)", ...: for messages and describe
  std::optional<DType> dtype;     // the Strata dtype of the stored type, when there is one
  std::uint64_t stored_bytes = 0; // H5Dget_storage_size
};

// Inspects a dataset and checks that its data can be read: rank ≤ kMaxRank, a simple or
// scalar dataspace, a numeric (integer, float or enum-of-integer) type or Keras 3's bfloat16
// (2-byte opaque with attribute dtype="bfloat16"; read as bfloat16 or float32), no external
// storage, no virtual layout, filters only those available in this HDF5 build. FormatError
// naming the dataset and the problem otherwise.
DatasetInfo inspect_dataset(const File& file, hid_t dataset);
// Reads a dataset into a host tensor of `dtype` (HDF5 converts between numeric types).
// REQUIRES: inspect_dataset passed; the caller has compared info.shape with the shape it
// expects, so the allocation is bounded by that.
Tensor read_dataset(const File& file, hid_t dataset, const DatasetInfo& info, DType dtype);

// ---- writing -------------------------------------------------------------------------------

Handle create_group(const File& file, hid_t parent, const std::string& name);
// Variable-length string scalar attribute (h5py's `str` → UTF-8, `bytes` → ASCII).
void write_vlen_string_attribute(const File& file, hid_t obj, const std::string& name, std::string_view value,
                                 H5T_cset_t cset);
// A fixed-length, NULLPAD, ASCII string array of `itemsize` bytes per element (numpy
// `S<itemsize>`); the empty list is written as tf-keras does: an empty float64 array.
void write_fixed_strings_attribute(const File& file, hid_t obj, const std::string& name,
                                   const std::vector<std::string>& values, std::size_t itemsize);
// tf-keras's save_attributes_to_hdf5_group: one attribute, or name0..name{n-1} chunks
// each at most kObjectHeaderLimit bytes (FORMATS §1.6). ValueError when one element is
// larger than the limit.
void write_name_list(const File& file, hid_t obj, const std::string& name, const std::vector<std::string>& values);
// A contiguous little-endian dataset at `path` below `parent` (intermediate groups
// created), scalar dataspace for rank 0, holding `value` (a host tensor).
void write_dataset(const File& file, hid_t parent, const std::string& path, const Tensor& value);

}  // namespace strata::h5
