#include "codegen/kernel_schedule.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/evaluate.h"
#include "graph/status_macros.h"
#include "ops/reduction.h"

namespace kiln {
namespace {

// A node's index as a function of the loop index: node index = coeff * i + offset.
struct Affine {
  std::vector<std::vector<int64_t>> coeff;  // [node rank][loop rank]
  std::vector<int64_t> offset;
};

Affine Identity(int rank) {
  Affine a;
  a.coeff.assign(rank, std::vector<int64_t>(rank, 0));
  a.offset.assign(rank, 0);
  for (int i = 0; i < rank; ++i) a.coeff[i][i] = 1;
  return a;
}

// The index of an input broadcast (numpy rules) to `out`.
Affine Broadcast(const Affine& a, const Shape& out, const Shape& in) {
  Affine r;
  const int lead = out.rank() - in.rank();
  const int loop_rank = a.coeff.empty() ? 0 : static_cast<int>(a.coeff[0].size());
  for (int k = 0; k < in.rank(); ++k) {
    if (in.dim(k) == 1) {
      r.coeff.push_back(std::vector<int64_t>(loop_rank, 0));
      r.offset.push_back(0);
    } else {
      r.coeff.push_back(a.coeff[lead + k]);
      r.offset.push_back(a.offset[lead + k]);
    }
  }
  return r;
}

// in = map * (a * i + a.offset) + map.offset.
Affine Compose(const IndexMap& map, const Affine& a, int loop_rank) {
  Affine r;
  for (size_t k = 0; k < map.coeff.size(); ++k) {
    std::vector<int64_t> row(loop_rank, 0);
    int64_t off = map.offset[k];
    for (size_t j = 0; j < map.coeff[k].size(); ++j) {
      const int64_t c = map.coeff[k][j];
      if (c == 0) continue;
      for (int d = 0; d < loop_rank; ++d) row[d] += c * a.coeff[j][d];
      off += c * a.offset[j];
    }
    r.coeff.push_back(std::move(row));
    r.offset.push_back(off);
  }
  return r;
}

// Element offset in a row-major buffer of `shape` read at index `a`.
LinearForm Flatten(const Affine& a, const Shape& shape, int loop_rank) {
  LinearForm f;
  f.coeff.assign(loop_rank, 0);
  const std::vector<int64_t> strides = shape.Strides();
  for (int k = 0; k < shape.rank(); ++k) {
    for (int d = 0; d < loop_rank; ++d) f.coeff[d] += strides[k] * a.coeff[k][d];
    f.offset += strides[k] * a.offset[k];
  }
  return f;
}

class ValueBuilder {
 public:
  ValueBuilder(const Graph& g, const KernelGroup& group, KernelSchedule& s, int loop_rank)
      : g_(g), s_(s), loop_rank_(loop_rank),
        in_group_(group.nodes.begin(), group.nodes.end()) {}

  absl::StatusOr<int> Visit(NodeId id, const Affine& a) {
    std::vector<int64_t> key;
    for (const auto& row : a.coeff) key.insert(key.end(), row.begin(), row.end());
    key.insert(key.end(), a.offset.begin(), a.offset.end());
    auto it = memo_.find({id, key});
    if (it != memo_.end()) return it->second;
    KILN_ASSIGN_OR_RETURN(int v, Compute(id, a));
    memo_[{id, key}] = v;
    return v;
  }

 private:
  int Add(KernelValue v) {
    s_.values.push_back(std::move(v));
    return static_cast<int>(s_.values.size()) - 1;
  }

  int Load(NodeId id, LinearForm at) {
    const int buffer = static_cast<int>(
        std::find(s_.buffers.begin(), s_.buffers.end(), id) - s_.buffers.begin());
    return Add(KernelValue{.node = id, .buffer = buffer, .at = std::move(at),
                           .dtype = g_.node(id).type.dtype});
  }

