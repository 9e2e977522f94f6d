#include "codegen/jit_program.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "codegen/buffer_plan.h"
#include "codegen/gemm_emitter_internal.h"
#include "codegen/jit_internal.h"
#include "codegen/kernel_emitter_internal.h"
#include "graph/status_macros.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

namespace kiln {
namespace {

// Elements of work per thread-pool task, at least.
constexpr int64_t kElementsPerTask = 1 << 15;

// Multiply-adds per thread-pool task of a GEMM, at least.
constexpr int64_t kMultiplyAddsPerTask = 1 << 20;

int64_t LoopElements(const KernelSchedule& s) {
  int64_t n = 1;
  for (int64_t d : s.dims) n *= d;
  return n;
}

// The calling thread's GEMM packing buffer, grown to `bytes` the first time
// a kernel needs more and then reused: a steady-state run allocates nothing.
char* ThreadScratch(int64_t bytes) {
  thread_local std::unique_ptr<char, void (*)(void*)> buffer{nullptr, std::free};
  thread_local int64_t size = 0;
  if (size < bytes) {
    const int64_t rounded = (bytes + 63) / 64 * 64;
    buffer.reset(static_cast<char*>(std::aligned_alloc(64, rounded)));
    KILN_CHECK_MSG(buffer != nullptr, "cannot allocate GEMM packing scratch");
    size = rounded;
  }
  return buffer.get();
}

}  // namespace

absl::StatusOr<std::unique_ptr<JitProgram>> JitProgram::Build(
    std::shared_ptr<const Graph> graph, const Parallelism& parallel,
    absl::Span<const std::string> updated_variables) {
  auto program = std::unique_ptr<JitProgram>(new JitProgram(std::move(graph), parallel));
  program->updated_variables_.assign(updated_variables.begin(), updated_variables.end());
  const Graph& g = *program->graph_;
  KILN_ASSIGN_OR_RETURN(program->plan_, PlanFusion(g));
  KILN_ASSIGN_OR_RETURN(KernelJit * jit, KernelJit::Default());
  const int lanes = std::max(4, jit->vector_bits() / 32);
  for (size_t i = 0; i < program->plan_.groups.size(); ++i) {
    const KernelGroup& group = program->plan_.groups[i];
    Step step{.group = static_cast<int>(i)};
    if (group.kind == GroupKind::kJit) {
      KILN_ASSIGN_OR_RETURN(KernelSchedule schedule, ScheduleKernel(g, group, lanes));
      auto context = std::make_unique<llvm::LLVMContext>();
      auto module = std::make_unique<llvm::Module>(schedule.name, *context);
      KILN_RETURN_IF_ERROR(EmitKernel(g, schedule, *module));
      KILN_ASSIGN_OR_RETURN(
          std::vector<void*> fns,
          jit->Compile(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)),
                       {schedule.name}));
      step.kernel = reinterpret_cast<void (*)(char**, int64_t, int64_t)>(fns[0]);
      step.work_items = schedule.work_items;
      const int64_t per_item = LoopElements(schedule) / std::max<int64_t>(schedule.work_items, 1);
      step.grain = std::max<int64_t>(1, kElementsPerTask / std::max<int64_t>(per_item, 1));
      program->schedules_.push_back(std::move(schedule));
      program->gemms_.emplace_back();
    } else if (group.kind == GroupKind::kContraction) {
      KILN_ASSIGN_OR_RETURN(GemmSchedule gemm, ScheduleGemm(g, group, jit->vector_bits()));
      auto context = std::make_unique<llvm::LLVMContext>();
      auto module = std::make_unique<llvm::Module>(gemm.name, *context);
      KILN_RETURN_IF_ERROR(EmitGemmKernel(g, gemm, *module));
      KILN_ASSIGN_OR_RETURN(
          std::vector<void*> fns,
          jit->Compile(llvm::orc::ThreadSafeModule(std::move(module), std::move(context)),
                       {gemm.name}));
      step.gemm = reinterpret_cast<void (*)(char**, int64_t, int64_t, char*)>(fns[0]);
      step.work_items = gemm.work_items;
      step.scratch_bytes = gemm.scratch_bytes;
      const int64_t per_item = gemm.flops() / 2 / std::max<int64_t>(gemm.work_items, 1);
      step.grain = std::max<int64_t>(1, kMultiplyAddsPerTask / std::max<int64_t>(per_item, 1));
      program->schedules_.emplace_back();
      program->gemms_.push_back(std::move(gemm));
    } else {
      program->schedules_.emplace_back();
      program->gemms_.emplace_back();
    }
    program->steps_.push_back(std::move(step));
  }
  KILN_RETURN_IF_ERROR(program->PlanSlots());
  return program;
}

