// random_uniform: f32 values in [0, 1) of attribute `shape` (may contain N)
// from the counter-based Philox-4x32-10 generator. Input: `counter`, an i64
// scalar (the training step). Attributes: seed (any int64), stream (in
// [0, 2^32), e.g. one per dropout layer). Element i depends only on (seed,
// stream, counter, i); the exact mapping is in ops/philox.h.
// Not differentiable.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/random_uniform.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/philox-inl.h"

HWY_BEFORE_NAMESPACE();
namespace kiln::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Philox lanes held in u64 lanes (high halves zero), for the 32 x 32 -> 64
// multiply of MulEven.
struct VectorPhiloxArith {
  using D = hn::ScalableTag<uint64_t>;
  using V = hn::Vec<D>;
  D d;
  HWY_INLINE V Low32() const { return hn::Set(d, 0xFFFFFFFFull); }
  HWY_INLINE void MulHiLo(V x, uint32_t m, V* hi, V* lo) const {
#if HWY_TARGET == HWY_SCALAR
    const V p = hn::Set(d, hn::GetLane(x) * m);
#else
    const hn::Repartition<uint32_t, D> d32;
    const V p = hn::MulEven(hn::BitCast(d32, x), hn::Set(d32, m));
#endif
    *hi = hn::ShiftRight<32>(p);
    *lo = hn::And(p, Low32());
  }
  HWY_INLINE V Xor(V a, V b) const { return hn::Xor(a, b); }
  HWY_INLINE V AddWrapped(V k, uint32_t w) const {
    return hn::And(hn::Add(k, hn::Set(d, w)), Low32());
  }
};

// Elements 4g .. 4g+3 (those below n) for the groups g in [begin, end).
void UniformGroups(uint64_t begin, uint64_t end, const uint32_t* counter23,
                   const uint32_t* key, float* out, uint64_t n) {
  const VectorPhiloxArith a;
  const size_t lanes = hn::Lanes(a.d);
  HWY_ALIGN uint64_t words[4][HWY_MAX_BYTES / sizeof(uint64_t)];
  for (uint64_t g = begin; g < end; g += lanes) {
    const auto group = hn::Iota(a.d, g);
    auto c0 = hn::And(group, a.Low32()), c1 = hn::ShiftRight<32>(group);
    auto c2 = hn::Set(a.d, counter23[0]), c3 = hn::Set(a.d, counter23[1]);
    PhiloxRounds(a, c0, c1, c2, c3, hn::Set(a.d, key[0]), hn::Set(a.d, key[1]));
    hn::Store(c0, a.d, words[0]);
    hn::Store(c1, a.d, words[1]);
    hn::Store(c2, a.d, words[2]);
    hn::Store(c3, a.d, words[3]);
    for (size_t l = 0; l < lanes && g + l < end; ++l) {
      for (uint64_t w = 0, i = 4 * (g + l); w < 4 && i < n; ++w, ++i) {
        out[i] = PhiloxUnitFloat(static_cast<uint32_t>(words[w][l]));
      }
    }
  }
}

}  // namespace kiln::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
HWY_EXPORT(UniformGroups);

std::array<uint32_t, 4> Philox4x32x10(const PhiloxBlock& block) {
  std::array<uint32_t, 4> c = block.counter;
  HWY_NAMESPACE::PhiloxRounds(HWY_NAMESPACE::ScalarPhiloxArith(), c[0], c[1], c[2], c[3],
                              block.key[0], block.key[1]);
  return c;
}

namespace {

struct RandomAttrs {
  int64_t seed, stream;
};

absl::StatusOr<RandomAttrs> GetAttrs(const Attrs& attrs) {
  RandomAttrs a;
  KILN_ASSIGN_OR_RETURN(a.seed, attrs.Get<int64_t>("seed"));
  KILN_ASSIGN_OR_RETURN(a.stream, attrs.Get<int64_t>("stream"));
  if (a.stream < 0 || a.stream > 0xFFFFFFFFll) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream must be in [0, 2^32), got ", a.stream));
  }
  return a;
}

