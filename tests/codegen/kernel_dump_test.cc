// KILN_DUMP_DIR: every JIT kernel of a program leaves its fused nodes, its
// IR before and after optimization and its assembly; the IR re-parses with
// LLVM, the assembly defines the kernel's symbol, and dumping changes
// neither the results nor the compiled code (same cache key, same bits).
#include <dirent.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "codegen/executable.h"
#include "codegen/kernel_dump.h"
#include "gtest/gtest.h"
#include "ops/ops.h"

namespace kiln {
namespace {

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") files.push_back(name);
    }
    closedir(d);
  }
  return files;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The kernels of a JIT program's plan: "k<i> <name> jit|contraction: ...".
std::set<std::string> CompiledKernels(Executable& exe, int64_t batch) {
  std::set<std::string> names;
  std::istringstream lines(*exe.ProgramText(batch));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string id, name, kind;
    words >> id >> name >> kind;
    if (id.size() > 1 && id[0] == 'k' && (kind == "jit:" || kind == "contraction:")) {
      names.insert(name);
    }
  }
  return names;
}

TEST(KernelDumpTest, EveryKernelLeavesNodesIrAndAssembly) {
  const std::string dir = ::testing::TempDir() + "/kiln_dump_test";
  std::system(("rm -rf '" + dir + "'").c_str());
  auto g = Graph::Create();
  Tensor x = Input(g, "x", DType::kF32, Shape{Shape::kBatch, 24});
  Tensor w = Input(g, "w", DType::kF32, Shape{24, 16});
  Tensor y = ReduceSum(Exp(Relu(MatMul(x, w) + 1.0f)), {1});
  Buffer xv(DType::kF32, Shape{8, 24}), wv(DType::kF32, Shape{24, 16});
  for (int64_t i = 0; i < xv.num_elements(); ++i) xv.SetFromDouble(i, (i % 5) * 0.1);
  for (int64_t i = 0; i < wv.num_elements(); ++i) wv.SetFromDouble(i, (i % 3) * 0.05);
  const Feeds feeds = {{"x", &xv}, {"w", &wv}};
  ExecutableOptions options;
  options.backend = Backend::kJit;

  auto plain = Executable::Compile({y}, options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto expected = (*plain)->Run(feeds);
  ASSERT_TRUE(expected.ok()) << expected.status();

  setenv("KILN_DUMP_DIR", dir.c_str(), 1);
  auto dumped = Executable::Compile({y}, options);
  ASSERT_TRUE(dumped.ok()) << dumped.status();
  auto got = (*dumped)->Run(feeds);
  unsetenv("KILN_DUMP_DIR");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(0, std::memcmp((*got)[0].raw(), (*expected)[0].raw(), (*got)[0].size_bytes()));

  const std::set<std::string> kernels = CompiledKernels(**dumped, 8);
  ASSERT_GE(kernels.size(), 2u);  // the GEMM with its epilogue, the reduction
  const std::vector<std::string> files = FilesIn(dir);
  EXPECT_EQ(files.size(), 4 * kernels.size());
  for (const std::string& kernel : kernels) {
    std::string stem;
    for (const std::string& f : files) {
      if (f.rfind(kernel + ".", 0) == 0 && f.size() > 3 && f.substr(f.size() - 2) == ".s") {
        stem = dir + "/" + f.substr(0, f.size() - 2);
      }
    }
    ASSERT_FALSE(stem.empty()) << "no dump of " << kernel;
    const std::string nodes = Read(stem + ".nodes.txt");
    EXPECT_NE(nodes.find("kernel " + kernel), std::string::npos) << nodes;
    EXPECT_NE(nodes.find(" = "), std::string::npos) << nodes;
    for (const char* ir : {".ll", ".opt.ll"}) {
      const absl::Status parsed = CheckIrFileParses(stem + ir);
      EXPECT_TRUE(parsed.ok()) << parsed;
      EXPECT_NE(Read(stem + ir).find("@" + kernel), std::string::npos) << stem << ir;
    }
    EXPECT_NE(Read(stem + ".s").find(kernel + ":"), std::string::npos);
  }
  // Not IR: a clear error.
  const absl::Status bad = CheckIrFileParses(dir + "/" + files[0].substr(0, files[0].find('.')) + ".missing");
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace kiln
