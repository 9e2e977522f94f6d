// The Optimizer base: state buffers, the shared part of every update
// (learning rate, weight decay, iterations), configs, and Apply.
#include "layers/optimizer.h"

#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "graph/status_macros.h"
#include "ops/ops.h"

namespace kiln {

// The slots of one weight in one graph.
class Optimizer::GraphSlots : public Optimizer::Slots {
 public:
  GraphSlots(Optimizer& optimizer, const Tensor& weight, const std::string& weight_name,
             std::vector<VariableUpdate>& updates)
      : optimizer_(optimizer), weight_(weight), weight_name_(weight_name), updates_(updates) {}

  Tensor Get(absl::string_view slot) override {
    const std::string name = absl::StrCat(slot, "/", weight_name_);
    auto it = variables_.find(name);
    if (it != variables_.end()) return it->second;
    Tensor v = Variable(weight_.graph(), optimizer_.GraphName(name), weight_.dtype(),
                        weight_.shape());
    variables_.emplace(name, v);
    return v;
  }
  void Set(absl::string_view slot, const Tensor& new_value) override {
    updates_.push_back({Get(slot), new_value});
  }

 private:
  Optimizer& optimizer_;
  const Tensor& weight_;
  const std::string& weight_name_;
  std::vector<VariableUpdate>& updates_;
  absl::flat_hash_map<std::string, Tensor> variables_;
};

struct Optimizer::CompiledApply {
  std::unique_ptr<Executable> program;
  std::vector<std::string> gradient_names;
};

Optimizer::Optimizer(std::string name, double learning_rate, SchedulePtr schedule,
                     double weight_decay, GradientClipping clipping)
    : name_(std::move(name)),
      schedule_(std::move(schedule)),
      weight_decay_(weight_decay),
      clipping_(clipping),
      learning_rate_(Buffer::Scalar(DType::kF32, schedule_ ? 0.0 : learning_rate)) {
  if (!(weight_decay >= 0)) {
    ConfigError(absl::InvalidArgumentError(
        absl::StrCat(name_, ": weight_decay must be >= 0, got ", weight_decay)));
  }
  const std::pair<const char*, std::optional<double>> clip_args[] = {
      {"clipnorm", clipping.clipnorm},
      {"clipvalue", clipping.clipvalue},
      {"global_clipnorm", clipping.global_clipnorm}};
  for (const auto& [key, value] : clip_args) {
    if (value.has_value() && !(*value >= 0)) {
      ConfigError(absl::InvalidArgumentError(
          absl::StrCat(name_, ": ", key, " must be >= 0, got ", *value)));
    }
  }
  if (clipping.clipnorm.has_value() && clipping.global_clipnorm.has_value()) {
    ConfigError(absl::InvalidArgumentError(absl::StrCat(
        name_, ": at most one of clipnorm and global_clipnorm can be set, got clipnorm=",
        *clipping.clipnorm, ", global_clipnorm=", *clipping.global_clipnorm)));
  }
  State("iterations", Shape{}, DType::kI64, 0);
}

Optimizer::~Optimizer() = default;

double Optimizer::learning_rate() const {
  if (schedule_ != nullptr) return std::numeric_limits<double>::quiet_NaN();
  return learning_rate_.GetAsDouble(0);
}

void Optimizer::SetLearningRate(double learning_rate) {
  if (schedule_ != nullptr) {
    schedule_ = nullptr;
    ++program_version_;
  }
  learning_rate_.SetFromDouble(0, learning_rate);
}

int64_t Optimizer::iterations() const {
  return static_cast<int64_t>(state_.at("iterations")->GetAsDouble(0));
}

Buffer& Optimizer::State(const std::string& checkpoint_name, const Shape& shape, DType dtype,
                         double initial_value) {
  auto it = state_.find(checkpoint_name);
  if (it != state_.end()) return *it->second;
  auto buffer = std::make_unique<Buffer>(dtype, shape);
  for (int64_t i = 0; i < buffer->num_elements(); ++i) buffer->SetFromDouble(i, initial_value);
  Buffer& result = *buffer;
  state_.emplace(checkpoint_name, std::move(buffer));
  order_.push_back(checkpoint_name);
  return result;
}

void Optimizer::CreateSlots(absl::Span<const std::string> names, absl::Span<const Shape> shapes) {
  for (const SlotKind& kind : SlotKinds()) {
    for (size_t i = 0; i < names.size(); ++i) {
      State(absl::StrCat(kind.name, "/", names[i]), shapes[i], DType::kF32, kind.initial_value);
    }
  }
}

void Optimizer::Build(absl::Span<Weight* const> weights) {
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  for (const Weight* w : weights) {
    names.push_back(w->name);
    shapes.push_back(w->value.shape());
  }
  CreateSlots(names, shapes);
}

std::vector<std::pair<std::string, Buffer*>> Optimizer::Variables() {
  std::vector<std::pair<std::string, Buffer*>> out;
  for (const std::string& name : order_) out.emplace_back(name, state_.at(name).get());
  return out;
}

nlohmann::json Optimizer::GetConfig() const {
  nlohmann::json config = OwnConfig();
  config["name"] = name_;
  config["learning_rate"] =
      schedule_ != nullptr ? schedule_->GetConfig() : nlohmann::json(learning_rate());
  config["weight_decay"] = weight_decay_ > 0 ? nlohmann::json(weight_decay_) : nlohmann::json();
  auto optional = [](const std::optional<double>& v) {
    return v.has_value() ? nlohmann::json(*v) : nlohmann::json();
  };
  config["clipnorm"] = optional(clipping_.clipnorm);
  config["clipvalue"] = optional(clipping_.clipvalue);
  config["global_clipnorm"] = optional(clipping_.global_clipnorm);
  return {{"class_name", name_}, {"config", config}};
}

namespace {

// The sum of the squares of every element of g: an f32 scalar.
Tensor SumOfSquares(const Tensor& g) {
  IntList all;
  for (int i = 0; i < g.rank(); ++i) all.push_back(i);
  Tensor squares = Square(g);
  return all.empty() ? squares : ReduceSum(squares, all);
}

bool Positive(const std::optional<double>& v) { return v.has_value() && *v > 0; }

}  // namespace

std::vector<Tensor> Optimizer::ClipGradients(absl::Span<const Tensor> gradients) const {
  std::vector<Tensor> out(gradients.begin(), gradients.end());
  if (Positive(clipping_.clipnorm)) {  // tf.clip_by_norm on each gradient
    const double c = *clipping_.clipnorm;
    for (Tensor& g : out) g = g * c / Maximum(Sqrt(SumOfSquares(g)), ScalarLike(g, c));
  } else if (Positive(clipping_.global_clipnorm)) {  // tf.clip_by_global_norm
    const double c = *clipping_.global_clipnorm;
    Tensor total = SumOfSquares(out[0]);
    for (size_t i = 1; i < out.size(); ++i) total = total + SumOfSquares(out[i]);
    Tensor scale = c / Maximum(Sqrt(total), ScalarLike(total, c));
    for (Tensor& g : out) g = g * scale;
  } else if (Positive(clipping_.clipvalue)) {
    const double c = *clipping_.clipvalue;
    for (Tensor& g : out) g = Clip(g, -c, c);
  }
  return out;
}

absl::StatusOr<std::vector<VariableUpdate>> Optimizer::BuildUpdates(
    absl::Span<const Tensor> weights, absl::Span<const Tensor> gradients) {
  KILN_RETURN_IF_ERROR(status_);
  if (weights.size() != gradients.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name_, ": ", weights.size(), " weights but ",
                                                   gradients.size(), " gradients"));
  }
  if (weights.empty()) return absl::InvalidArgumentError(absl::StrCat(name_, ": no weights"));
  const std::shared_ptr<Graph>& graph = weights[0].graph();
  std::vector<std::string> names;
  for (size_t i = 0; i < weights.size(); ++i) {
    KILN_RETURN_IF_ERROR(weights[i].status());
    KILN_RETURN_IF_ERROR(gradients[i].status());
    const Node& node = weights[i].node();
    names.push_back(node.attrs.GetOr<std::string>("name", ""));
    if (!IsFed(node) || weights[i].graph() != graph || gradients[i].graph() != graph) {
      return absl::InvalidArgumentError(absl::StrCat(
          name_, ": weight ", i, " must be a variable of the gradients' graph"));
    }
    if (weights[i].dtype() != DType::kF32 || !(gradients[i].node().type == node.type)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": the gradient of '", names[i], "' is ",
                       gradients[i].node().type.ToString(), ", expected ", node.type.ToString()));
    }
  }
  std::vector<Shape> shapes;
  for (const Tensor& w : weights) shapes.push_back(w.shape());
  CreateSlots(names, shapes);
  const std::vector<Tensor> clipped = ClipGradients(gradients);
  Tensor iterations = Variable(graph, GraphName("iterations"), DType::kI64, Shape{});
  Tensor step = Cast(iterations, DType::kF32);
  StepContext context;
  context.learning_rate = schedule_ != nullptr
                              ? (*schedule_)(step)
                              : Input(graph, GraphName("learning_rate"), DType::kF32, Shape{});
  context.local_step = step + 1.0;
  std::vector<VariableUpdate> updates;
  for (size_t i = 0; i < weights.size(); ++i) {
    Tensor weight = weights[i];
    if (weight_decay_ > 0) weight = weight - weight * (context.learning_rate * weight_decay_);
    GraphSlots slots(*this, weights[i], names[i], updates);
    updates.push_back({weights[i], UpdateStep(weight, clipped[i], context, slots)});
  }
  updates.push_back({iterations, iterations + ScalarLike(iterations, 1)});
  KILN_RETURN_IF_ERROR(graph->status());
  return updates;
}

