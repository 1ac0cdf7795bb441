// Tensors. A Tensor is a cheap, reference-counted handle to an immutable description
// (dtype, shape) and a buffer on one device. Buffers are row-major and contiguous.
// Copying a Tensor copies the handle; reshape() shares the buffer; every operation
// that computes something makes a new tensor.
//
// Tensor memory belongs to a device (strata/device.hpp) and is only directly readable
// when that device is host-accessible (cpu). Code that must read values calls
// to_vector(), item() or to(Device::cpu()), which copy through the device; host_data()
// throws for other devices instead of handing out a pointer that is not host memory.
//
// Thread safety: a Tensor may be read from many threads at once.
#pragma once

#include "strata/export.hpp"
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "strata/device.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/shape.hpp"

STRATA_API_BEGIN

namespace strata {

class BackendDevice;
struct GraphNode;

// What is known of a tensor before it exists: its dtype and (possibly partly unknown) shape.
// Shape inference of ops produces these.
struct TensorMeta {
  DType dtype = DType::kInvalid;
  Shape shape;
};

// Memory on one device. Owned through shared_ptr by the tensors that use it.
class Buffer {
 public:
  // Allocates `bytes` on `device`. Throws BackendError when the device cannot.
  Buffer(BackendDevice& device, std::size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Device address; a host pointer only when device().host_accessible().
  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  BackendDevice& device() const noexcept { return *device_; }

 private:
  friend class Tensor;
  // Tensor::borrow_host's: `data` is not allocated here (string_count kBorrowed: not freed).
  static constexpr std::size_t kBorrowed = ~std::size_t{0};
  // Tensor::from_file_mapping's: `data` lies in a private file mapping that starts at the page
  // holding it and ends `size` bytes later; unmapped (not freed) with the buffer.
  static constexpr std::size_t kMapped = ~std::size_t{0} - 1;
  Buffer(BackendDevice& device, void* data, std::size_t size, std::size_t string_count) noexcept
      : device_(&device), data_(data), size_(size), string_count_(string_count) {}
  BackendDevice* device_;
  void* data_;
  std::size_t size_;
  std::size_t string_count_ = 0;  // > 0: host buffer of constructed std::string objects
};

class Tensor {
 public:
  // An undefined tensor (defined() == false).
  Tensor() = default;

  // Uninitialised contents. REQUIRES: shape fully defined (ShapeError otherwise).
  static Tensor empty(DType dtype, const Shape& shape, const Device& device = default_device());
  static Tensor zeros(DType dtype, const Shape& shape, const Device& device = default_device());
  // Copies `bytes` of host memory laid out as dtype/shape; ValueError if the size differs.
  static Tensor from_host(DType dtype, const Shape& shape, const void* data, std::size_t bytes,
                          const Device& device = default_device());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            const Device& device = default_device()) {
    static_assert(!std::is_same_v<T, bool>, "use from_vector<std::uint8_t> with DType::kBool");
    return from_host(dtype_of<T>, shape, values.data(), values.size() * sizeof(T), device);
  }
  template <class T>
  static Tensor scalar(T value, const Device& device = default_device()) {
    return from_host(dtype_of<T>, Shape{}, &value, sizeof(T), device);
  }
  // A cpu tensor over `bytes` of the caller's host memory, not copied (plugin ABI 2.6): the
  // caller keeps the memory alive and unchanged, and nothing writes to it, until it calls
  // end_borrow on the tensor. ValueError if the size differs; not for strings. For calls that
  // wrap a caller's input for the length of the call (the C API's predict).
  static Tensor borrow_host(DType dtype, const Shape& shape, const void* data, std::size_t bytes);
  // Ends the borrow of a borrow_host tensor (no-op for others): when something still holds
  // its buffer (a tensor made from it that outlives the call), the buffer takes a copy of
  // the bytes into memory of its own, so it never reads the caller's memory again.
  static void end_borrow(const Tensor& t);
  // A cpu tensor over bytes [offset, offset + nbytes) of `mapping`, a private (copy-on-write)
  // mmap of a whole file of offset + nbytes bytes whose start is `mapping` itself, with
  // offset smaller than a page: the tensor owns the mapping and unmaps it when its last user
  // goes (plugin ABI 2.6). For read_npy_mapped. ValueError when the sizes disagree.
  static Tensor from_file_mapping(DType dtype, const Shape& shape, void* mapping, std::size_t offset,
                                  std::size_t nbytes);
  // bool tensors from 0/1 bytes.
  static Tensor from_bools(const std::vector<std::uint8_t>& values, const Shape& shape,
                           const Device& device = default_device());
  // String tensors live on the host (cpu) only.
  static Tensor from_strings(const std::vector<std::string>& values, const Shape& shape);

