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

namespace strata::h5 {

// A file-access property list that reads through the checked driver: from `memory`
// (`size` bytes, which must outlive every file opened with it) when `memory` is not null,
// else from the file named in H5Fopen. Returns a negative id on failure.
hid_t checked_read_fapl(const void* memory, std::size_t size);

// Why the driver refused the last read on this thread ("" when it did not), and clears it.
std::string take_checked_driver_problem();

// Checks one global heap collection (FORMATS §1: "GCOL", version 1, the collection size,
// then objects of 16-byte headers and 8-byte aligned data). `bytes` holds `size` bytes
// read at the collection's address. Returns "" when every object lies inside the
// collection, else what is wrong. A read shorter than the collection's declared size is
// not checked (HDF5 reads the whole collection again once it knows the size).
std::string check_global_heap(const unsigned char* bytes, std::size_t size);

}  // namespace strata::h5
