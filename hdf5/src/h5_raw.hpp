// Reading variable-length string attributes without HDF5's vlen conversion.
//
// HDF5 1.10 reads a variable-length string by trusting three numbers it finds in the
// file: the length stored in the attribute, the heap object index, and the heap object's
// size. H5HG_read checks none of them against the others (only debug-build asserts), so
// one corrupted byte in a Keras `model_config`/`weight_names` attribute makes it index
// outside its object table, allocate gigabytes, or copy past a buffer. Fuzzing our reader
// found each of these. So for files we read (untrusted), Strata decodes the attribute
// message and the global heap collection itself (FORMATS §1.4, HDF5 file format spec
// "Attribute Message", "Global Heap") with every offset and size checked, and asks HDF5
// only for the object's header address.
//
// Supported: version 1 object headers (what h5py writes by default) and version 2
// headers ("OHDR", libver='latest'), attribute messages versions 1-3, continuation
// chunks. Attributes in dense storage (a fractal heap: only with libver='latest' and more
// than 8 attributes on one object) and shared datatypes are refused with a FormatError
// that says so.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strata::h5 {

// The bytes of an HDF5 file as stored, for the few structures decoded here. Thread-safe.
class RawBytes {
 public:
  virtual ~RawBytes() = default;
  static std::shared_ptr<const RawBytes> of_file(const std::filesystem::path& path);
  // `bytes` must outlive the returned object.
  static std::shared_ptr<const RawBytes> of_memory(std::string_view bytes);
  virtual std::uint64_t size() const = 0;
  // Exactly `n` bytes at absolute offset `at`; FormatError naming `what` and `label` when
  // they are not all in the file.
  virtual std::string read(std::uint64_t at, std::size_t n, std::string_view what, const std::string& label) const = 0;
};

// Where HDF5's relative addresses start and how wide they are (from the superblock).
struct RawLayout {
  std::uint64_t base = 0;  // the user block's size
  unsigned offset_size = 8;
  unsigned length_size = 8;
};

// The strings of the variable-length string attribute `name` of the object whose header
// is at `header_address` (relative, as H5Oget_info reports it); `expected` is the element
// count HDF5 reported, checked against the message. FormatError (naming `where`) for
// anything that does not decode or does not fit.
std::vector<std::string> read_vlen_string_attribute(const RawBytes& raw, const RawLayout& layout,
                                                    std::uint64_t header_address, const std::string& name,
                                                    std::size_t expected, const std::string& where,
                                                    const std::string& label);

}  // namespace strata::h5
