#include "layers/merge.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "graph/status_macros.h"
#include "layers/keras_object.h"
#include "layers/layer_args.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

namespace kiln {
namespace {

std::string ShapesOf(absl::Span<const Tensor> xs) {
  return absl::StrJoin(xs, ", ", [](std::string* out, const Tensor& x) {
    absl::StrAppend(out, x.shape().ToString());
  });
}

// Keras checks the known batch sizes; kiln also cannot broadcast the
// symbolic batch N against a fixed size other than 1.
absl::Status CheckBatchSizes(absl::Span<const Tensor> xs) {
  std::set<int64_t> fixed;
  bool symbolic = false;
  for (const Tensor& x : xs) {
    if (x.rank() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected inputs with a batch axis, got shapes ", ShapesOf(xs)));
    }
    const int64_t b = x.shape().dim(0);
    if (b == Shape::kBatch) {
      symbolic = true;
    } else {
      fixed.insert(b);
    }
  }
  if (fixed.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge tensors with different batch sizes, got shapes ", ShapesOf(xs)));
  }
  if (symbolic && !fixed.empty() && *fixed.begin() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge the symbolic batch N with a fixed batch size, got shapes ", ShapesOf(xs)));
  }
  return absl::OkStatus();
}

// x with size-1 axes inserted at axis 1 until it has `rank` axes.
Tensor ExpandAtAxis1(const Tensor& x, int rank) {
  if (x.rank() >= rank) return x;
  std::vector<int64_t> dims = x.shape().dims();
  dims.insert(dims.begin() + 1, rank - x.rank(), 1);
  return Reshape(x, Shape(std::move(dims)));
}

// Logical AND of the defined masks (undefined when none is).
Tensor AndMasks(absl::Span<const Tensor> masks) {
  Tensor out;
  for (const Tensor& m : masks) {
    if (!m.defined()) continue;
    out = out.defined() ? Select(out, m, out) : m;
  }
  return out;
}

}  // namespace

ElementwiseMerge::ElementwiseMerge(absl::string_view class_name, absl::string_view name,
                                   int exact_inputs)
    : Layer(class_name, name), exact_inputs_(exact_inputs) {
  supports_masking_ = true;
}

absl::StatusOr<Tensor> ElementwiseMerge::Call(absl::Span<const Tensor> inputs,
                                              const CallContext& ctx) {
  if (exact_inputs_ > 0 && static_cast<int>(inputs.size()) != exact_inputs_) {
    return absl::InvalidArgumentError(absl::StrCat("a ", class_name(),
                                                   " layer should be called on exactly ",
                                                   exact_inputs_, " inputs, got ",
                                                   inputs.size()));
  }
  KILN_RETURN_IF_ERROR(CheckBatchSizes(inputs));
  // The non-batch shapes broadcast right-aligned (Keras's output shape).
  int rank = 0;
  for (const Tensor& x : inputs) rank = std::max(rank, x.rank());
  std::vector<int64_t> out(rank - 1, 1);
  for (const Tensor& x : inputs) {
    for (int i = 1; i < x.rank(); ++i) {
      const int64_t d = x.shape().dim(i);
      int64_t& o = out[rank - x.rank() + i - 1];
      if (o == 1) {
        o = d;
      } else if (d != 1 && d != o) {
        return absl::InvalidArgumentError(
            absl::StrCat("inputs have incompatible shapes: ", ShapesOf(inputs)));
      }
    }
  }
  std::vector<Tensor> xs;
  for (const Tensor& x : inputs) xs.push_back(ExpandAtAxis1(x, rank));
  return Merge(xs);
}

Tensor ElementwiseMerge::ComputeMask(absl::Span<const Tensor> inputs,
                                     absl::Span<const Tensor> masks) {
  return AndMasks(masks);
}

Tensor AddLayer::Merge(const std::vector<Tensor>& xs) const {
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) y = y + xs[i];
  return xs.size() == 1 ? Reshape(y, y.shape()) : y;
}

Tensor Subtract::Merge(const std::vector<Tensor>& xs) const { return xs[0] - xs[1]; }

Tensor Multiply::Merge(const std::vector<Tensor>& xs) const {
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) y = y * xs[i];
  return xs.size() == 1 ? Reshape(y, y.shape()) : y;
}

Tensor Average::Merge(const std::vector<Tensor>& xs) const {
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) y = y + xs[i];
  return y / static_cast<double>(xs.size());
}

Tensor MaximumLayer::Merge(const std::vector<Tensor>& xs) const {
  Tensor y = xs[0];
  // kiln::Maximum gives the gradient to its first input on a tie.
  for (size_t i = 1; i < xs.size(); ++i) y = Maximum(y, xs[i]);
  return xs.size() == 1 ? Reshape(y, y.shape()) : y;
}

