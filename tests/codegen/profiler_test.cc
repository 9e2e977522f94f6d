// The profiler: every kernel of a small Keras model (Conv2D, MaxPooling2D,
// Flatten, Dense) appears with its origin layers and the right call count
// on both backends; bytes and flops of a lone matmul match the formulas;
// the roofline column follows its definition; sessions nest and attach;
// the Chrome trace is valid JSON with complete events.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/str_join.h"
#include "codegen/executable.h"
#include "codegen/profiler.h"
#include "gtest/gtest.h"
#include "layers/keras_json.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

struct SmallModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Executable> exe;
  Buffer image{DType::kF32, Shape{5, 8, 8, 1}};
  Feeds feeds;
};

SmallModel LoadSmallModel(Backend backend) {
  SmallModel m;
  auto model = LoadKerasModel(std::string(KILN_TEST_DATA_DIR) + "/models/small_convnet.json");
  EXPECT_TRUE(model.ok()) << model.status();
  m.model = std::move(*model);
  for (int64_t i = 0; i < m.image.num_elements(); ++i) m.image.SetFromDouble(i, (i % 7) * 0.25);
  m.feeds = LayerFeeds(m.model->graph(), /*training=*/false);
  m.feeds["image"] = &m.image;
  ExecutableOptions options;
  options.backend = backend;
  auto exe = Executable::Compile(m.model->outputs(), options);
  EXPECT_TRUE(exe.ok()) << exe.status();
  m.exe = std::move(*exe);
  return m;
}

// The kernel names a JIT program's plan lists (lines "k<i> <name> <kind>: ...").
std::set<std::string> PlannedKernels(Executable& exe, int64_t batch, bool with_aliases) {
  std::set<std::string> names;
  absl::StatusOr<std::string> text = exe.ProgramText(batch);
  EXPECT_TRUE(text.ok()) << text.status();
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string id, name, kind;
    words >> id >> name >> kind;
    if (id.size() < 2 || id[0] != 'k' || kind.empty() || kind.back() != ':') continue;
    if (!with_aliases && kind == "alias:") continue;
    names.insert(name);
  }
  return names;
}

