// Tests of the inline vector math (codegen/vector_math_internal.h). Each
// function is JIT-compiled (ORC LLJIT for the host CPU, O2) into a loop over
// <16 x float> vectors with a scalar tail, and into a scalar-only loop; both
// run over dense grids of every domain (every 997th f32 bit pattern, linear
// grids, every float near thresholds and branch points) and are compared in
// ulp with the double-precision std:: functions. Special values must match C
// exactly, and the interpreter kernels (ops/) on special values and within a
// few ulp elsewhere. KILN_VECTOR_MATH_EXHAUSTIVE=1 also sweeps every f32
// (about a minute per function), which is how the documented maxima were
// measured.
#include "codegen/vector_math_internal.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "codegen/executable.h"
#include "gtest/gtest.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();
constexpr float kFltMin = std::numeric_limits<float>::min();
constexpr float kFltMax = std::numeric_limits<float>::max();

using Emit1 = llvm::Value* (*)(llvm::IRBuilderBase&, llvm::Value*);
using Emit2 = llvm::Value* (*)(llvm::IRBuilderBase&, llvm::Value*, llvm::Value*);
// out[i] = f(in0[i]) or f(in0[i], in1[i]) for i < n.
using UnaryKernel = void (*)(const float*, float*, int64_t);
using BinaryKernel = void (*)(const float*, const float*, float*, int64_t);

// An LLJIT for the host CPU (name and features) that optimizes at O2.
class TestJit {
 public:
  static TestJit& Get() {
    static TestJit* jit = new TestJit();
    return *jit;
  }

