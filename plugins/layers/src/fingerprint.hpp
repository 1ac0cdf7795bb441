// The string hashes TensorFlow's hashing ops use, written from the published algorithms:
// FarmHash's Fingerprint64 (farmhashna's 64-bit hash, what tf.strings.to_hash_bucket_fast
// and tf.fingerprint("farmhash64") compute), SipHash-2-4 with a 128-bit key (what
// tf.strings.to_hash_bucket_strong computes) and the FingerprintCat64 combination
// tf.sparse.cross_hashed folds feature hashes with. Used only by the layers plugin's
// Hashing and HashedCrossing (preprocessing_encoding.cpp). Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::layers {

// FarmHash Fingerprint64 of the bytes of `s` (stable across platforms and releases).
std::uint64_t fingerprint64(std::string_view s) noexcept;

// SipHash-2-4 of the bytes of `s` keyed with the two 64-bit words key0, key1.
std::uint64_t siphash24(std::uint64_t key0, std::uint64_t key1, std::string_view s) noexcept;

// Combines two fingerprints, order-dependent (FingerprintCat64).
std::uint64_t fingerprint_cat64(std::uint64_t first, std::uint64_t second) noexcept;

}  // namespace strata::layers
