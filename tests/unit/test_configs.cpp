// Typed configs: the real SDXL and tiny reference configs parse to the expected values,
// absent fields take diffusers' / transformers' defaults, and unsupported values are refused.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/json_file.h"
#include "io/model_configs.h"
#include "pipeline/request/scheduler_spec.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

// The scheduler's config as the pipeline reads it: one SchedulerSpec.
samplers::SchedulerSpec load_scheduler_config(const std::filesystem::path& path) {
  return pipeline::scheduler_spec(io::read_json_object(path, "scheduler"), "", path.string());
}

using test::TempDir;

std::filesystem::path write_config(const TempDir& dir, const std::string& text) {
  auto path = dir / "config.json";
  test::write_file(path, text);
  return path;
}

void expect_error(const std::function<void()>& body, ErrorCode code, const std::string& fragment) {
  try {
    body();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Configs, RealBaseUNet) {
  SDXL_REQUIRE_REFERENCE();
  auto c = load_unet_config(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/unet/config.json");
  EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{320, 640, 1280}));
  EXPECT_EQ(c.num_attention_heads, (std::vector<int64_t>{5, 10, 20}));
  EXPECT_EQ(c.transformer_layers_per_block, (std::vector<int64_t>{1, 2, 10}));
  EXPECT_EQ(c.cross_attention_dim, (std::vector<int64_t>{2048, 2048, 2048}));
  EXPECT_EQ(c.addition_embed_type, "text_time");
  EXPECT_EQ(c.addition_time_embed_dim, 256);
  EXPECT_EQ(c.projection_class_embeddings_input_dim, 2816);
  EXPECT_TRUE(c.use_linear_projection);
  EXPECT_EQ(c.time_embed_dim(), 1280);
  EXPECT_EQ(c.mid_block_type, "UNetMidBlock2DCrossAttn");
}

TEST(Configs, RealRefinerUNetExpandsScalars) {
  SDXL_REQUIRE_REFERENCE();
  auto c = load_unet_config(test::reference_dir() / "real/stable-diffusion-xl-refiner-1.0/unet/config.json");
  EXPECT_EQ(c.levels(), 4u);
  EXPECT_EQ(c.transformer_layers_per_block, (std::vector<int64_t>{4, 4, 4, 4}));
  EXPECT_EQ(c.num_attention_heads, (std::vector<int64_t>{6, 12, 24, 24}));
  EXPECT_EQ(c.projection_class_embeddings_input_dim, 2560);
}

