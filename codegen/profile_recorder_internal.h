// The recording side of the profiler (profiler.h is the user's side): what
// the JIT program and the interpreter call around each step.
//
// A program describes each of its kernels once, when it is built
// (DescribeKernel: name, kind, bytes, flops, origin layers and ops). At run
// time Executable::RunInto makes the session's recorder current on its
// thread (ProfiledRun), and the program times each step with a StepTimer;
// with no session both cost one null test. Thread-pool chunks are timed by
// running the step's loops through a ChunkRecordingParallelism.
//
//   ProfileRecorder* recorder = CurrentRecorder();
//   ChunkRecordingParallelism recording(pool, recorder);
//   const Parallelism& parallel = recorder != nullptr ? recording : pool;
//   { StepTimer timer(recorder, info, recording); parallel.For(...); }
#ifndef KILN_CODEGEN_PROFILE_RECORDER_INTERNAL_H_
#define KILN_CODEGEN_PROFILE_RECORDER_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "codegen/profiler.h"
#include "graph/graph.h"

namespace kiln {

// What a kernel is, fixed when its program is built.
struct KernelProfileInfo {
  uint64_t id = 0;  // unique in the process
  std::string name, kind;
  std::vector<std::string> layers, ops;
  int64_t bytes = 0, flops = 0;
};

// Describes the kernel that runs `nodes` of `graph`, reading `reads` and
// writing `writes` (bytes: their sizes; flops: NodeFlops of each node).
KernelProfileInfo DescribeKernel(const Graph& graph, std::string name, std::string kind,
                                 absl::Span<const NodeId> nodes, absl::Span<const NodeId> reads,
                                 absl::Span<const NodeId> writes);

// The floating-point operations of one node: the op's `flops` rule if it
// has one; else one per output element (elementwise), one per input
// element (reductions), 2mnk per GEMM (ops with a `contraction` rule),
// none for the rest (sources, index maps, opaque ops).
int64_t NodeFlops(const Graph& graph, NodeId id);

inline int64_t ProfileClockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Records into one log per thread, so threads never wait for each other:
// a thread finds its log through a thread-local cache and appends to it
// without a lock. Snapshot merges the logs; it runs once no run is in
// flight (ProfileSession::Stop waits for them).
class ProfileRecorder {
 public:
  ProfileRecorder();
  ~ProfileRecorder();
  // A step (or chunk) of `info` ran on this thread from `start` to `end`.
  void Record(const KernelProfileInfo& info, ProfileEvent::Kind kind, int64_t start_ns,
              int64_t end_ns);
  void RecordRun(int64_t batch, int64_t start_ns, int64_t end_ns);
  // The report so far (without the roofline).
  ProfileReport Snapshot() const;

  struct ThreadLog;

 private:
  ThreadLog& Log();  // this thread's

  const uint64_t serial_;  // unique in the process (addresses get reused)
  const int64_t start_ns_;
  mutable std::mutex mu_;  // guards logs_ (not their contents)
  std::vector<std::unique_ptr<ThreadLog>> logs_;
  absl::flat_hash_map<std::thread::id, ThreadLog*> log_of_thread_;
};

// Publishes / withdraws a kEveryExecutable session's recorder; the newest
// published one records.
void PublishRecorder(ProfileRecorder* recorder);
void WithdrawRecorder(ProfileRecorder* recorder);
// The recorder of the run in progress on this thread, or null.
ProfileRecorder* CurrentRecorder();

// One Executable run: records into the `attached` session (if any and
// still active) or else the global session, makes that recorder current on
// this thread for the scope and records the run itself. A session's Stop
// withdraws its recorder, then waits for the runs in flight, so a recorder
// never dies under a run (the run counts and the recorder pointers are
// sequentially consistent: a run is either waited for or sees no recorder).
class ProfiledRun {
 public:
  ProfiledRun(const ProfileSession* attached, int64_t batch);
  ~ProfiledRun();
  ProfiledRun(const ProfiledRun&) = delete;
  ProfiledRun& operator=(const ProfiledRun&) = delete;
  ProfileRecorder* recorder() const { return recorder_; }

 private:
  ProfileRecorder* recorder_;
  ProfileRecorder* outer_;
  int64_t batch_;
  int64_t start_ns_ = 0;
  int epoch_slot_ = 0;
};

// Waits until every ProfiledRun that started before the call has ended
// (Stop calls it after withdrawing its recorder); later runs do not count.
void WaitForRunsInFlight();

// Runs loops through `inner`, recording each chunk of the current step.
class ChunkRecordingParallelism final : public Parallelism {
 public:
  ChunkRecordingParallelism(const Parallelism& inner, ProfileRecorder* recorder)
      : inner_(inner), recorder_(recorder) {}
  int num_threads() const override { return inner_.num_threads(); }
  void For(int64_t n, int64_t grain,
           absl::FunctionRef<void(int64_t, int64_t)> fn) const override;
  void set_step(const KernelProfileInfo* step) { step_ = step; }

 private:
  const Parallelism& inner_;
  ProfileRecorder* recorder_;
  const KernelProfileInfo* step_ = nullptr;
};

// Times one step when `recorder` is not null.
class StepTimer {
 public:
  StepTimer(ProfileRecorder* recorder, const KernelProfileInfo& info,
            ChunkRecordingParallelism& chunks)
      : recorder_(recorder), info_(info) {
    if (recorder_ == nullptr) return;
    chunks.set_step(&info);
    start_ns_ = ProfileClockNs();
  }
  ~StepTimer() {
    if (recorder_ != nullptr) recorder_->Record(info_, ProfileEvent::kStep, start_ns_, ProfileClockNs());
  }
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

 private:
  ProfileRecorder* recorder_;
  const KernelProfileInfo& info_;
  int64_t start_ns_ = 0;
};

}  // namespace kiln

#endif  // KILN_CODEGEN_PROFILE_RECORDER_INTERNAL_H_
