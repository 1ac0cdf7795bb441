// NumPy .npy files: what `strata predict` reads and writes, and the format the interop
// fixtures (tests/data/keras) keep real TensorFlow/Keras arrays in. Only what numpy.save writes for plain
// arrays is supported: format versions 1.0, 2.0 and 3.0, C order, little-endian (or
// byte-order-free) float32, float64, int32, int64, bool and uint8, and fixed-width strings:
// '<U<n>' (numpy's str arrays, read as UTF-8) and '|S<n>' (bytes arrays), read into string
// tensors (host only) with the trailing NULs numpy strips removed. Anything else - a
// Fortran-order array, big-endian data, another dtype, a pickled object array, a truncated
// or oversized file - is a FormatError naming the file and what is wrong.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

// Reads the array in `path` into a new tensor on the cpu device. Throws IOError when the
// file cannot be opened, FormatError as above.
Tensor read_npy(const std::filesystem::path& path);

// Rows [start, start + rows) of the array in the local file `path` (along its first
// dimension), read without reading the rest of the data: a rank's shard of a dataset
// (fit_replica_batches, strata/distribute.hpp). IOError, FormatError as read_npy;
// ValueError for a scalar array or rows outside it.
Tensor read_npy_rows(const std::filesystem::path& path, std::int64_t start, std::int64_t rows);

// The array in `path` as a cpu tensor over a private memory mapping of the file (plugin ABI
// 2.6): nothing is read until used, and processes mapping the same file share its pages in
// the page cache (the ranks of `mpirun ... strata fit` on one machine). Unmapped when the
// last tensor using it goes; a write (nothing in Strata writes its inputs) copies the page
// it touches, never the file. Arrays that need converting (bool, strings), an empty array,
// data not 64-byte aligned within the first page, or a file that cannot be mapped are read
// as read_npy reads them. Errors as read_npy.
Tensor read_npy_mapped(const std::filesystem::path& path);

// Writes `tensor` (copied from whatever device it is on) as a version 1.0 .npy file, the
// bytes numpy.save writes for the same array; a string tensor is written '<U<n>' when every
// element is UTF-8 without NULs (numpy.save of the same Python str array), else '|S<n>'.
// Throws ValueError for a dtype outside the
// list above or a symbolic tensor, IOError when the file cannot be written.
void write_npy(const std::filesystem::path& path, const Tensor& tensor);

// The same from and to bytes in memory (.npz members, network buffers). `source` names
// the bytes in error messages.
Tensor parse_npy(std::string_view bytes, std::string_view source);
std::string npy_bytes(const Tensor& tensor);

}  // namespace strata

STRATA_API_END
