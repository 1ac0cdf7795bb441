// A read-only HDF5 file driver (VFD) for untrusted files, private to format-h5.
//
// Why: HDF5 1.10 trusts the object sizes inside a global heap collection (where
// variable-length strings such as `model_config` live) and copies them without a bound
// check (H5HG_read), so one corrupted byte reads far outside the heap's buffer. This driver
// sees every read; when HDF5 reads a global heap collection (which 1.10 reads as raw data,
// so it is recognised by its header) the driver checks the collection's declared size and
// its object table first and refuses the read (HDF5 then reports "unable to load global
// heap collection") instead of handing over a collection that would make HDF5 allocate an
// absurd buffer or read out of bounds.
//
// Reads come from a file descriptor (pread) or from a caller-owned buffer. Nothing is
// accumulated or cached here: each HDF5 read is one pread or memcpy.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "strata/tensor.hpp"

namespace strata::h5 {

// A file-access property list that reads through the checked driver: from `memory`
// (`size` bytes, which must outlive every file opened with it) when `memory` is not null,
// else from the file named in H5Fopen. Returns a negative id on failure.
hid_t checked_read_fapl(const void* memory, std::size_t size);

// Why the driver refused the last read on this thread ("" when it did not), and clears it.
std::string take_checked_driver_problem();

// The state of a file written through the piece driver: an HDF5 file built in memory in
// which large raw-data writes are not copied but kept as references into tensors the file
// borrowed (their memory is what H5Dwrite passed down). Metadata and small datasets are
// copied. finish() lays the file out as pieces — owned metadata strings between borrowed
// tensor bytes — for write_file_atomically, so a save holds no copy of the weights.
struct PieceSink {
  struct Write {
    haddr_t addr = 0;
    std::size_t size = 0;
    const char* borrowed = nullptr;  // non-null: bytes live in a lent tensor
    std::string owned;
  };
  std::vector<Write> writes;  // in order: a later write wins where two overlap
  std::vector<Tensor> lent;   // kept alive until the pieces are written
  haddr_t eoa = 0;
  haddr_t eof = 0;
  bool closed = false;  // HDF5 closed the file (every object of it was closed first)
  // After finish(): the file, in order.
  std::vector<std::string> gaps;
  std::vector<std::string_view> pieces;

  // H5Dwrite may pass `t`'s memory down; raw writes from it are then borrowed, not copied.
  void lend(const Tensor& t) { lent.push_back(t); }
  // Fills `out` with the bytes at [addr, addr+size) as written so far (zeros elsewhere).
  void read(haddr_t addr, std::size_t size, unsigned char* out) const;
  // Builds `pieces` covering [0, eof).
  void finish();
};

// A file-access property list writing through the piece driver into `sink` (which must
// outlive the file). Returns a negative id on failure.
hid_t piece_write_fapl(PieceSink* sink);

// Checks one global heap collection (FORMATS §1: "GCOL", version 1, the collection size,
// then objects of 16-byte headers and 8-byte aligned data). `bytes` holds `size` bytes
// read at the collection's address. Returns "" when every object lies inside the
// collection, else what is wrong. A read shorter than the collection's declared size is
// not checked (HDF5 reads the whole collection again once it knows the size).
std::string check_global_heap(const unsigned char* bytes, std::size_t size);

}  // namespace strata::h5
