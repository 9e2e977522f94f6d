#include "layers/layer.h"

#include <cctype>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {
namespace {

std::string SnakeCase(absl::string_view class_name) {
  std::string out;
  for (size_t i = 0; i < class_name.size(); ++i) {
    const char c = class_name[i];
    const bool upper = std::isupper(static_cast<unsigned char>(c));
    // A new word starts at an upper-case letter after a lower-case one or
    // before a lower-case one ("MaxPooling2D" -> max_pooling2d).
    if (upper && i > 0 &&
        (std::islower(static_cast<unsigned char>(class_name[i - 1])) ||
         (i + 1 < class_name.size() &&
          std::islower(static_cast<unsigned char>(class_name[i + 1])) &&
          std::isupper(static_cast<unsigned char>(class_name[i - 1]))))) {
      out += '_';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The batch size of `y` as a scalar graph value (N becomes a constant when
// the program is specialized), at least 1.
Tensor BatchSizeAtLeastOne(const Tensor& y) {
  if (y.rank() == 0) return ScalarLike(y, 1.0);
  Tensor ones = BroadcastTo(ScalarLike(y, 1.0), Shape{y.shape().dim(0)});
  return Maximum(ReduceSum(ones, {0}), ScalarLike(y, 1.0));
}

std::mutex& LayerNameMutex() {
  static std::mutex mu;
  return mu;
}

absl::flat_hash_map<std::string, int>& LayerNameCounts() {
  static auto* counts = new absl::flat_hash_map<std::string, int>();
  return *counts;
}

}  // namespace

std::string UniqueLayerName(absl::string_view class_name) {
  const std::string base = SnakeCase(class_name);
  std::lock_guard<std::mutex> lock(LayerNameMutex());
  const int n = LayerNameCounts()[base]++;
  return n == 0 ? base : absl::StrCat(base, "_", n);
}

void ResetLayerNames() {
  std::lock_guard<std::mutex> lock(LayerNameMutex());
  LayerNameCounts().clear();
}

Tensor LearningPhase(const std::shared_ptr<Graph>& graph) {
  LayerGraphState& state = graph->Attachment<LayerGraphState>();
  if (state.learning_phase == kNoNode) {
    state.learning_phase = Input(graph, kLearningPhaseName, DType::kBool, Shape{}).id();
  }
  return graph->tensor(state.learning_phase);
}

Tensor StepCounter(const std::shared_ptr<Graph>& graph) {
  LayerGraphState& state = graph->Attachment<LayerGraphState>();
  if (state.step_counter == kNoNode) {
    state.step_counter = Input(graph, kStepCounterName, DType::kI64, Shape{}).id();
  }
  return graph->tensor(state.step_counter);
}

Tensor MaskOf(const Tensor& t) {
  if (!t.ok()) return Tensor();
  LayerGraphState& state = t.graph()->Attachment<LayerGraphState>();
  auto it = state.masks.find(t.id());
  return it == state.masks.end() ? Tensor() : t.graph()->tensor(it->second);
}

Feeds LayerFeeds(const std::shared_ptr<Graph>& graph, bool training, int64_t step) {
  static const Buffer* kTrue = new Buffer(Buffer::Scalar(DType::kBool, 1));
  static const Buffer* kFalse = new Buffer(Buffer::Scalar(DType::kBool, 0));
  Feeds feeds;
  for (const std::shared_ptr<Layer>& layer : graph->Attachment<LayerGraphState>().layers) {
    for (const Weight& w : layer->weights()) feeds[w.name] = &w.value;
  }
  feeds[kLearningPhaseName] = training ? kTrue : kFalse;
  LayerGraphState& state = graph->Attachment<LayerGraphState>();
  if (state.step_value.num_elements() != 1) state.step_value = Buffer(DType::kI64, Shape{});
  state.step_value.data<int64_t>()[0] = step;
  feeds[kStepCounterName] = &state.step_value;
  return feeds;
}

Layer::Layer(absl::string_view class_name, absl::string_view name)
    : class_name_(class_name),
      name_(name.empty() ? UniqueLayerName(class_name) : std::string(name)) {}

Tensor Layer::ComputeMask(absl::Span<const Tensor> inputs, absl::Span<const Tensor> masks) {
  return supports_masking_ && !masks.empty() ? masks[0] : Tensor();
}

absl::StatusOr<int> Layer::AddWeight(absl::string_view name, const Shape& shape,
                                     const InitializerPtr& initializer,
                                     Regularizer regularizer, Constraint constraint,
                                     bool trainable) {
  if (initializer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("weight '", name, "' has no initializer"));
  }
  KILN_ASSIGN_OR_RETURN(Buffer value, (*initializer)(shape));
  weights_.push_back(Weight{absl::StrCat(name_, "/", name), std::move(value), trainable,
                            std::move(regularizer), std::move(constraint)});
  return static_cast<int>(weights_.size()) - 1;
}

Tensor Layer::WeightTensor(const std::shared_ptr<Graph>& graph, int index) {
  const Weight& w = weights_[index];
  LayerGraphState& state = graph->Attachment<LayerGraphState>();
  auto it = state.variables.find(w.name);
  if (it != state.variables.end()) return graph->tensor(it->second);
  Tensor v = Variable(graph, w.name, w.value.dtype(), w.value.shape());
  if (v.ok()) state.variables[w.name] = v.id();
  return v;
}

Tensor Layer::operator()(const Tensor& x, SourceLoc loc) {
  return (*this)(std::vector<Tensor>{x}, loc);
}

Tensor Layer::operator()(const std::vector<Tensor>& xs, SourceLoc loc) {
  if (xs.empty() || !xs[0].defined()) return Tensor();
  std::shared_ptr<Graph> graph = xs[0].graph();
  for (const Tensor& x : xs) {
    if (!x.ok()) return Tensor(graph, kNoNode);
  }
  LayerScope scope(name_, loc);
  const std::string op_name = SnakeCase(class_name_);
  if (!config_status_.ok()) return graph->Fail(op_name, config_status_);
  for (const Tensor& x : xs) {
    if (x.graph() != graph) {
      return graph->Fail(op_name, absl::InvalidArgumentError("inputs come from different graphs"));
    }
  }
  if (!built_) {
    std::vector<TensorType> types;
    for (const Tensor& x : xs) types.push_back(x.node().type);
    absl::Status built = Build(types);
    if (!built.ok()) return graph->Fail(op_name, built);
    built_ = true;
  }
  LayerGraphState& state = graph->Attachment<LayerGraphState>();
  std::shared_ptr<Layer> self = shared_from_this();
  if (std::find(state.layers.begin(), state.layers.end(), self) == state.layers.end()) {
    state.layers.push_back(self);
  }
  CallContext ctx;
  for (const Tensor& x : xs) ctx.masks.push_back(MaskOf(x));
  ctx.training = LearningPhase(graph);
  absl::StatusOr<Tensor> y = Call(xs, ctx);
  if (!y.ok()) return graph->Fail(op_name, y.status());
  if (!y->ok()) return *y;  // an op inside recorded the error
  LayerCall call{this, {}, y->id()};
  for (const Tensor& x : xs) call.inputs.push_back(x.id());
  state.calls.push_back(std::move(call));
  Tensor mask = ComputeMask(xs, ctx.masks);
  if (mask.ok()) state.masks[y->id()] = mask.id();
  if (activity_regularizer_ && y->dtype() == DType::kF32) {
    Tensor loss = activity_regularizer_(*y) / BatchSizeAtLeastOne(*y);
    if (loss.ok()) {
      state.activity_losses.push_back(loss.id());
      state.calls.back().activity_loss = loss.id();
    }
  }
  return *y;
}

}  // namespace kiln
