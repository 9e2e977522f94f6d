#include "codegen/executable.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "codegen/jit_program.h"
#include "codegen/profile_recorder_internal.h"
#include "codegen/profiler.h"
#include "codegen/thread_pool.h"
#include "graph/passes.h"
#include "graph/status_macros.h"
#include "graph/text.h"
#include "ops/catalog.h"

namespace kiln {

absl::string_view BackendName(Backend b) {
  switch (b) {
    case Backend::kJit: return "jit";
    case Backend::kInterp: return "interp";
  }
  return "?";
}

absl::StatusOr<Backend> BackendFromEnvironment() {
  const char* env = std::getenv("KILN_BACKEND");
  const absl::string_view name = env == nullptr ? "" : env;
  if (name.empty() || name == "jit") return Backend::kJit;
  if (name == "interp") return Backend::kInterp;
  return absl::InvalidArgumentError(
      absl::StrCat("KILN_BACKEND='", name, "' is not a backend (expected jit or interp)"));
}

namespace {

// The updates worth running (a variable set to itself is dropped), or why
// they are not valid: the target must be a fed node, updated once, the new
// value must have its type and must not be another updated variable (the
// order of the writes would matter).
absl::StatusOr<std::vector<VariableUpdate>> CheckUpdates(
    absl::Span<const VariableUpdate> updates) {
  std::vector<VariableUpdate> kept;
  absl::flat_hash_map<std::string, NodeId> targets;
  for (const VariableUpdate& u : updates) {
    if (!u.variable.ok() || !u.value.ok()) continue;  // Compile reports it
    const Node& var = u.variable.graph()->node(u.variable.id());
    if (!IsFed(var)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Compile: an update must target a variable or input, not [", var.op->name, "]"));
    }
    const std::string name = var.attrs.GetOr<std::string>("name", "");
    const TensorType& value_type = u.value.graph()->node(u.value.id()).type;
    if (u.value.graph() == u.variable.graph() && !(value_type == var.type)) {
      return absl::InvalidArgumentError(absl::StrCat("Compile: the update of '", name,
                                                     "' expects ", var.type.ToString(),
                                                     ", got ", value_type.ToString()));
    }
    if (!targets.emplace(name, u.variable.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("Compile: variable '", name, "' is updated twice"));
    }
    if (u.value.id() != u.variable.id()) kept.push_back(u);
  }
  for (const VariableUpdate& u : kept) {
    const Node& value = u.value.graph()->node(u.value.id());
    if (!IsFed(value)) continue;
    auto it = targets.find(value.attrs.GetOr<std::string>("name", ""));
    if (it != targets.end() && it->second == u.value.id()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Compile: the new value of '",
          u.variable.graph()->node(u.variable.id()).attrs.GetOr<std::string>("name", ""),
          "' is variable '", it->first, "', which is updated too"));
    }
  }
  return kept;
}

}  // namespace

struct Executable::Specialized {
  std::shared_ptr<Graph> graph;
  std::unique_ptr<JitProgram> jit;  // JIT backend only
  std::vector<KernelProfileInfo> node_profile;  // interpreter: per node id
};

namespace {

// Each interpreter node as a profiled kernel.
std::vector<KernelProfileInfo> DescribeNodes(const Graph& g) {
  std::vector<KernelProfileInfo> nodes;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    std::string name = absl::StrCat(n.layer, n.layer.empty() ? "" : "/", n.op->name, "_", id);
    nodes.push_back(DescribeKernel(g, std::move(name), "interp", {id}, n.inputs, {id}));
  }
  return nodes;
}

// Times the interpreter's nodes and their thread-pool chunks.
class NodeTimer final : public NodeObserver {
 public:
  NodeTimer(ProfileRecorder* recorder, const std::vector<KernelProfileInfo>& nodes,
            ChunkRecordingParallelism& chunks)
      : recorder_(recorder), nodes_(nodes), chunks_(chunks) {}
  void KernelStarts(NodeId id) override {
    chunks_.set_step(&nodes_[id]);
    start_ns_ = ProfileClockNs();
  }
  void KernelEnds(NodeId id) override {
    recorder_->Record(nodes_[id], ProfileEvent::kStep, start_ns_, ProfileClockNs());
  }