absl::Status JitProgram::PlanSlots() {
  const Graph& g = *graph_;
  slot_of_node_.assign(g.num_nodes(), -1);
  auto slot = [&](NodeId id) {
    if (slot_of_node_[id] < 0) {
      slot_of_node_[id] = static_cast<int>(slot_node_.size());
      slot_node_.push_back(id);
      slot_offset_.push_back(-1);
      slot_output_.push_back(-1);
      slot_update_.push_back(-1);
    }
    return slot_of_node_[id];
  };
  num_results_ = static_cast<int>(g.outputs().size() - updated_variables_.size());
  for (int k = 0; k < num_results_; ++k) {
    const int s = slot(g.outputs()[k]);
    if (slot_output_[s] < 0) slot_output_[s] = k;
  }
  for (size_t u = 0; u < updated_variables_.size(); ++u) {
    update_slot_.push_back(slot(g.outputs()[num_results_ + u]));
  }
  for (Step& step : steps_) {
    const KernelGroup& group = plan_.groups[step.group];
    if (group.kind == GroupKind::kAlias) {
      // The reshape reads and writes nothing: it names its input's slot.
      slot_of_node_[group.root] = slot(g.node(group.root).inputs[0]);
      continue;
    }
    const std::vector<NodeId>& reads = step.kernel != nullptr || step.gemm != nullptr
                                           ? group.inputs
                                           : g.node(group.root).inputs;
    for (NodeId in : reads) step.slots.push_back(slot(in));
    step.num_inputs = static_cast<int>(step.slots.size());
    for (NodeId out : group.outputs) step.slots.push_back(slot(out));
  }
  // Intermediates (written by a step, not an output) share the arena.
  std::vector<BufferLifetime> lifetimes;
  std::vector<int> placed_slot;
  std::vector<int> first(slot_node_.size(), -1), last(slot_node_.size(), -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    for (size_t k = 0; k < step.slots.size(); ++k) {
      if (static_cast<int>(k) < step.num_inputs) {
        last[step.slots[k]] = static_cast<int>(i);
      } else {
        first[step.slots[k]] = static_cast<int>(i);
      }
    }
  }
  PlanInPlaceUpdates(first, last);
  for (size_t s = 0; s < slot_node_.size(); ++s) {
    if (first[s] < 0 || slot_output_[s] >= 0 || slot_update_[s] >= 0) continue;
    const TensorType& t = g.node(slot_node_[s]).type;
    lifetimes.push_back({static_cast<int64_t>(t.shape.NumElements() * DTypeSize(t.dtype)),
                         first[s], std::max(first[s], last[s])});
    placed_slot.push_back(static_cast<int>(s));
  }
  BufferPlan buffers = PlanBuffers(lifetimes);
  for (size_t i = 0; i < placed_slot.size(); ++i) slot_offset_[placed_slot[i]] = buffers.offsets[i];
  arena_bytes_ = buffers.arena_bytes;
  if (arena_bytes_ > 0) {
    void* memory = std::aligned_alloc(64, arena_bytes_);
    if (memory == nullptr) return absl::ResourceExhaustedError("cannot allocate the arena");
    arena_ = std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(memory), std::free);
  }
  return absl::OkStatus();
}

void JitProgram::PlanInPlaceUpdates(const std::vector<int>& first, std::vector<int>& last) {
  const Graph& g = *graph_;
  const int end = static_cast<int>(steps_.size());  // the copies after the last step
  for (int k = 0; k < num_results_; ++k) last[slot_of_node_[g.outputs()[k]]] = end;
  update_in_place_.assign(updated_variables_.size(), false);
  for (size_t u = 0; u < updated_variables_.size(); ++u) {
    const int s = update_slot_[u];
    const Node& value = g.node(slot_node_[s]);
    int variable = -1;  // the variable's slot; none when nothing reads it
    for (size_t v = 0; v < slot_node_.size(); ++v) {
      const Node& n = g.node(slot_node_[v]);
      if (IsFed(n) && n.attrs.GetOr<std::string>("name", "") == updated_variables_[u]) {
        variable = static_cast<int>(v);
      }
    }
    bool in_place = first[s] >= 0 && slot_output_[s] < 0 && slot_update_[s] < 0 &&
                    !IsFed(value) && HeldValue(value) == nullptr;
    if (in_place && variable >= 0 && last[variable] >= first[s]) {
      // The writing step also reads the old value: safe only for an
      // elementwise loop over the variable's shape, which reads element i
      // only, and loads every input of a vector step before storing.
      const Step& step = steps_[first[s]];
      const KernelGroup& group = plan_.groups[step.group];
      in_place = last[variable] == first[s] && step.kernel != nullptr &&
                 g.node(group.root).type == g.node(slot_node_[variable]).type;
      for (NodeId id : group.nodes) {
        const FusionKind kind = g.node(id).op->fusion;
        in_place = in_place && (kind == FusionKind::kElementwise || kind == FusionKind::kSource);
      }
    }
    if (in_place) {
      slot_update_[s] = static_cast<int>(u);
      update_in_place_[u] = true;
    } else {
      last[s] = end;
    }
  }
}