TEST(Configs, TinyAndRealTextEncodersAndVae) {
  SDXL_REQUIRE_REFERENCE();
  auto te2 = load_clip_text_config(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/text_encoder_2/config.json");
  EXPECT_TRUE(te2.with_projection());
  EXPECT_EQ(te2.hidden_size, 1280);
  EXPECT_EQ(te2.num_hidden_layers, 32);
  EXPECT_EQ(te2.hidden_act, "gelu");
  EXPECT_EQ(te2.eos_token_id, 2);
  auto te1 = load_clip_text_config(test::reference_dir() / "models/tiny-sdxl-base/text_encoder/config.json");
  EXPECT_FALSE(te1.with_projection());
  EXPECT_EQ(te1.hidden_act, "quick_gelu");
  auto vae = load_vae_config(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/vae/config.json");
  EXPECT_EQ(vae.block_out_channels, (std::vector<int64_t>{128, 256, 512, 512}));
  EXPECT_DOUBLE_EQ(vae.scaling_factor, 0.13025);
  EXPECT_TRUE(vae.force_upcast);
  auto sched = load_scheduler_config(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/scheduler/scheduler_config.json");
  EXPECT_EQ(sched.type, "EulerDiscreteScheduler");
  EXPECT_EQ(sched.beta_schedule, "scaled_linear");
  EXPECT_EQ(*sched.timestep_spacing, "leading");
  EXPECT_EQ(sched.steps_offset, 1);
}

TEST(Configs, DefaultsForAbsentFields) {
  TempDir dir;
  auto unet = load_unet_config(write_config(dir, R"({"_class_name": "UNet2DConditionModel"})"));
  EXPECT_EQ(unet.block_out_channels, (std::vector<int64_t>{320, 640, 1280, 1280}));
  EXPECT_EQ(unet.num_attention_heads, (std::vector<int64_t>{8, 8, 8, 8}));
  EXPECT_EQ(unet.layers_per_block, (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_FALSE(unet.use_linear_projection);
  EXPECT_EQ(unet.addition_embed_type, "");
  auto clip = load_clip_text_config(write_config(dir, "{}"));
  EXPECT_EQ(clip.hidden_size, 512);
  EXPECT_EQ(clip.eos_token_id, 49407);
  EXPECT_EQ(clip.hidden_act, "quick_gelu");
  auto vae = load_vae_config(write_config(dir, "{}"));
  EXPECT_DOUBLE_EQ(vae.scaling_factor, 0.18215);
  auto sched = load_scheduler_config(write_config(dir, "{}"));
  EXPECT_EQ(sched.beta_schedule, "linear");
  EXPECT_FALSE(sched.timestep_spacing.has_value());
}

TEST(Configs, NumAttentionHeadsOverridesAttentionHeadDim) {
  TempDir dir;
  auto c = load_unet_config(write_config(
      dir, R"({"block_out_channels": [64, 128], "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
              "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "attention_head_dim": 8, "num_attention_heads": [2, 4]})"));
  EXPECT_EQ(c.num_attention_heads, (std::vector<int64_t>{2, 4}));
}

TEST(Configs, RejectsUnsupportedValues) {
  TempDir dir;
  expect_error([&] { load_unet_config(write_config(dir, R"({"act_fn": "gelu"})")); }, ErrorCode::Unsupported, "act_fn");
  expect_error([&] { load_unet_config(write_config(dir, R"({"class_embed_type": "timestep"})")); },
               ErrorCode::Unsupported, "class_embed_type");
  expect_error([&] { load_unet_config(write_config(dir, R"({"resnet_time_scale_shift": "scale_shift"})")); },
               ErrorCode::Unsupported, "resnet_time_scale_shift");
  expect_error([&] { load_unet_config(write_config(dir, R"({"down_block_types": ["A", "B", "C", "D"]})")); },
               ErrorCode::Unsupported, "down_block_types");
  expect_error([&] { load_clip_text_config(write_config(dir, R"({"hidden_act": "relu"})")); }, ErrorCode::Unsupported,
               "hidden_act");
  expect_error([&] { load_scheduler_config(write_config(dir, R"({"timestep_spacing": "sideways"})")); },
               ErrorCode::Unsupported, "timestep_spacing");
  expect_error([&] { load_scheduler_config(write_config(dir, R"({"beta_schedule": "cosine"})")); },
               ErrorCode::Unsupported, "beta_schedule");
  expect_error([&] { load_vae_config(write_config(dir, R"({"down_block_types": ["DownBlock2D"]})")); },
               ErrorCode::Unsupported, "down_block_types");
}

TEST(Configs, RejectsWrongTypesAndInconsistentSizes) {
  TempDir dir;
  expect_error([&] { load_unet_config(write_config(dir, R"({"in_channels": "four"})")); }, ErrorCode::Format,
               "in_channels");
  expect_error([&] { load_unet_config(write_config(dir, R"({"transformer_layers_per_block": [1, 2]})")); },
               ErrorCode::Format, "transformer_layers_per_block");
  expect_error([&] { load_clip_text_config(write_config(dir, R"({"hidden_size": 30, "num_attention_heads": 4})")); },
               ErrorCode::Format, "num_attention_heads");
  expect_error([&] { load_unet_config(write_config(dir, "{not json")); }, ErrorCode::Format, "invalid JSON");
  expect_error([&] { load_unet_config(dir / "absent.json"); }, ErrorCode::Io, "absent.json");
}

}  // namespace
}  // namespace sdxl::io

namespace sdxl::io {
namespace {

TEST(Configs, HugeNumbersAreRejectedNotConverted) {
  test::TempDir dir;
  for (const char* text : {R"({"in_channels": 6.6e64})", R"({"in_channels": 18446744073709551615})",
                           R"({"in_channels": 1e300})", R"({"layers_per_block": -1e19})"}) {
    try {
      load_unet_config(write_config(dir, text));
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Format) << e.what();
    }
  }
  EXPECT_EQ(load_unet_config(write_config(dir, R"({"in_channels": 4.0})")).in_channels, 4);
}

}  // namespace
}  // namespace sdxl::io

namespace sdxl::io {
namespace {

// A config nested thousands deep would parse (nlohmann's parser is iterative) and then overflow
// the stack when copied or dumped: it is refused while it is parsed.
TEST(JsonFiles, DeepNestingIsRefused) {
  test::TempDir dir;
  test::write_file(dir / "deep.json", "{\"a\": " + std::string(5000, '[') + std::string(5000, ']') + "}");
  try {
    read_json_object(dir / "deep.json", "config");
    FAIL() << "a config nested 5000 deep was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nests deeper than 64"), std::string::npos) << e.what();
  }
  test::write_file(dir / "shallow.json", "{\"a\": [[[1]]], \"b\": {\"c\": {}}}");
  EXPECT_EQ(read_json_object(dir / "shallow.json", "config")["a"][0][0][0], 1);
}

}  // namespace
}  // namespace sdxl::io