 private:
  ProfileRecorder* recorder_;
  const std::vector<KernelProfileInfo>& nodes_;
  ChunkRecordingParallelism& chunks_;
  int64_t start_ns_ = 0;
};

}  // namespace

Executable::~Executable() = default;

int Executable::num_threads() const { return pool_->num_threads(); }

absl::StatusOr<std::unique_ptr<Executable>> Executable::Compile(
    absl::Span<const Tensor> outputs, const ExecutableOptions& options,
    absl::Span<const VariableUpdate> updates) {
  if (outputs.empty() && updates.empty()) {
    return absl::InvalidArgumentError("Compile: no outputs");
  }
  std::shared_ptr<Graph> source;
  std::vector<NodeId> ids;
  auto add = [&](const Tensor& t, absl::string_view what) -> absl::Status {
    if (!t.defined()) return absl::InvalidArgumentError(absl::StrCat("Compile: undefined ", what));
    KILN_RETURN_IF_ERROR(t.status());
    if (source != nullptr && t.graph() != source) {
      return absl::InvalidArgumentError("Compile: outputs come from different graphs");
    }
    source = t.graph();
    return absl::OkStatus();
  };
  for (const Tensor& t : outputs) {
    KILN_RETURN_IF_ERROR(add(t, "output"));
    ids.push_back(t.id());
  }
  auto exe = std::unique_ptr<Executable>(new Executable());
  exe->num_results_ = static_cast<int>(ids.size());
  KILN_ASSIGN_OR_RETURN(std::vector<VariableUpdate> kept, CheckUpdates(updates));
  for (const VariableUpdate& u : kept) {
    KILN_RETURN_IF_ERROR(add(u.variable, "update variable"));
    KILN_RETURN_IF_ERROR(add(u.value, "update value"));
    const Node& var = source->node(u.variable.id());
    exe->update_names_.push_back(var.attrs.GetOr<std::string>("name", ""));
    exe->update_types_.push_back(var.type);
    ids.push_back(u.value.id());
  }
  if (options.backend.has_value()) {
    exe->backend_ = *options.backend;
  } else {
    KILN_ASSIGN_OR_RETURN(exe->backend_, BackendFromEnvironment());
  }
  if (options.num_threads > 0) {
    exe->own_pool_ = std::make_unique<ThreadPool>(options.num_threads);
    exe->pool_ = exe->own_pool_.get();
  } else {
    exe->pool_ = &ThreadPool::Default();
  }
  exe->program_ = source->Clone();
  exe->program_->outputs() = ids;
  Graph& g = *exe->program_;
  KILN_RETURN_IF_ERROR(EliminateDeadCode(g).status());
  KILN_RETURN_IF_ERROR(EliminateCommonSubexpressions(g).status());
  KILN_RETURN_IF_ERROR(EliminateDeadCode(g).status());
  KILN_RETURN_IF_ERROR(VerifyGraph(g));
  return exe;
}

