// Checkpoints (layers/checkpoint.h): weights, optimizer state and epoch
// round trip; every mismatch is an error that changes nothing; and a save
// that fails half way, or a process killed while writing (a child whose file
// size limit kills it with SIGXFSZ mid-write), leaves the previous checkpoint
// whole and loadable.
#include "layers/checkpoint.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/dense.h"
#include "graph/file_io.h"
#include "layers/npz.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

// x[N,64] -> Dense(64) -> Dense(8), with stand-ins for an optimizer's state
// (one moment per weight and a step count).
struct Trainee {
  Trainee() {
    ClearSession();
    Tensor x = Input({64}, {.name = "x"});
    auto hidden = MakeLayer<Dense>(64, DenseOptions{.name = "hidden"});
    auto out = MakeLayer<Dense>(8, DenseOptions{.name = "out"});
    model = std::make_unique<Model>(x, out(hidden(x)), "trainee");
    for (Weight* w : model->weights()) {
      moments.push_back(Buffer::Zeros(w->value.dtype(), w->value.shape()));
    }
    iterations = Buffer::Scalar(DType::kI64, 0);
    Fill(1.0);
  }
  // Every weight and moment value from `seed`, iterations = seed * 10.
  void Fill(double seed) {
    int k = 0;
    std::vector<Weight*> weights = model->weights();
    for (size_t i = 0; i < weights.size(); ++i) {
      for (int64_t e = 0; e < weights[i]->value.num_elements(); ++e, ++k) {
        weights[i]->value.SetFromDouble(e, seed * 0.001 * (k % 97));
        moments[i].SetFromDouble(e, -seed * 0.002 * (k % 89));
      }
    }
    iterations.SetFromDouble(0, seed * 10);
  }
  NamedBuffers State() {
    NamedBuffers state;
    std::vector<Weight*> weights = model->weights();
    for (size_t i = 0; i < weights.size(); ++i) {
      state.emplace_back("adam/m/" + weights[i]->name, &moments[i]);
    }
    state.emplace_back("iterations", &iterations);
    return state;
  }
  // Every value, flattened, to compare states.
  std::vector<double> Snapshot() {
    std::vector<double> all;
    for (Weight* w : model->weights()) {
      for (int64_t e = 0; e < w->value.num_elements(); ++e) all.push_back(w->value.GetAsDouble(e));
    }
    for (const Buffer& m : moments) {
      for (int64_t e = 0; e < m.num_elements(); ++e) all.push_back(m.GetAsDouble(e));
    }
    all.push_back(iterations.GetAsDouble(0));
    return all;
  }

  std::unique_ptr<Model> model;
  std::vector<Buffer> moments;
  Buffer iterations;
};

std::vector<std::string> TempFilesFor(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string prefix = path.substr(path.rfind('/') + 1) + ".tmp.";
  std::vector<std::string> found;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name).rfind(prefix, 0) == 0) found.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  return found;
}

TEST(CheckpointTest, RoundTripsWeightsOptimizerStateAndEpoch) {
  Trainee t;
  const std::string path = TempPath("roundtrip_ckpt.npz");
  const std::vector<double> saved = t.Snapshot();
  const Buffer* moment0 = &t.moments[0];
  ASSERT_TRUE(SaveCheckpoint(path, *t.model, t.State(), 7).ok());

  auto entries = ReadNpz(path);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ((*entries)[0].first, "weights/hidden/kernel");
  ASSERT_NE(FindNpzEntry(*entries, "optimizer/adam/m/out/bias"), nullptr);
  ASSERT_NE(FindNpzEntry(*entries, "optimizer/iterations"), nullptr);
  EXPECT_EQ(FindNpzEntry(*entries, "epoch")->GetAsDouble(0), 7);

  t.Fill(3.0);
  ASSERT_NE(t.Snapshot(), saved);
  auto epoch = RestoreCheckpoint(path, *t.model, t.State());
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 7);
  EXPECT_EQ(t.Snapshot(), saved);
  EXPECT_EQ(&t.moments[0], moment0);  // restored in place
}

