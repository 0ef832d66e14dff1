// Samplers against diffusers' schedulers: timestep and sigma tables for several step counts,
// and 6-step trajectories with synthetic model outputs (stochastic ones with a seeded generator).
#include <gtest/gtest.h>

#include <fstream>

#include "golden_cases.h"
#include "pipeline/request/scheduler_spec.h"
#include "rng/torch_generator.h"
#include "samplers/lcm.h"

namespace sdxl {
namespace {

nlohmann::json real_scheduler_config() {
  std::ifstream in(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/scheduler/scheduler_config.json");
  return nlohmann::json::parse(in);
}

// An I64 table (LCM's timesteps) as f32, for the comparison helpers.
Tensor i64_as_f32(const Tensor& t) {
  if (t.dtype() != DType::I64) return t;
  Tensor out = Tensor::empty(t.shape(), DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) out.data<float>()[i] = static_cast<float>(t.data<int64_t>()[i]);
  return out;
}

Tensor vector_tensor(const std::vector<double>& v) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(v.size())}, DType::F32);
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

// One test per golden case, so a sampler not implemented yet shows up as a skipped case by name.
std::vector<std::string> case_names(const std::string& kind) {
  std::vector<std::string> names;
  for (const auto& c : test::cases_of_kind(kind)) names.push_back(c["name"]);
  return names;
}

nlohmann::json case_named(const std::string& kind, const std::string& name) {
  for (const auto& c : test::cases_of_kind(kind))
    if (c["name"] == name) return c;
  return {};
}


class SamplerTable : public ::testing::TestWithParam<std::string> {};
class SamplerTrajectory : public ::testing::TestWithParam<std::string> {};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SamplerTable);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SamplerTrajectory);

TEST_P(SamplerTable, MatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  const nlohmann::json c = case_named("scheduler_table", GetParam());
  {
    auto spec = pipeline::scheduler_spec(c["params"]["config"], c["params"]["scheduler"]);
    const auto scheduler = samplers::make_scheduler(spec);  // a sampler we lack fails the case
    test::CaseFile file(c);
    EXPECT_TRUE(test::matches(vector_tensor(scheduler->alphas_cumprod()), file["alphas_cumprod"], c, "alphas_cumprod"));
    for (int64_t n : c["params"]["N"].get<std::vector<int64_t>>()) {
      scheduler->set_timesteps(n);
      const std::string prefix = "N" + std::to_string(n) + ".";
      EXPECT_TRUE(test::matches(vector_tensor(scheduler->timesteps()), file[prefix + "timesteps"], c, prefix + "timesteps"));
      if (file.has(prefix + "sigmas")) {
        EXPECT_TRUE(test::matches(vector_tensor(scheduler->sigmas()), file[prefix + "sigmas"], c, prefix + "sigmas"));
      }
      EXPECT_NEAR(scheduler->init_noise_sigma(), c["params"]["per_N"][std::to_string(n)]["init_noise_sigma"].get<double>(),
                  1e-5)
          << prefix;
    }
  }
}

