// The shared conv-family arithmetic (spec 1.3-1.6): normalize_tuple, the
// padding and data_format strings, output lengths (including Keras's floor
// division for too-short inputs), where same and causal put their zeros, the
// constructor checks, and moving channels last and back.
#include "layers/conv_utils.h"

#include "graph/evaluate.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

TEST(ConvUtilsTest, NormalizeTuple) {
  EXPECT_EQ(*NormalizeTuple({3}, 2, "kernel_size", false), (IntList{3, 3}));
  EXPECT_EQ(*NormalizeTuple({3, 1}, 2, "kernel_size", false), (IntList{3, 1}));
  EXPECT_EQ(*NormalizeTuple({0, 2}, 2, "strides", true), (IntList{0, 2}));
  EXPECT_EQ(NormalizeTuple({3, 3, 3}, 2, "kernel_size", false).status().message(),
            "The `kernel_size` argument must be a tuple of 2 integers. Received: (3, 3, 3)");
  EXPECT_EQ(NormalizeTuple({2, 0, -1, 0}, 4, "pool_size", false).status().message(),
            "The `pool_size` argument must be a tuple of 4 integers. Received: (2, 0, -1, 0) "
            "including {-1, 0} that does not satisfy the requirement `> 0`.");
  EXPECT_EQ(NormalizeTuple({-2}, 1, "strides", true).status().message(),
            "The `strides` argument must be a tuple of 1 integers. Received: -2 including {-2} "
            "that does not satisfy the requirement `>= 0`.");
}

TEST(ConvUtilsTest, PaddingAndDataFormatAreCaseInsensitive) {
  EXPECT_EQ(*NormalizePadding("VaLiD"), Padding::kValid);
  EXPECT_EQ(*NormalizePadding("SAME"), Padding::kSame);
  EXPECT_EQ(*NormalizePadding("causal"), Padding::kCausal);
  EXPECT_FALSE(NormalizePadding("full").ok());
  EXPECT_EQ(*NormalizeDataFormat(""), DataFormat::kChannelsLast);
  EXPECT_EQ(*NormalizeDataFormat("Channels_First"), DataFormat::kChannelsFirst);
  EXPECT_EQ(NormalizeDataFormat("NCHW").status().message(),
            "The `data_format` argument must be one of \"channels_first\", \"channels_last\". "
            "Received: NCHW");
}

TEST(ConvUtilsTest, OutputLengths) {
  // valid: floor((n - k_eff) / s) + 1; same/causal: ceil(n / s).
  EXPECT_EQ(ConvOutputLength(7, 3, Padding::kValid, 2, 1), 3);
  EXPECT_EQ(ConvOutputLength(7, 3, Padding::kValid, 1, 2), 3);  // k_eff 5
  EXPECT_EQ(ConvOutputLength(7, 3, Padding::kSame, 2, 1), 4);
  EXPECT_EQ(ConvOutputLength(7, 3, Padding::kCausal, 3, 1), 3);
  EXPECT_EQ(ConvOutputLength(4, 5, Padding::kValid, 1, 1), 0);
  EXPECT_EQ(ConvOutputLength(2, 5, Padding::kValid, 1, 1), -2);
  EXPECT_EQ(ConvOutputLength(2, 5, Padding::kValid, 2, 1), -1);  // (-2 + 1) // 2
}

TEST(ConvUtilsTest, SamePutsTheOddCellAfterAndCausalPadsBefore) {
  EXPECT_EQ(PadsFor(5, 2, Padding::kSame, 2, 1), (AxisPads{0, 1}));  // the spec's example
  EXPECT_EQ(PadsFor(7, 4, Padding::kSame, 2, 1), (AxisPads{1, 2}));
  EXPECT_EQ(PadsFor(6, 3, Padding::kSame, 3, 1), (AxisPads{0, 0}));
  EXPECT_EQ(PadsFor(6, 3, Padding::kSame, 1, 2), (AxisPads{2, 2}));
  EXPECT_EQ(PadsFor(3, 7, Padding::kSame, 1, 1), (AxisPads{3, 3}));
  EXPECT_EQ(PadsFor(9, 3, Padding::kCausal, 1, 2), (AxisPads{4, 0}));
  EXPECT_EQ(PadsFor(9, 3, Padding::kValid, 2, 1), (AxisPads{0, 0}));
}

TEST(ConvUtilsTest, ConstructorChecks) {
  EXPECT_TRUE(CheckConvStridesAndPadding({1, 1}, {2, 2}, Padding::kSame, false).ok());
  EXPECT_TRUE(CheckConvStridesAndPadding({1}, {1}, Padding::kCausal, true).ok());
  EXPECT_EQ(CheckConvStridesAndPadding({1, 0}, {1, 1}, Padding::kValid, false).message(),
            "The argument `strides` cannot contains 0(s). Received: (1, 0)");
  EXPECT_EQ(CheckConvStridesAndPadding({1, 1}, {1, 1}, Padding::kCausal, false).message(),
            "Causal padding is only supported for `Conv1D` and `SeparableConv1D`.");
  EXPECT_EQ(CheckConvStridesAndPadding({2, 1}, {1, 2}, Padding::kValid, false).message(),
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
            "strides=(2, 1) and dilation_rate=(1, 2)");
  EXPECT_EQ(CheckConvStridesAndPadding({2}, {2}, Padding::kValid, true).message(),
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
            "strides=(2,) and dilation_rate=(2,)");
}

TEST(ConvUtilsTest, ChannelsMoveLastAndBack) {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{2, 3, 4, 5});  // [B, C, H, W]
  Tensor last = ToChannelsLast(x, 2);
  EXPECT_EQ(last.shape(), (Shape{2, 4, 5, 3}));
  Tensor back = FromChannelsLast(last, 2);
  EXPECT_EQ(back.shape(), (Shape{2, 3, 4, 5}));
  // Extra leading axes stay put: [B, A, C, T] -> [B, A, T, C].
  Tensor y = Input(g, "y", DType::kF32, Shape{2, 6, 3, 7});
  EXPECT_EQ(ToChannelsLast(y, 1).shape(), (Shape{2, 6, 7, 3}));
  EXPECT_EQ(FromChannelsLast(ToChannelsLast(y, 1), 1).shape(), (Shape{2, 6, 3, 7}));
  EXPECT_EQ(ChannelAxis(DataFormat::kChannelsFirst, 4, 1), 2);
  EXPECT_EQ(ChannelAxis(DataFormat::kChannelsLast, 4, 1), 3);

  Buffer xv(DType::kF32, Shape{2, 3, 4, 5});
  for (int64_t i = 0; i < xv.num_elements(); ++i) xv.SetFromDouble(i, i);
  auto out = EvaluateTensors({last, back}, Feeds{{"x", &xv}});
  ASSERT_TRUE(out.ok()) << out.status();
  // last[b, h, w, c] == x[b, c, h, w]
  EXPECT_EQ((*out)[0].GetAsDouble(((1 * 4 + 2) * 5 + 3) * 3 + 1),
            xv.GetAsDouble(((1 * 3 + 1) * 4 + 2) * 5 + 3));
  EXPECT_TRUE((*out)[1].BitwiseEquals(xv));
}

}  // namespace
}  // namespace kiln