  absl::StatusOr<int> Compute(NodeId id, const Affine& a) {
    const Node& n = g_.node(id);
    if (IsInlineScalar(n)) {
      return Add(KernelValue{.node = id, .is_constant = true,
                             .constant = HeldValue(n)->GetAsDouble(0), .dtype = n.type.dtype});
    }
    if (!in_group_.count(id)) return Load(id, Flatten(a, n.type.shape, loop_rank_));
    if (n.op->fusion == FusionKind::kIndexMap) {
      const Node& in = g_.node(n.inputs[0]);
      KILN_ASSIGN_OR_RETURN(IndexMap map, n.op->index_map(in.type, n.type, n.attrs));
      if (!map.same_flat_position) return Visit(n.inputs[0], Compose(map, a, loop_rank_));
      if (IsInlineScalar(in)) return Visit(n.inputs[0], a);
      if (in_group_.count(n.inputs[0])) {
        return absl::InternalError(absl::StrCat("%", id, " reads a fused value by position"));
      }
      return Load(n.inputs[0], Flatten(a, n.type.shape, loop_rank_));
    }
    if (n.op->fusion != FusionKind::kElementwise) {
      return absl::InternalError(absl::StrCat(n.op->name, " cannot be fused inside a kernel"));
    }
    KernelValue v{.node = id, .dtype = n.type.dtype};
    for (NodeId in : n.inputs) {
      KILN_ASSIGN_OR_RETURN(int operand,
                            Visit(in, Broadcast(a, n.type.shape, g_.node(in).type.shape)));
      v.operands.push_back(operand);
    }
    return Add(std::move(v));
  }

