#include "strata/tensor.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include <atomic>
#include <cstring>
#include <new>
#include <string>

#include "strata/plugin/backend.hpp"

namespace strata {
namespace {

std::uint64_t next_tensor_id() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

std::size_t checked_bytes(DType dtype, const Shape& shape) {
  STRATA_CHECK(dtype != DType::kInvalid, ValueError, "a tensor needs a valid dtype");
  STRATA_CHECK(shape.is_fully_defined(), ShapeError, "a concrete tensor needs a fully defined shape, got ",
               shape.to_string());
  const auto n = static_cast<std::uint64_t>(shape.num_elements());
  const std::uint64_t size = dtype_size(dtype);
  STRATA_CHECK(n <= (std::uint64_t{1} << 62) / size, ShapeError, "a ", dtype_name(dtype), " tensor of shape ",
               shape.to_string(), " would need more memory than can be addressed");
  return static_cast<std::size_t>(n * size);
}

}  // namespace

Buffer::Buffer(BackendDevice& device, std::size_t bytes)
    : device_(&device), data_(device.allocate(bytes)), size_(bytes) {}

Buffer::~Buffer() {
  if (string_count_ == kBorrowed) return;  // the caller's memory (Tensor::borrow_host)
  if (string_count_ == kMapped) {  // Tensor::from_file_mapping: the mapping starts at data_'s page
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto addr = reinterpret_cast<std::uintptr_t>(data_);
    const std::uintptr_t base = addr - addr % page;
    ::munmap(reinterpret_cast<void*>(base), size_ + (addr - base));
    return;
  }
  if (string_count_ > 0) {
    auto* strings = static_cast<std::string*>(data_);
    for (std::size_t i = 0; i < string_count_; ++i) strings[i].~basic_string();
  }
  device_->deallocate(data_, size_);
}

Tensor Tensor::make(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer) {
  auto impl = std::make_shared<Impl>();
  impl->dtype = dtype;
  impl->shape = std::move(shape);
  impl->buffer = std::move(buffer);
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

const Tensor::Impl& Tensor::impl() const {
  STRATA_CHECK(impl_ != nullptr, ValueError, "this tensor is undefined (default-constructed)");
  return *impl_;
}

const Tensor::Impl& Tensor::concrete() const {
  const Impl& i = impl();
  STRATA_CHECK(i.buffer != nullptr, ValueError, "this tensor is symbolic (shape ", i.shape.to_string(),
               "): it has no values until the graph it belongs to is run");
  return i;
}

Tensor Tensor::empty(DType dtype, const Shape& shape, const Device& device) {
  STRATA_CHECK(dtype != DType::kString, ValueError, "string tensors are made with Tensor::from_strings");
  const std::size_t bytes = checked_bytes(dtype, shape);
  return make(dtype, shape, std::make_shared<Buffer>(strata::backend_device(device), bytes));
}

Tensor Tensor::zeros(DType dtype, const Shape& shape, const Device& device) {
  Tensor t = empty(dtype, shape, device);
  t.backend_device().fill_zero(t.mutable_data(), t.nbytes());
  return t;
}

Tensor Tensor::from_host(DType dtype, const Shape& shape, const void* data, std::size_t bytes,
                         const Device& device) {
  Tensor t = empty(dtype, shape, device);
  STRATA_CHECK(bytes == t.nbytes(), ValueError, "a ", dtype_name(dtype), " tensor of shape ", shape.to_string(),
               " needs ", t.nbytes(), " bytes, but ", bytes, " were given");
  t.backend_device().copy_from_host(t.mutable_data(), data, bytes);
  return t;
}

Tensor Tensor::borrow_host(DType dtype, const Shape& shape, const void* data, std::size_t bytes) {
  STRATA_CHECK(dtype != DType::kString, ValueError, "string tensors are made with Tensor::from_strings");
  const std::size_t need = checked_bytes(dtype, shape);
  STRATA_CHECK(bytes == need, ValueError, "a ", dtype_name(dtype), " tensor of shape ", shape.to_string(), " needs ",
               need, " bytes, but ", bytes, " were given");
  STRATA_CHECK(data != nullptr || bytes == 0, ValueError, "borrow_host: data is NULL");
  if (bytes == 0) return empty(dtype, shape, Device::cpu());
  std::shared_ptr<Buffer> buffer(new Buffer(strata::backend_device(Device::cpu()), const_cast<void*>(data), bytes,
                                            Buffer::kBorrowed));
  return make(dtype, shape, std::move(buffer));
}

Tensor Tensor::from_file_mapping(DType dtype, const Shape& shape, void* mapping, std::size_t offset,
                                 std::size_t nbytes) {
  STRATA_CHECK(dtype != DType::kString, ValueError, "string tensors are made with Tensor::from_strings");
  const std::size_t need = checked_bytes(dtype, shape);
  STRATA_CHECK(nbytes == need && nbytes > 0, ValueError, "a ", dtype_name(dtype), " tensor of shape ",
               shape.to_string(), " needs ", need, " bytes, but the mapping holds ", nbytes);
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  STRATA_CHECK(mapping != nullptr && reinterpret_cast<std::uintptr_t>(mapping) % page == 0 && offset < page,
               ValueError, "from_file_mapping: the mapping must start on a page and the data within its first page");
  std::shared_ptr<Buffer> buffer(new Buffer(strata::backend_device(Device::cpu()), static_cast<char*>(mapping) + offset,
                                            nbytes, Buffer::kMapped));
  return make(dtype, shape, std::move(buffer));
}

void Tensor::end_borrow(const Tensor& t) {
  if (!t.defined() || t.is_symbolic()) return;
  Buffer& b = *t.impl().buffer;
  if (b.string_count_ != Buffer::kBorrowed) return;
  // Only `t`'s own handle (and its copies, which share one Impl) holds the buffer: it goes
  // with them, never read again.
  if (t.impl().buffer.use_count() == 1 && t.impl_.use_count() == 1) return;
  void* own = b.device_->allocate(b.size_);
  std::memcpy(own, b.data_, b.size_);
  b.data_ = own;
  b.string_count_ = 0;
}

Tensor Tensor::from_bools(const std::vector<std::uint8_t>& values, const Shape& shape, const Device& device) {
  std::vector<std::uint8_t> normalized(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) normalized[i] = values[i] ? 1 : 0;
  return from_host(DType::kBool, shape, normalized.data(), normalized.size(), device);
}

Tensor Tensor::from_strings(const std::vector<std::string>& values, const Shape& shape) {
  const std::size_t bytes = checked_bytes(DType::kString, shape);
  STRATA_CHECK(values.size() == static_cast<std::size_t>(shape.num_elements()), ValueError, "a string tensor of shape ",
               shape.to_string(), " needs ", shape.num_elements(), " strings, but ", values.size(),
               " were given");
  auto buffer = std::make_shared<Buffer>(strata::backend_device(Device::cpu()), bytes);
  auto* out = static_cast<std::string*>(buffer->data());
  for (const auto& v : values) {
    new (out + buffer->string_count_) std::string(v);
    ++buffer->string_count_;
  }
  return make(DType::kString, shape, std::move(buffer));
}

Tensor Tensor::symbolic(DType dtype, const Shape& shape, std::shared_ptr<GraphNode> node, int output_index,
                        const Device& device) {
  STRATA_CHECK(node != nullptr, ValueError, "a symbolic tensor needs the graph node that produces it");
  auto impl = std::make_shared<Impl>();
  impl->dtype = dtype;
  impl->shape = shape;
  impl->id = next_tensor_id();
  impl->node = std::move(node);
  impl->output_index = output_index;
  impl->device = device;
  return Tensor(std::move(impl));
}

const std::shared_ptr<GraphNode>& Tensor::node() const {
  STRATA_CHECK(is_symbolic(), ValueError, "node() is only defined for symbolic tensors");
  return impl_->node;
}

int Tensor::output_index() const {
  STRATA_CHECK(is_symbolic(), ValueError, "output_index() is only defined for symbolic tensors");
  return impl_->output_index;
}

DType Tensor::dtype() const noexcept { return impl_ ? impl_->dtype : DType::kInvalid; }
const Shape& Tensor::shape() const { return impl().shape; }
std::int64_t Tensor::num_elements() const { return impl().shape.num_elements(); }
std::size_t Tensor::nbytes() const { return static_cast<std::size_t>(num_elements()) * dtype_size(dtype()); }
Device Tensor::device() const {
  const Impl& i = impl();
  return i.buffer ? i.buffer->device().device() : i.device;
}
BackendDevice& Tensor::backend_device() const { return concrete().buffer->device(); }
bool Tensor::host_accessible() const { return backend_device().host_accessible(); }
std::uint64_t Tensor::id() const noexcept { return impl_ ? impl_->id : 0; }
const std::shared_ptr<Buffer>& Tensor::buffer() const { return concrete().buffer; }
const void* Tensor::data() const { return concrete().buffer->data(); }
void* Tensor::mutable_data() const { return concrete().buffer->data(); }

void Tensor::check_dtype(DType expected) const {
  STRATA_CHECK(dtype() == expected, ValueError, "tensor has dtype ", dtype_name(dtype()), ", not ",
               dtype_name(expected));
}

void Tensor::check_host_access(DType expected) const {
  check_dtype(expected);
  STRATA_CHECK(backend_device().host_accessible(), BackendError, "tensor lives on ", device().to_string(),
               ", whose memory is not host memory; copy it with to_vector() or to(Device::cpu()) first");
}

void Tensor::copy_to_host(void* dst, std::size_t bytes) const {
  STRATA_CHECK(dtype() != DType::kString, ValueError, "string tensors are read with strings()");
  STRATA_CHECK(bytes == nbytes(), ValueError, "copy_to_host needs ", nbytes(), " bytes for this tensor, got ", bytes);
  backend_device().copy_to_host(dst, data(), bytes);
}

std::span<const std::string> Tensor::strings() const {
  check_dtype(DType::kString);
  return {static_cast<const std::string*>(data()), static_cast<std::size_t>(num_elements())};
}

Tensor Tensor::to(const Device& device) const {
  if (device == this->device()) return *this;
  STRATA_CHECK(dtype() != DType::kString, ValueError, "string tensors live on cpu only; cannot move one to ",
               device.to_string());
  BackendDevice& src = backend_device();
  BackendDevice& dst_device = strata::backend_device(device);
  const std::size_t bytes = nbytes();
  auto buffer = std::make_shared<Buffer>(dst_device, bytes);
  if (src.host_accessible()) {
    dst_device.copy_from_host(buffer->data(), data(), bytes);
  } else if (dst_device.host_accessible()) {
    src.copy_to_host(buffer->data(), data(), bytes);
  } else {
    std::vector<unsigned char> staging(bytes);
    src.copy_to_host(staging.data(), data(), bytes);
    dst_device.copy_from_host(buffer->data(), staging.data(), bytes);
  }
  return make(dtype(), shape(), std::move(buffer));
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  STRATA_CHECK(new_shape.has_known_rank(), ShapeError, "cannot reshape to a shape of unknown rank");
  std::vector<std::int64_t> dims = new_shape.dims();
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == Shape::kUnknown) {
      STRATA_CHECK(inferred < 0, ShapeError, "reshape to ", new_shape.to_string(),
                   ": at most one dimension may be inferred");
      inferred = static_cast<int>(i);
    } else {
      known *= dims[i];
    }
  }
  const std::int64_t n = num_elements();
  if (inferred >= 0) {
    STRATA_CHECK(known != 0 && n % known == 0, ShapeError, "cannot reshape a tensor of shape ",
                 shape().to_string(), " into ", new_shape.to_string());
    dims[static_cast<std::size_t>(inferred)] = n / known;
  }
  Shape target(std::move(dims));
  STRATA_CHECK(target.num_elements() == n, ShapeError, "cannot reshape a tensor of shape ", shape().to_string(),
               " (", n, " elements) into ", target.to_string(), " (", target.num_elements(), " elements)");
  return make(dtype(), std::move(target), concrete().buffer);
}

}  // namespace strata
