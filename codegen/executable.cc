#include "codegen/executable.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "codegen/thread_pool.h"
#include "graph/passes.h"
#include "graph/status_macros.h"
#include "graph/text.h"
#include "ops/catalog.h"

namespace kiln {

absl::string_view BackendName(Backend b) {
  switch (b) {
    case Backend::kInterp: return "interp";
  }
  return "?";
}

absl::StatusOr<Backend> BackendFromEnvironment() {
  const char* env = std::getenv("KILN_BACKEND");
  if (env == nullptr || absl::string_view(env).empty() ||
      absl::string_view(env) == "interp") {
    return Backend::kInterp;
  }
  if (absl::string_view(env) == "jit") {
    return absl::UnimplementedError(
        "KILN_BACKEND=jit: the LLVM JIT backend is not built yet (issue 3); "
        "use KILN_BACKEND=interp");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("KILN_BACKEND='", env, "' is not a backend (expected interp or jit)"));
}

Executable::~Executable() = default;

int Executable::num_threads() const { return pool_->num_threads(); }

absl::StatusOr<std::unique_ptr<Executable>> Executable::Compile(
    absl::Span<const Tensor> outputs, const ExecutableOptions& options) {
  if (outputs.empty()) return absl::InvalidArgumentError("Compile: no outputs");
  std::shared_ptr<Graph> source;
  std::vector<NodeId> ids;
  for (const Tensor& t : outputs) {
    if (!t.defined()) return absl::InvalidArgumentError("Compile: undefined output");
    KILN_RETURN_IF_ERROR(t.status());
    if (source != nullptr && t.graph() != source) {
      return absl::InvalidArgumentError("Compile: outputs come from different graphs");
    }
    source = t.graph();
    ids.push_back(t.id());
  }
  auto exe = std::unique_ptr<Executable>(new Executable());
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

absl::StatusOr<const Graph*> Executable::Specialization(int64_t batch) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_batch_.find(batch);
  if (it != by_batch_.end()) return it->second.get();
  std::shared_ptr<Graph> g = program_->Clone();
  KILN_RETURN_IF_ERROR(SpecializeBatch(*g, batch));
  KILN_RETURN_IF_ERROR(FoldConstants(*g, Ops()).status());
  KILN_RETURN_IF_ERROR(EliminateCommonSubexpressions(*g).status());
  KILN_RETURN_IF_ERROR(EliminateDeadCode(*g).status());
  KILN_RETURN_IF_ERROR(VerifyGraph(*g));
  const Graph* result = g.get();
  by_batch_.emplace(batch, std::move(g));
  return result;
}

absl::StatusOr<std::vector<Buffer>> Executable::Run(const Feeds& feeds) {
  KILN_ASSIGN_OR_RETURN(int64_t batch, BatchSizeOf(*program_, feeds));
  KILN_ASSIGN_OR_RETURN(const Graph* g, Specialization(batch > 0 ? batch : 1));
  return Evaluate(*g, g->outputs(), feeds, *pool_);
}

std::string Executable::ProgramText() const { return PrintGraph(*program_); }

absl::StatusOr<std::string> Executable::ProgramText(int64_t batch) {
  KILN_ASSIGN_OR_RETURN(const Graph* g, Specialization(batch));
  return PrintGraph(*g);
}

}  // namespace kiln