absl::Status JitProgram::Run(const Feeds& feeds, std::vector<Buffer>& outputs,
                             absl::Span<Buffer* const> variables) {
  const Graph& g = *graph_;
  std::lock_guard<std::mutex> lock(mu_);
  if (variables.size() != updated_variables_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Run: expected ", updated_variables_.size(),
                                                   " updated variables, got ", variables.size()));
  }
  outputs.resize(num_results_);
  for (size_t k = 0; k < outputs.size(); ++k) {
    const TensorType& t = g.node(g.outputs()[k]).type;
    if (!outputs[k].owns_memory() || outputs[k].dtype() != t.dtype || outputs[k].shape() != t.shape ||
        outputs[k].raw() == nullptr) {
      outputs[k] = Buffer(t.dtype, t.shape);
    }
  }
  std::vector<char*> ptr(slot_node_.size(), nullptr);
  for (size_t s = 0; s < slot_node_.size(); ++s) {
    const Node& n = g.node(slot_node_[s]);
    const void* p = nullptr;
    if (IsFed(n)) {
      KILN_ASSIGN_OR_RETURN(const Buffer* fed, FedValue(n, feeds));
      p = fed->raw();
    } else if (const Buffer* held = HeldValue(n)) {
      p = held->raw();
    } else if (slot_update_[s] >= 0) {
      p = variables[slot_update_[s]]->raw();
    } else if (slot_output_[s] >= 0) {
      p = outputs[slot_output_[s]].raw();
    } else {
      p = arena_.get() + slot_offset_[s];
    }
    ptr[s] = static_cast<char*>(const_cast<void*>(p));
  }
  for (const Step& step : steps_) {
    if (step.kernel != nullptr) {
      std::vector<char*> args;
      for (int s : step.slots) args.push_back(ptr[s]);
      {
        auto* kernel = step.kernel;
        char** a = args.data();
        parallel_.For(step.work_items, step.grain,
                      [&](int64_t b, int64_t e) { kernel(a, b, e); });
      }
      continue;
    }
    if (step.gemm != nullptr) {
      std::vector<char*> args;
      for (int s : step.slots) args.push_back(ptr[s]);
      auto* gemm = step.gemm;
      char** a = args.data();
      const int64_t scratch = step.scratch_bytes;
      parallel_.For(step.work_items, step.grain,
                    [&](int64_t b, int64_t e) { gemm(a, b, e, ThreadScratch(scratch)); });
      continue;
    }
    if (step.slots.empty()) continue;  // an alias
    const Node& n = g.node(plan_.groups[step.group].root);
    std::vector<Buffer> views;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      // The type the op reads, which an aliased slot may store under another shape.
      const TensorType& t = g.node(n.inputs[k]).type;
      views.push_back(Buffer::View(t.dtype, t.shape, ptr[step.slots[k]]));
    }
    Buffer out = Buffer::View(n.type.dtype, n.type.shape, ptr[step.slots.back()]);
    std::vector<const Buffer*> inputs;
    for (const Buffer& v : views) inputs.push_back(&v);
    absl::Status s = n.op->interp(KernelContext{inputs, &out, n.attrs, parallel_});
    if (!s.ok()) return s;
  }
  // Outputs that are fed values, constants or listed twice are copies.
  for (size_t k = 0; k < outputs.size(); ++k) {
    const int s = slot_of_node_[g.outputs()[k]];
    if (ptr[s] != outputs[k].raw()) std::memcpy(outputs[k].raw(), ptr[s], outputs[k].size_bytes());
  }
  for (size_t u = 0; u < variables.size(); ++u) {
    if (!update_in_place_[u]) {
      std::memcpy(variables[u]->raw(), ptr[update_slot_[u]], variables[u]->size_bytes());
    }
  }
  return absl::OkStatus();
}

int JitProgram::num_jit_kernels() const {
  int n = 0;
  for (const Step& s : steps_) n += s.kernel != nullptr || s.gemm != nullptr;
  return n;
}

std::string JitProgram::ToString() const {
  std::string out = plan_.ToString(*graph_);
  for (size_t i = 0; i < schedules_.size(); ++i) {
    if (plan_.groups[i].kind == GroupKind::kJit) {
      absl::StrAppend(&out, "k", i, " ", schedules_[i].ToString(*graph_));
    } else if (plan_.groups[i].kind == GroupKind::kContraction) {
      absl::StrAppend(&out, "k", i, " ", gemms_[i].ToString(*graph_));
    }
  }
  absl::StrAppend(&out, "arena ", arena_bytes_, " bytes\n");
  for (size_t u = 0; u < updated_variables_.size(); ++u) {
    absl::StrAppend(&out, "update '", updated_variables_[u], "' ",
                    update_in_place_[u] ? "in place" : "copied", "\n");
  }
  return out;
}

}  // namespace kiln
