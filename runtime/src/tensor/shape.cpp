#include "strata/shape.hpp"

#include <limits>
#include <ostream>

#include "strata/error.hpp"

namespace strata {
namespace {

void validate(const std::vector<std::int64_t>& dims) {
  for (std::size_t i = 0; i < dims.size(); ++i) {
    STRATA_CHECK(dims[i] >= 0 || dims[i] == Shape::kUnknown, ShapeError, "dimension ", i,
                 " is ", dims[i], ": dimensions must be non-negative or unknown (-1)");
  }
}

}  // namespace

Shape::Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) { validate(dims_); }
Shape::Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) { validate(dims_); }

Shape Shape::unknown_rank() {
  Shape s;
  s.known_rank_ = false;
  return s;
}

std::size_t Shape::rank() const {
  STRATA_CHECK(known_rank_, ShapeError, "the rank of this shape is unknown");
  return dims_.size();
}

std::size_t Shape::normalize_axis(std::int64_t axis) const {
  const auto r = static_cast<std::int64_t>(rank());
  const std::int64_t a = axis < 0 ? axis + r : axis;
  STRATA_CHECK(a >= 0 && a < r, ShapeError, "axis ", axis, " is out of range for shape ",
               to_string(), " (rank ", r, ")");
  return static_cast<std::size_t>(a);
}

std::int64_t Shape::dim(std::int64_t axis) const { return dims_[normalize_axis(axis)]; }

bool Shape::is_fully_defined() const noexcept {
  if (!known_rank_) return false;
  for (auto d : dims_) {
    if (d == kUnknown) return false;
  }
  return true;
}

std::int64_t Shape::num_elements() const {
  STRATA_CHECK(is_fully_defined(), ShapeError, "shape ", to_string(),
               " is not fully defined, so its number of elements is unknown");
  std::int64_t n = 1;
  for (auto d : dims_) {
    STRATA_CHECK(d == 0 || n <= std::numeric_limits<std::int64_t>::max() / d, ShapeError,
                 "shape ", to_string(), " has more elements than fit in 64 bits");
    n *= d;
  }
  return n;
}

bool Shape::is_compatible_with(const Shape& other) const noexcept {
  if (!known_rank_ || !other.known_rank_) return true;
  if (dims_.size() != other.dims_.size()) return false;
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (dims_[i] != kUnknown && other.dims_[i] != kUnknown && dims_[i] != other.dims_[i]) return false;
  }
  return true;
}

Shape Shape::merge_with(const Shape& other) const {
  STRATA_CHECK(is_compatible_with(other), ShapeError, "shapes ", to_string(), " and ",
               other.to_string(), " are incompatible");
  if (!known_rank_) return other;
  if (!other.known_rank_) return *this;
  std::vector<std::int64_t> dims(dims_.size());
  for (std::size_t i = 0; i < dims.size(); ++i) dims[i] = dims_[i] == kUnknown ? other.dims_[i] : dims_[i];
  return Shape(std::move(dims));
}

std::string Shape::to_string() const {
  if (!known_rank_) return "<unknown>";
  std::string out = "(";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) out += ", ";
    out += dims_[i] == kUnknown ? std::string("None") : std::to_string(dims_[i]);
  }
  if (dims_.size() == 1) out += ",";
  out += ")";
  return out;
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.to_string(); }

}  // namespace strata
