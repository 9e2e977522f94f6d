// Batching for Fit (layers/fit_data.h): row checks, Keras's validation
// split (the last fraction, before shuffling), seeded shuffles that are
// permutations and differ per pass, and batch streams (short last batch,
// rows of x, every target and the sample weights, shared or per output,
// kept together, passes continuing across epochs, a limited number of
// passes).
#include "layers/fit_data.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// x: [n, 2] with row i = (i, 100 + i); y: [n] with y[i] = i.
struct Rows {
  explicit Rows(int n) {
    std::vector<float> xv;
    std::vector<int32_t> yv;
    for (int i = 0; i < n; ++i) {
      xv.push_back(i);
      xv.push_back(100 + i);
      yv.push_back(i);
    }
    x = Buffer::FromVector<float>({n, 2}, xv);
    y = Buffer::FromVector<int32_t>({n}, yv);
  }
  ArrayData Data() const {
    auto d = ArrayData::Make({&x}, y);
    KILN_CHECK_OK(d.status());
    return *std::move(d);
  }
  Buffer x, y;
};

std::vector<int> Labels(const Buffer& y) {
  std::vector<int> out;
  for (int64_t i = 0; i < y.num_elements(); ++i) out.push_back(static_cast<int>(y.GetAsDouble(i)));
  return out;
}

TEST(FitDataTest, ChecksRowCounts) {
  Rows r(5);
  Buffer short_x = Buffer::Zeros(DType::kF32, {4, 2});
  auto bad = ArrayData::Make({&r.x, &short_x}, r.y);
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("x[1] has 4 rows [4,2] but y has 5 rows"));
  Buffer scalar = Buffer::Scalar(DType::kF32, 1);
  EXPECT_THAT(std::string(ArrayData::Make({&r.x}, scalar).status().message()),
              HasSubstr("y is a scalar"));
  EXPECT_FALSE(ArrayData::Make({}, r.y).ok());
}

TEST(FitDataTest, ValidationSplitTakesTheLastRows) {
  Rows r(10);
  auto split = r.Data().SplitForValidation(0.25);  // floor(10 * 0.75) = 7
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->first.rows, 7);
  EXPECT_THAT(Labels(split->first.y[0]), ElementsAre(0, 1, 2, 3, 4, 5, 6));
  EXPECT_THAT(Labels(split->second.y[0]), ElementsAre(7, 8, 9));
  EXPECT_EQ(split->second.x[0].GetAsDouble(1), 107);                    // row 7, column 1
  EXPECT_EQ(split->second.x[0].data<float>(), r.x.data<float>() + 14);  // a view

  EXPECT_THAT(std::string(r.Data().SplitForValidation(0.95).status().message()),
              HasSubstr("Training data contains 10 samples, which is not sufficient to split it "
                        "into a validation and training set as specified by "
                        "`validation_split=0.95`"));
  EXPECT_FALSE(r.Data().SplitForValidation(0).ok());
  EXPECT_FALSE(r.Data().SplitForValidation(1).ok());
}

TEST(FitDataTest, ShufflesArePermutationsSeededPerPass) {
  std::vector<int64_t> a = ShuffledOrder(50, 7, 0);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(a, ShuffledOrder(50, 7, 0));
  EXPECT_NE(a, ShuffledOrder(50, 7, 1));
  EXPECT_NE(a, ShuffledOrder(50, 8, 0));
  // Every element lands first about equally often over many passes.
  std::map<int64_t, int> first;
  for (int pass = 0; pass < 3000; ++pass) ++first[ShuffledOrder(3, 1, pass)[0]];
  for (const auto& [element, count] : first) EXPECT_NEAR(count, 1000, 120) << element;
}