  // Builds `void name(const float* in0, [const float* in1,] float* out,
  // int64_t n)`: <width x float> vectors while `width` elements remain, then
  // scalar floats (width 1: scalars only). The builder carries every
  // fast-math flag, as the kernel emitter's does; the math must ignore them.
  void* Compile(int arity, unsigned width, Emit1 emit1, Emit2 emit2) {
    const std::string name = "vm_kernel_" + std::to_string(counter_++);
    auto context = std::make_unique<llvm::LLVMContext>();
    auto module = std::make_unique<llvm::Module>(name, *context);
    module->setDataLayout(jit_->getDataLayout());
    module->setTargetTriple(jit_->getTargetTriple().str());
    llvm::IRBuilder<> b(*context);
    llvm::Type* i64 = b.getInt64Ty();
    std::vector<llvm::Type*> params(arity + 1, b.getPtrTy());
    params.push_back(i64);
    auto* fn = llvm::Function::Create(llvm::FunctionType::get(b.getVoidTy(), params, false),
                                      llvm::Function::ExternalLinkage, name, *module);
    auto* entry = llvm::BasicBlock::Create(*context, "entry", fn);
    auto* vloop = llvm::BasicBlock::Create(*context, "vloop", fn);
    auto* tail = llvm::BasicBlock::Create(*context, "tail", fn);
    auto* sloop = llvm::BasicBlock::Create(*context, "sloop", fn);
    auto* exit = llvm::BasicBlock::Create(*context, "exit", fn);
    llvm::Value* n = fn->getArg(arity + 1);
    llvm::Value* out = fn->getArg(arity);
    b.setFastMathFlags(llvm::FastMathFlags::getFast());

    // One step of either loop at index i over values of type t.
    auto body = [&](llvm::Value* i, llvm::Type* t) {
      std::vector<llvm::Value*> in;
      for (int k = 0; k < arity; ++k) {
        in.push_back(
            b.CreateAlignedLoad(t, b.CreateGEP(b.getFloatTy(), fn->getArg(k), i), llvm::Align(4)));
      }
      llvm::Value* r = arity == 1 ? emit1(b, in[0]) : emit2(b, in[0], in[1]);
      EXPECT_TRUE(b.getFastMathFlags().isFast()) << "flags not restored";
      b.CreateAlignedStore(r, b.CreateGEP(b.getFloatTy(), out, i), llvm::Align(4));
    };

    b.SetInsertPoint(entry);
    llvm::Value* n_vec = width > 1
                             ? b.CreateMul(b.CreateSDiv(n, b.getInt64(width)), b.getInt64(width))
                             : b.getInt64(0);
    b.CreateCondBr(b.CreateICmpSGT(n_vec, b.getInt64(0)), vloop, tail);

    b.SetInsertPoint(vloop);
    llvm::PHINode* i = b.CreatePHI(i64, 2);
    i->addIncoming(b.getInt64(0), entry);
    body(i, llvm::FixedVectorType::get(b.getFloatTy(), std::max(width, 2u)));
    llvm::Value* i_next = b.CreateAdd(i, b.getInt64(width));
    i->addIncoming(i_next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpSLT(i_next, n_vec), vloop, tail);

    b.SetInsertPoint(tail);
    b.CreateCondBr(b.CreateICmpSLT(n_vec, n), sloop, exit);

    b.SetInsertPoint(sloop);
    llvm::PHINode* j = b.CreatePHI(i64, 2);
    j->addIncoming(n_vec, tail);
    body(j, b.getFloatTy());
    llvm::Value* j_next = b.CreateAdd(j, b.getInt64(1));
    j->addIncoming(j_next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpSLT(j_next, n), sloop, exit);

    b.SetInsertPoint(exit);
    b.CreateRetVoid();

    std::string errors;
    llvm::raw_string_ostream os(errors);
    EXPECT_FALSE(llvm::verifyModule(*module, &os)) << os.str();
    llvm::cantFail(
        jit_->addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(context))));
    return llvm::cantFail(jit_->lookup(name)).toPtr<void*>();
  }

  const std::string& cpu() const { return cpu_; }

 private:
  TestJit() {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::orc::JITTargetMachineBuilder jtmb =
        llvm::cantFail(llvm::orc::JITTargetMachineBuilder::detectHost());
    jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    cpu_ = jtmb.getCPU();
    machine_ = llvm::cantFail(jtmb.createTargetMachine());
    jit_ = llvm::cantFail(
        llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(jtmb)).create());
    jit_->getIRTransformLayer().setTransform(
        [this](llvm::orc::ThreadSafeModule tsm, const llvm::orc::MaterializationResponsibility&) {
          tsm.withModuleDo([this](llvm::Module& m) {
            llvm::LoopAnalysisManager lam;
            llvm::FunctionAnalysisManager fam;
            llvm::CGSCCAnalysisManager cgam;
            llvm::ModuleAnalysisManager mam;
            llvm::PassBuilder pb(machine_.get());
            pb.registerModuleAnalyses(mam);
            pb.registerCGSCCAnalyses(cgam);
            pb.registerFunctionAnalyses(fam);
            pb.registerLoopAnalyses(lam);
            pb.crossRegisterProxies(lam, fam, cgam, mam);
            pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(m, mam);
          });
          return llvm::Expected<llvm::orc::ThreadSafeModule>(std::move(tsm));
        });
  }

  std::unique_ptr<llvm::TargetMachine> machine_;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::string cpu_;
  int counter_ = 0;
};

// |got - want| in units of the spacing of f32 numbers at `want` (2^-149
// below the normal range). NaN must match NaN and infinities exactly; inf
// is right for a finite `want` that rounds to inf, and otherwise counts as
// 2^128.
double UlpError(float got, double want) {
  if (std::isnan(want) || std::isnan(got)) {
    return std::isnan(want) && std::isnan(got) ? 0 : kInf;
  }
  if (std::isinf(want)) return got == want ? 0 : kInf;
  // Beyond FLT_MAX + ulp/2 the correctly rounded result is inf.
  if (std::isinf(static_cast<float>(want)) && got == static_cast<float>(want)) return 0;
  const double g = std::isinf(got) ? std::copysign(0x1p128, got) : got;
  int exponent;
  std::frexp(want, &exponent);  // |want| in [2^(exponent-1), 2^exponent)
  const double ulp = want == 0 ? 0x1p-149 : std::ldexp(1.0, std::max(exponent - 1, -126) - 23);
  return std::fabs(g - want) / ulp;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint32_t ToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Identical results (any NaN matches any NaN; zeros by sign too).
bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || ToBits(a) == ToBits(b);
}

