// Model weights in .npz files (round trip and every load error), Predict on
// both backends against hand-computed Dense results, and the regularization
// losses (weight penalties plus one activity penalty per call in the model).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/activity_regularization.h"
#include "layers/dense.h"
#include "graph/file_io.h"
#include "layers/model.h"
#include "layers/npz.h"
#include "ops/ops.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

Buffer Values(Shape shape, const std::vector<float>& v) {
  return Buffer::FromVector<float>(std::move(shape), v);
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

// x[N,3] -> hidden Dense(2, relu) -> out Dense(2), with fixed weights.
struct SmallMlp {
  SmallMlp() {
    ClearSession();
    x = Input({3}, {.name = "x"});
    hidden = MakeLayer<Dense>(2, DenseOptions{.activation = "relu", .name = "hidden"});
    out = MakeLayer<Dense>(2, DenseOptions{.name = "out"});
    model = std::make_unique<Model>(x, out(hidden(x)), "mlp");
    hidden->weights()[0].value = Values({3, 2}, {0.5f, -0.3f, 0.2f, 0.8f, -0.6f, 0.1f});
    hidden->weights()[1].value = Values({2}, {0.1f, 0.05f});
    out->weights()[0].value = Values({2, 2}, {1.0f, -0.5f, 0.3f, 0.7f});
    out->weights()[1].value = Values({2}, {0.05f, -0.1f});
  }
  // The model's result for one row, computed directly.
  std::vector<double> Expected(const std::vector<double>& row) const {
    const Buffer& w1 = hidden->weights()[0].value;
    const Buffer& b1 = hidden->weights()[1].value;
    const Buffer& w2 = out->weights()[0].value;
    const Buffer& b2 = out->weights()[1].value;
    double h[2];
    for (int j = 0; j < 2; ++j) {
      double z = b1.GetAsDouble(j);
      for (int i = 0; i < 3; ++i) z += row[i] * w1.GetAsDouble(i * 2 + j);
      h[j] = z > 0 ? z : 0;
    }
    std::vector<double> y(2);
    for (int j = 0; j < 2; ++j) {
      y[j] = b2.GetAsDouble(j) + h[0] * w2.GetAsDouble(j) + h[1] * w2.GetAsDouble(2 + j);
    }
    return y;
  }
  Tensor x;
  LayerHandle<Dense> hidden{nullptr}, out{nullptr};
  std::unique_ptr<Model> model;
};

TEST(ModelPredictTest, BothBackendsMatchHandComputedResultsInEveryChunk) {
  SmallMlp m;
  ASSERT_TRUE(m.model->status().ok()) << m.model->status();
  const std::vector<float> rows = {1, 2, 0.5f, -1, 0.5f, 2, 0.3f, -0.7f, 1.1f,
                                   2, 2, 2,    0,  0,    0, -0.4f, 1.5f, -2};
  Buffer x = Values({6, 3}, rows);
  for (Backend backend : {Backend::kJit, Backend::kInterp}) {
    for (int64_t batch : {6, 4, 1}) {  // one run; 4 + 2 rows; six runs
      auto y = m.model->Predict(x, {.batch_size = batch, .backend = backend});
      ASSERT_TRUE(y.ok()) << y.status();
      ASSERT_EQ(y->shape(), (Shape{6, 2}));
      for (int r = 0; r < 6; ++r) {
        std::vector<double> row(rows.begin() + 3 * r, rows.begin() + 3 * r + 3);
        const std::vector<double> want = m.Expected(row);
        for (int j = 0; j < 2; ++j) {
          EXPECT_NEAR(y->GetAsDouble(r * 2 + j), want[j], 1e-5)
              << BackendName(backend) << " batch " << batch << " row " << r;
        }
      }
    }
  }
}

TEST(ModelPredictTest, BadInputsAreReported) {
  SmallMlp m;
  Buffer wide = Buffer::Zeros(DType::kF32, Shape{2, 4});
  EXPECT_THAT(std::string(m.model->Predict(wide).status().message()),
              HasSubstr("input 'x' expects f32[N,3], got f32[2,4]"));
  Buffer ints = Buffer::Zeros(DType::kI32, Shape{2, 3});
  EXPECT_THAT(std::string(m.model->Predict(ints).status().message()), HasSubstr("got i32[2,3]"));
  Buffer ok = Buffer::Zeros(DType::kF32, Shape{2, 3});
  EXPECT_THAT(std::string(m.model->Predict(ok, {.batch_size = 0}).status().message()),
              HasSubstr("batch_size must be positive"));
  const Buffer* two[] = {&ok, &ok};
  EXPECT_THAT(std::string(m.model->Predict(absl::MakeConstSpan(two)).status().message()),
              HasSubstr("has 1 inputs, got 2 arrays"));
  Buffer empty = Buffer::Zeros(DType::kF32, Shape{0, 3});
  EXPECT_THAT(std::string(m.model->Predict(empty).status().message()), HasSubstr("no rows"));
}

TEST(ModelWeightsTest, SaveAndLoadRoundTripInKerasLayout) {
  SmallMlp m;
  const std::string path = TempPath("mlp_weights.npz");
  ASSERT_TRUE(m.model->SaveWeights(path).ok());
  auto saved = ReadNpz(path);
  ASSERT_TRUE(saved.ok()) << saved.status();
  std::vector<std::string> keys;
  for (const auto& [key, value] : *saved) keys.push_back(key);
  EXPECT_THAT(keys,
              ::testing::ElementsAre("hidden/kernel", "hidden/bias", "out/kernel", "out/bias"));
  EXPECT_EQ(FindNpzEntry(*saved, "hidden/kernel")->shape(), (Shape{3, 2}));

  std::vector<Buffer> before;
  for (const Weight* w : m.model->weights()) before.push_back(w->value.Clone());
  for (Weight* w : m.model->weights()) w->value = Buffer::Zeros(DType::kF32, w->value.shape());
  ASSERT_TRUE(m.model->LoadWeights(path).ok());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(m.model->weights()[i]->value.BitwiseEquals(before[i])) << i;
  }
}

