// Smoke test of the ops' JIT lowerings (OpDef::lower): for every op with
// one and each dtype signature of its conformance cases, a 16-lane kernel
// built with llvm::IRBuilder (load operands, `lower`, store) is compiled by
// KernelJit and run on the case's inputs, flattened, and compared with the
// op's interpreter kernel. Transcendental math goes through a test
// VectorMath that calls std:: functions lane by lane (this checks the
// wiring, not the polynomials): those ops agree within 1e-6 relative; ops
// whose lowering needs no VectorMath must give the interpreter's bits
// (any NaN matching any NaN), also on a set of special values (±0, ±inf,
// NaN, huge values, integer limits). Reductions run identity + combine
// twice against the interpreter reducing two rows.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codegen/jit_internal.h"
#include "gtest/gtest.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "ops/catalog.h"
#include "ops/lowering_internal.h"

namespace kiln {
namespace {

constexpr int kLanes = 16;
constexpr int kMaxInputs = 3;
constexpr int64_t kTestBatch = 3;
constexpr double kTolerance = 1e-6;

// ---- a VectorMath that calls the scalar std:: functions lane by lane ------

float ExpF(float x) { return std::exp(x); }
float Expm1F(float x) { return std::expm1(x); }
float LogF(float x) { return std::log(x); }
float Log1pF(float x) { return std::log1p(x); }
float TanhF(float x) { return std::tanh(x); }
float ErfF(float x) { return std::erf(x); }
float PowF(float a, float b) { return std::pow(a, b); }

class ScalarLoopMath final : public VectorMath {
 public:
  explicit ScalarLoopMath(llvm::IRBuilderBase& b) : b_(b) {}
  llvm::Value* Exp(llvm::Value* x) override { return Call(+ExpF, {x}); }
  llvm::Value* Expm1(llvm::Value* x) override { return Call(+Expm1F, {x}); }
  llvm::Value* Log(llvm::Value* x) override { return Call(+LogF, {x}); }
  llvm::Value* Log1p(llvm::Value* x) override { return Call(+Log1pF, {x}); }
  llvm::Value* Tanh(llvm::Value* x) override { return Call(+TanhF, {x}); }
  llvm::Value* Erf(llvm::Value* x) override { return Call(+ErfF, {x}); }
  llvm::Value* Pow(llvm::Value* a, llvm::Value* e) override { return Call(+PowF, {a, e}); }
  int calls() const { return calls_; }

 private:
  // fn(args...) lane by lane, through a pointer to the host function.
  template <typename Fn>
  llvm::Value* Call(Fn* fn, std::vector<llvm::Value*> args) {
    ++calls_;
    auto* type = llvm::cast<llvm::FixedVectorType>(args[0]->getType());
    llvm::Type* f32 = type->getElementType();
    auto* fn_type = llvm::FunctionType::get(f32, std::vector<llvm::Type*>(args.size(), f32), false);
    llvm::Value* callee = b_.CreateIntToPtr(
        b_.getInt64(reinterpret_cast<uint64_t>(fn)), b_.getPtrTy());
    llvm::Value* result = llvm::PoisonValue::get(type);
    for (unsigned lane = 0; lane < type->getNumElements(); ++lane) {
      std::vector<llvm::Value*> scalars;
      for (llvm::Value* a : args) scalars.push_back(b_.CreateExtractElement(a, lane));
      result = b_.CreateInsertElement(result, b_.CreateCall(fn_type, callee, scalars), lane);
    }
    return result;
  }

