// Profiler: where the time of a compiled step goes, kernel by kernel.
//
// While a ProfileSession is active, every Executable run records each step
// it runs: each fused JIT kernel, GEMM kernel and library step of a JIT
// program, or each node of the interpreter, with its wall time, the bytes it
// reads and writes and the flops it does; the thread-pool chunks of a step
// are recorded on per-thread lanes for the trace. Stop() returns a report:
// one row per kernel (calls, total and mean time, achieved GB/s and GFLOP/s,
// % of the machine's roofline, the layers and ops it was fused from) as a
// table sorted by time, and a Chrome trace (Trace Event Format JSON, for
// Perfetto or chrome://tracing). Profiling never changes kernel code; it
// costs two clock reads and an append to a per-thread log per step and per
// chunk.
//
//   ProfileSession session;                 // records every Executable
//   for (int i = 0; i < 10; ++i) KILN_RETURN_IF_ERROR(exe->RunInto(feeds, out));
//   ProfileReport report = session.Stop();
//   std::cout << report.Table();
//   KILN_RETURN_IF_ERROR(report.WriteChromeTrace("step.trace.json"));
//
// To profile one Executable only: ProfileSession s(ProfileSession::kAttachedOnly);
// exe->AttachProfiler(&s); ... s.Stop();
#ifndef KILN_CODEGEN_PROFILER_H_
#define KILN_CODEGEN_PROFILER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "codegen/roofline.h"

namespace kiln {

class ProfileRecorder;

// One kernel (or interpreter node) of a report.
struct KernelProfile {
  std::string name;  // the kernel symbol, or "<layer>/<op>_<node id>" for the interpreter
  std::string kind;  // "fused", "gemm", "library" (JIT program) or "interp"
  std::vector<std::string> layers;  // origin layers, in program order
  std::vector<std::string> ops;     // ops fused into it, in program order
  int64_t calls = 0;
  int64_t total_ns = 0;
  int64_t bytes_per_call = 0;  // inputs read + outputs written
  int64_t flops_per_call = 0;

  double mean_us() const { return calls == 0 ? 0 : total_ns / 1e3 / calls; }
  double gbps() const;    // achieved bytes per ns
  double gflops() const;  // achieved flops per ns
  // The roofline bound over the time taken, in percent (0 when unknown).
  double roofline_percent(const Roofline& roofline) const;
};

// A span of the trace: a run, a kernel step or a thread-pool chunk.
struct ProfileEvent {
  enum Kind { kRun, kStep, kChunk };
  Kind kind = kStep;
  int kernel = -1;  // index into ProfileReport::kernels (kRun: -1)
  int lane = 0;     // the thread that ran it, numbered from 0 in order of appearance
  int64_t start_ns = 0;  // since the session started
  int64_t duration_ns = 0;
  int64_t batch = 0;  // kRun: the batch size
};

struct ProfileReport {
  std::vector<KernelProfile> kernels;  // by total time, longest first
  std::vector<ProfileEvent> events;    // in the order they ended
  int64_t runs = 0;                    // Executable runs recorded
  int64_t run_ns = 0;                  // their total wall time
  int64_t session_ns = 0;              // the session's wall time
  int64_t dropped_events = 0;          // past the trace's event limit
  Roofline roofline;                   // zero limits when unknown

  // The table, longest total time first (`max_rows` > 0: only those).
  std::string Table(int max_rows = 0) const;
  // Trace Event Format JSON: complete events ("ph": "X", µs) per lane.
  std::string ChromeTraceJson() const;
  // Writes ChromeTraceJson() to `path` atomically (temp file + rename).
  absl::Status WriteChromeTrace(const std::string& path) const;
};

class ProfileSession {
 public:
  enum Scope {
    kEveryExecutable,  // records every Executable run while active
    kAttachedOnly,     // records only Executables given to AttachProfiler
  };
  // Sessions of kEveryExecutable nest: the newest records until it stops.
  explicit ProfileSession(Scope scope = kEveryExecutable);
  ~ProfileSession();  // stops if still active
  ProfileSession(const ProfileSession&) = delete;
  ProfileSession& operator=(const ProfileSession&) = delete;

  // Stops recording and returns what was recorded; it waits for runs in
  // flight on other threads to end. A second Stop returns an empty report.
  ProfileReport Stop();
  bool active() const { return live_.load() != nullptr; }
  // What an attached Executable records into (null once stopping).
  ProfileRecorder* recorder() const { return live_.load(); }

  // At most this many trace events are kept per thread (the table counts
  // every call).
  static constexpr int64_t kMaxEvents = 1 << 20;

 private:
  Scope scope_;
  std::unique_ptr<ProfileRecorder> recorder_;
  std::atomic<ProfileRecorder*> live_;  // recorder_ until Stop begins
};

}  // namespace kiln

#endif  // KILN_CODEGEN_PROFILER_H_