// Inputs: every `stride`-th f32 bit pattern (all signs, subnormals, NaN,
// inf), `count` evenly spaced values in each [lo, hi], the 2049 floats
// around each point, and a list of special values.
std::vector<float> Inputs(uint32_t stride, const std::vector<std::pair<double, double>>& ranges,
                          const std::vector<float>& points) {
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xffffffffu; u += stride) x.push_back(FromBits(u));
  constexpr int kCount = 1 << 20;
  for (const auto& [lo, hi] : ranges) {
    for (int i = 0; i < kCount; ++i)
      x.push_back(static_cast<float>(lo + (hi - lo) * i / (kCount - 1)));
  }
  for (float p : points) {
    float v = p;
    for (int i = 0; i < 1024; ++i) v = std::nextafter(v, -kInfF);
    for (int i = 0; i < 2049; ++i, v = std::nextafter(v, kInfF)) x.push_back(v);
  }
  for (float s : {0.0f, -0.0f, kInfF, -kInfF, kNaNF, -kNaNF, kDenormMin, -kDenormMin, kFltMin,
                  -kFltMin, kFltMax, -kFltMax, 1.0f, -1.0f, 0.5f, -0.5f, 2.0f, -2.0f}) {
    x.push_back(s);
  }
  return x;
}

struct UnaryCase {
  std::string name;
  Emit1 emit;
  double (*reference)(double);
  double max_ulp;  // asserted; the documented maximum (exhaustive sweep)
  std::vector<std::pair<double, double>> ranges;
  std::vector<float> points;  // thresholds and branch points
  Tensor (*op)(const Tensor&, SourceLoc);
};

std::vector<UnaryCase> UnaryCases() {
  return {
      {"exp",
       EmitExp,
       [](double x) { return std::exp(x); },
       1.04,
       {{-104, 89}, {-1, 1}},
       {0.0f, 0.3465736f, 88.72283f, -87.33655f, -103.97208f, -103.27893f, 88.0f, -88.0f},
       Exp},
      {"expm1",
       EmitExpm1,
       [](double x) { return std::expm1(x); },
       1.03,
       {{-20, 89}, {-1, 1}, {-1e-3, 1e-3}},
       {0.0f, 0.3465736f, -0.3465736f, 16.0f, 17.0f, -17.33f, 88.72283f, 1e-7f, -1e-7f},
       Expm1},
      {"log",
       EmitLog,
       [](double x) { return std::log(x); },
       0.93,
       {{0, 4}, {0.5, 2}, {0, 1e-30}},
       {1.0f, 0.70710677f, 1.4142135f, 0.5f, 2.0f, kFltMin, kFltMax},
       Log},
      {"log1p",
       EmitLog1p,
       [](double x) { return std::log1p(x); },
       0.99,
       {{-1, 4}, {-1e-3, 1e-3}, {-1, -0.9}},
       {0.0f, -1.0f, -0.29289323f, 0.41421357f, 1.0f, 1e-7f, -1e-7f, 16777216.0f},
       Log1p},
      {"tanh",
       EmitTanh,
       [](double x) { return std::tanh(x); },
       1.0,
       {{-10, 10}, {-1, 1}},
       {0.0f, 0.9f, -0.9f, 9.01f, -9.01f, 10.0f, 1e-7f},
       Tanh},
      {"erf",
       EmitErf,
       [](double x) { return std::erf(x); },
       1.0,
       {{-5, 5}, {-1, 1}},
       {0.0f, 1.0f, -1.0f, 3.92f, -3.92f, 4.0f, 2.5f, 1e-7f},
       Erf},
  };
}

