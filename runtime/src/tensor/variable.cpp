#include "strata/variable.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "strata/plugin/file_shaped_weights.hpp"

namespace strata {

struct Variable::Impl {
  std::string name;
  Tensor value;
  bool trainable = true;
  std::uint64_t id = 0;
};

namespace {
std::uint64_t next_variable_id() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

Variable::Variable(std::string name, Tensor initial_value, bool trainable) {
  STRATA_CHECK(initial_value.defined(), ValueError, "variable '", name, "' needs a defined initial value");
  impl_ = std::make_shared<Impl>();
  impl_->name = std::move(name);
  impl_->value = std::move(initial_value);
  impl_->trainable = trainable;
  impl_->id = next_variable_id();
}

Variable::Impl& Variable::checked() const {
  STRATA_CHECK(impl_ != nullptr, ValueError, "this variable is undefined (default-constructed)");
  return *impl_;
}

const std::string& Variable::name() const { return checked().name; }
bool Variable::trainable() const { return checked().trainable; }
void Variable::set_trainable(bool trainable) { checked().trainable = trainable; }
DType Variable::dtype() const { return checked().value.dtype(); }
const Shape& Variable::shape() const { return checked().value.shape(); }
Device Variable::device() const { return checked().value.device(); }
std::uint64_t Variable::id() const { return checked().id; }
Tensor Variable::value() const { return checked().value; }

void Variable::assign(const Tensor& value) {
  Impl& impl = checked();
  STRATA_CHECK(value.defined(), ValueError, "cannot assign an undefined tensor to variable '", impl.name, "'");
  STRATA_CHECK(value.dtype() == impl.value.dtype(), ValueError, "cannot assign a ", dtype_name(value.dtype()),
               " tensor to variable '", impl.name, "' of dtype ", dtype_name(impl.value.dtype()));
  STRATA_CHECK(value.shape() == impl.value.shape() || accepts_shape(*this, value.shape()), ShapeError, "cannot assign a tensor of shape ",
               value.shape().to_string(), " to variable '", impl.name, "' of shape ",
               impl.value.shape().to_string());
  impl.value = value.to(impl.value.device());
}

void Variable::to(const Device& device) {
  Impl& impl = checked();
  impl.value = impl.value.to(device);
}

// ---- file-shaped weights (strata/plugin/file_shaped_weights.hpp) ------------------------------

namespace {
// Variable id -> declared shape. Ids are never reused, so an entry of a freed variable is
// never consulted again (only the few file-shaped weights are here).
struct FileShapes {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, Shape> declared;
};
FileShapes& file_shapes() {
  static auto* shapes = new FileShapes();  // never destroyed: variables may be assigned at exit
  return *shapes;
}
}  // namespace

void set_file_shaped(const Variable& variable, const Shape& declared) {
  STRATA_CHECK(declared.is_compatible_with(variable.shape()), ValueError, "variable '", variable.name(), "' of shape ",
               variable.shape().to_string(), " cannot be declared with shape ", declared.to_string());
  auto& shapes = file_shapes();
  const std::lock_guard<std::mutex> lock(shapes.mutex);
  shapes.declared.insert_or_assign(variable.id(), declared);
}

bool accepts_shape(const Variable& variable, const Shape& shape) {
  if (shape == variable.shape()) return true;
  auto& shapes = file_shapes();
  const std::lock_guard<std::mutex> lock(shapes.mutex);
  const auto it = shapes.declared.find(variable.id());
  return it != shapes.declared.end() && shape.is_compatible_with(it->second);
}

}  // namespace strata
