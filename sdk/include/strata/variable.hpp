// Variables: named, mutable tensors owned by layers and optimizers and saved by every
// format. A Variable is a handle; copies refer to the same variable. assign() replaces
// the value: tensors obtained earlier from value() keep the old contents.
//
// Thread safety: value() may be called from many threads at once while nothing
// assigns; assign() and set_trainable() need exclusive access.
#pragma once

#include "strata/export.hpp"
#include <cstdint>
#include <memory>
#include <string>

#include "strata/tensor.hpp"

STRATA_API_BEGIN

namespace strata {

class Variable {
 public:
  // An undefined variable.
  Variable() = default;
  // A variable holding `initial_value` on that tensor's device. ValueError for an
  // undefined tensor.
  Variable(std::string name, Tensor initial_value, bool trainable = true);

  bool defined() const noexcept { return impl_ != nullptr; }
  const std::string& name() const;
  bool trainable() const;
  void set_trainable(bool trainable);
  DType dtype() const;
  const Shape& shape() const;
  Device device() const;
  std::uint64_t id() const;

  Tensor value() const;
  // Replaces the value with `value` copied to this variable's device. ShapeError /
  // ValueError naming the variable when the shape or dtype differs.
  void assign(const Tensor& value);
  // Moves the variable to `device` (its value is copied there).
  void to(const Device& device);

  friend bool operator==(const Variable& a, const Variable& b) noexcept { return a.impl_ == b.impl_; }

 private:
  struct Impl;
  Impl& checked() const;
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata

STRATA_API_END
