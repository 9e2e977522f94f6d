// The recording side of the profiler: kernel descriptions, flop counts, the
// session stack and the per-step and per-chunk records (see
// profile_recorder_internal.h).
#include <algorithm>
#include <atomic>

#include "codegen/profile_recorder_internal.h"

namespace kiln {
namespace {

std::atomic<uint64_t> next_kernel_id{1};

thread_local ProfileRecorder* current_recorder = nullptr;

// The published recorders, newest last, and the newest for lock-free reads.
std::mutex published_mu;
std::vector<ProfileRecorder*>& Published() {
  static auto* published = new std::vector<ProfileRecorder*>();
  return *published;
}
std::atomic<ProfileRecorder*> global_recorder{nullptr};
// Runs in flight, counted per epoch: a Stop opens a new epoch and waits
// only for the runs of the old one, so runs that keep starting on other
// threads never hold it up.
std::atomic<uint64_t> run_epoch{0};
std::atomic<int64_t> runs_in_epoch[2];
std::mutex stop_mu;  // one epoch change at a time

int64_t BytesOf(const TensorType& t) { return t.shape.NumElements() * DTypeSize(t.dtype); }

void AppendOnce(std::vector<std::string>& list, const std::string& item) {
  if (!item.empty() && std::find(list.begin(), list.end(), item) == list.end()) {
    list.push_back(item);
  }
}

}  // namespace

int64_t NodeFlops(const Graph& graph, NodeId id) {
  const Node& n = graph.node(id);
  std::vector<TensorType> inputs;
  for (NodeId in : n.inputs) inputs.push_back(graph.node(in).type);
  if (n.op->flops != nullptr) return n.op->flops(inputs, n.type, n.attrs);
  switch (n.op->fusion) {
    case FusionKind::kElementwise:
      return n.type.shape.NumElements();
    case FusionKind::kReduction:
      return inputs.empty() ? 0 : inputs[0].shape.NumElements();
    case FusionKind::kContraction: {
      if (n.op->contraction == nullptr) return 0;
      absl::StatusOr<GemmProblem> gemm = n.op->contraction(inputs, n.type, n.attrs);
      if (!gemm.ok()) return 0;
      int64_t flops = 2 * gemm->m * gemm->n * gemm->k;
      for (const GemmBatchDim& b : gemm->batch) flops *= b.size;
      return flops;
    }
    default:
      return 0;
  }
}

KernelProfileInfo DescribeKernel(const Graph& graph, std::string name, std::string kind,
                                 absl::Span<const NodeId> nodes, absl::Span<const NodeId> reads,
                                 absl::Span<const NodeId> writes) {
  KernelProfileInfo info;
  info.id = next_kernel_id.fetch_add(1, std::memory_order_relaxed);
  info.name = std::move(name);
  info.kind = std::move(kind);
  for (NodeId id : nodes) {
    const Node& n = graph.node(id);
    if (n.op->fusion == FusionKind::kSource) continue;
    AppendOnce(info.layers, n.layer);
    AppendOnce(info.ops, std::string(n.op->name));
    info.flops += NodeFlops(graph, id);
  }
  for (NodeId id : reads) info.bytes += BytesOf(graph.node(id).type);
  for (NodeId id : writes) info.bytes += BytesOf(graph.node(id).type);
  return info;
}

// One thread's records: its rows (kernel id -> calls and time, with a
// copy of the kernel's description, which may outlive its program) and
// its events.
struct ProfileRecorder::ThreadLog {
  struct Row {
    KernelProfileInfo info;
    int64_t calls = 0, total_ns = 0;
  };
  struct Event {
    ProfileEvent::Kind kind;
    uint64_t kernel;  // id; 0 for a run
    int64_t start_ns, end_ns, batch;
  };
  int lane = 0;
  absl::flat_hash_map<uint64_t, Row> rows;
  std::vector<Event> events;
  int64_t runs = 0, run_ns = 0, dropped = 0;

