// InitializerByName / InitializerFromConfig (layers/initializers.h): every
// tf.keras 2.x name and alias, config arguments reaching the initializer
// (checked by comparing with the directly built one under the same seed),
// and the error for each kind of bad config.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/initializers.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using nlohmann::json;

TEST(InitializerByNameTest, EveryNameAndAlias) {
  struct Case {
    std::vector<std::string> names;
    std::string class_name;
  };
  const std::vector<Case> cases = {
      {{"Zeros", "zeros", "zero", "ZerosV2"}, "Zeros"},
      {{"Ones", "ones", "one", "OnesV2"}, "Ones"},
      {{"Constant", "constant", "ConstantV2"}, "Constant"},
      {{"RandomUniform", "random_uniform", "uniform", "RandomUniformV2"}, "RandomUniform"},
      {{"RandomNormal", "random_normal", "normal", "RandomNormalV2"}, "RandomNormal"},
      {{"TruncatedNormal", "truncated_normal", "TruncatedNormalV2"}, "TruncatedNormal"},
      {{"VarianceScaling", "variance_scaling", "VarianceScalingV2"}, "VarianceScaling"},
      {{"GlorotUniform", "glorot_uniform", "GlorotUniformV2", "glorot_uniformV2"}, "GlorotUniform"},
      {{"GlorotNormal", "glorot_normal", "GlorotNormalV2", "glorot_normalV2"}, "GlorotNormal"},
      {{"HeUniform", "he_uniform", "HeUniformV2", "he_uniformV2"}, "HeUniform"},
      {{"HeNormal", "he_normal", "HeNormalV2", "he_normalV2"}, "HeNormal"},
      {{"LecunUniform", "lecun_uniform", "LecunUniformV2", "lecun_uniformV2"}, "LecunUniform"},
      {{"LecunNormal", "lecun_normal", "LecunNormalV2", "lecun_normalV2"}, "LecunNormal"},
      {{"Orthogonal", "orthogonal", "OrthogonalV2"}, "Orthogonal"},
      {{"Identity", "identity", "IdentityV2"}, "Identity"},
  };
  for (const Case& c : cases) {
    for (const std::string& name : c.names) {
      absl::StatusOr<InitializerPtr> init = InitializerByName(name);
      ASSERT_TRUE(init.ok()) << name << ": " << init.status();
      EXPECT_EQ((*init)->name(), c.class_name) << name;
      // The same through a config object with an empty config.
      absl::StatusOr<InitializerPtr> from_config =
          InitializerFromConfig(json{{"class_name", name}, {"config", json::object()}});
      ASSERT_TRUE(from_config.ok()) << name << ": " << from_config.status();
      EXPECT_EQ((*from_config)->name(), c.class_name) << name;
    }
  }
}

TEST(InitializerByNameTest, DefaultsOfTheNamedForms) {
  absl::StatusOr<InitializerPtr> uniform = InitializerByName("uniform");
  ASSERT_TRUE(uniform.ok());
  absl::StatusOr<Buffer> b = (**uniform)(Shape{10000});
  ASSERT_TRUE(b.ok());
  for (int64_t i = 0; i < b->num_elements(); ++i) {
    ASSERT_GE(b->GetAsDouble(i), -0.05f);
    ASSERT_LT(b->GetAsDouble(i), 0.05);
  }
  absl::StatusOr<InitializerPtr> vs = InitializerByName("variance_scaling");
  ASSERT_TRUE(vs.ok());
  const auto& v = static_cast<const VarianceScaling&>(**vs);
  EXPECT_EQ(v.scale(), 1.0);
  EXPECT_EQ(v.mode(), FanMode::kFanIn);
  EXPECT_EQ(v.distribution(), FanDistribution::kTruncatedNormal);
}

// Built from `config` and directly, both seeded: the same values.
void ExpectSameValues(const json& config, const Initializer& direct, const Shape& shape) {
  absl::StatusOr<InitializerPtr> init = InitializerFromConfig(config);
  ASSERT_TRUE(init.ok()) << config.dump() << ": " << init.status();
  absl::StatusOr<Buffer> a = (**init)(shape), b = direct(shape);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(a->BitwiseEquals(*b)) << config.dump();
}

