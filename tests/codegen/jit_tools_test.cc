// perf and gdb see JIT kernels by name: this test binary re-runs itself
// (the BusyKernels child case) under `perf record -k 1` with KILN_PERF=1
// and checks that `perf inject --jit` + `perf report` list the fused
// kernel and the micro-kernels a GEMM calls; and under gdb with KILN_GDB=1, where a breakpoint on the kernel's
// symbol is hit and the backtrace names it. Where perf or gdb cannot run
// here, the test is skipped with the tool's own reason.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "codegen/executable.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

constexpr char kChildFlag[] = "KILN_JIT_TOOLS_CHILD";

// The program both the child and the parent build: one fused elementwise
// kernel and one GEMM.
std::unique_ptr<Executable> BusyProgram() {
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 1024});
  Tensor w = Input(g, "w", DType::kF32, Shape{1024, 64});
  ExecutableOptions options;
  options.backend = Backend::kJit;
  auto exe = Executable::Compile({Exp(Tanh(x) * 0.5) + 1.0, MatMul(x, w)}, options);
  EXPECT_TRUE(exe.ok()) << exe.status();
  return std::move(*exe);
}

// The symbol of the program's first kernel of `kind` ("k0 <name> jit: ...").
std::string KernelName(Executable& exe, const std::string& kind) {
  std::istringstream lines(*exe.ProgramText(64));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string id, name, line_kind;
    words >> id >> name >> line_kind;
    if (id[0] == 'k' && line_kind == kind + ":") return name;
  }
  return "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `command` through the shell; its stdout and stderr go to `log`.
int Shell(const std::string& command, const std::string& log) {
  return std::system((command + " >'" + log + "' 2>&1").c_str());
}

std::string SelfPath() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, n) : "";
}

std::string ScratchDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/kiln_jit_tools_" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

// The child: runs the kernel for about half a second.
TEST(JitToolsTest, BusyKernels) {
  if (std::getenv(kChildFlag) == nullptr) GTEST_SKIP() << "runs only as the child of the tests below";
  std::unique_ptr<Executable> exe = BusyProgram();
  Buffer x(DType::kF32, Shape{64, 1024});
  Buffer w(DType::kF32, Shape{1024, 64});
  std::vector<Buffer> out;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500)) {
    ASSERT_TRUE(exe->RunInto({{"x", &x}, {"w", &w}}, out).ok());
  }
}

TEST(JitToolsTest, PerfReportNamesFusedKernels) {
  const std::string dir = ScratchDir("perf");
  const std::string log = dir + "/log.txt";
  if (Shell("perf record -N -k 1 -o '" + dir + "/probe.data' -- true", log) != 0) {
    GTEST_SKIP() << "perf cannot record here: " << ReadAll(log);
  }
  std::unique_ptr<Executable> program = BusyProgram();
  const std::string kernel = KernelName(*program, "jit"),
                    gemm = KernelName(*program, "contraction");
  ASSERT_FALSE(kernel.empty());
  ASSERT_FALSE(gemm.empty());
  const std::string child = std::string(kChildFlag) + "=1 KILN_PERF=1 JITDUMPDIR='" + dir +
                            "' perf record -N -k 1 -o '" + dir + "/perf.data' -- '" + SelfPath() +
                            "' --gtest_filter=JitToolsTest.BusyKernels";
  ASSERT_EQ(Shell(child, log), 0) << ReadAll(log);
  ASSERT_EQ(Shell("perf inject --jit -i '" + dir + "/perf.data' -o '" + dir + "/perf.jit.data'", log), 0)
      << ReadAll(log);
  ASSERT_EQ(Shell("perf report -i '" + dir + "/perf.jit.data' --stdio --sort sym", log), 0)
      << ReadAll(log);
  EXPECT_NE(ReadAll(log).find(kernel), std::string::npos)
      << "perf report does not name " << kernel << ":\n" << ReadAll(log);
  EXPECT_NE(ReadAll(log).find(gemm + "_micro_"), std::string::npos)
      << "perf report does not name the micro-kernels of " << gemm << ":\n" << ReadAll(log);
}

TEST(JitToolsTest, GdbBacktraceNamesFusedKernels) {
  const std::string dir = ScratchDir("gdb");
  const std::string log = dir + "/log.txt";
  if (Shell("gdb -nx -batch -ex 'show version'", log) != 0) {
    GTEST_SKIP() << "gdb cannot run here: " << ReadAll(log);
  }
  const std::string kernel = KernelName(*BusyProgram(), "jit");
  ASSERT_FALSE(kernel.empty());
  const std::string command = std::string(kChildFlag) +
                              "=1 KILN_GDB=1 gdb -nx -batch -ex 'set breakpoint pending on' "
                              "-ex 'break " + kernel + "' -ex run -ex bt -ex kill --args '" +
                              SelfPath() + "' --gtest_filter=JitToolsTest.BusyKernels";
  Shell(command, log);
  const std::string output = ReadAll(log);
  if (output.find("ptrace") != std::string::npos && output.find("#0") == std::string::npos) {
    GTEST_SKIP() << "gdb cannot trace processes here: " << output;
  }
  EXPECT_NE(output.find("#0  0x"), std::string::npos) << output;
  EXPECT_NE(output.find(" in " + kernel + " ("), std::string::npos) << output;
}

}  // namespace
}  // namespace kiln