  void Add(const Event& e) {
    if (static_cast<int64_t>(events.size()) >= ProfileSession::kMaxEvents) {
      ++dropped;
    } else {
      events.push_back(e);
    }
  }
};

namespace {

std::atomic<uint64_t> next_recorder_serial{1};

// This thread's last log: recorders rarely change on a thread.
struct CachedLog {
  uint64_t serial = 0;
  ProfileRecorder::ThreadLog* log = nullptr;
};
thread_local CachedLog cached_log;

}  // namespace

ProfileRecorder::ProfileRecorder()
    : serial_(next_recorder_serial.fetch_add(1, std::memory_order_relaxed)),
      start_ns_(ProfileClockNs()) {}

ProfileRecorder::~ProfileRecorder() = default;

ProfileRecorder::ThreadLog& ProfileRecorder::Log() {
  if (cached_log.serial == serial_) return *cached_log.log;
  std::lock_guard<std::mutex> lock(mu_);
  ThreadLog*& log = log_of_thread_[std::this_thread::get_id()];
  if (log == nullptr) {
    logs_.push_back(std::make_unique<ThreadLog>());
    log = logs_.back().get();
    log->lane = static_cast<int>(logs_.size()) - 1;
    log->events.reserve(4096);
  }
  cached_log = {serial_, log};
  return *log;
}

void ProfileRecorder::Record(const KernelProfileInfo& info, ProfileEvent::Kind kind,
                             int64_t start_ns, int64_t end_ns) {
  ThreadLog& log = Log();
  if (kind == ProfileEvent::kStep) {
    auto [it, inserted] = log.rows.try_emplace(info.id);
    if (inserted) it->second.info = info;
    ++it->second.calls;
    it->second.total_ns += end_ns - start_ns;
  }
  log.Add({kind, info.id, start_ns, end_ns, 0});
}

void ProfileRecorder::RecordRun(int64_t batch, int64_t start_ns, int64_t end_ns) {
  ThreadLog& log = Log();
  ++log.runs;
  log.run_ns += end_ns - start_ns;
  log.Add({ProfileEvent::kRun, 0, start_ns, end_ns, batch});
}

ProfileReport ProfileRecorder::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  ProfileReport report;
  report.session_ns = ProfileClockNs() - start_ns_;
  // Rows summed over threads (a kernel first seen on a worker thread, as a
  // chunk only, still gets its row), longest total time first.
  absl::flat_hash_map<uint64_t, KernelProfile> by_id;
  std::vector<uint64_t> ids;
  auto row_of = [&](const ThreadLog::Row& r) -> KernelProfile& {
    auto [it, inserted] = by_id.try_emplace(r.info.id);
    if (inserted) {
      ids.push_back(r.info.id);
      it->second.name = r.info.name;
      it->second.kind = r.info.kind;
      it->second.layers = r.info.layers;
      it->second.ops = r.info.ops;
      it->second.bytes_per_call = r.info.bytes;
      it->second.flops_per_call = r.info.flops;
    }
    return it->second;
  };
  for (const auto& log : logs_) {
    report.runs += log->runs;
    report.run_ns += log->run_ns;
    report.dropped_events += log->dropped;
    for (const auto& [id, row] : log->rows) {
      KernelProfile& k = row_of(row);
      k.calls += row.calls;
      k.total_ns += row.total_ns;
    }
  }
  std::stable_sort(ids.begin(), ids.end(), [&](uint64_t a, uint64_t b) {
    return by_id[a].total_ns > by_id[b].total_ns || (by_id[a].total_ns == by_id[b].total_ns && a < b);
  });
  absl::flat_hash_map<uint64_t, int> index;
  for (uint64_t id : ids) {
    index[id] = static_cast<int>(report.kernels.size());
    report.kernels.push_back(std::move(by_id[id]));
  }
  for (const auto& log : logs_) {
    for (const ThreadLog::Event& e : log->events) {
      auto it = index.find(e.kernel);
      if (e.kind != ProfileEvent::kRun && it == index.end()) continue;  // chunk of an unseen step
      report.events.push_back(ProfileEvent{.kind = e.kind,
                                           .kernel = e.kind == ProfileEvent::kRun ? -1 : it->second,
                                           .lane = log->lane,
                                           .start_ns = e.start_ns - start_ns_,
                                           .duration_ns = e.end_ns - e.start_ns,
                                           .batch = e.batch});
    }
  }
  std::stable_sort(report.events.begin(), report.events.end(),
                   [](const ProfileEvent& a, const ProfileEvent& b) {
                     return a.start_ns + a.duration_ns < b.start_ns + b.duration_ns;
                   });
  return report;
}

ProfileRecorder* CurrentRecorder() { return current_recorder; }

void PublishRecorder(ProfileRecorder* recorder) {
  std::lock_guard<std::mutex> lock(published_mu);
  Published().push_back(recorder);
  global_recorder.store(recorder);
}

void WithdrawRecorder(ProfileRecorder* recorder) {
  std::lock_guard<std::mutex> lock(published_mu);
  std::vector<ProfileRecorder*>& published = Published();
  published.erase(std::remove(published.begin(), published.end(), recorder), published.end());
  global_recorder.store(published.empty() ? nullptr : published.back());
}

void WaitForRunsInFlight() {
  std::lock_guard<std::mutex> lock(stop_mu);
  const uint64_t old_epoch = run_epoch.fetch_add(1);
  while (runs_in_epoch[old_epoch & 1].load() != 0) std::this_thread::yield();
}

ProfiledRun::ProfiledRun(const ProfileSession* attached, int64_t batch)
    : outer_(current_recorder), batch_(batch) {
  while (true) {
    const uint64_t epoch = run_epoch.load();
    runs_in_epoch[epoch & 1].fetch_add(1);
    if (run_epoch.load() == epoch) {
      epoch_slot_ = static_cast<int>(epoch & 1);
      break;
    }
    runs_in_epoch[epoch & 1].fetch_sub(1);  // a Stop began: count in the new epoch
  }
  recorder_ = attached != nullptr ? attached->recorder() : nullptr;
  if (recorder_ == nullptr) recorder_ = global_recorder.load();
  current_recorder = recorder_;
  if (recorder_ != nullptr) start_ns_ = ProfileClockNs();
}

ProfiledRun::~ProfiledRun() {
  if (recorder_ != nullptr) recorder_->RecordRun(batch_, start_ns_, ProfileClockNs());
  current_recorder = outer_;
  runs_in_epoch[epoch_slot_].fetch_sub(1);
}

void ChunkRecordingParallelism::For(int64_t n, int64_t grain,
                                    absl::FunctionRef<void(int64_t, int64_t)> fn) const {
  if (recorder_ == nullptr || step_ == nullptr) {
    inner_.For(n, grain, fn);
    return;
  }
  ProfileRecorder* recorder = recorder_;
  const KernelProfileInfo* step = step_;
  inner_.For(n, grain, [&](int64_t begin, int64_t end) {
    const int64_t start = ProfileClockNs();
    fn(begin, end);
    recorder->Record(*step, ProfileEvent::kChunk, start, ProfileClockNs());
  });
}

}  // namespace kiln
