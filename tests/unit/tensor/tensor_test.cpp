#include <gtest/gtest.h>

#include <csignal>
#include <vector>

#include "ref_backend.hpp"
#include "strata/error.hpp"
#include "strata/plugin/backend.hpp"
#include "strata/tensor.hpp"
#include "strata/variable.hpp"

namespace strata {
namespace {

class TensorTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::register_ref_backend(); }
};

TEST_F(TensorTest, FromVectorOnCpu) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.num_elements(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.device(), Device::cpu());
  EXPECT_EQ(t.host_data<float>()[4], 5.0f);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(t.host_data<double>(), ValueError);
  EXPECT_THROW(t.to_vector<std::int32_t>(), ValueError);
}

TEST_F(TensorTest, SizeMismatchAndUnknownShapesAreRejected) {
  EXPECT_THROW(Tensor::from_vector<float>({1, 2, 3}, Shape{2, 2}), ValueError);
  EXPECT_THROW(Tensor::empty(DType::kFloat32, Shape{Shape::kUnknown, 2}), ShapeError);
  EXPECT_THROW(Tensor::empty(DType::kFloat32, Shape{1LL << 40, 1LL << 30}), ShapeError);
  EXPECT_THROW(Tensor().shape(), ValueError);
}

TEST_F(TensorTest, ScalarsZerosAndItem) {
  EXPECT_EQ(Tensor::scalar<std::int64_t>(42).item<std::int64_t>(), 42);
  EXPECT_EQ(Tensor::scalar<double>(2.5).shape(), Shape());
  Tensor z = Tensor::zeros(DType::kInt32, Shape{3, 0});
  EXPECT_EQ(z.num_elements(), 0);
  Tensor z2 = Tensor::zeros(DType::kFloat64, Shape{4});
  EXPECT_EQ(z2.to_vector<double>(), (std::vector<double>(4, 0.0)));
  EXPECT_THROW(z2.item<double>(), ShapeError);
  Tensor b = Tensor::from_bools({0, 7, 1}, Shape{3});
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.host_data<bool>()[1], true);
}

TEST_F(TensorTest, ReshapeSharesTheBuffer) {
  Tensor t = Tensor::from_vector<std::int32_t>({1, 2, 3, 4, 5, 6}, Shape{6});
  Tensor r = t.reshape(Shape{Shape::kUnknown, 3});
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(r.data(), t.data());
  EXPECT_NE(r.id(), t.id());
  EXPECT_THROW(t.reshape(Shape{4, 2}), ShapeError);
  EXPECT_THROW(t.reshape(Shape{Shape::kUnknown, Shape::kUnknown}), ShapeError);
  EXPECT_THROW(t.reshape(Shape{Shape::kUnknown, 4}), ShapeError);
}

