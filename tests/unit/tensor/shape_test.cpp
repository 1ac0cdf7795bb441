#include <gtest/gtest.h>

#include "strata/error.hpp"
#include "strata/shape.hpp"

namespace strata {
namespace {

TEST(Shape, KerasSpelling) {
  EXPECT_EQ(Shape({}).to_string(), "()");
  EXPECT_EQ(Shape({3}).to_string(), "(3,)");
  EXPECT_EQ(Shape({Shape::kUnknown, 32}).to_string(), "(None, 32)");
  EXPECT_EQ(Shape::unknown_rank().to_string(), "<unknown>");
}

TEST(Shape, ElementsAndAxes) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3u);
  EXPECT_EQ(s.num_elements(), 24);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s[0], 2);
  EXPECT_THROW(s[3], ShapeError);
  EXPECT_THROW(s[-4], ShapeError);
  EXPECT_EQ(Shape().num_elements(), 1);
  EXPECT_EQ(Shape({0, 5}).num_elements(), 0);
}

TEST(Shape, UnknownDimensions) {
  Shape s{Shape::kUnknown, 8};
  EXPECT_FALSE(s.is_fully_defined());
  EXPECT_THROW(s.num_elements(), ShapeError);
  EXPECT_TRUE(s.is_compatible_with(Shape{5, 8}));
  EXPECT_FALSE(s.is_compatible_with(Shape{5, 9}));
  EXPECT_FALSE(s.is_compatible_with(Shape{8}));
  EXPECT_EQ(s.merge_with(Shape{5, Shape::kUnknown}), (Shape{5, 8}));
  EXPECT_THROW(s.merge_with(Shape{5, 9}), ShapeError);
  EXPECT_TRUE(Shape::unknown_rank().is_compatible_with(Shape{1, 2, 3}));
  EXPECT_THROW(Shape::unknown_rank().rank(), ShapeError);
}

TEST(Shape, RejectsBadDimensionsAndOverflow) {
  EXPECT_THROW(Shape({3, -2}), ShapeError);
  Shape huge{1LL << 40, 1LL << 40};
  EXPECT_THROW(huge.num_elements(), ShapeError);
}

}  // namespace
}  // namespace strata