absl::StatusOr<TensorType> Infer(const InferContext& ctx) {
  const TensorType& counter = ctx.inputs[0];
  if (counter.dtype != DType::kI64 || counter.shape.rank() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an i64 scalar counter, got ", counter.ToString()));
  }
  KILN_ASSIGN_OR_RETURN(Shape shape, ctx.attrs.Get<Shape>("shape"));
  for (int64_t d : shape.dims()) {
    if (d < 0 && d != Shape::kBatch) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", shape.ToString(), " has a negative dimension"));
    }
  }
  KILN_RETURN_IF_ERROR(GetAttrs(ctx.attrs).status());
  return TensorType{DType::kF32, shape};
}

absl::Status Interp(const KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(RandomAttrs a, GetAttrs(ctx.attrs));
  const int64_t step = ctx.inputs[0]->data<int64_t>()[0];
  const PhiloxBlock block = PhiloxBlockFor(a.seed, a.stream, step, 0);
  const uint64_t n = ctx.output->num_elements();
  float* out = ctx.output->data<float>();
  ctx.parallel.For((n + 3) / 4, 1024, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(UniformGroups)(b, e, &block.counter[2], block.key.data(), out, n);
  });
  return absl::OkStatus();
}

// One Philox block per element, word i % 4 of group i / 4.
absl::Status Reference(const KernelContext& ctx) {
  KILN_ASSIGN_OR_RETURN(RandomAttrs a, GetAttrs(ctx.attrs));
  const int64_t step = ctx.inputs[0]->data<int64_t>()[0];
  for (int64_t i = 0; i < ctx.output->num_elements(); ++i) {
    const std::array<uint32_t, 4> words = Philox4x32x10(PhiloxBlockFor(a.seed, a.stream, step, i / 4));
    ctx.output->SetFromDouble(i, static_cast<double>(words[i % 4] >> 8) / 16777216.0);
  }
  return absl::OkStatus();
}

OpTests Tests() {
  OpTests t;
  auto add = [&](Shape shape, int64_t seed, int64_t stream, double lo, double hi) {
    t.cases.push_back({absl::StrCat(shape.ToString(), " seed ", seed, " stream ", stream),
                       {{{DType::kI64, Shape{}}, lo, hi, false, true}},
                       Attrs{{"shape", shape}, {"seed", seed}, {"stream", stream}},
                       false});
  };
  add(Shape{}, 1, 0, 0, 10);
  add(Shape{7}, 42, 3, 0, 1000);
  add(Shape{3, 17, 5}, -5, 0xFFFFFFFFll, -1e12, 1e12);  // steps beyond 2^32, negative too
  add(Shape{1000, 33}, int64_t{1} << 40, 9, 0, 100);    // several parallel chunks
  auto bad = [&](const char* label, TensorType counter, Shape shape, int64_t stream,
                 const char* msg) {
    t.bad.push_back({label, {counter}, Attrs{{"shape", shape}, {"seed", int64_t{1}}, {"stream", stream}},
                     msg});
  };
  bad("i32 counter", {DType::kI32, Shape{}}, Shape{2}, 0, "expected an i64 scalar counter, got i32[]");
  bad("vector counter", {DType::kI64, Shape{2}}, Shape{2}, 0,
      "expected an i64 scalar counter, got i64[2]");
  bad("negative dim", {DType::kI64, Shape{}}, Shape{2, -3}, 0, "shape [2,-3] has a negative dimension");
  bad("negative stream", {DType::kI64, Shape{}}, Shape{2}, -1, "stream must be in [0, 2^32), got -1");
  bad("big stream", {DType::kI64, Shape{}}, Shape{2}, int64_t{1} << 32, "stream must be in [0, 2^32)");
  return t;
}

}  // namespace

const OpDef kRandomUniformOp = {
    .name = "random_uniform",
    .arity = 1,
    .fusion = FusionKind::kOpaque,
    .infer = Infer,
    .grad = nullptr,
    .interp = Interp,
    .reference = Reference,
    .tests = Tests,
};

Tensor RandomUniform(const Tensor& counter, const Shape& shape, int64_t seed, int64_t stream,
                     SourceLoc loc) {
  return Apply(kRandomUniformOp, {counter},
               Attrs{{"shape", shape}, {"seed", seed}, {"stream", stream}}, loc);
}

}  // namespace kiln
#endif  // HWY_ONCE