TEST(FitDataTest, StreamsBatchesWithAShortLastOne) {
  Rows r(10);
  BatchStream stream(r.Data(), 4, /*shuffle=*/false, 0);
  EXPECT_EQ(stream.LeftInPass(), 3);
  Batch b = stream.Next();
  EXPECT_THAT(Labels(b.y[0]), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(stream.LeftInPass(), 2);
  EXPECT_THAT(Labels(stream.Next().y[0]), ElementsAre(4, 5, 6, 7));
  b = stream.Next();
  EXPECT_EQ(b.size(), 2);
  EXPECT_THAT(Labels(b.y[0]), ElementsAre(8, 9));
  EXPECT_EQ(b.x[0].shape(), Shape({2, 2}));
  EXPECT_EQ(b.x[0].GetAsDouble(3), 109);
  EXPECT_THAT(Labels(stream.Next().y[0]), ElementsAre(0, 1, 2, 3));  // next pass
  stream.StartPass(5);
  EXPECT_EQ(stream.LeftInPass(), 3);
  EXPECT_THAT(Labels(stream.Next().y[0]), ElementsAre(0, 1, 2, 3));

  // A shuffled pass depends on its number only.
  BatchStream a(r.Data(), 10, /*shuffle=*/true, 9), c(r.Data(), 10, /*shuffle=*/true, 9);
  a.Next();
  a.Next();
  Batch third = a.Next();  // pass 2
  c.StartPass(2);
  EXPECT_EQ(Labels(c.Next().y[0]), Labels(third.y[0]));
}

TEST(FitDataTest, ShuffledBatchesKeepRowsTogetherAndCoverThePass) {
  Rows r(10);
  BatchStream stream(r.Data(), 3, /*shuffle=*/true, 42);
  std::vector<int> seen;
  for (int i = 0; i < 4; ++i) {
    Batch b = stream.Next();
    for (int64_t row = 0; row < b.size(); ++row) {
      const int label = static_cast<int>(b.y[0].GetAsDouble(row));
      EXPECT_EQ(b.x[0].GetAsDouble(row * 2), label);
      EXPECT_EQ(b.x[0].GetAsDouble(row * 2 + 1), 100 + label);
      seen.push_back(label);
    }
  }
  EXPECT_NE(seen, std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(FitDataTest, TargetsAndSampleWeightsTravelWithTheirRows) {
  Rows r(10);
  std::vector<float> second, weights;
  for (int i = 0; i < 10; ++i) {
    second.push_back(200 + i);
    weights.push_back(1000 + i);
  }
  Buffer y2 = Buffer::FromVector<float>({10, 1}, second);
  Buffer w = Buffer::FromVector<float>({10}, weights);
  const Buffer* targets[] = {&r.y, &y2};
  auto data = ArrayData::Make({&r.x}, targets, &w);
  ASSERT_TRUE(data.ok()) << data.status();
  auto split = data->SplitForValidation(0.3);  // the last 3 rows with their weights
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->second.sample_weight->GetAsDouble(0), 1007);
  EXPECT_EQ(split->second.y[1].GetAsDouble(2), 209);
  BatchStream stream(std::move(split->first), 3, /*shuffle=*/true, 5);
  for (int i = 0; i < 3; ++i) {
    Batch b = stream.Next();
    ASSERT_TRUE(b.sample_weight.has_value());
    for (int64_t row = 0; row < b.size(); ++row) {
      const int label = static_cast<int>(b.y[0].GetAsDouble(row));
      EXPECT_EQ(b.y[1].GetAsDouble(row), 200 + label);
      EXPECT_EQ(b.sample_weight->GetAsDouble(row), 1000 + label);
    }
  }
  // A null target (an output without a loss) stays empty.
  const Buffer* partial[] = {&r.y, nullptr};
  auto with_null = ArrayData::Make({&r.x}, partial);
  ASSERT_TRUE(with_null.ok()) << with_null.status();
  EXPECT_TRUE(BatchStream(*std::move(with_null), 4, false, 0).Next().y[1].empty());
  Buffer short_w = Buffer::Zeros(DType::kF32, {9});
  EXPECT_THAT(std::string(ArrayData::Make({&r.x}, r.y, &short_w).status().message()),
              HasSubstr("sample_weight has 9 rows [9] but y has 10 rows"));
}

TEST(FitDataTest, PerOutputSampleWeightsTravelWithTheirRows) {
  Rows r(10);
  std::vector<float> weights;
  for (int i = 0; i < 10; ++i) weights.push_back(1000 + i);
  Buffer w = Buffer::FromVector<float>({10}, weights);
  const Buffer* targets[] = {&r.y, &r.y};
  const Buffer* per_output[] = {nullptr, &w};  // output 0 without weights
  auto data = ArrayData::Make({&r.x}, targets, nullptr, {}, per_output);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_FALSE(data->sample_weight.has_value());
  auto split = data->SplitForValidation(0.3);  // the last 3 rows with their weights
  ASSERT_TRUE(split.ok()) << split.status();
  ASSERT_EQ(split->second.output_sample_weights.size(), 2u);
  EXPECT_TRUE(split->second.output_sample_weights[0].empty());
  EXPECT_EQ(split->second.output_sample_weights[1].GetAsDouble(0), 1007);
  BatchStream stream(std::move(split->first), 3, /*shuffle=*/true, 5);
  std::vector<int> seen;
  for (int i = 0; i < 3; ++i) {
    Batch b = stream.Next();
    ASSERT_EQ(b.output_sample_weights.size(), 2u);
    EXPECT_TRUE(b.output_sample_weights[0].empty());
    for (int64_t row = 0; row < b.size(); ++row) {
      const int label = static_cast<int>(b.y[0].GetAsDouble(row));
      seen.push_back(label);
      EXPECT_EQ(b.output_sample_weights[1].GetAsDouble(row), 1000 + label);
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, std::vector<int>({0, 1, 2, 3, 4, 5, 6}));
  Buffer short_w = Buffer::Zeros(DType::kF32, {9});
  const Buffer* short_per_output[] = {&w, &short_w};
  const std::string names[] = {"a", "b"};
  EXPECT_THAT(std::string(ArrayData::Make({&r.x}, targets, nullptr, names, short_per_output)
                              .status()
                              .message()),
              HasSubstr("output_sample_weights[1] (output 'b') has 9 rows [9] but y[0] (output "
                        "'a') has 10 rows"));
}

TEST(FitDataTest, AStreamEndsAfterItsPasses) {
  Rows r(5);
  BatchStream stream(r.Data(), 2, /*shuffle=*/false, 0, /*max_passes=*/2);
  for (int i = 0; i < 6; ++i) {  // 2 passes of 3 batches
    EXPECT_FALSE(stream.exhausted()) << i;
    stream.Next();
  }
  EXPECT_TRUE(stream.exhausted());
  BatchStream endless(r.Data(), 2, /*shuffle=*/false, 0);
  for (int i = 0; i < 20; ++i) endless.Next();
  EXPECT_FALSE(endless.exhausted());
}

}  // namespace
}  // namespace kiln