TEST(CheckpointTest, MismatchesAreErrorsThatChangeNothing) {
  Trainee t;
  const std::string path = TempPath("mismatch_ckpt.npz");
  ASSERT_TRUE(SaveCheckpoint(path, *t.model, t.State(), 2).ok());
  t.Fill(5.0);
  const std::vector<double> before = t.Snapshot();

  // An optimizer variable the file does not have.
  Buffer extra = Buffer::Zeros(DType::kF32, {3});
  NamedBuffers more = t.State();
  more.emplace_back("adam/v/extra", &extra);
  absl::StatusOr<int64_t> r = RestoreCheckpoint(path, *t.model, more);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("checkpoint has no 'optimizer/adam/v/extra' (f32[3])"));
  EXPECT_EQ(t.Snapshot(), before);

  // The file holds optimizer state the caller has not created yet.
  r = RestoreCheckpoint(path, *t.model, {});
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("does not have: optimizer/adam/m/hidden/kernel"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("compile the model"));
  EXPECT_EQ(t.Snapshot(), before);

  // A shape that differs.
  NpzEntries entries = *ReadNpz(path);
  for (auto& [key, value] : entries) {
    if (key == "weights/out/bias") value = Buffer::Zeros(DType::kF32, {9});
  }
  ASSERT_TRUE(WriteNpz(path, entries, false).ok());
  r = RestoreCheckpoint(path, *t.model, t.State());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("'weights/out/bias' is f32[9], expected f32[8]"));
  EXPECT_EQ(t.Snapshot(), before);

  // No epoch.
  entries = *ReadNpz(path);
  for (auto& [key, value] : entries) {
    if (key == "weights/out/bias") value = Buffer::Zeros(DType::kF32, {8});
  }
  ASSERT_EQ(entries.back().first, "epoch");
  entries.pop_back();
  ASSERT_TRUE(WriteNpz(path, entries, false).ok());
  r = RestoreCheckpoint(path, *t.model, t.State());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("needs 'epoch'"));
  EXPECT_EQ(t.Snapshot(), before);

  // A truncated file.
  std::string bytes = *ReadFileToString(path);
  ASSERT_TRUE(WriteFileAtomically(path, bytes.substr(0, bytes.size() / 2)).ok());
  r = RestoreCheckpoint(path, *t.model, t.State());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(t.Snapshot(), before);
}

// The new checkpoint (~37 KB) is bigger than this limit; the old one is
// already on disk, so only the new write crosses it.
constexpr rlim_t kFileSizeLimit = 16 * 1024;

// In a death-test child: saves the epoch-2 checkpoint under kFileSizeLimit.
// die_on_limit: SIGXFSZ kills the process mid-write. Otherwise the write
// fails with EFBIG; exits 0 when the save reported it, naming the file, and
// removed its temp file.
void WriteUnderFileSizeLimit(Trainee& t, const std::string& path, bool die_on_limit) {
  std::signal(SIGXFSZ, die_on_limit ? SIG_DFL : SIG_IGN);
  rlimit limit{kFileSizeLimit, kFileSizeLimit};
  setrlimit(RLIMIT_FSIZE, &limit);
  absl::Status s = SaveCheckpoint(path, *t.model, t.State(), 2);
  const bool reported = !s.ok() && std::string(s.message()).find(path) != std::string::npos;
  _exit(reported && TempFilesFor(path).empty() ? 0 : 1);
}

TEST(CheckpointTest, ProcessKilledMidWriteLeavesThePreviousCheckpoint) {
  Trainee t;
  const std::string path = TempPath("killed_ckpt.npz");
  ASSERT_TRUE(SaveCheckpoint(path, *t.model, t.State(), 1).ok());
  const std::vector<double> first = t.Snapshot();
  for (const std::string& stale : TempFilesFor(path)) unlink(stale.c_str());

  t.Fill(2.0);
  // The child writes the epoch-2 checkpoint; the kernel kills it (SIGXFSZ)
  // once its temp file reaches the limit, before any rename.
  EXPECT_EXIT(WriteUnderFileSizeLimit(t, path, /*die_on_limit=*/true),
              ::testing::KilledBySignal(SIGXFSZ), "");

  // It did write part of the new file...
  std::vector<std::string> partial = TempFilesFor(path);
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(ReadFileToString(partial[0])->size(), kFileSizeLimit);
  unlink(partial[0].c_str());
  // ...and the previous checkpoint is whole.
  auto epoch = RestoreCheckpoint(path, *t.model, t.State());
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 1);
  EXPECT_EQ(t.Snapshot(), first);
}

TEST(CheckpointTest, FailedWriteReportsAndLeavesThePreviousCheckpoint) {
  Trainee t;
  const std::string path = TempPath("failed_ckpt.npz");
  ASSERT_TRUE(SaveCheckpoint(path, *t.model, t.State(), 1).ok());
  const std::vector<double> first = t.Snapshot();
  t.Fill(2.0);
  // With SIGXFSZ ignored the write fails with EFBIG instead: the save must
  // return an error naming the file and remove its temp file.
  EXPECT_EXIT(WriteUnderFileSizeLimit(t, path, /*die_on_limit=*/false),
              ::testing::ExitedWithCode(0), "");
  auto epoch = RestoreCheckpoint(path, *t.model, t.State());
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 1);
  EXPECT_EQ(t.Snapshot(), first);
}

}  // namespace
}  // namespace kiln
