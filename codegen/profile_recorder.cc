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
std::atomic<int64_t> runs_in_flight{0};

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

int ProfileRecorder::Lane() {
  const auto [it, inserted] =
      lane_of_thread_.try_emplace(std::this_thread::get_id(), lane_of_thread_.size());
  return it->second;
}

void ProfileRecorder::Record(const KernelProfileInfo& info, ProfileEvent::Kind kind,
                             int64_t start_ns, int64_t end_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto [it, inserted] = row_of_kernel_.try_emplace(info.id, rows_.size());
  if (inserted) {
    KernelProfile row;
    row.name = info.name;
    row.kind = info.kind;
    row.layers = info.layers;
    row.ops = info.ops;
    row.bytes_per_call = info.bytes;
    row.flops_per_call = info.flops;
    rows_.push_back(std::move(row));
  }
  if (kind == ProfileEvent::kStep) {
    ++rows_[it->second].calls;
    rows_[it->second].total_ns += end_ns - start_ns;
  }
  if (static_cast<int64_t>(report_.events.size()) >= ProfileSession::kMaxEvents) {
    ++report_.dropped_events;
    return;
  }
  report_.events.push_back(ProfileEvent{.kind = kind,
                                        .kernel = it->second,
                                        .lane = Lane(),
                                        .start_ns = start_ns - start_ns_,
                                        .duration_ns = end_ns - start_ns});
}

void ProfileRecorder::RecordRun(int64_t batch, int64_t start_ns, int64_t end_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  ++report_.runs;
  report_.run_ns += end_ns - start_ns;
  if (static_cast<int64_t>(report_.events.size()) >= ProfileSession::kMaxEvents) {
    ++report_.dropped_events;
    return;
  }
  report_.events.push_back(ProfileEvent{.kind = ProfileEvent::kRun,
                                        .kernel = -1,
                                        .lane = Lane(),
                                        .start_ns = start_ns - start_ns_,
                                        .duration_ns = end_ns - start_ns,
                                        .batch = batch});
}

ProfileReport ProfileRecorder::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  ProfileReport report = report_;
  report.session_ns = ProfileClockNs() - start_ns_;
  // Rows by total time, longest first; events follow their rows.
  std::vector<int> order(rows_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return rows_[a].total_ns > rows_[b].total_ns; });
  std::vector<int> new_index(rows_.size());
  for (size_t i = 0; i < order.size(); ++i) {
    new_index[order[i]] = static_cast<int>(i);
    report.kernels.push_back(rows_[order[i]]);
  }
  for (ProfileEvent& e : report.events) {
    if (e.kernel >= 0) e.kernel = new_index[e.kernel];
  }
  return report;
}

ProfileRecorder* CurrentRecorder() { return current_recorder; }

void PublishRecorder(ProfileRecorder* recorder) {
  std::lock_guard<std::mutex> lock(published_mu);
  Published().push_back(recorder);
  global_recorder.store(recorder, std::memory_order_release);
}

void WithdrawRecorder(ProfileRecorder* recorder) {
  std::lock_guard<std::mutex> lock(published_mu);
  std::vector<ProfileRecorder*>& published = Published();
  published.erase(std::remove(published.begin(), published.end(), recorder), published.end());
  global_recorder.store(published.empty() ? nullptr : published.back(),
                        std::memory_order_release);
}

void WaitForRunsInFlight() {
  while (runs_in_flight.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

ProfiledRun::ProfiledRun(ProfileRecorder* attached, int64_t batch)
    : outer_(current_recorder), batch_(batch) {
  runs_in_flight.fetch_add(1, std::memory_order_acq_rel);
  recorder_ = attached != nullptr ? attached : global_recorder.load(std::memory_order_acquire);
  current_recorder = recorder_;
  if (recorder_ != nullptr) start_ns_ = ProfileClockNs();
}

ProfiledRun::~ProfiledRun() {
  if (recorder_ != nullptr) recorder_->RecordRun(batch_, start_ns_, ProfileClockNs());
  current_recorder = outer_;
  runs_in_flight.fetch_sub(1, std::memory_order_acq_rel);
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