TEST(InitializerFromConfigTest, ArgumentsReachTheInitializer) {
  const Shape shape{6, 5};
  ExpectSameValues(json::parse(R"({"class_name": "RandomNormal",
      "config": {"mean": 1.0, "stddev": 2, "seed": 3, "dtype": "float32"}})"),
                   RandomNormal(1.0, 2.0, 3), shape);
  ExpectSameValues(json::parse(R"({"class_name": "RandomUniform",
      "config": {"minval": -1, "maxval": 4.5, "seed": 8}})"),
                   RandomUniform(-1, 4.5, 8), shape);
  ExpectSameValues(json::parse(R"({"class_name": "TruncatedNormal",
      "config": {"mean": 0.5, "stddev": 0.1, "seed": 2}})"),
                   TruncatedNormal(0.5, 0.1, 2), shape);
  ExpectSameValues(json::parse(R"({"module": "keras.initializers",
      "class_name": "VarianceScaling", "registered_name": null,
      "config": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform", "seed": 4}})"),
                   VarianceScaling(2.0, FanMode::kFanAvg, FanDistribution::kUniform, 4), shape);
  // 'normal' (any case) is truncated_normal.
  ExpectSameValues(json::parse(R"({"class_name": "VarianceScaling",
      "config": {"mode": "fan_out", "distribution": "Normal", "seed": 4}})"),
                   VarianceScaling(1.0, FanMode::kFanOut, FanDistribution::kTruncatedNormal, 4),
                   shape);
  ExpectSameValues(json::parse(R"({"class_name": "VarianceScaling",
      "config": {"distribution": "UNTRUNCATED_NORMAL", "seed": 4}})"),
                   VarianceScaling(1.0, FanMode::kFanIn, FanDistribution::kUntruncatedNormal, 4),
                   shape);
  ExpectSameValues(json::parse(R"({"class_name": "he_normal", "config": {"seed": 12}})"),
                   HeNormal(12), shape);
  ExpectSameValues(json::parse(R"({"class_name": "Orthogonal", "config": {"gain": 3, "seed": 1}})"),
                   Orthogonal(3, 1), shape);
  ExpectSameValues(json::parse(R"({"class_name": "Identity", "config": {"gain": 0.25}})"),
                   Identity(0.25), shape);
  ExpectSameValues(json::parse(R"({"class_name": "Constant", "config": {"value": -3}})"),
                   Constant(-3), shape);
  ExpectSameValues(
      json::parse(R"({"class_name": "Constant", "config": {"value": [[1, 2], [3, 4]]}})"),
      Constant(std::vector<double>{1, 2, 3, 4}), Shape{2, 2});
  ExpectSameValues(json::parse(R"({"class_name": "Constant", "config": {"value": {
      "class_name": "__numpy__", "config": {"value": [5, 6], "dtype": "float32"}}}})"),
                   Constant(std::vector<double>{5, 6}), Shape{2});
}

TEST(InitializerFromConfigTest, NullSeedIsUnseeded) {
  absl::StatusOr<InitializerPtr> init = InitializerFromConfig(
      json::parse(R"({"class_name": "GlorotUniform", "config": {"seed": null}})"));
  ASSERT_TRUE(init.ok()) << init.status();
  absl::StatusOr<Buffer> a = (**init)(Shape{20}), b = (**init)(Shape{20});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->BitwiseEquals(*b));
}

TEST(InitializerFromConfigTest, BadConfigsNameTheProblem) {
  struct Case {
    std::string config;
    std::string substring;
  };
  const std::vector<Case> cases = {
      {R"("glorot_uniformm")", "unknown initializer: 'glorot_uniformm'"},
      {R"("Glorot_Uniform")", "unknown initializer: 'Glorot_Uniform'"},
      {R"({"class_name": "Foo", "config": {}})", "unknown initializer: 'Foo'"},
      {R"(42)", "could not interpret initializer identifier"},
      {R"(null)", "could not interpret initializer identifier"},
      {R"({"config": {}})", "\"class_name\""},
      {R"({"class_name": "Zeros", "config": 3})", "\"config\" must be an object"},
      {R"({"class_name": "Zeros", "config": {}, "extra": 1})", "unexpected key 'extra'"},
      {R"({"class_name": "RandomNormal", "config": {"stdev": 1}})",
       "initializer 'RandomNormal': unexpected argument 'stdev'"},
      {R"({"class_name": "GlorotUniform", "config": {"scale": 2}})",
       "initializer 'GlorotUniform': unexpected argument 'scale'"},
      {R"({"class_name": "RandomNormal", "config": {"stddev": "big"}})",
       "initializer 'RandomNormal': argument 'stddev' must be a number"},
      {R"({"class_name": "RandomUniform", "config": {"seed": 1.5}})",
       "initializer 'RandomUniform': argument 'seed' must be an integer"},
      {R"({"class_name": "VarianceScaling", "config": {"scale": 0}})",
       "initializer 'VarianceScaling': argument 'scale' must be a positive number"},
      {R"({"class_name": "VarianceScaling", "config": {"scale": -2}})", "got -2"},
      {R"({"class_name": "VarianceScaling", "config": {"mode": "FAN_IN"}})",
       "initializer 'VarianceScaling': argument 'mode' must be one of fan_in"},
      {R"({"class_name": "VarianceScaling", "config": {"distribution": "gaussian"}})",
       "argument 'distribution' must be one of uniform, truncated_normal"},
      {R"({"class_name": "VarianceScaling", "config": {"mode": 1}})",
       "argument 'mode' must be a string"},
      {R"({"class_name": "Constant", "config": {"value": "x"}})",
       "initializer 'Constant': argument 'value' must be a number"},
      {R"({"class_name": "Identity", "config": {"gain": 1, "seed": 3}})",
       "initializer 'Identity': unexpected argument 'seed'"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<InitializerPtr> init = InitializerFromConfig(json::parse(c.config));
    ASSERT_FALSE(init.ok()) << c.config;
    EXPECT_EQ(init.status().code(), absl::StatusCode::kInvalidArgument) << c.config;
    EXPECT_NE(std::string(init.status().message()).find(c.substring), std::string::npos)
        << c.config << " -> " << init.status();
  }
  EXPECT_FALSE(InitializerByName("").ok());
}

}  // namespace
}  // namespace kiln