  llvm::IRBuilderBase& b_;
  int calls_ = 0;
};

// ---- kernels ---------------------------------------------------------------

llvm::Type* ElementType(llvm::LLVMContext& c, DType d, bool in_memory) {
  switch (d) {
    case DType::kF32: return llvm::Type::getFloatTy(c);
    case DType::kI32: return llvm::Type::getInt32Ty(c);
    case DType::kI64: return llvm::Type::getInt64Ty(c);
    case DType::kBool: return in_memory ? llvm::Type::getInt8Ty(c) : llvm::Type::getInt1Ty(c);
  }
  return nullptr;
}

llvm::Type* VectorOf(llvm::LLVMContext& c, DType d, bool in_memory = false) {
  return llvm::FixedVectorType::get(ElementType(c, d, in_memory), kLanes);
}

// One signature of an op: input and output dtypes, attributes.
struct Signature {
  std::vector<DType> inputs;
  DType output;
  Attrs attrs;
};

// void kernel(ptr in0, ptr in1, ptr in2, ptr out): one vector of results.
using KernelFn = void (*)(const void*, const void*, const void*, void*);

struct Built {
  llvm::orc::ThreadSafeModule module;
  int math_calls = 0;
};

absl::StatusOr<Built> BuildKernel(const OpDef& op, const Signature& sig, const std::string& name) {
  auto context = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("lowering_test", *context);
  llvm::LLVMContext& c = *context;
  llvm::IRBuilder<> b(c);
  llvm::Type* ptr = b.getPtrTy();
  auto* fn = llvm::Function::Create(
      llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, ptr}, false),
      llvm::Function::ExternalLinkage, name, *module);
  b.SetInsertPoint(llvm::BasicBlock::Create(c, "entry", fn));
  auto load = [&](int k, DType d) {
    llvm::Value* v = b.CreateAlignedLoad(VectorOf(c, d, true), fn->getArg(k),
                                         llvm::Align(DTypeSize(d)));
    if (d == DType::kBool) v = b.CreateICmpNE(v, llvm::Constant::getNullValue(v->getType()));
    return v;
  };
  ScalarLoopMath math(b);
  auto lower = [&](LoweringRequest request, std::vector<llvm::Value*> operands,
                   llvm::Value*& result) -> absl::Status {
    LoweringContext ctx{.builder = b, .math = math, .attrs = sig.attrs, .request = request,
                        .input_dtypes = sig.inputs, .output_dtype = sig.output,
                        .operands = std::move(operands),
                        .result_type = VectorOf(c, sig.output)};
    absl::Status s = op.lower(ctx);
    result = ctx.result;
    return s;
  };
  llvm::Value* result = nullptr;
  if (op.fusion == FusionKind::kReduction) {  // combine(combine(identity, a), b)
    absl::Status s = lower(LoweringRequest::kReduceIdentity, {}, result);
    for (int k = 0; k < 2 && s.ok(); ++k) {
      s = lower(LoweringRequest::kReduceCombine, {result, load(k, sig.inputs[0])}, result);
    }
    if (!s.ok()) return s;
  } else {
    std::vector<llvm::Value*> operands;
    for (size_t k = 0; k < sig.inputs.size(); ++k) operands.push_back(load(k, sig.inputs[k]));
    if (absl::Status s = lower(LoweringRequest::kElement, operands, result); !s.ok()) return s;
  }
  if (result == nullptr || result->getType() != VectorOf(c, sig.output)) {
    return absl::InternalError("the lowering's result has the wrong type");
  }
  if (sig.output == DType::kBool) result = b.CreateZExt(result, VectorOf(c, DType::kBool, true));
  b.CreateAlignedStore(result, fn->getArg(3), llvm::Align(DTypeSize(sig.output)));
  b.CreateRetVoid();
  return Built{llvm::orc::ThreadSafeModule(std::move(module), std::move(context)), math.calls()};
}

// Runs the kernel over n elements in chunks of kLanes (zero-padded).
Buffer RunKernel(KernelFn kernel, const std::vector<const Buffer*>& inputs, DType out_dtype,
                 int64_t n) {
  Buffer out(out_dtype, Shape{n});
  const size_t out_size = DTypeSize(out_dtype);
  for (int64_t i = 0; i < n; i += kLanes) {
    const int64_t count = std::min<int64_t>(kLanes, n - i);
    alignas(64) char in[kMaxInputs][kLanes * 8] = {};
    alignas(64) char result[kLanes * 8] = {};
    for (size_t k = 0; k < inputs.size(); ++k) {
      const size_t size = DTypeSize(inputs[k]->dtype());
      std::memcpy(in[k], static_cast<const char*>(inputs[k]->raw()) + i * size, count * size);
    }
    kernel(in[0], in[1], in[2], result);
    std::memcpy(static_cast<char*>(out.raw()) + i * out_size, result, count * out_size);
  }
  return out;
}

// ---- inputs ----------------------------------------------------------------