  // A symbolic tensor: no values, only dtype and a possibly partial shape; the output
  // `output_index` of graph node `node` (a placeholder, or an op recorded while tracing
  // or while calling layers on Functional inputs). See strata/graph.hpp.
  static Tensor symbolic(DType dtype, const Shape& shape, std::shared_ptr<GraphNode> node, int output_index,
                         const Device& device = default_device());

  bool defined() const noexcept { return impl_ != nullptr; }
  bool is_symbolic() const noexcept { return impl_ != nullptr && impl_->node != nullptr; }
  // REQUIRES: is_symbolic().
  const std::shared_ptr<GraphNode>& node() const;
  int output_index() const;
  DType dtype() const noexcept;
  const Shape& shape() const;
  std::size_t rank() const { return shape().rank(); }
  std::int64_t num_elements() const;
  std::size_t nbytes() const;
  Device device() const;
  BackendDevice& backend_device() const;
  // True when data() is host memory the caller may read and write directly (the cpu
  // device; host-mapped devices). Otherwise copy with copy_to_host/copy_from_host.
  bool host_accessible() const;
  // A number unique to this tensor handle's description within the process (reshape
  // and copies of the handle keep it; reshape gets a new one).
  std::uint64_t id() const noexcept;
  const std::shared_ptr<Buffer>& buffer() const;

  // Device address of the first element (see Buffer::data).
  const void* data() const;
  void* mutable_data() const;

  // Typed host pointer. Throws ValueError on a dtype mismatch and BackendError when the
  // tensor is not in host-accessible memory (use to_vector or to(Device::cpu())).
  template <class T>
  const T* host_data() const {
    check_host_access(dtype_of<T>);
    return static_cast<const T*>(data());
  }
  template <class T>
  T* mutable_host_data() const {
    check_host_access(dtype_of<T>);
    return static_cast<T*>(mutable_data());
  }

  // Copies the values to the host, whatever the device.
  template <class T>
  std::vector<T> to_vector() const {
    check_concrete();
    check_dtype(dtype_of<T>);
    std::vector<T> out(static_cast<std::size_t>(num_elements()));
    copy_to_host(out.data(), out.size() * sizeof(T));
    return out;
  }
  template <class T>
  T item() const {
    check_concrete();
    check_dtype(dtype_of<T>);
    STRATA_CHECK(num_elements() == 1, ShapeError, "item() needs a tensor with one element, got shape ",
                 shape().to_string());
    T value{};
    copy_to_host(&value, sizeof(T));
    return value;
  }
  // Copies all bytes to host memory of `bytes` (must equal nbytes()). Not for strings.
  void copy_to_host(void* dst, std::size_t bytes) const;
  // String elements. REQUIRES: dtype kString.
  std::span<const std::string> strings() const;

  // A tensor with the same values on `device` (this tensor when already there).
  Tensor to(const Device& device) const;
  // Same buffer, new shape. One dimension may be -1 (inferred). ShapeError when the
  // element counts differ.
  Tensor reshape(const Shape& shape) const;

 private:
  struct Impl {
    DType dtype = DType::kInvalid;
    Shape shape;
    std::shared_ptr<Buffer> buffer;  // null for symbolic tensors
    std::uint64_t id = 0;
    std::shared_ptr<GraphNode> node;  // symbolic tensors only
    int output_index = 0;
    Device device;  // symbolic tensors only (concrete ones ask their buffer)
  };
  explicit Tensor(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  static Tensor make(DType dtype, Shape shape, std::shared_ptr<Buffer> buffer);
  void check_dtype(DType expected) const;
  void check_concrete() const { (void)concrete(); }
  void check_host_access(DType expected) const;
  const Impl& impl() const;
  const Impl& concrete() const;  // ValueError for symbolic tensors

  std::shared_ptr<const Impl> impl_;
};

}  // namespace strata

STRATA_API_END