// Tensor::borrow_host (issue 22, the C API's predict inputs): the caller's memory itself, no
// copy, until end_borrow; a tensor still sharing the buffer then holds a copy of its own, so
// changing or freeing the caller's memory afterwards changes nothing.
TEST_F(TensorTest, BorrowedHostMemoryIsReadInPlaceUntilTheBorrowEnds) {
  std::vector<float> mine = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::borrow_host(DType::kFloat32, Shape{2, 3}, mine.data(), mine.size() * sizeof(float));
  EXPECT_EQ(t.data(), static_cast<const void*>(mine.data()));
  EXPECT_EQ(t.device(), Device::cpu());
  mine[0] = 10;
  EXPECT_EQ(t.to_vector<float>()[0], 10.0f);  // no copy: the caller's memory
  Tensor kept = t.reshape(Shape{6});          // something that outlives the call
  Tensor::end_borrow(t);
  EXPECT_NE(kept.data(), static_cast<const void*>(mine.data()));
  mine.assign(6, -1.0f);
  EXPECT_EQ(kept.to_vector<float>(), (std::vector<float>{10, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{10, 2, 3, 4, 5, 6}));

  // Nothing else holds it: the borrow just ends (the memory is never freed by the tensor).
  std::vector<float> other = {7, 8};
  Tensor u = Tensor::borrow_host(DType::kFloat32, Shape{2}, other.data(), 2 * sizeof(float));
  Tensor::end_borrow(u);
  EXPECT_EQ(u.data(), static_cast<const void*>(other.data()));
  u = Tensor();
  EXPECT_EQ(other[1], 8.0f);

  EXPECT_THROW(Tensor::borrow_host(DType::kFloat32, Shape{2}, other.data(), 4), ValueError);
  Tensor::end_borrow(Tensor::from_vector<float>({1}, Shape{1}));  // not borrowed: nothing happens
}

TEST_F(TensorTest, RefMemoryIsNotHostMemory) {
  Tensor t = Tensor::from_vector<float>({1.5f, -2.0f, 3.25f}, Shape{3}, Device("ref:0"));
  EXPECT_EQ(t.device(), Device("ref:0"));
  // The address is not a host pointer: reading it directly is refused...
  EXPECT_THROW(t.host_data<float>(), BackendError);
  // ...and the ref backend's addresses would fault if anyone dereferenced them.
  EXPECT_NE(t.data(), testing::ref_host_pointer(t.data()));
  // Values come back through the device.
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  Tensor host = t.to(Device::cpu());
  EXPECT_EQ(host.host_data<float>()[2], 3.25f);
  Tensor back = host.to(Device("ref:0"));
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(back.to(Device("ref:0")).data(), back.data());  // same device: no copy
}

TEST_F(TensorTest, RefMemoryIsReturnedWhenTensorsDie) {
  const std::size_t before = testing::ref_live_bytes();
  {
    Tensor a = Tensor::zeros(DType::kFloat64, Shape{128}, Device("ref:0"));
    Tensor b = a.reshape(Shape{2, 64});
    EXPECT_EQ(testing::ref_live_bytes(), before + 1024);
    a = Tensor();
    EXPECT_EQ(testing::ref_live_bytes(), before + 1024);  // b still holds the buffer
    EXPECT_EQ(b.to_vector<double>(), std::vector<double>(128, 0.0));
  }
  EXPECT_EQ(testing::ref_live_bytes(), before);
}

TEST_F(TensorTest, DeviceScopeChoosesWhereNewTensorsGo) {
  DeviceScope scope(Device("ref:0"));
  Tensor t = Tensor::scalar<float>(1.0f);
  EXPECT_EQ(t.device(), Device("ref:0"));
  EXPECT_EQ(t.item<float>(), 1.0f);
}

TEST_F(TensorTest, StringsLiveOnTheHost) {
  Tensor s = Tensor::from_strings({"save_counter", "", "layer/var"}, Shape{3});
  EXPECT_EQ(s.dtype(), DType::kString);
  ASSERT_EQ(s.strings().size(), 3u);
  EXPECT_EQ(s.strings()[2], "layer/var");
  EXPECT_THROW(s.to(Device("ref:0")), ValueError);
  EXPECT_THROW(Tensor::from_strings({"a"}, Shape{2}), ValueError);
  EXPECT_THROW(s.to_vector<float>(), ValueError);
}

TEST_F(TensorTest, HalfPrecisionStorage) {
  Tensor h = Tensor::from_vector<float16>({float16(1.0f), float16(-0.5f)}, Shape{2});
  EXPECT_EQ(h.dtype(), DType::kFloat16);
  EXPECT_EQ(h.nbytes(), 4u);
  EXPECT_EQ(static_cast<float>(h.to_vector<float16>()[1]), -0.5f);
}

TEST(Variable, AssignChecksAndKeepsOldSnapshots) {
  Variable v("dense/kernel", Tensor::from_vector<float>({1, 2}, Shape{2}));
  EXPECT_EQ(v.name(), "dense/kernel");
  EXPECT_TRUE(v.trainable());
  Tensor before = v.value();
  v.assign(Tensor::from_vector<float>({3, 4}, Shape{2}));
  EXPECT_EQ(v.value().to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(before.to_vector<float>(), (std::vector<float>{1, 2}));
  try {
    v.assign(Tensor::from_vector<float>({1, 2, 3}, Shape{3}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("'dense/kernel'"), std::string::npos);
  }
  EXPECT_THROW(v.assign(Tensor::from_vector<double>({1, 2}, Shape{2})), ValueError);
  Variable alias = v;
  alias.set_trainable(false);
  EXPECT_FALSE(v.trainable());
  EXPECT_EQ(alias, v);
  EXPECT_THROW(Variable().name(), ValueError);
}

TEST(Variable, MovesBetweenDevicesAndAssignsAcrossThem) {
  testing::register_ref_backend();
  Variable v("w", Tensor::from_vector<float>({1, 2, 3}, Shape{3}, Device("ref:0")));
  v.assign(Tensor::from_vector<float>({4, 5, 6}, Shape{3}));  // cpu value, copied to ref
  EXPECT_EQ(v.device(), Device("ref:0"));
  v.to(Device::cpu());
  EXPECT_EQ(v.value().host_data<float>()[0], 4.0f);
}

}  // namespace
}  // namespace strata