// The conformance suite's draws (tests/ops/conformance_test.cc), flattened.
Buffer RandomInput(const TestInput& in, std::mt19937_64& rng) {
  Buffer b(in.type.dtype, Shape{in.type.shape.Specialize(kTestBatch).NumElements()});
  std::uniform_real_distribution<double> uniform(in.lo, in.hi);
  for (int64_t i = 0; i < b.num_elements(); ++i) {
    double v = uniform(rng);
    if (in.type.dtype == DType::kBool) {
      v = v > 0.5 * (in.lo + in.hi) ? 1 : 0;
    } else if (in.integer_values || in.type.dtype != DType::kF32) {
      v = std::round(v);
    } else if (in.avoid_integers) {
      const double frac = v - std::floor(v);
      if (frac < 0.1) v += 0.1 - frac;
      if (frac > 0.9) v -= frac - 0.9;
    }
    b.SetFromDouble(i, v);
  }
  return b;
}

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const std::vector<float> kSpecialF32 = {
    0.0f, -0.0f, kInf, -kInf, kNaN, -kNaN, 1.0f, -1.0f, 0.5f, -0.5f, 1.5f, -2.5f, 3.75f,
    16777217.0f, 3e9f, -3e9f, 2147483520.0f, 2147483648.0f, -2147483648.0f, -2147483904.0f,
    9.2233715e18f, 9.223372e18f, -9.223372e18f, -9.2233730e18f, 1e19f, -1e19f, 1e38f, -1e38f,
    std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
    std::numeric_limits<float>::denorm_min(), -1e-40f, std::numeric_limits<float>::min()};
const std::vector<int64_t> kSpecialI32 = {
    0, 1, -1, 2, 7, -7, 46341, -46341, 65536, 16777217, INT32_MAX, INT32_MAX - 1, INT32_MIN,
    INT32_MIN + 1};
const std::vector<int64_t> kSpecialI64 = {
    0, 1, -1, 3, -3, int64_t{1} << 31, -(int64_t{1} << 31) - 1, (int64_t{1} << 32) + 5,
    (int64_t{1} << 53) + 1, -(int64_t{1} << 40), INT64_MAX, INT64_MIN, INT64_MIN + 1};

int64_t SpecialCount(DType d) {
  switch (d) {
    case DType::kF32: return kSpecialF32.size();
    case DType::kI32: return kSpecialI32.size();
    case DType::kI64: return kSpecialI64.size();
    case DType::kBool: return 2;
  }
  return 0;
}

void SetSpecial(Buffer& b, int64_t i, int k) {
  switch (b.dtype()) {
    case DType::kF32: b.data<float>()[i] = kSpecialF32[k]; break;
    case DType::kI32: b.data<int32_t>()[i] = static_cast<int32_t>(kSpecialI32[k]); break;
    case DType::kI64: b.data<int64_t>()[i] = kSpecialI64[k]; break;
    case DType::kBool: b.data<uint8_t>()[i] = static_cast<uint8_t>(k); break;
  }
}

// Every combination of special values of the inputs' dtypes.
std::vector<Buffer> SpecialInputs(const std::vector<DType>& dtypes) {
  int64_t n = 1;
  for (DType d : dtypes) n *= SpecialCount(d);
  std::vector<Buffer> buffers;
  for (DType d : dtypes) buffers.emplace_back(d, Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i;
    for (size_t k = 0; k < dtypes.size(); ++k) {
      SetSpecial(buffers[k], i, static_cast<int>(rest % SpecialCount(dtypes[k])));
      rest /= SpecialCount(dtypes[k]);
    }
  }
  return buffers;
}

// ---- the interpreter on the same inputs ------------------------------------

absl::StatusOr<Buffer> Interpret(const OpDef& op, const Signature& sig,
                                 const std::vector<const Buffer*>& inputs) {
  const int64_t n = inputs[0]->num_elements();
  Attrs attrs = sig.attrs;
  std::vector<TensorType> types;
  std::vector<Buffer> stacked;  // reductions: the two inputs as rows of [2, n]
  std::vector<const Buffer*> ptrs = inputs;
  if (op.fusion == FusionKind::kReduction) {
    stacked.emplace_back(sig.inputs[0], Shape{2, n});
    const size_t size = n * DTypeSize(sig.inputs[0]);
    std::memcpy(stacked[0].raw(), inputs[0]->raw(), size);
    std::memcpy(static_cast<char*>(stacked[0].raw()) + size, inputs[1]->raw(), size);
    ptrs = {&stacked[0]};
    attrs = Attrs{{"axes", IntList{0}}, {"keepdims", int64_t{0}}};
  }
  for (const Buffer* b : ptrs) types.push_back({b->dtype(), b->shape()});
  absl::StatusOr<TensorType> out = op.infer(InferContext{types, attrs});
  if (!out.ok()) return out.status();
  Buffer result(out->dtype, out->shape);
  absl::Status s = op.interp(KernelContext{ptrs, &result, attrs, SerialParallelism()});
  if (!s.ok()) return s;
  return result;
}

