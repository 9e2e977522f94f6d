#include "codegen/fusion_plan.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/evaluate.h"
#include "graph/passes.h"
#include "graph/status_macros.h"

namespace kiln {

bool IsInlineScalar(const Node& node) {
  const Buffer* b = HeldValue(node);
  return b != nullptr && b->num_elements() == 1;
}

namespace {

// An elementwise node read by up to this many kernels is computed by each.
constexpr size_t kMaxCopies = 3;

bool JitCapable(const Node& n) {
  switch (n.op->fusion) {
    case FusionKind::kElementwise:
    case FusionKind::kReduction:
      return n.op->lower != nullptr;
    case FusionKind::kIndexMap:
      return n.op->index_map != nullptr;
    default:
      return false;
  }
}

// Reads its input by row-major position (reshape): the input must be memory.
bool ReadsFlat(const Graph& g, NodeId id) {
  const Node& n = g.node(id);
  if (n.op->fusion != FusionKind::kIndexMap || n.op->index_map == nullptr) return false;
  absl::StatusOr<IndexMap> map =
      n.op->index_map(g.node(n.inputs[0]).type, n.type, n.attrs);
  return map.ok() && map->same_flat_position;
}

// Elements of the loop a group runs: a reduction loops over its input.
int64_t LoopElements(const Graph& g, NodeId root) {
  const Node& n = g.node(root);
  if (n.op->fusion == FusionKind::kReduction) {
    return g.node(n.inputs[0]).type.shape.NumElements();
  }
  return n.type.shape.NumElements();
}

std::string Sanitize(absl::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::string KernelName(const Graph& g, const KernelGroup& group, int index) {
  const Node& root = g.node(group.root);
  if (group.kind != GroupKind::kJit && group.nodes.size() == 1) {
    return absl::StrCat(root.op->name, "_k", index);
  }
  std::vector<std::string> ops;
  for (NodeId id : group.nodes) {
    const std::string name(g.node(id).op->name);
    if (std::find(ops.begin(), ops.end(), name) == ops.end() && ops.size() < 4) {
      ops.push_back(name);
    }
  }
  std::string layer = Sanitize(root.layer);
  return absl::StrCat("fused_", layer.empty() ? "" : layer + "_",
                      absl::StrJoin(ops, "_"), "_k", index);
}

// A kernel that loops over its root's output (not a reduction's input).
bool ElementwiseLoop(const Graph& g, const KernelGroup& k) {
  return k.kind == GroupKind::kJit && g.node(k.root).op->fusion != FusionKind::kReduction;
}

// Whether every node of kernel `k` that reads a value kernel `i` writes is
// elementwise over that value's shape (reads it at the same position).
template <typename Writer>
bool ReadsOnlyInPlace(const Graph& g, const KernelGroup& k, size_t i, Writer writer) {
  for (NodeId id : k.nodes) {
    const Node& n = g.node(id);
    for (NodeId in : n.inputs) {
      if (writer(in) != static_cast<int>(i)) continue;
      if (n.op->fusion != FusionKind::kElementwise || !(n.type.shape == g.node(in).type.shape)) {
        return false;
      }
    }
  }
  return true;
}

// Merges a later elementwise kernel into an earlier one over the same loop
// when everything the later one reads is ready before the earlier one runs
// and it either reads a common input (read once) or reads the earlier
// one's outputs, each only elementwise at the same position (they stay in
// registers: an optimizer writes a moment and updates the weight from it
// in one pass).
void MergeSiblings(const Graph& g, FusionPlan& plan) {
  std::vector<KernelGroup>& k = plan.groups;
  // The kernel that writes each value.
  auto writer = [&](NodeId id) { return plan.group_of[id]; };
  for (size_t j = 1; j < k.size(); ++j) {
    if (!ElementwiseLoop(g, k[j])) continue;
    for (size_t i = 0; i < j; ++i) {
      if (!ElementwiseLoop(g, k[i]) ||
          g.node(k[i].root).type.shape != g.node(k[j].root).type.shape) {
        continue;
      }
      NodeId shared = kNoNode, produced = kNoNode;
      bool ready = true;
      for (NodeId in : k[j].inputs) {
        if (std::find(k[i].inputs.begin(), k[i].inputs.end(), in) != k[i].inputs.end()) shared = in;
        if (writer(in) == static_cast<int>(i)) {
          produced = in;
        } else {
          ready = ready && writer(in) < static_cast<int>(i);
        }
      }
      if (!ready || (shared == kNoNode && produced == kNoNode)) continue;
      if (produced != kNoNode && !ReadsOnlyInPlace(g, k[j], i, writer)) continue;
      plan.merges.push_back(produced != kNoNode
                                ? absl::StrCat("k", j, " merged into k", i, ": it reads %",
                                               produced, " where k", i, " writes it")
                                : absl::StrCat("k", j, " merged into k", i, ": both read %",
                                               shared));
      for (NodeId id : k[j].nodes) k[i].nodes.push_back(id);
      for (NodeId id : k[j].outputs) k[i].outputs.push_back(id);
      for (NodeId in : k[j].inputs) {
        if (writer(in) != static_cast<int>(i) &&
            std::find(k[i].inputs.begin(), k[i].inputs.end(), in) == k[i].inputs.end()) {
          k[i].inputs.push_back(in);
        }
      }
      std::sort(k[i].nodes.begin(), k[i].nodes.end());
      k[i].nodes.erase(std::unique(k[i].nodes.begin(), k[i].nodes.end()), k[i].nodes.end());
      for (int& gi : plan.group_of) {
        if (gi == static_cast<int>(j)) gi = static_cast<int>(i);
        else if (gi > static_cast<int>(j)) --gi;
      }
      k.erase(k.begin() + j);
      --j;
      break;
    }
  }
}

// Why the contraction `id` cannot take the kernel of its one reader as its
// epilogue, or "" when it can (`target` is then that kernel). The reader's
// kernel must be an elementwise loop over exactly the contraction's output
// (f32, same shape, the GEMM's rows and columns its last two dims), and
// every fused value that depends on the contraction must be elementwise
// over that same shape, so the epilogue reads it at the stored position.
std::string EpilogueRefusal(const Graph& g, NodeId id, const std::vector<NodeId>& readers,
                            const std::vector<std::vector<int>>& member_of,
                            const std::vector<KernelGroup>& groups, const GemmProblem& problem,
                            int& target) {
  const Node& n = g.node(id);
  auto describe = [&](NodeId x) { return absl::StrCat("%", x, " (", g.node(x).op->name, ")"); };
  if (readers.size() > 1) {
    return absl::StrCat("read by ", readers.size(), " nodes: an epilogue has one reader");
  }
  const NodeId reader = readers[0];
  if (member_of[reader].size() != 1) {
    return absl::StrCat("its reader ", describe(reader), " is computed in several kernels");
  }
  target = member_of[reader][0];
  const KernelGroup& group = groups[target];
  const Node& root = g.node(group.root);
  if (group.kind == GroupKind::kContraction) {
    return absl::StrCat("its reader ", describe(reader), " is already the epilogue of ",
                        describe(group.contraction));
  }
  if (group.kind != GroupKind::kJit || root.op->fusion == FusionKind::kReduction) {
    return absl::StrCat("its reader ", describe(reader), " is not in an elementwise kernel");
  }
  if (!(root.type == n.type) || n.type.dtype != DType::kF32) {
    return absl::StrCat("the loop of ", describe(group.root), " (", root.type.ToString(),
                        ") is not its output (", n.type.ToString(), ")");
  }
  if (problem.n <= kRowsInLanesMaxColumns) {
    return absl::StrCat("its GEMM has ", problem.n, " columns: its rows fill the vector lanes");
  }
  std::vector<int64_t> gemm_dims;
  for (const GemmBatchDim& b : problem.batch) gemm_dims.push_back(b.size);
  if (problem.m_dims.empty()) {
    gemm_dims.push_back(problem.m);
  } else {
    gemm_dims.insert(gemm_dims.end(), problem.m_dims.begin(), problem.m_dims.end());
  }
  gemm_dims.push_back(problem.n);
  if (gemm_dims != n.type.shape.dims()) {
    return "its GEMM's batch, rows and columns are not its output's dims";
  }
  // The fused values computed from the contraction.
  std::set<NodeId> depends = {id};
  for (bool grew = true; grew;) {
    grew = false;
    for (NodeId x : group.nodes) {
      if (depends.count(x)) continue;
      for (NodeId in : g.node(x).inputs) {
        if (!depends.count(in)) continue;
        const Node& xn = g.node(x);
        if (xn.op->fusion != FusionKind::kElementwise || !(xn.type.shape == n.type.shape)) {
          return absl::StrCat("its value reaches the reader kernel's result through ",
                              describe(x), ", not elementwise over its shape");
        }
        depends.insert(x);
        grew = true;
        break;
      }
    }
  }
  return "";
}

// The elements of the loop that would compute a node read by `users` in
// kernel `reader`: the kernel's loop, or for a GEMM kernel (whose
// prologue and epilogue loop over its operand A and its output) the
// largest of its users there.
int64_t ReaderLoop(const Graph& g, const KernelGroup& reader, const std::vector<NodeId>& users) {
  if (reader.contraction == kNoNode) return LoopElements(g, reader.root);
  int64_t loop = 0;
  for (NodeId u : users) {
    if (std::count(reader.nodes.begin(), reader.nodes.end(), u) > 0 && u != reader.contraction) {
      loop = std::max(loop, g.node(u).type.shape.NumElements());
    }
  }
  return loop;
}

// Why the elementwise node `id` cannot be computed while the contraction
// that reads it packs its A operand (a prologue), or "" when it can: it must
// be A only, read by nothing else, and A must be a plain row-major matrix
// (no windows, not transposed, rows contiguous).
std::string PrologueRefusal(const Graph& g, NodeId id, const std::vector<NodeId>& users,
                            NodeId contraction) {
  const Node& c = g.node(contraction);
  if (users.size() != 1) return "the value is read elsewhere too";
  if (c.inputs[0] != id || c.inputs[1] == id) return "it reads its B operand from memory";
  const Node& n = g.node(id);
  if (n.op->fusion != FusionKind::kElementwise || n.type.dtype != DType::kF32) {
    return "only an elementwise f32 chain can be its prologue";
  }
  std::vector<TensorType> in_types;
  for (NodeId in : c.inputs) in_types.push_back(g.node(in).type);
  absl::StatusOr<GemmProblem> p = c.op->contraction(in_types, c.type, c.attrs);
  if (!p.ok() || p->a_windows.has_value() || p->a_transposed || p->lda != p->k ||
      n.type.shape.rank() == 0 || n.type.shape.dim(n.type.shape.rank() - 1) != p->k) {
    return "it reads A through windows or strides, from memory";
  }
  return "";
}

}  // namespace

absl::StatusOr<FusionPlan> PlanFusion(const Graph& g) {
  if (g.outputs().empty()) return absl::InvalidArgumentError("PlanFusion: no outputs");
  const std::vector<NodeId> order = TopologicalOrder(g);
  std::vector<int> position(g.num_nodes(), -1);
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<int>(i);
  std::vector<std::vector<NodeId>> users(g.num_nodes());
  for (NodeId id : order) {
    for (NodeId in : g.node(id).inputs) users[in].push_back(id);
  }
  std::vector<bool> is_output(g.num_nodes(), false);
  for (NodeId out : g.outputs()) is_output[out] = true;

  FusionPlan plan;
  plan.group_of.assign(g.num_nodes(), -1);
  std::vector<KernelGroup> groups;
  // Groups each node belongs to: one, or several when it is computed by
  // each of its readers.
  std::vector<std::vector<int>> member_of(g.num_nodes());
  auto new_group = [&](NodeId id, GroupKind kind) {
    groups.push_back(KernelGroup{kind, id, {id}, {id}, {}, "", kNoNode});
    plan.group_of[id] = static_cast<int>(groups.size()) - 1;
    member_of[id] = {plan.group_of[id]};
  };
  auto describe = [&](NodeId id) { return absl::StrCat("%", id, " (", g.node(id).op->name, ")"); };

  // Readers before producers: a node joins its readers' kernel when it can.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const NodeId id = *it;
    const Node& n = g.node(id);
    if (n.op->fusion == FusionKind::kSource) continue;
    if (n.op->window != nullptr) {
      std::vector<TensorType> in_types;
      for (NodeId in : n.inputs) in_types.push_back(g.node(in).type);
      if (n.op->window(in_types, n.type, n.attrs).ok()) {
        new_group(id, GroupKind::kWindow);
        continue;
      }
    }
    if (n.op->contraction != nullptr) {
      std::vector<NodeId> readers = users[id];
      std::sort(readers.begin(), readers.end());
      readers.erase(std::unique(readers.begin(), readers.end()), readers.end());
      std::vector<TensorType> in_types;
      for (NodeId in : n.inputs) in_types.push_back(g.node(in).type);
      absl::StatusOr<GemmProblem> problem = n.op->contraction(in_types, n.type, n.attrs);
      std::string why;
      int target = -1;
      if (!problem.ok()) {
        plan.refusals.push_back(absl::StrCat(describe(id), " runs its interpreter kernel: ",
                                             problem.status().message()));
        new_group(id, GroupKind::kLibrary);
        continue;
      }
      if (readers.empty()) {
        why = "-";
      } else if (is_output[id]) {
        why = "a program output: it is written to memory anyway";
      } else {
        why = EpilogueRefusal(g, id, readers, member_of, groups, *problem, target);
      }
      if (why.empty()) {
        KernelGroup& group = groups[target];
        group.kind = GroupKind::kContraction;
        group.contraction = id;
        group.nodes.push_back(id);
        plan.group_of[id] = target;
        member_of[id] = {target};
        continue;
      }
      if (why != "-") {
        plan.refusals.push_back(absl::StrCat(describe(id), " takes no epilogue: ", why));
      }
      new_group(id, GroupKind::kContraction);
      groups.back().contraction = id;
      continue;
    }
    if (!JitCapable(n)) {
      new_group(id, GroupKind::kLibrary);
      continue;
    }
    // The kernels that read it (a node copied into several kernels counts
    // for each of them).
    std::set<int> reader_groups;
    for (NodeId u : users[id]) reader_groups.insert(member_of[u].begin(), member_of[u].end());
    std::string why;
    if (n.op->fusion == FusionKind::kReduction) {
      if (!users[id].empty()) why = "a reduction: reductions are kernel roots";
    } else if (is_output[id]) {
      if (!users[id].empty()) why = "a program output: it is written to memory anyway";
    } else if (reader_groups.size() > kMaxCopies) {
      why = absl::StrCat("read by ", reader_groups.size(), " kernels: computed once");
    } else {
      NodeId flat_reader = kNoNode;
      for (NodeId u : users[id]) {
        if (ReadsFlat(g, u)) flat_reader = u;
      }
      for (int target : reader_groups) {
        const KernelGroup& reader = groups[target];
        if (reader.kind == GroupKind::kLibrary) {
          why = absl::StrCat("its reader ", describe(reader.root), " runs an interpreter kernel");
        } else if (reader.kind == GroupKind::kWindow) {
          why = absl::StrCat("its reader ", describe(reader.root),
                             " is a window kernel, which reads its inputs from memory");
        } else if (reader.contraction != kNoNode &&
                   std::count(users[id].begin(), users[id].end(), reader.contraction) > 0) {
          why = PrologueRefusal(g, id, users[id], reader.contraction);
          if (!why.empty()) {
            why = absl::StrCat("its reader ", describe(reader.contraction), " is a GEMM: ", why);
          }
        } else if (flat_reader != kNoNode) {
          why = absl::StrCat("read by position through ", describe(flat_reader),
                             ", which needs it in memory");
        } else if (n.type.shape.NumElements() < ReaderLoop(g, reader, users[id])) {
          why = absl::StrCat("smaller than the loop of ", describe(reader.root),
                             ": computed once instead of once per use");
        }
        if (!why.empty()) break;
      }
      if (why.empty()) {
        // Each reader computes it: cheaper than writing it and reading it back.
        for (int target : reader_groups) {
          groups[target].nodes.push_back(id);
          member_of[id].push_back(target);
        }
        plan.group_of[id] = *reader_groups.begin();
        if (reader_groups.size() > 1) {
          plan.copies.push_back(absl::StrCat(describe(id), " computed in ", reader_groups.size(),
                                             " kernels instead of a round trip through memory"));
        }
        continue;
      }
    }
    if (!why.empty()) plan.refusals.push_back(absl::StrCat(describe(id), " not fused: ", why));
    new_group(id, GroupKind::kJit);
  }