void PrintTo(const UnaryCase& c, std::ostream* os) { *os << c.name; }

class UnaryMathTest : public ::testing::TestWithParam<UnaryCase> {};

// The max ulp error over a sweep (and where), and how often the vector and
// the scalar form disagree (they must not).
struct Sweep {
  double max_ulp = 0;
  float worst_x = 0;
  float worst_got = 0;
  int64_t mismatches = 0;
};

// The function of `c` compiled for <16 x float> (with a scalar tail) and
// for scalars only.
struct Kernels {
  explicit Kernels(const UnaryCase& c)
      : vec(reinterpret_cast<UnaryKernel>(TestJit::Get().Compile(1, 16, c.emit, nullptr))),
        scalar(reinterpret_cast<UnaryKernel>(TestJit::Get().Compile(1, 1, c.emit, nullptr))) {}
  UnaryKernel vec;
  UnaryKernel scalar;
};

// Runs both forms over x and adds the results to `s`.
void RunSweep(const UnaryCase& c, const Kernels& k, const std::vector<float>& x, Sweep* s) {
  std::vector<float> y(x.size()), ys(x.size());
  k.vec(x.data(), y.data(), static_cast<int64_t>(x.size()));
  k.scalar(x.data(), ys.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    if (!SameFloat(y[i], ys[i])) ++s->mismatches;
    const double e = UlpError(y[i], c.reference(x[i]));
    if (!(e <= s->max_ulp)) {
      s->max_ulp = e;
      s->worst_x = x[i];
      s->worst_got = y[i];
    }
  }
}

TEST_P(UnaryMathTest, WithinDocumentedUlpOverEveryDomain) {
  const UnaryCase& c = GetParam();
  const std::vector<float> x = Inputs(997, c.ranges, c.points);
  Sweep s;
  RunSweep(c, Kernels(c), x, &s);
  EXPECT_EQ(s.mismatches, 0) << "<16 x float> and float forms differ";
  EXPECT_LE(s.max_ulp, c.max_ulp) << c.name << "(" << s.worst_x << ") = " << s.worst_got
                                  << ", want " << c.reference(s.worst_x);
  std::printf("%s: max %.3f ulp over %zu inputs (%s)\n", c.name.c_str(), s.max_ulp, x.size(),
              TestJit::Get().cpu().c_str());
}

TEST_P(UnaryMathTest, ExhaustiveWhenAsked) {
  if (std::getenv("KILN_VECTOR_MATH_EXHAUSTIVE") == nullptr) {
    GTEST_SKIP() << "set KILN_VECTOR_MATH_EXHAUSTIVE=1 to sweep every f32";
  }
  const UnaryCase& c = GetParam();
  const Kernels kernels(c);
  Sweep total;
  std::vector<float> x(1u << 26);
  for (uint64_t start = 0; start <= 0xffffffffu; start += x.size()) {
    for (uint32_t i = 0; i < x.size(); ++i) x[i] = FromBits(static_cast<uint32_t>(start + i));
    RunSweep(c, kernels, x, &total);
  }
  EXPECT_EQ(total.mismatches, 0);
  EXPECT_LE(total.max_ulp, c.max_ulp)
      << c.name << "(" << total.worst_x << ") = " << total.worst_got;
  std::printf("%s: exhaustive max %.4f ulp at x = %.9g\n", c.name.c_str(), total.max_ulp,
              total.worst_x);
}