// ---- the test --------------------------------------------------------------

std::string SignatureName(const Signature& sig) {
  std::vector<std::string> in;
  for (DType d : sig.inputs) in.emplace_back(DTypeName(d));
  return absl::StrCat(absl::StrJoin(in, ","), "->", DTypeName(sig.output));
}

// The first case of each signature whose inputs all have one shape.
std::map<std::string, std::pair<Signature, TestCase>> Signatures(const OpDef& op) {
  std::map<std::string, std::pair<Signature, TestCase>> out;
  for (const TestCase& tc : op.tests().cases) {
    std::vector<TensorType> types;
    Signature sig{.attrs = tc.attrs};
    bool same_shapes = true;
    for (const TestInput& in : tc.inputs) {
      same_shapes = same_shapes && in.type.shape == tc.inputs[0].type.shape;
      types.push_back(in.type);
      sig.inputs.push_back(in.type.dtype);
    }
    absl::StatusOr<TensorType> type = op.infer(InferContext{types, tc.attrs});
    if (!same_shapes || !type.ok()) continue;
    sig.output = type->dtype;
    out.try_emplace(SignatureName(sig), sig, tc);
  }
  return out;
}

class LoweringTest : public testing::TestWithParam<const OpDef*> {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiln_lowering_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = new std::string(pattern);
    KernelJitOptions options;
    options.cache_dir = *dir_;
    absl::StatusOr<std::unique_ptr<KernelJit>> jit = KernelJit::Create(options);
    ASSERT_TRUE(jit.ok()) << jit.status();
    jit_ = jit->release();
  }
  static void TearDownTestSuite() {
    delete jit_;
    jit_ = nullptr;
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  // Compares element by element; `exact`: same bits, or both NaN.
  static void Compare(const Buffer& got, const Buffer& want, bool exact,
                      const std::vector<const Buffer*>& inputs) {
    ASSERT_EQ(got.num_elements(), want.num_elements());
    ASSERT_EQ(got.dtype(), want.dtype());
    const size_t size = DTypeSize(got.dtype());
    int reported = 0;
    for (int64_t i = 0; i < got.num_elements(); ++i) {
      const double a = got.GetAsDouble(i), b = want.GetAsDouble(i);
      bool ok;
      if (std::isnan(a) || std::isnan(b)) {
        ok = std::isnan(a) && std::isnan(b);
      } else if (exact) {
        ok = std::memcmp(static_cast<const char*>(got.raw()) + i * size,
                         static_cast<const char*>(want.raw()) + i * size, size) == 0;
      } else {
        ok = a == b || std::abs(a - b) <= kTolerance * std::max(1.0, std::abs(b));
      }
      if (!ok && reported++ < 8) {
        std::vector<std::string> in;
        for (const Buffer* x : inputs) in.push_back(absl::StrCat(x->GetAsDouble(i)));
        ADD_FAILURE() << "element " << i << " (inputs " << absl::StrJoin(in, ", ")
                      << "): jit " << a << (std::signbit(a) ? " (sign set)" : "")
                      << ", interp " << b << (std::signbit(b) ? " (sign set)" : "");
      }
    }
  }

  static KernelJit* jit_;
  static std::string* dir_;
};
KernelJit* LoweringTest::jit_ = nullptr;
std::string* LoweringTest::dir_ = nullptr;