Tensor MinimumLayer::Merge(const std::vector<Tensor>& xs) const {
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) y = Minimum(y, xs[i]);
  return xs.size() == 1 ? Reshape(y, y.shape()) : y;
}

// ---- Concatenate --------------------------------------------------------------

Concatenate::Concatenate(int axis, absl::string_view name)
    : Layer("Concatenate", name), axis_(axis) {
  supports_masking_ = true;
}

absl::StatusOr<Tensor> Concatenate::Call(absl::Span<const Tensor> inputs,
                                         const CallContext& ctx) {
  const std::string mismatch = absl::StrCat(
      "a Concatenate layer requires inputs with matching shapes except for the "
      "concatenation axis ", axis_, ", got shapes ", ShapesOf(inputs));
  const int rank = inputs[0].rank();
  for (const Tensor& x : inputs) {
    if (x.rank() != rank) return absl::InvalidArgumentError(mismatch);
  }
  absl::StatusOr<int> axis = NormalizeAxis(axis_, rank);
  if (!axis.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("axis ", axis_,
                                                   " is out of range for inputs of rank ",
                                                   rank, " (shapes ", ShapesOf(inputs), ")"));
  }
  for (const Tensor& x : inputs) {
    for (int i = 0; i < rank; ++i) {
      if (i != *axis && x.shape().dim(i) != inputs[0].shape().dim(i)) {
        return absl::InvalidArgumentError(mismatch);
      }
    }
  }
  if (inputs.size() == 1) return Reshape(inputs[0], inputs[0].shape());
  return Concat(std::vector<Tensor>(inputs.begin(), inputs.end()), *axis);
}

Tensor Concatenate::ComputeMask(absl::Span<const Tensor> inputs,
                                absl::Span<const Tensor> masks) {
  bool any = false;
  for (const Tensor& m : masks) any |= m.defined();
  if (!any) return Tensor();
  // Each mask as 0/1 of its input's full shape: all ones when missing; a
  // lower-rank mask gets trailing axes and is broadcast over them (Keras
  // adds one axis of size 1; broadcasting gives the same result).
  std::vector<Tensor> full;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!masks[i].defined()) {
      full.push_back(OnesLike(x));
      continue;
    }
    Tensor m = Cast(masks[i], DType::kF32);
    std::vector<int64_t> dims = m.shape().dims();
    while (static_cast<int>(dims.size()) < x.rank()) dims.push_back(1);
    full.push_back(BroadcastTo(Reshape(m, Shape(dims)), x.shape()));
  }
  const int rank = inputs[0].rank();
  const Tensor joined = Concat(full, *NormalizeAxis(axis_, rank));
  return Cast(ReduceMin(joined, {rank - 1}), DType::kBool);
}

// ---- Dot ----------------------------------------------------------------------

Dot::Dot(int axes, DotOptions options)
    : Layer("Dot", options.name), axes_{axes, axes}, options_(std::move(options)) {}

Dot::Dot(std::vector<int> axes, DotOptions options)
    : Layer("Dot", options.name), axes_(std::move(axes)), options_(std::move(options)) {
  if (axes_.size() != 2) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        "invalid format for argument axes: it should contain two elements, got (",
        absl::StrJoin(axes_, ", "), ")")));
  }
}

absl::StatusOr<Tensor> Dot::Call(absl::Span<const Tensor> inputs, const CallContext& ctx) {
  if (inputs.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("a Dot layer should be called on a list of 2 inputs, got ", inputs.size()));
  }
  KILN_RETURN_IF_ERROR(CheckBatchSizes(inputs));
  Tensor x[2] = {inputs[0], inputs[1]};
  int axis[2];
  for (int i = 0; i < 2; ++i) {
    const int rank = x[i].rank();
    if (rank < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a Dot layer needs inputs of rank >= 2, got shapes ", ShapesOf(inputs)));
    }
    // Negative axes are taken modulo the rank (Python's %).
    axis[i] = axes_[i] < 0 ? ((axes_[i] % rank) + rank) % rank : axes_[i];
    if (axis[i] >= rank || axis[i] == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "axes (", absl::StrJoin(axes_, ", "), ") select axis ", axis[i], " of input ", i,
          " with shape ", x[i].shape().ToString(),
          axis[i] == 0 ? ": the batch axis cannot be contracted" : ": out of range"));
    }
  }
  const int64_t k = x[0].shape().dim(axis[0]);
  if (k != x[1].shape().dim(axis[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "incompatible input shapes: axis values ", k, " (at axis ", axis[0], ") != ",
        x[1].shape().dim(axis[1]), " (at axis ", axis[1], "), full input shapes ",
        ShapesOf(inputs)));
  }
  if (options_.normalize) {
    for (int i = 0; i < 2; ++i) x[i] = L2Normalize(x[i], {axis[i]});
  }
  // x1 -> [B, R1, K] and x2 -> [B, K, R2], then one batched matmul.
  std::vector<int64_t> rest[2];
  int64_t size[2] = {1, 1};
  IntList perm[2];
  for (int i = 0; i < 2; ++i) {
    perm[i].push_back(0);
    if (i == 1) perm[i].push_back(axis[i]);
    for (int d = 1; d < x[i].rank(); ++d) {
      if (d == axis[i]) continue;
      perm[i].push_back(d);
      rest[i].push_back(x[i].shape().dim(d));
      size[i] *= x[i].shape().dim(d);
    }
    if (i == 0) perm[i].push_back(axis[i]);
  }
  const int64_t batch = x[0].shape().dim(0);
  auto transpose = [](const Tensor& t, const IntList& p) {
    for (size_t d = 0; d < p.size(); ++d) {
      if (p[d] != static_cast<int64_t>(d)) return Transpose(t, p);
    }
    return t;
  };
  const Tensor a = Reshape(transpose(x[0], perm[0]), Shape{batch, size[0], k});
  const Tensor b = Reshape(transpose(x[1], perm[1]), Shape{x[1].shape().dim(0), k, size[1]});
  std::vector<int64_t> out = {batch};
  out.insert(out.end(), rest[0].begin(), rest[0].end());
  out.insert(out.end(), rest[1].begin(), rest[1].end());
  if (out.size() == 1) out.push_back(1);
  return Reshape(MatMul(a, b), Shape(std::move(out)));
}