// Zeros, infinities, NaN and saturation give exactly what C gives, signs of
// zero included.
TEST_P(UnaryMathTest, SpecialValuesMatchC) {
  const UnaryCase& c = GetParam();
  std::vector<float> x = {0.0f,       -0.0f,       kInfF,   -kInfF,   kNaNF,   -kNaNF,
                          kDenormMin, -kDenormMin, kFltMin, -kFltMin, kFltMax, -kFltMax,
                          1.0f,       -1.0f,       -2.0f,   100.0f,   -100.0f, 200.0f,
                          -200.0f,    1e-30f,      -1e-30f, 1e30f,    -1e30f,  3.0f};
  auto* vec = reinterpret_cast<UnaryKernel>(TestJit::Get().Compile(1, 16, c.emit, nullptr));
  std::vector<float> y(x.size());
  vec(x.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = static_cast<float>(c.reference(x[i]));
    if (std::isnan(want) || std::isinf(want) || want == 0 || std::fabs(want) == 1) {
      EXPECT_TRUE(SameFloat(y[i], want))
          << c.name << "(" << x[i] << ") = " << y[i] << ", want " << want;
    } else {
      EXPECT_LE(UlpError(y[i], c.reference(x[i])), c.max_ulp) << c.name << "(" << x[i] << ")";
    }
  }
}