TEST_P(LoweringTest, MatchesTheInterpreter) {
  const OpDef& op = *GetParam();
  ASSERT_NE(jit_, nullptr);
  const auto signatures = Signatures(op);
  ASSERT_FALSE(signatures.empty());
  int index = 0;
  for (const auto& [name, entry] : signatures) {
    const auto& [sig, tc] = entry;
    SCOPED_TRACE(absl::StrCat(op.name, " ", name, " case '", tc.label, "' ", tc.attrs.ToString()));
    const std::string symbol = absl::StrCat("lowering_test_", op.name, "_", index++);
    absl::StatusOr<Built> built = BuildKernel(op, sig, symbol);
    ASSERT_TRUE(built.ok()) << built.status();
    const int math_calls = built->math_calls;
    absl::StatusOr<std::vector<void*>> fns = jit_->Compile(std::move(built->module), {symbol});
    ASSERT_TRUE(fns.ok()) << fns.status();
    auto kernel = reinterpret_cast<KernelFn>((*fns)[0]);
    const bool exact = math_calls == 0;

    // The case's draws; a reduction combines two draws of its input.
    std::mt19937_64 rng(index);
    std::vector<Buffer> values;
    for (const TestInput& in : tc.inputs) values.push_back(RandomInput(in, rng));
    if (op.fusion == FusionKind::kReduction) values.push_back(RandomInput(tc.inputs[0], rng));
    std::vector<std::vector<Buffer>> sets;
    sets.push_back(std::move(values));
    if (exact) {  // special values, every combination
      std::vector<DType> dtypes = sig.inputs;
      if (op.fusion == FusionKind::kReduction) dtypes.push_back(sig.inputs[0]);
      sets.push_back(SpecialInputs(dtypes));
    }
    for (size_t s = 0; s < sets.size(); ++s) {
      SCOPED_TRACE(s == 0 ? "conformance inputs" : "special values");
      std::vector<const Buffer*> inputs;
      for (const Buffer& b : sets[s]) inputs.push_back(&b);
      absl::StatusOr<Buffer> want = Interpret(op, sig, inputs);
      ASSERT_TRUE(want.ok()) << want.status();
      const Buffer got = RunKernel(kernel, inputs, sig.output, inputs[0]->num_elements());
      Compare(got, *want, exact, inputs);
    }
  }
}

std::vector<const OpDef*> OpsWithLowering() {
  std::vector<const OpDef*> ops;
  for (const OpDef* op : Ops().All()) {
    if (op->lower != nullptr) ops.push_back(op);
  }
  return ops;
}

INSTANTIATE_TEST_SUITE_P(AllOps, LoweringTest, testing::ValuesIn(OpsWithLowering()),
                         [](const testing::TestParamInfo<const OpDef*>& info) {
                           return std::string(info.param->name);
                         });

TEST(LoweringCoverageTest, EveryElementwiseOpAndReductionHasALowering) {
  for (const OpDef* op : Ops().All()) {
    if (op->fusion == FusionKind::kElementwise || op->fusion == FusionKind::kReduction) {
      EXPECT_NE(op->lower, nullptr) << op->name;
    }
  }
}

TEST(LoweringRequestTest, WrongRequestsAreInternalErrors) {
  llvm::LLVMContext c;
  llvm::Module module("requests", c);
  llvm::IRBuilder<> b(c);
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(b.getVoidTy(), false),
                                    llvm::Function::ExternalLinkage, "f", module);
  b.SetInsertPoint(llvm::BasicBlock::Create(c, "entry", fn));
  ScalarLoopMath math(b);
  const Attrs attrs;
  llvm::Type* vec = VectorOf(c, DType::kF32);
  llvm::Value* zero = llvm::Constant::getNullValue(vec);
  LoweringContext ctx{.builder = b, .math = math, .attrs = attrs,
                      .request = LoweringRequest::kReduceCombine,
                      .input_dtypes = {DType::kF32}, .output_dtype = DType::kF32,
                      .operands = {zero, zero}, .result_type = vec};
  EXPECT_EQ(Ops().Find("exp")->lower(ctx).code(), absl::StatusCode::kInternal);
  ctx.request = LoweringRequest::kElement;
  EXPECT_EQ(Ops().Find("reduce_sum")->lower(ctx).code(), absl::StatusCode::kInternal);
  ctx.request = LoweringRequest::kReduceCombine;
  EXPECT_TRUE(Ops().Find("reduce_sum")->lower(ctx).ok());
  ctx.result_type = VectorOf(c, DType::kI32);  // a type the body cannot make
  ctx.request = LoweringRequest::kElement;
  ctx.operands = {zero};
  EXPECT_EQ(Ops().Find("neg")->lower(ctx).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace kiln