// ---- Keras configs ----------------------------------------------------------

namespace {

template <typename T>
absl::StatusOr<std::shared_ptr<Layer>> ElementwiseFromConfig(const char* class_name,
                                                             const nlohmann::json& config) {
  KerasObject object{class_name, config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  return FinishLayerConfig<T>(args, name);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Layer>> AddFromConfig(const nlohmann::json& config) {
  return ElementwiseFromConfig<AddLayer>("Add", config);
}
absl::StatusOr<std::shared_ptr<Layer>> SubtractFromConfig(const nlohmann::json& config) {
  return ElementwiseFromConfig<Subtract>("Subtract", config);
}
absl::StatusOr<std::shared_ptr<Layer>> MultiplyFromConfig(const nlohmann::json& config) {
  return ElementwiseFromConfig<Multiply>("Multiply", config);
}
absl::StatusOr<std::shared_ptr<Layer>> AverageFromConfig(const nlohmann::json& config) {
  return ElementwiseFromConfig<Average>("Average", config);
}
absl::StatusOr<std::shared_ptr<Layer>> MaximumFromConfig(const nlohmann::json& config) {
  return ElementwiseFromConfig<MaximumLayer>("Maximum", config);
}
absl::StatusOr<std::shared_ptr<Layer>> MinimumFromConfig(const nlohmann::json& config) {
  return ElementwiseFromConfig<MinimumLayer>("Minimum", config);
}

absl::StatusOr<std::shared_ptr<Layer>> ConcatenateFromConfig(const nlohmann::json& config) {
  KerasObject object{"Concatenate", config};
  KerasArgs args(object, "layer");
  KILN_ASSIGN_OR_RETURN(std::string name, BaseLayerArgs(args));
  const nlohmann::json axis = args.Raw("axis");
  if (!axis.is_null() && !axis.is_number_integer()) {
    return args.ArgError("axis", absl::StrCat("must be an integer, got ", axis.dump()));
  }
  return FinishLayerConfig<Concatenate>(args, axis.is_null() ? -1 : axis.get<int>(), name);
}

absl::StatusOr<std::shared_ptr<Layer>> DotFromConfig(const nlohmann::json& config) {
  KerasObject object{"Dot", config};
  KerasArgs args(object, "layer");
  DotOptions options;
  KILN_ASSIGN_OR_RETURN(options.name, BaseLayerArgs(args));
  KILN_ASSIGN_OR_RETURN(options.normalize, BoolArg(args, "normalize", false));
  KILN_ASSIGN_OR_RETURN(const nlohmann::json axes, RequiredArg(args, config, "axes"));
  if (axes.is_number_integer()) {
    return FinishLayerConfig<Dot>(args, axes.get<int>(), std::move(options));
  }
  if (!axes.is_array()) {
    return args.ArgError("axes", absl::StrCat("must be a list or an int, got ", axes.dump()));
  }
  std::vector<int> list;
  for (const nlohmann::json& a : axes) {
    if (!a.is_number_integer()) {
      return args.ArgError("axes", absl::StrCat("list elements must be integers, got ",
                                                axes.dump()));
    }
    list.push_back(a.get<int>());
  }
  return FinishLayerConfig<Dot>(args, std::move(list), std::move(options));
}

}  // namespace kiln