void Optimizer::AddFeeds(Feeds& feeds) const {
  if (schedule_ == nullptr) feeds[GraphName("learning_rate")] = &learning_rate_;
}

void Optimizer::AddVariables(MutableFeeds& variables) {
  for (auto& [name, buffer] : state_) variables[GraphName(name)] = buffer.get();
}

absl::Status Optimizer::Apply(absl::Span<const Buffer* const> gradients,
                              absl::Span<Weight* const> weights,
                              const ExecutableOptions& options) {
  if (gradients.size() != weights.size()) {
    return absl::InvalidArgumentError(absl::StrCat(name_, ".Apply: ", gradients.size(),
                                                   " gradients for ", weights.size(), " weights"));
  }
  std::string key = absl::StrCat(program_version_, "|",
                                 options.backend ? BackendName(*options.backend) : "env");
  for (const Weight* w : weights) absl::StrAppend(&key, "|", w->name);
  std::unique_ptr<CompiledApply>& compiled = applies_[key];
  if (compiled == nullptr) {
    auto graph = Graph::Create();
    auto made = std::make_unique<CompiledApply>();
    std::vector<Tensor> variables, grads;
    for (const Weight* w : weights) {
      variables.push_back(Variable(graph, w->name, w->value.dtype(), w->value.shape()));
      made->gradient_names.push_back("gradient/" + w->name);
      grads.push_back(Input(graph, made->gradient_names.back(), w->value.dtype(), w->value.shape()));
    }
    absl::StatusOr<std::vector<VariableUpdate>> updates = BuildUpdates(variables, grads);
    if (!updates.ok()) {
      applies_.erase(key);
      return updates.status();
    }
    for (size_t i = 0; i < weights.size(); ++i) {
      if (weights[i]->constraint) (*updates)[i].value = weights[i]->constraint((*updates)[i].value);
    }
    absl::StatusOr<std::unique_ptr<Executable>> program =
        Executable::Compile({}, options, *updates);
    if (!program.ok()) {
      applies_.erase(key);
      return program.status();
    }
    made->program = *std::move(program);
    compiled = std::move(made);
  }
  Feeds feeds;
  AddFeeds(feeds);
  for (size_t i = 0; i < gradients.size(); ++i) feeds[compiled->gradient_names[i]] = gradients[i];
  MutableFeeds variables;
  AddVariables(variables);
  for (Weight* w : weights) variables[w->name] = &w->value;
  return compiled->program->Run(feeds, variables).status();
}

}  // namespace kiln