TEST(ModelWeightsTest, EveryLoadErrorNamesTheFileAndTheKeyAndChangesNothing) {
  SmallMlp m;
  auto entries_with = [&](auto edit) {
    NpzEntries e;
    for (const Weight* w : m.model->weights()) e.emplace_back(w->name, w->value.Clone());
    edit(e);
    return e;
  };
  struct Case {
    std::string file;
    NpzEntries entries;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({"missing.npz", entries_with([](NpzEntries& e) { e.pop_back(); }),
                   "missing.npz: missing weight 'out/bias' (f32[2])"});
  cases.push_back({"extra.npz", entries_with([](NpzEntries& e) {
                     e.emplace_back("other/kernel", Buffer::Zeros(DType::kF32, Shape{1}));
                   }),
                   "extra.npz: unexpected key 'other/kernel': model 'mlp' has no weight"});
  cases.push_back({"shape.npz", entries_with([](NpzEntries& e) {
                     e[0].second = Buffer::Zeros(DType::kF32, Shape{2, 3});
                   }),
                   "shape.npz: weight 'hidden/kernel' is f32[2,3], the model expects f32[3,2]"});
  cases.push_back({"dtype.npz", entries_with([](NpzEntries& e) {
                     e[1].second = Buffer::Zeros(DType::kI32, Shape{2});
                   }),
                   "dtype.npz: weight 'hidden/bias' is i32[2], the model expects f32[2]"});
  const Buffer kernel_before = m.hidden->weights()[0].value.Clone();
  for (const Case& c : cases) {
    const std::string path = TempPath(c.file);
    ASSERT_TRUE(WriteNpz(path, c.entries, false).ok());
    absl::Status s = m.model->LoadWeights(path);
    EXPECT_THAT(std::string(s.message()), HasSubstr(TempPath(c.message))) << c.file;
    EXPECT_TRUE(m.hidden->weights()[0].value.BitwiseEquals(kernel_before)) << c.file;
  }
  // A truncated file and a missing one.
  const std::string good = TempPath("good.npz");
  ASSERT_TRUE(m.model->SaveWeights(good).ok());
  auto bytes = ReadFileToString(good);
  ASSERT_TRUE(bytes.ok());
  const std::string cut = TempPath("cut.npz");
  ASSERT_TRUE(WriteFileAtomically(cut, bytes->substr(0, bytes->size() / 2)).ok());
  EXPECT_THAT(std::string(m.model->LoadWeights(cut).message()), HasSubstr(cut));
  EXPECT_THAT(std::string(m.model->LoadWeights(TempPath("absent.npz")).message()),
              HasSubstr("absent.npz"));
  EXPECT_TRUE(m.hidden->weights()[0].value.BitwiseEquals(kernel_before));
}

TEST(ModelRegularizationTest, WeightPenaltiesPlusOneActivityPenaltyPerCall) {
  ClearSession();
  Tensor x = Input({2}, {.name = "x"});
  auto d = MakeLayer<Dense>(2, DenseOptions{.kernel_regularizer = L2(0.5),
                                            .activity_regularizer = L1(0.25),
                                            .name = "d"});
  Tensor y1 = d(x);
  Tensor y2 = d(y1);  // shared: two calls, two activity penalties
  Tensor outside = d(x * 3.0);  // a call that is not part of the model
  Model model(x, y2);
  ASSERT_TRUE(model.status().ok()) << model.status();
  EXPECT_TRUE(model.HasRegularization());
  d->weights()[0].value = Values({2, 2}, {1.0f, -2.0f, 0.5f, 1.5f});
  d->weights()[1].value = Values({2}, {0.25f, -0.5f});
  Tensor reg = model.RegularizationLoss();
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg.shape(), Shape{});

  Buffer xv = Values({3, 2}, {1, 2, -1, 0.5f, 0.25f, -2});
  Feeds feeds = LayerFeeds(x.graph(), false);
  feeds["x"] = &xv;
  auto got = EvaluateTensors({reg}, feeds);
  ASSERT_TRUE(got.ok()) << got.status();
  // By hand: y = x W + b, twice; penalty 0.5 sum W^2 + 0.25 (sum|y1| + sum|y2|) / 3.
  const double w[2][2] = {{1.0, -2.0}, {0.5, 1.5}};
  const double b[2] = {0.25, -0.5};
  double abs_sum = 0;
  for (int r = 0; r < 3; ++r) {
    double v[2] = {xv.GetAsDouble(2 * r), xv.GetAsDouble(2 * r + 1)};
    for (int call = 0; call < 2; ++call) {
      double y[2];
      for (int j = 0; j < 2; ++j) y[j] = b[j] + v[0] * w[0][j] + v[1] * w[1][j];
      abs_sum += std::abs(y[0]) + std::abs(y[1]);
      v[0] = y[0];
      v[1] = y[1];
    }
  }
  const double want = 0.5 * (1 + 4 + 0.25 + 2.25) + 0.25 * abs_sum / 3;
  EXPECT_NEAR((*got)[0].GetAsDouble(0), want, 1e-5);
  (void)outside;

  // ActivityRegularization on an input: l1 sum|x| / B.
  Tensor a = Input({2}, {.name = "a"});
  Model penalized(a, MakeLayer<ActivityRegularization>(0.5)(a));
  ASSERT_TRUE(penalized.status().ok()) << penalized.status();
  EXPECT_TRUE(penalized.HasRegularization());
  feeds["a"] = &xv;
  auto act = EvaluateTensors({penalized.RegularizationLoss()}, feeds);
  ASSERT_TRUE(act.ok()) << act.status();
  EXPECT_NEAR((*act)[0].GetAsDouble(0), 0.5 * (1 + 2 + 1 + 0.5 + 0.25 + 2) / 3, 1e-6);

  Tensor z = Input({2}, {.name = "z"});
  Model plain(z, MakeLayer<Dense>(1)(z));
  EXPECT_FALSE(plain.HasRegularization());
  auto zero = EvaluateTensors({plain.RegularizationLoss()}, LayerFeeds(z.graph(), false));
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ((*zero)[0].GetAsDouble(0), 0.0);
}

}  // namespace
}  // namespace kiln