TEST_P(SamplerTrajectory, MatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  nlohmann::json c = case_named("scheduler_trajectory", GetParam());
  if (c.is_null()) c = case_named("lcm_scheduler_trajectory", GetParam());
  ASSERT_FALSE(c.is_null()) << GetParam();
  {
    nlohmann::json config = real_scheduler_config();
    const auto& overrides = c["params"].contains("config") ? c["params"]["config"] : c["params"]["config_overrides"];
    for (auto it = overrides.begin(); it != overrides.end(); ++it) config[it.key()] = it.value();
    const auto scheduler = samplers::make_scheduler(pipeline::scheduler_spec(config, c["params"]["scheduler"]));
    scheduler->set_timesteps(c["params"]["num_inference_steps"]);
    test::CaseFile file(c);
    const auto want_t = c["params"]["timesteps"].get<std::vector<double>>();
    ASSERT_EQ(scheduler->timesteps().size(), want_t.size());
    for (size_t i = 0; i < want_t.size(); ++i) EXPECT_NEAR(scheduler->timesteps()[i], want_t[i], 1e-3);
    EXPECT_NEAR(scheduler->init_noise_sigma(), c["params"]["init_noise_sigma"].get<double>(), 1e-5);

    std::unique_ptr<rng::TorchGenerator> generator;
    if (!c["params"]["step_generator_seed"].is_null())
      generator = std::make_unique<rng::TorchGenerator>(c["params"]["step_generator_seed"].get<uint64_t>());
    samplers::NoiseFn noise;
    if (generator) noise = [&](float* out, int64_t n) { generator->randn(out, n); };

    Tensor x = file["initial_sample"].clone();
    Tensor outputs = file["model_outputs"], scaled = file["scaled_inputs"], prev = file["prev_samples"];
    const int64_t per = x.numel();
    for (size_t i = 0; i < want_t.size(); ++i) {
      const double t = scheduler->timesteps()[i];
      Tensor model_output = Tensor::view(outputs.data<float>() + static_cast<int64_t>(i) * per, x.shape(), DType::F32, nullptr);
      Tensor want_scaled = Tensor::view(scaled.data<float>() + static_cast<int64_t>(i) * per, x.shape(), DType::F32, nullptr);
      Tensor want_prev = Tensor::view(prev.data<float>() + static_cast<int64_t>(i) * per, x.shape(), DType::F32, nullptr);
      EXPECT_TRUE(test::matches(scheduler->scale_model_input(x, t), want_scaled, c, "scaled_inputs[" + std::to_string(i) + "]"));
      x = scheduler->step(model_output, t, x, noise);
      EXPECT_TRUE(test::matches(x, want_prev, c, "prev_samples[" + std::to_string(i) + "]"));
    }
  }
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }
INSTANTIATE_TEST_SUITE_P(Cases, SamplerTable, ::testing::ValuesIn(case_names("scheduler_table")), param_name);
std::vector<std::string> trajectory_names() {
  auto names = case_names("scheduler_trajectory");
  for (const auto& n : case_names("lcm_scheduler_trajectory")) names.push_back(n);
  return names;
}
INSTANTIATE_TEST_SUITE_P(Cases, SamplerTrajectory, ::testing::ValuesIn(trajectory_names()), param_name);

// LCMScheduler's tables: its own timestep grid (spacing ignored), alphas and boundary condition.
TEST(LcmSchedulerTable, MatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("lcm_scheduler_table");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    nlohmann::json config = real_scheduler_config();
    for (auto it = c["params"]["config_overrides"].begin(); it != c["params"]["config_overrides"].end(); ++it)
      config[it.key()] = it.value();
    const auto spec = pipeline::scheduler_spec(config, c["params"]["scheduler"]);
    const auto scheduler = samplers::make_scheduler(spec);
    test::CaseFile file(c);
    const auto& a = scheduler->alphas_cumprod();
    EXPECT_TRUE(test::matches(vector_tensor(a), file["alphas_cumprod"], c, "alphas_cumprod"));
    for (int64_t n : c["params"]["N"].get<std::vector<int64_t>>()) {
      scheduler->set_timesteps(n);
      const std::string prefix = "N" + std::to_string(n) + ".";
      const auto& t = scheduler->timesteps();
      std::vector<double> prev, a_t, a_prev, c_skip, c_out;
      for (size_t i = 0; i < t.size(); ++i) {
        const double next = i + 1 < t.size() ? t[i + 1] : t[i];
        prev.push_back(next);
        a_t.push_back(a[static_cast<size_t>(t[i])]);
        a_prev.push_back(a[static_cast<size_t>(next)]);
        const auto boundary = samplers::lcm_boundary(static_cast<int64_t>(t[i]), spec.timestep_scaling);
        c_skip.push_back(boundary.c_skip);
        c_out.push_back(boundary.c_out);
      }
      EXPECT_TRUE(test::matches(vector_tensor(t), i64_as_f32(file[prefix + "timesteps"]), c, prefix + "timesteps"));
      EXPECT_TRUE(test::matches(vector_tensor(prev), i64_as_f32(file[prefix + "prev_timesteps"]), c, prefix + "prev_timesteps"));
      EXPECT_TRUE(test::matches(vector_tensor(a_t), file[prefix + "alpha_prod_t"], c, prefix + "alpha_prod_t"));
      EXPECT_TRUE(test::matches(vector_tensor(a_prev), file[prefix + "alpha_prod_t_prev"], c, prefix + "alpha_prod_t_prev"));
      EXPECT_TRUE(test::matches(vector_tensor(c_skip), file[prefix + "c_skip"], c, prefix + "c_skip"));
      EXPECT_TRUE(test::matches(vector_tensor(c_out), file[prefix + "c_out"], c, prefix + "c_out"));
      EXPECT_EQ(scheduler->init_noise_sigma(), 1.0);
    }
  }
}

}  // namespace
}  // namespace sdxl