  // A reshape that stays on its own is a view of its input's memory.
  for (KernelGroup& group : groups) {
    if (group.kind == GroupKind::kJit && group.nodes.size() == 1 &&
        ReadsFlat(g, group.root) && !is_output[group.root]) {
      group.kind = GroupKind::kAlias;
    }
  }

  // Execution order: by the root's place in the topological order.
  // (Sibling merging, below, needs it.)
  std::vector<int> by_root(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) by_root[i] = static_cast<int>(i);
  std::sort(by_root.begin(), by_root.end(), [&](int a, int b) {
    return position[groups[a].root] < position[groups[b].root];
  });
  std::vector<int> renumber(groups.size());
  for (size_t i = 0; i < by_root.size(); ++i) {
    KernelGroup group = std::move(groups[by_root[i]]);
    renumber[by_root[i]] = static_cast<int>(i);
    std::sort(group.nodes.begin(), group.nodes.end(),
              [&](NodeId a, NodeId b) { return position[a] < position[b]; });
    for (NodeId id : group.nodes) {
      for (NodeId in : g.node(id).inputs) {
        const bool inside =
            std::find(group.nodes.begin(), group.nodes.end(), in) != group.nodes.end();
        const bool listed =
            std::find(group.inputs.begin(), group.inputs.end(), in) != group.inputs.end();
        // A GEMM reads its operands from memory, even one-element ones.
        const bool inline_scalar = IsInlineScalar(g.node(in)) && id != group.contraction &&
                                   group.kind != GroupKind::kWindow;
        if (!inside && !listed && !inline_scalar) group.inputs.push_back(in);
      }
    }
    plan.groups.push_back(std::move(group));
  }
  for (int& gi : plan.group_of) {
    if (gi >= 0) gi = renumber[gi];
  }
  MergeSiblings(g, plan);
  for (size_t i = 0; i < plan.groups.size(); ++i) {
    plan.groups[i].name = KernelName(g, plan.groups[i], static_cast<int>(i));
  }
  return plan;
}

std::string FusionPlan::ToString(const Graph& g) const {
  auto ids = [](const std::vector<NodeId>& v) {
    return absl::StrJoin(v, " ", [](std::string* out, NodeId id) { absl::StrAppend(out, "%", id); });
  };
  std::string out;
  for (size_t i = 0; i < groups.size(); ++i) {
    const KernelGroup& k = groups[i];
    static constexpr const char* kKinds[] = {"jit", "library", "alias", "contraction", "window"};
    absl::StrAppend(&out, "k", i, " ", k.name, " ", kKinds[static_cast<int>(k.kind)], ": ",
                    ids(k.nodes));
    if (!k.inputs.empty()) absl::StrAppend(&out, " <- reads ", ids(k.inputs));
    absl::StrAppend(&out, "\n");
  }
  for (const std::string& r : refusals) absl::StrAppend(&out, "no: ", r, "\n");
  for (const std::string& c : copies) absl::StrAppend(&out, "copy: ", c, "\n");
  for (const std::string& m : merges) absl::StrAppend(&out, "sibling: ", m, "\n");
  return out;
}

}  // namespace kiln
