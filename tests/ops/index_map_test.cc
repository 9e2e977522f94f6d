// The JIT's view of the index-map ops (OpDef::index_map): for every op that
// has one and every conformance case, the IndexMap built for the case's
// concrete types reproduces the op's scalar reference, element by element:
// out[o] == in[map(o)] (or the same row-major position for reshape).
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ops/catalog.h"

namespace kiln {
namespace {

constexpr int64_t kTestBatch = 3;

// Element values that tell positions apart (bool can only alternate).
Buffer NumberedInput(const TensorType& type, std::mt19937_64& rng) {
  Buffer b(type.dtype, type.shape);
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    b.SetFromDouble(i, type.dtype == DType::kBool ? static_cast<double>(rng() & 1) : i + 1.0);
  }
  return b;
}

std::string MapToString(const IndexMap& map) {
  if (map.same_flat_position) return "same flat position";
  std::vector<std::string> rows;
  for (size_t i = 0; i < map.coeff.size(); ++i) {
    rows.push_back(absl::StrCat("in[", i, "] = ", map.offset[i], " + (",
                                absl::StrJoin(map.coeff[i], ","), ")"));
  }
  return absl::StrJoin(rows, "; ");
}

// Checks `map` against op.reference on one input of type `in`.
void CheckCase(const OpDef& op, const TensorType& in, const TensorType& out,
               const Attrs& attrs, std::mt19937_64& rng) {
  SCOPED_TRACE(absl::StrCat(in.ToString(), " -> ", out.ToString()));
  absl::StatusOr<IndexMap> map = op.index_map(in, out, attrs);
  ASSERT_TRUE(map.ok()) << map.status();
  SCOPED_TRACE(MapToString(*map));
  const int in_rank = in.shape.rank(), out_rank = out.shape.rank();
  if (!map->same_flat_position) {
    ASSERT_EQ(map->coeff.size(), in_rank);
    ASSERT_EQ(map->offset.size(), in_rank);
    for (const std::vector<int64_t>& row : map->coeff) ASSERT_EQ(row.size(), out_rank);
  }

  const Buffer x = NumberedInput(in, rng);
  Buffer want(out.dtype, out.shape);
  const Buffer* inputs[] = {&x};
  ASSERT_TRUE(op.reference(KernelContext{inputs, &want, attrs, SerialParallelism()}).ok());

  const size_t elem = DTypeSize(in.dtype);
  std::vector<int64_t> o(out_rank, 0);  // the output index, row-major order
  for (int64_t flat = 0; flat < want.num_elements(); ++flat) {
    int64_t src = flat;
    if (!map->same_flat_position) {
      src = 0;
      for (int i = 0; i < in_rank; ++i) {
        int64_t k = map->offset[i];
        for (int j = 0; j < out_rank; ++j) k += map->coeff[i][j] * o[j];
        ASSERT_TRUE(k >= 0 && k < in.shape.dim(i))
            << "output element " << flat << " maps outside input dimension " << i << ": " << k;
        src = src * in.shape.dim(i) + k;
      }
    }
    ASSERT_LT(src, x.num_elements());
    ASSERT_EQ(std::memcmp(static_cast<const char*>(want.raw()) + flat * elem,
                          static_cast<const char*>(x.raw()) + src * elem, elem), 0)
        << "output element " << flat << " is " << want.GetAsDouble(flat)
        << ", the map reads input element " << src << " = " << x.GetAsDouble(src);
    for (int j = out_rank - 1; j >= 0 && ++o[j] == out.shape.dim(j); --j) o[j] = 0;
  }
}

TEST(IndexMapTest, TheFourIndexMapOpsHaveOne) {
  for (const char* name : {"broadcast_to", "reshape", "transpose", "slice"}) {
    const OpDef* op = Ops().Find(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_NE(op->index_map, nullptr) << name;
    EXPECT_EQ(op->fusion, FusionKind::kIndexMap) << name;
  }
}

TEST(IndexMapTest, EveryConformanceCaseMatchesTheReference) {
  int checked = 0;
  for (const OpDef* op : Ops().All()) {
    if (op->index_map == nullptr) continue;
    ASSERT_NE(op->reference, nullptr) << op->name;
    const OpTests tests = op->tests();
    for (const TestCase& tc : tests.cases) {
      SCOPED_TRACE(absl::StrCat(op->name, " case '", tc.label, "' ", tc.attrs.ToString()));
      ASSERT_EQ(tc.inputs.size(), 1);
      std::vector<DType> dtypes = {tc.inputs[0].type.dtype};
      if (dtypes[0] == DType::kBool) dtypes.push_back(DType::kI32);  // distinct values too
      for (DType dtype : dtypes) {
        const TensorType symbolic{dtype, tc.inputs[0].type.shape};
        const TensorType inputs[] = {symbolic};
        absl::StatusOr<TensorType> out = op->infer(InferContext{inputs, tc.attrs});
        ASSERT_TRUE(out.ok()) << out.status();
        std::mt19937_64 rng(checked);
        CheckCase(*op, {dtype, symbolic.shape.Specialize(kTestBatch)},
                  {out->dtype, out->shape.Specialize(kTestBatch)}, tc.attrs, rng);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 20);
}

// The maps themselves, for a few cases a reader can check by eye.
TEST(IndexMapTest, ExpectedMaps) {
  auto map_of = [](absl::string_view name, Shape in, Shape out, Attrs attrs) {
    absl::StatusOr<IndexMap> m = Ops().Find(name)->index_map(
        {DType::kF32, std::move(in)}, {DType::kF32, std::move(out)}, attrs);
    return m.ok() ? MapToString(*m) : std::string(m.status().message());
  };
  EXPECT_EQ(map_of("broadcast_to", Shape{3, 1}, Shape{2, 3, 4}, Attrs{{"shape", Shape{2, 3, 4}}}),
            "in[0] = 0 + (0,1,0); in[1] = 0 + (0,0,0)");
  EXPECT_EQ(map_of("transpose", Shape{3, 1, 5}, Shape{5, 3, 1},
                   Attrs{{"permutation", IntList{2, 0, 1}}}),
            "in[0] = 0 + (0,1,0); in[1] = 0 + (0,0,1); in[2] = 0 + (1,0,0)");
  EXPECT_EQ(map_of("slice", Shape{7, 9}, Shape{4, 7},
                   Attrs{{"begin", IntList{0, 2}}, {"end", IntList{7, 9}},
                         {"strides", IntList{2, 1}}}),
            "in[0] = 0 + (2,0); in[1] = 2 + (0,1)");
  EXPECT_EQ(map_of("reshape", Shape{2, 3, 4}, Shape{6, 4}, Attrs{{"shape", Shape{6, 4}}}),
            "same flat position");
}

}  // namespace
}  // namespace kiln
