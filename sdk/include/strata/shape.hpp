// Shapes: a list of dimension sizes, where a dimension may be unknown (kUnknown, shown
// as None the way Keras prints it) and the rank itself may be unknown. Concrete tensors
// always have fully defined shapes; symbolic tensors (Functional inputs, traced
// placeholders) may not.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

STRATA_API_BEGIN

namespace strata {

class Shape {
 public:
  static constexpr std::int64_t kUnknown = -1;

  // A scalar: rank 0, one element.
  Shape() = default;
  // Throws ShapeError if a dimension is negative other than kUnknown.
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::vector<std::int64_t> dims);
  // A shape of which not even the rank is known.
  static Shape unknown_rank();

  bool has_known_rank() const noexcept { return known_rank_; }
  // REQUIRES: has_known_rank(); throws ShapeError otherwise.
  std::size_t rank() const;
  const std::vector<std::int64_t>& dims() const noexcept { return dims_; }
  // Dimension `axis`; negative axes count from the end. Throws ShapeError when out of
  // range or when the rank is unknown.
  std::int64_t dim(std::int64_t axis) const;
  std::int64_t operator[](std::int64_t axis) const { return dim(axis); }
  // Normalises a possibly negative axis into [0, rank); ShapeError when out of range.
  std::size_t normalize_axis(std::int64_t axis) const;

  bool is_fully_defined() const noexcept;
  // Product of the dimensions. Throws ShapeError when a dimension or the rank is unknown
  // or the product overflows int64.
  std::int64_t num_elements() const;

  // True when the two could describe the same tensor (unknown matches anything).
  bool is_compatible_with(const Shape& other) const noexcept;
  // The most specific shape compatible with both; ShapeError when incompatible.
  Shape merge_with(const Shape& other) const;

  // Keras spelling: "(None, 32)", "(3,)", "()"; "<unknown>" for unknown rank.
  std::string to_string() const;

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.known_rank_ == b.known_rank_ && a.dims_ == b.dims_;
  }

 private:
  std::vector<std::int64_t> dims_;
  bool known_rank_ = true;
};

// Prints to_string() (also makes test failures readable).
std::ostream& operator<<(std::ostream& out, const Shape& shape);

}  // namespace strata

STRATA_API_END