  const Graph& g_;
  KernelSchedule& s_;
  const int loop_rank_;
  const std::set<NodeId> in_group_;
  std::map<std::pair<NodeId, std::vector<int64_t>>, int> memo_;
};

// Every linear form of the schedule (loads and the store).
std::vector<LinearForm*> Forms(KernelSchedule& s) {
  std::vector<LinearForm*> forms;
  for (LinearForm& f : s.stores) forms.push_back(&f);
  for (KernelValue& v : s.values) {
    if (v.buffer >= 0) forms.push_back(&v.at);
  }
  return forms;
}

// Puts the loop dimensions in `order`, drops size-1 dimensions and merges
// neighbours of the same kind that every access walks contiguously.
void ReorderAndCollapse(KernelSchedule& s, const std::vector<int>& order) {
  std::vector<LinearForm*> forms = Forms(s);
  std::vector<int64_t> dims;
  std::vector<bool> reduced;
  std::vector<std::vector<int64_t>> coeffs(forms.size());
  for (int d : order) {
    if (s.dims[d] == 1) continue;
    bool merge = !dims.empty() && reduced.back() == s.reduced[d];
    for (size_t k = 0; merge && k < forms.size(); ++k) {
      merge = coeffs[k].back() == forms[k]->coeff[d] * s.dims[d];
    }
    if (merge) {
      dims.back() *= s.dims[d];
      for (size_t k = 0; k < forms.size(); ++k) coeffs[k].back() = forms[k]->coeff[d];
    } else {
      dims.push_back(s.dims[d]);
      reduced.push_back(s.reduced[d]);
      for (size_t k = 0; k < forms.size(); ++k) coeffs[k].push_back(forms[k]->coeff[d]);
    }
  }
  if (dims.empty()) {  // a single element
    dims.push_back(1);
    reduced.push_back(false);
    for (auto& c : coeffs) c.push_back(0);
  }
  s.dims = std::move(dims);
  s.reduced = std::move(reduced);
  for (size_t k = 0; k < forms.size(); ++k) forms[k]->coeff = std::move(coeffs[k]);
}

}  // namespace

absl::StatusOr<KernelSchedule> ScheduleKernel(const Graph& g, const KernelGroup& group,
                                              int vector_width) {
  KernelSchedule s;
  s.name = group.name;
  s.vector_width = vector_width;
  s.buffers = group.inputs;
  s.num_inputs = static_cast<int>(group.inputs.size());
  s.buffers.insert(s.buffers.end(), group.outputs.begin(), group.outputs.end());
  const Node& root = g.node(group.root);

  // The loop runs over the root's output, or a reduction's input.
  IntList axes;
  NodeId top = group.root;
  if (root.op->fusion == FusionKind::kReduction) {
    const Shape& in = g.node(root.inputs[0]).type.shape;
    KILN_ASSIGN_OR_RETURN(axes, ReducedAxes(root.attrs, in.rank()));
    s.dims = in.dims();
    s.reduction = group.root;
    top = root.inputs[0];
  } else {
    s.dims = root.type.shape.dims();
  }
  const int rank = static_cast<int>(s.dims.size());
  s.reduced.assign(rank, false);
  for (int64_t a : axes) s.reduced[a] = true;

  ValueBuilder builder(g, group, s, rank);
  if (s.reduction != kNoNode) {
    KILN_ASSIGN_OR_RETURN(int v, builder.Visit(top, Identity(rank)));
    s.results.push_back(v);
    s.result_dtypes.push_back(root.type.dtype);
    // Row-major over the output; reduced dimensions do not move the store.
    LinearForm store;
    store.coeff.assign(rank, 0);
    const std::vector<int64_t> out_strides = root.type.shape.Strides();
    for (int d = 0, k = 0; d < rank; ++d) {
      if (s.reduced[d]) {
        if (root.type.shape.rank() == rank) ++k;  // keepdims: a size-1 dimension
        continue;
      }
      store.coeff[d] = out_strides[k++];
    }
    s.stores.push_back(std::move(store));
  } else {
    // Every output has the root's shape (siblings merge only then).
    for (NodeId out : group.outputs) {
      KILN_ASSIGN_OR_RETURN(int v, builder.Visit(out, Identity(rank)));
      s.results.push_back(v);
      s.result_dtypes.push_back(g.node(out).type.dtype);
      s.stores.push_back(Flatten(Identity(rank), g.node(out).type.shape, rank));
    }
  }

  // Loop order: kept dimensions outside reduced ones, except that a kept
  // innermost dimension stays innermost (column reductions).
  const bool any_reduced = std::count(s.reduced.begin(), s.reduced.end(), true) > 0;
  std::vector<int> order;
  if (!any_reduced) {
    s.mode = LoopMode::kElementwise;
    for (int d = 0; d < rank; ++d) order.push_back(d);
  } else {
    s.mode = s.reduced[rank - 1] ? LoopMode::kRowReduce : LoopMode::kColumnReduce;
    const int last_kept = s.mode == LoopMode::kColumnReduce ? rank - 1 : rank;
    for (int d = 0; d < last_kept; ++d) if (!s.reduced[d]) order.push_back(d);
    for (int d = 0; d < rank; ++d) if (s.reduced[d]) order.push_back(d);
    if (last_kept < rank) order.push_back(rank - 1);
  }
  ReorderAndCollapse(s, order);
  // Collapsing may leave a reduction with nothing left to reduce or keep.
  if (s.mode != LoopMode::kElementwise &&
      std::count(s.reduced.begin(), s.reduced.end(), true) == 0) {
    s.mode = LoopMode::kElementwise;
  }
  if (s.mode == LoopMode::kColumnReduce && s.reduced.back()) s.mode = LoopMode::kRowReduce;

  // Work items for the thread pool.
  const int n = static_cast<int>(s.dims.size());
  int64_t outer = 1;
  switch (s.mode) {
    case LoopMode::kElementwise: {
      for (int d = 0; d < n - 1; ++d) outer *= s.dims[d];
      const int64_t inner = s.dims[n - 1];
      constexpr int64_t kChunk = 8192;
      s.inner_chunk = (outer < 64 && inner > 2 * kChunk) ? kChunk : std::max<int64_t>(inner, 1);
      s.work_items = outer * ((inner + s.inner_chunk - 1) / s.inner_chunk);
      s.parallel_dims = n - 1;
      break;
    }
    case LoopMode::kRowReduce: {
      s.parallel_dims = 0;
      while (s.parallel_dims < n && !s.reduced[s.parallel_dims]) outer *= s.dims[s.parallel_dims++];
      s.inner_chunk = s.dims[n - 1];
      s.work_items = outer;
      break;
    }
    case LoopMode::kColumnReduce: {
      s.parallel_dims = 0;
      while (!s.reduced[s.parallel_dims]) outer *= s.dims[s.parallel_dims++];
      s.inner_chunk = vector_width;
      s.work_items = outer * ((s.dims[n - 1] + vector_width - 1) / vector_width);
      break;
    }
  }
  return s;
}

namespace {

// A schedule over `dims` of values computed inside a GEMM kernel, reading
// `buffers` (the first `inputs` of them): `roots`' values, each also stored
// at its own position in the description.
absl::StatusOr<KernelSchedule> ContractionSide(const Graph& g, const KernelGroup& group,
                                               absl::string_view suffix,
                                               std::vector<NodeId> buffers, int inputs,
                                               const std::vector<NodeId>& roots, int vector_width) {
  KernelSchedule s;
  s.name = absl::StrCat(group.name, suffix);
  s.vector_width = vector_width;
  s.buffers = std::move(buffers);
  s.num_inputs = inputs;
  s.dims = g.node(roots[0]).type.shape.dims();
  const int rank = static_cast<int>(s.dims.size());
  s.reduced.assign(rank, false);
  KernelGroup side = group;
  side.nodes.erase(std::remove(side.nodes.begin(), side.nodes.end(), group.contraction),
                   side.nodes.end());
  ValueBuilder builder(g, side, s, rank);
  for (NodeId root : roots) {
    if (g.node(root).type.shape.dims() != s.dims) {
      return absl::InternalError(absl::StrCat(suffix, " value %", root, " has another shape"));
    }
    KILN_ASSIGN_OR_RETURN(int v, builder.Visit(root, Identity(rank)));
    s.results.push_back(v);
    s.result_dtypes.push_back(g.node(root).type.dtype);
    s.stores.push_back(Flatten(Identity(rank), g.node(root).type.shape, rank));
  }
  return s;
}

}  // namespace

absl::StatusOr<KernelSchedule> ScheduleEpilogue(const Graph& g, const KernelGroup& group,
                                                int vector_width) {
  if (group.contraction == kNoNode) return absl::InternalError("not a contraction group");
  std::vector<NodeId> buffers = group.inputs;
  buffers.push_back(group.contraction);
  const int inputs = static_cast<int>(buffers.size());
  buffers.insert(buffers.end(), group.outputs.begin(), group.outputs.end());
  return ContractionSide(g, group, "_epilogue", std::move(buffers), inputs, group.outputs,
                         vector_width);
}

absl::StatusOr<KernelSchedule> SchedulePrologue(const Graph& g, const KernelGroup& group,
                                                NodeId operand, int vector_width) {
  // A's "store" describes where its element would be: the kernel keeps it
  // in scratch.
  return ContractionSide(g, group, "_prologue", group.inputs,
                         static_cast<int>(group.inputs.size()), {operand}, vector_width);
}

namespace {

std::string FormToString(const LinearForm& f) {
  std::vector<std::string> terms;
  for (size_t d = 0; d < f.coeff.size(); ++d) {
    if (f.coeff[d] != 0) terms.push_back(absl::StrCat(f.coeff[d], "*i", d));
  }
  if (f.offset != 0 || terms.empty()) terms.push_back(absl::StrCat(f.offset));
  return absl::StrJoin(terms, " + ");
}

}  // namespace

std::string KernelSchedule::ToString(const Graph& g) const {
  static constexpr const char* kModes[] = {"elementwise", "row-reduce", "column-reduce"};
  std::string out = "loop [";
  for (size_t d = 0; d < dims.size(); ++d) {
    absl::StrAppend(&out, d ? " x " : "", dims[d], reduced[d] ? "r" : "");
  }
  absl::StrAppend(&out, "] ", kModes[static_cast<int>(mode)], " vector ", vector_width,
                  " chunk ", inner_chunk, " work ", work_items, "\n");
  for (size_t i = 0; i < values.size(); ++i) {
    const KernelValue& v = values[i];
    absl::StrAppend(&out, "  v", i, " = ");
    if (v.buffer >= 0) {
      absl::StrAppend(&out, "load %", buffers[v.buffer], " @ ", FormToString(v.at), "\n");
    } else if (v.is_constant) {
      absl::StrAppend(&out, "const ", v.constant, "\n");
    } else {
      absl::StrAppend(&out, g.node(v.node).op->name, "(",
                      absl::StrJoin(v.operands, ", ", [](std::string* o, int k) {
                        absl::StrAppend(o, "v", k);
                      }),
                      ")\n");
    }
  }
  for (size_t k = 0; k < results.size(); ++k) {
    if (reduction != kNoNode) {
      absl::StrAppend(&out, "  ", g.node(reduction).op->name, " v", results[k], "\n");
    }
    absl::StrAppend(&out, "  store ", reduction != kNoNode ? "r" : absl::StrCat("v", results[k]),
                    " @ ", FormToString(stores[k]), "\n");
  }
  return out;
}

}  // namespace kiln