// The interpreter (Highway kernels) and the JIT math agree: the same NaN,
// infinities and zeros, and finite results within a few ulp.
TEST_P(UnaryMathTest, AgreesWithTheInterpreterKernel) {
  const UnaryCase& c = GetParam();
  std::vector<float> x = Inputs(1u << 16, c.ranges, {});
  x.resize(x.size() - x.size() % 8);
  auto g = Graph::Create();
  Tensor in = Input(g, "x", DType::kF32, Shape{Shape::kBatch});
  auto exe = Executable::Compile({c.op(in, SourceLoc::current())},
                                 {.backend = Backend::kInterp, .num_threads = 1});
  ASSERT_TRUE(exe.ok()) << exe.status();
  Buffer xb = Buffer::FromVector<float>(Shape{static_cast<int64_t>(x.size())}, x);
  auto out = (*exe)->Run({{"x", &xb}});
  ASSERT_TRUE(out.ok()) << out.status();
  const float* interp = (*out)[0].data<float>();
  auto* vec = reinterpret_cast<UnaryKernel>(TestJit::Get().Compile(1, 16, c.emit, nullptr));
  std::vector<float> y(x.size());
  vec(x.data(), y.data(), static_cast<int64_t>(x.size()));
  int failures = 0;
  for (size_t i = 0; i < x.size() && failures < 10; ++i) {
    const float a = interp[i], b = y[i];
    bool ok;
    if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b) || a == 0 || b == 0) {
      ok = (std::isnan(a) && std::isnan(b)) || a == b;
    } else {
      ok = UlpError(b, a) <= 5;  // Highway's documented <= 4 ulp + ours
    }
    if (!ok) {
      ++failures;
      ADD_FAILURE() << c.name << "(" << x[i] << "): interpreter " << a << ", JIT " << b;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(VectorMath, UnaryMathTest, ::testing::ValuesIn(UnaryCases()),
                         [](const auto& info) { return info.param.name; });

// Bases and exponents over the whole range for pow: every 2^k-th bit
// pattern of each, plus values that matter to pow's special cases.
std::vector<float> PowValues(int step) {
  std::vector<float> v;
  for (uint64_t u = 0; u <= 0xffffffffu; u += step) v.push_back(FromBits(u));
  for (float s : {0.0f,
                  -0.0f,
                  kInfF,
                  -kInfF,
                  kNaNF,
                  kDenormMin,
                  -kDenormMin,
                  kFltMin,
                  kFltMax,
                  -kFltMax,
                  1.0f,
                  -1.0f,
                  0.5f,
                  -0.5f,
                  2.0f,
                  -2.0f,
                  3.0f,
                  -3.0f,
                  4.0f,
                  -4.0f,
                  1.5f,
                  -1.5f,
                  0x1p24f,
                  -0x1p24f,
                  0x1p24f + 2,
                  16777215.0f,
                  -16777215.0f,
                  std::nextafter(1.0f, 2.0f),
                  std::nextafter(1.0f, 0.0f),
                  128.0f,
                  -149.0f,
                  -150.0f,
                  1e-7f,
                  -1e-7f,
                  10.0f,
                  0.1f}) {
    v.push_back(s);
  }
  return v;
}

struct PowRun {
  std::vector<float> a, x, y, ys;
};

PowRun RunPow(const std::vector<float>& bases, const std::vector<float>& exponents) {
  PowRun r;
  for (float a : bases) {
    for (float x : exponents) {
      r.a.push_back(a);
      r.x.push_back(x);
    }
  }
  auto* vec = reinterpret_cast<BinaryKernel>(TestJit::Get().Compile(2, 16, nullptr, EmitPow));
  auto* scalar = reinterpret_cast<BinaryKernel>(TestJit::Get().Compile(2, 1, nullptr, EmitPow));
  r.y.resize(r.a.size());
  r.ys.resize(r.a.size());
  vec(r.a.data(), r.x.data(), r.y.data(), static_cast<int64_t>(r.a.size()));
  scalar(r.a.data(), r.x.data(), r.ys.data(), static_cast<int64_t>(r.a.size()));
  return r;
}

TEST(VectorMathPow, WithinDocumentedUlpOverTheWholeRange) {
  // 2^32 / 2^20 = 4096 bases x 4096 exponents over all bit patterns, plus
  // bases near 1 with large exponents, where x log a must be exact to 2^-30.
  std::vector<float> bases = PowValues(1 << 20), exponents = PowValues(1 << 20);
  for (int i = -2000; i <= 2000; ++i) bases.push_back(1.0f + i * 0x1p-23f);
  for (int i = 1; i <= 400; ++i) exponents.push_back(i * 1e5f);
  const PowRun r = RunPow(bases, exponents);
  double max_ulp = 0;
  size_t worst = 0;
  int64_t mismatches = 0;
  for (size_t i = 0; i < r.y.size(); ++i) {
    if (!SameFloat(r.y[i], r.ys[i])) ++mismatches;
    const double e = UlpError(r.y[i], std::pow(static_cast<double>(r.a[i]), r.x[i]));
    if (!(e <= max_ulp)) max_ulp = e, worst = i;
  }
  EXPECT_EQ(mismatches, 0) << "<16 x float> and float forms differ";
  EXPECT_LE(max_ulp, 0.51) << "pow(" << r.a[worst] << ", " << r.x[worst] << ") = " << r.y[worst];
  std::printf("pow: max %.3f ulp over %zu pairs\n", max_ulp, r.y.size());
}

// Every pair of special values gives what C's pow gives, signs of zero and
// infinity included.
TEST(VectorMathPow, SpecialValuesMatchC) {
  const std::vector<float> v = {0.0f,        -0.0f,   kInfF,   -kInfF,  kNaNF,    1.0f,
                                -1.0f,       0.5f,    -0.5f,   2.0f,    -2.0f,    3.0f,
                                -3.0f,       2.5f,    -2.5f,   0x1p24f, -0x1p25f, kDenormMin,
                                -kDenormMin, kFltMax, -kFltMax};
  const PowRun r = RunPow(v, v);
  for (size_t i = 0; i < r.y.size(); ++i) {
    const double want = std::pow(static_cast<double>(r.a[i]), r.x[i]);
    const float want_f = static_cast<float>(want);
    if (std::isnan(want_f) || std::isinf(want_f) || want_f == 0 || std::fabs(want_f) == 1) {
      EXPECT_TRUE(SameFloat(r.y[i], want_f))
          << "pow(" << r.a[i] << ", " << r.x[i] << ") = " << r.y[i] << ", want " << want_f;
    } else {
      EXPECT_LE(UlpError(r.y[i], want), 1.0) << "pow(" << r.a[i] << ", " << r.x[i] << ")";
    }
  }
}

// The interpreter's pow (exp(b log|a|) in f32 Highway math, relative error
// about 3e-7 |b log a|) and the JIT's agree; special values exactly.
TEST(VectorMathPow, AgreesWithTheInterpreterKernel) {
  std::vector<float> values = PowValues(1 << 22);
  for (float s : {0.3f, 0.7f, 1.3f, 7.5f, -0.7f, -7.5f, 12.0f, -5.0f}) values.push_back(s);
  PowRun r = RunPow(values, values);
  r.a.resize(r.a.size() - r.a.size() % 8);
  r.x.resize(r.a.size());
  auto g = Graph::Create();
  Tensor a = Input(g, "a", DType::kF32, Shape{Shape::kBatch});
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch});
  auto exe = Executable::Compile({Pow(a, x)}, {.backend = Backend::kInterp, .num_threads = 1});
  ASSERT_TRUE(exe.ok()) << exe.status();
  const Shape shape{static_cast<int64_t>(r.a.size())};
  Buffer ab = Buffer::FromVector<float>(shape, r.a), xb = Buffer::FromVector<float>(shape, r.x);
  auto out = (*exe)->Run({{"a", &ab}, {"x", &xb}});
  ASSERT_TRUE(out.ok()) << out.status();
  const float* interp = (*out)[0].data<float>();
  int failures = 0;
  for (size_t i = 0; i < r.a.size() && failures < 10; ++i) {
    const float p = interp[i], q = r.y[i];
    const double t = std::fabs(r.x[i] * std::log(std::fabs(static_cast<double>(r.a[i]))));
    bool ok = (std::isnan(p) && std::isnan(q)) || p == q;
    if (!ok && std::isfinite(p) && std::isfinite(q) && std::isnormal(q) && t <= 80) {
      ok = std::fabs(p - q) <= (3e-7 * t + 2.5e-7) * std::fabs(q);
    }
    // Overflow (x log|a| > 89) gives inf in both. Results that underflow
    // are compared only where a special-case rule (not the exp) decides
    // them: Highway's exp flushes differently in the subnormal range.
    const double signed_t = r.x[i] * std::log(std::fabs(static_cast<double>(r.a[i])));
    const bool rule = r.x[i] == 0 || r.a[i] == 1 || r.a[i] == 0 || std::isinf(r.a[i]) ||
                      std::isinf(r.x[i]) || std::isnan(r.a[i]) || std::isnan(r.x[i]) ||
                      (r.a[i] < 0 && std::floor(r.x[i]) != r.x[i]) || signed_t > 89;
    if (!ok && (t <= 80 || rule)) {
      ++failures;
      ADD_FAILURE() << "pow(" << r.a[i] << ", " << r.x[i] << "): interpreter " << p << ", JIT "
                    << q;
    }
  }
}

// Any vector width works, with the same results as scalars.
TEST(VectorMath, OddWidthsMatchScalars) {
  const std::vector<float> x = Inputs(1u << 20, {{-20, 20}}, {});
  for (Emit1 emit : {EmitExp, EmitExpm1, EmitLog, EmitLog1p, EmitTanh, EmitErf}) {
    auto* scalar = reinterpret_cast<UnaryKernel>(TestJit::Get().Compile(1, 1, emit, nullptr));
    std::vector<float> ys(x.size());
    scalar(x.data(), ys.data(), static_cast<int64_t>(x.size()));
    for (unsigned width : {3u, 8u}) {
      auto* vec = reinterpret_cast<UnaryKernel>(TestJit::Get().Compile(1, width, emit, nullptr));
      std::vector<float> y(x.size());
      vec(x.data(), y.data(), static_cast<int64_t>(x.size()));
      int64_t mismatches = 0;
      for (size_t i = 0; i < x.size(); ++i) mismatches += !SameFloat(y[i], ys[i]);
      EXPECT_EQ(mismatches, 0) << "width " << width;
    }
  }
}

}  // namespace
}  // namespace kiln