const KernelProfile* Row(const ProfileReport& report, absl::string_view name) {
  for (const KernelProfile& k : report.kernels) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

TEST(ProfilerTest, EveryJitKernelAppearsWithItsLayersAndCalls) {
  SmallModel m = LoadSmallModel(Backend::kJit);
  std::vector<Buffer> out;
  ASSERT_TRUE(m.exe->RunInto(m.feeds, out).ok());  // compile outside the session
  const Buffer plain = out[0].Clone();
  ProfileSession session;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(m.exe->RunInto(m.feeds, out).ok());
  ProfileReport report = session.Stop();
  // Profiling changes no result bit.
  EXPECT_EQ(0, std::memcmp(plain.raw(), out[0].raw(), plain.size_bytes()));
  EXPECT_EQ(report.runs, 3);
  const std::set<std::string> planned = PlannedKernels(*m.exe, 5, /*with_aliases=*/false);
  ASSERT_FALSE(planned.empty());
  std::set<std::string> seen;
  for (const KernelProfile& k : report.kernels) {
    seen.insert(k.name);
    EXPECT_EQ(k.calls, 3) << k.name;
    EXPECT_GT(k.total_ns, 0) << k.name;
    EXPECT_FALSE(k.layers.empty()) << k.name << " has no origin layer";
  }
  EXPECT_EQ(seen, planned);
  // The conv and the dense layer each own a kernel that names them.
  bool conv = false, dense = false;
  for (const KernelProfile& k : report.kernels) {
    for (const std::string& l : k.layers) {
      conv |= l == "conv2d";
      dense |= l == "dense";
    }
  }
  EXPECT_TRUE(conv && dense) << report.Table();
  // The conv: 5 images, 6x6 outputs of 4 channels, 3x3 taps of 1 channel.
  const KernelProfile* conv_row = nullptr;
  for (const KernelProfile& k : report.kernels) {
    if (std::find(k.ops.begin(), k.ops.end(), "conv") != k.ops.end()) conv_row = &k;
  }
  ASSERT_NE(conv_row, nullptr);
  // Plus one flop per output element for each elementwise op fused into its
  // epilogue (the bias add, the relu).
  const int64_t epilogue_ops = static_cast<int64_t>(conv_row->ops.size()) - 1;
  EXPECT_EQ(conv_row->flops_per_call, 2 * 5 * 6 * 6 * 4 * 9 + epilogue_ops * 5 * 6 * 6 * 4)
      << absl::StrJoin(conv_row->ops, ",");
  const std::string table = report.Table();
  for (const std::string& name : planned) EXPECT_NE(table.find(name.substr(0, 37)), std::string::npos);
  EXPECT_NE(table.find("%Roof"), std::string::npos);
  // Sorted by total time, longest first.
  for (size_t i = 1; i < report.kernels.size(); ++i) {
    EXPECT_GE(report.kernels[i - 1].total_ns, report.kernels[i].total_ns);
  }
}

TEST(ProfilerTest, InterpreterRowsAreNodesNamedByLayer) {
  SmallModel m = LoadSmallModel(Backend::kInterp);
  std::vector<Buffer> out;
  ProfileSession session;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(m.exe->RunInto(m.feeds, out).ok());
  ProfileReport report = session.Stop();
  EXPECT_EQ(report.runs, 2);
  ASSERT_FALSE(report.kernels.empty());
  bool conv = false;
  for (const KernelProfile& k : report.kernels) {
    EXPECT_EQ(k.kind, "interp");
    EXPECT_EQ(k.calls, 2) << k.name;
    ASSERT_EQ(k.ops.size(), 1u) << k.name;
    ASSERT_EQ(k.layers.size(), 1u) << k.name;
    EXPECT_EQ(k.name.rfind(k.layers[0] + "/" + k.ops[0] + "_", 0), 0u) << k.name;
    conv |= k.ops[0] == "conv" && k.layers[0] == "conv2d";
  }
  EXPECT_TRUE(conv) << report.Table();
}

TEST(ProfilerTest, MatmulBytesFlopsAndRoofline) {
  setenv("KILN_PEAK_GFLOPS", "100", 1);
  setenv("KILN_PEAK_GBPS", "10", 1);
  auto g = Graph::Create();
  Tensor a = Input(g, "a", DType::kF32, Shape{Shape::kBatch, 48});
  Tensor b = Input(g, "b", DType::kF32, Shape{48, 20});
  for (Backend backend : {Backend::kJit, Backend::kInterp}) {
    ExecutableOptions options;
    options.backend = backend;
    auto exe = Executable::Compile({MatMul(a, b)}, options);
    ASSERT_TRUE(exe.ok()) << exe.status();
    Buffer av(DType::kF32, Shape{16, 48}), bv(DType::kF32, Shape{48, 20});
    Feeds feeds = {{"a", &av}, {"b", &bv}};
    std::vector<Buffer> out;
    ProfileSession session;
    ASSERT_TRUE((*exe)->RunInto(feeds, out).ok());
    ProfileReport report = session.Stop();
    ASSERT_EQ(report.kernels.size(), 1u) << report.Table();
    const KernelProfile& k = report.kernels[0];
    EXPECT_EQ(k.flops_per_call, 2 * 16 * 48 * 20);
    EXPECT_EQ(k.bytes_per_call, 4 * (16 * 48 + 48 * 20 + 16 * 20));
    EXPECT_EQ(report.roofline.source, "environment");
    EXPECT_EQ(report.roofline.peak_gflops, 100);
    // Bound: max(30720 flops / 100 per ns, 8192 bytes / 10 per ns) = 819.2 ns.
    EXPECT_NEAR(k.roofline_percent(report.roofline), 100.0 * 819.2 / k.total_ns, 1e-9);
    EXPECT_NEAR(k.gflops(), 30720.0 / k.total_ns, 1e-12);
  }
  unsetenv("KILN_PEAK_GFLOPS");
  unsetenv("KILN_PEAK_GBPS");
}

TEST(ProfilerTest, AttachedSessionsRecordOnlyTheirExecutable) {
  SmallModel first = LoadSmallModel(Backend::kJit);
  SmallModel second = LoadSmallModel(Backend::kJit);
  std::vector<Buffer> out;
  ProfileSession attached(ProfileSession::kAttachedOnly);
  first.exe->AttachProfiler(&attached);
  ProfileSession global;
  ASSERT_TRUE(first.exe->RunInto(first.feeds, out).ok());
  ASSERT_TRUE(second.exe->RunInto(second.feeds, out).ok());
  ASSERT_TRUE(second.exe->RunInto(second.feeds, out).ok());
  ProfileReport global_report = global.Stop();
  ProfileReport attached_report = attached.Stop();
  first.exe->AttachProfiler(nullptr);
  EXPECT_EQ(attached_report.runs, 1);
  EXPECT_EQ(global_report.runs, 2);
  for (const KernelProfile& k : global_report.kernels) EXPECT_EQ(k.calls, 2) << k.name;
  // Nothing is recorded once every session has stopped.
  ProfileSession later;
  EXPECT_EQ(later.Stop().runs, 0);
  EXPECT_EQ(global.Stop().runs, 0);  // a second Stop: empty
}

TEST(ProfilerTest, SessionsComeAndGoWhileAnotherThreadRuns) {
  SmallModel m = LoadSmallModel(Backend::kJit);
  std::vector<Buffer> first;
  ASSERT_TRUE(m.exe->RunInto(m.feeds, first).ok());
  std::atomic<bool> done{false};
  std::atomic<int64_t> runs{0};
  std::thread runner([&] {
    std::vector<Buffer> out;
    while (!done.load()) {
      if (!m.exe->RunInto(m.feeds, out).ok()) break;
      ++runs;
    }
  });
  int64_t recorded = 0;
  for (int i = 0; i < 20; ++i) {
    ProfileSession session;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ProfileReport report = session.Stop();  // must not wait for the runner to pause
    recorded += report.runs;
    for (const KernelProfile& k : report.kernels) EXPECT_GT(k.calls, 0) << k.name;
  }
  done = true;
  runner.join();
  EXPECT_GT(recorded, 0);
  EXPECT_LE(recorded, runs.load());
}

TEST(ProfilerTest, ChromeTraceIsValidJsonWithCompleteEvents) {
  SmallModel m = LoadSmallModel(Backend::kJit);
  std::vector<Buffer> out;
  ASSERT_TRUE(m.exe->RunInto(m.feeds, out).ok());
  ProfileSession session;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(m.exe->RunInto(m.feeds, out).ok());
  ProfileReport report = session.Stop();
  const std::string path = ::testing::TempDir() + "/profiler_test_trace.json";
  ASSERT_TRUE(report.WriteChromeTrace(path).ok());
  std::ifstream in(path);
  nlohmann::json trace = nlohmann::json::parse(in);  // throws if invalid
  ASSERT_TRUE(trace["traceEvents"].is_array());
  int64_t kernel_events = 0, runs = 0, expected_kernel_events = 0;
  for (const KernelProfile& k : report.kernels) expected_kernel_events += k.calls;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] == "M") continue;
    ASSERT_EQ(e["ph"], "X");
    ASSERT_TRUE(e["ts"].is_number() && e["dur"].is_number() && e["pid"].is_number() &&
                e["tid"].is_number())
        << e.dump();
    EXPECT_GE(e["dur"].get<double>(), 0);
    if (e["cat"] == "run") ++runs;
    if (e["cat"] != "kernel") continue;
    ++kernel_events;
    const KernelProfile* row = Row(report, e["name"].get<std::string>());
    ASSERT_NE(row, nullptr) << e.dump();
    EXPECT_FALSE(e["args"]["layers"].get<std::string>().empty()) << e.dump();
    EXPECT_FALSE(e["args"]["ops"].get<std::string>().empty()) << e.dump();
  }
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(kernel_events, expected_kernel_events);
  EXPECT_FALSE(report.WriteChromeTrace("/nonexistent-dir/trace.json").ok());
}

}  // namespace
}  // namespace kiln