absl::StatusOr<Executable::Specialized*> Executable::Specialization(int64_t batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_batch_.find(batch);
  if (it != by_batch_.end()) return it->second.get();
  auto spec = std::make_unique<Specialized>();
  spec->graph = program_->Clone();
  Graph& g = *spec->graph;
  KILN_RETURN_IF_ERROR(SpecializeBatch(g, batch));
  KILN_RETURN_IF_ERROR(FoldConstants(g, Ops()).status());
  KILN_RETURN_IF_ERROR(EliminateCommonSubexpressions(g).status());
  KILN_RETURN_IF_ERROR(EliminateInverseIndexMaps(g).status());
  KILN_RETURN_IF_ERROR(EliminateDeadCode(g).status());
  KILN_RETURN_IF_ERROR(VerifyGraph(g));
  if (backend_ == Backend::kInterp) spec->node_profile = DescribeNodes(g);
  if (backend_ == Backend::kJit) {
    KILN_ASSIGN_OR_RETURN(spec->jit, JitProgram::Build(spec->graph, *pool_, update_names_));
    const char* explain = std::getenv("KILN_EXPLAIN_FUSION");
    if (explain != nullptr && absl::string_view(explain) == "1") {
      std::fprintf(stderr, "kiln: fusion plan (batch %lld)\n%s", static_cast<long long>(batch),
                   spec->jit->ToString().c_str());
    }
  }
  Specialized* result = spec.get();
  by_batch_.emplace(batch, std::move(spec));
  return result;
}

absl::Status Executable::RunInto(const Feeds& feeds, std::vector<Buffer>& outputs) {
  return RunInto(feeds, {}, outputs);
}

absl::Status Executable::RunInto(const Feeds& feeds, const MutableFeeds& variables,
                                 std::vector<Buffer>& outputs) {
  std::vector<Buffer*> targets;
  Feeds merged;  // the feeds plus the updated variables (when there are any)
  if (!update_names_.empty()) merged = feeds;
  const Feeds& all = update_names_.empty() ? feeds : merged;
  for (size_t k = 0; k < update_names_.size(); ++k) {
    const std::string& name = update_names_[k];
    auto it = variables.find(name);
    if (it == variables.end() || it->second == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("Run: no buffer passed for updated variable '", name, "'"));
    }
    const Buffer& b = *it->second;
    if (b.dtype() != update_types_[k].dtype || b.shape() != update_types_[k].shape) {
      return absl::InvalidArgumentError(absl::StrCat("Run: variable '", name, "' expects ",
                                                     update_types_[k].ToString(), ", got ",
                                                     DTypeName(b.dtype()), b.shape().ToString()));
    }
    targets.push_back(it->second);
    merged[name] = it->second;
  }
  KILN_ASSIGN_OR_RETURN(int64_t batch, BatchSizeOf(*program_, all));
  KILN_ASSIGN_OR_RETURN(Specialized* spec, Specialization(batch > 0 ? batch : 1));
  ProfiledRun run(attached_profiler_, batch);
  if (spec->jit != nullptr) return spec->jit->Run(all, outputs, targets);
  if (run.recorder() == nullptr) {
    KILN_ASSIGN_OR_RETURN(outputs, Evaluate(*spec->graph, spec->graph->outputs(), all, *pool_));
  } else {
    ChunkRecordingParallelism recording(*pool_, run.recorder());
    NodeTimer timer(run.recorder(), spec->node_profile, recording);
    KILN_ASSIGN_OR_RETURN(outputs,
                          Evaluate(*spec->graph, spec->graph->outputs(), all, recording, &timer));
  }
  // Every value is computed before any variable changes.
  for (size_t k = 0; k < targets.size(); ++k) {
    const Buffer& value = outputs[num_results_ + k];
    std::memcpy(targets[k]->raw(), value.raw(), value.size_bytes());
  }
  outputs.resize(num_results_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Buffer>> Executable::Run(const Feeds& feeds,
                                                    const MutableFeeds& variables) {
  std::vector<Buffer> outputs;
  KILN_RETURN_IF_ERROR(RunInto(feeds, variables, outputs));
  return outputs;
}

std::string Executable::ProgramText() const { return PrintGraph(*program_); }

absl::StatusOr<std::string> Executable::ProgramText(int64_t batch) {
  KILN_ASSIGN_OR_RETURN(Specialized* spec, Specialization(batch));
  std::string text = PrintGraph(*spec->graph);
  if (spec->jit != nullptr) text += spec->jit->ToString();
  return text;
}

}  // namespace kiln
