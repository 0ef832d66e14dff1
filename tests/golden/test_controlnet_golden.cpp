// ControlNet against diffusers v0.25.1: the model's residuals (folder, bgr channel order, an F16
// single file), and the txt2img, img2img, inpainting and multi-ControlNet pipelines.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>

#include "core/error.h"
#include "golden/pipeline_case.h"
#include "golden_cases.h"
#include "io/image_file.h"
#include "io/json_file.h"
#include "models/common/weights.h"
#include "pipeline/sdxl_pipeline.h"
#include "pipeline/sources/controlnet_source.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl {
namespace {

using test::model_keys;
using test::model_path;

Tensor u8(const nlohmann::json& c, const std::string& name) { return test::RawCaseFile(c)[name]; }

Tensor nchw(const Tensor& nhwc) {
  Arena arena;
  return ops::nhwc_to_nchw(arena, nhwc).clone();
}

TEST(ControlNetGolden, Forward) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("controlnet_forward");
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    std::filesystem::path model = model_path(c["model"]), config;
    if (p.contains("architecture_config")) config = test::reference_dir() / p["architecture_config"].get<std::string>();
    const auto net = pipeline::load_controlnet(model, config);
    test::RawCaseFile file(c);
    Arena arena;
    const models::ControlResiduals r =
        net->forward(arena, file["sample"], p["timestep"].get<float>(), file["encoder_hidden_states"], file["text_embeds"],
                     file["time_ids"], file["controlnet_cond"],
                     net->residual_scales(p["conditioning_scale"].get<float>(), p["guess_mode"].get<bool>()));
    ASSERT_EQ(r.down.size(), p["num_down_block_res_samples"].get<size_t>());
    for (size_t i = 0; i < r.down.size(); ++i) {
      const std::string name = "down_block_res_samples." + std::to_string(i);
      EXPECT_TRUE(test::matches(nchw(r.down[i]), file[name], c, name));
    }
    EXPECT_TRUE(test::matches(nchw(r.mid), file["mid_block_res_sample"], c, "mid_block_res_sample"));
    if (p.contains("guess_mode_scales")) {
      const auto want = p["guess_mode_scales"].get<std::vector<float>>();
      EXPECT_EQ(models::guess_mode_scales(r.down.size()), want);
    }
  }
}

// A single file without a config beside it: the architecture read from its tensors is the
// folder's config but for what the tensors cannot show (the tiny model's head counts; SDXL's
// 64-wide heads are assumed).
TEST(ControlNetGolden, ArchitectureFromTensors) {
  SDXL_REQUIRE_REFERENCE();
  const auto file = model_path("tiny-sdxl-controlnet-single-fp16");
  const io::WeightSet weights = io::open_weight_set("controlnet", {file});
  nlohmann::json inferred = pipeline::controlnet_config_from_tensors(weights);
  const nlohmann::json real = io::read_json_object(model_path("tiny-sdxl-controlnet") / "config.json", "config");
  for (const char* key : {"block_out_channels", "down_block_types", "layers_per_block", "transformer_layers_per_block",
                          "cross_attention_dim", "use_linear_projection", "in_channels",
                          "projection_class_embeddings_input_dim", "conditioning_embedding_out_channels",
                          "addition_embed_type"})
    EXPECT_EQ(inferred[key], real[key]) << key;
  EXPECT_EQ(inferred["attention_head_dim"], nlohmann::json::array({1, 1, 1}));  // 32 / 64 rounds up to one head
  // With the tiny model's real head counts and time width, the inferred config runs as the folder's.
  inferred["attention_head_dim"] = real["attention_head_dim"];
  inferred["addition_time_embed_dim"] = real["addition_time_embed_dim"];
  const io::ControlNetConfig a = io::parse_controlnet_config(inferred, "inferred");
  const io::ControlNetConfig b = io::parse_controlnet_config(real, "folder");
  EXPECT_EQ(a.unet.num_attention_heads, b.unet.num_attention_heads);
  EXPECT_EQ(a.conditioning_embedding_out_channels, b.conditioning_embedding_out_channels);
  // Beside its base model, what the tensors do not show comes from the base's UNet: the folder's.
  const io::UNetConfig unet = io::load_unet_config(model_path("tiny-sdxl-base") / "unet/config.json");
  const nlohmann::json from_base = pipeline::controlnet_config_from_tensors(weights, &unet);
  EXPECT_EQ(from_base["attention_head_dim"], real["attention_head_dim"]);
  EXPECT_EQ(from_base["addition_time_embed_dim"], real["addition_time_embed_dim"]);
}

TEST(ControlNetGolden, BadFilesAreRefused) {
  SDXL_REQUIRE_REFERENCE();
  const auto vae = test::reference_dir() / "models/tiny-sdxl-base/vae";
  // Another model's folder: its config names it.
  try {
    pipeline::load_controlnet(vae);
    FAIL() << "a VAE folder was loaded as a ControlNet";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ControlNetModel"), std::string::npos) << e.what();
  }
  // A single file without a config beside it, with another model's tensors: named.
  const auto dir = std::filesystem::temp_directory_path() / ("sdxl-cn-bad-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(vae / "diffusion_pytorch_model.safetensors", dir / "vae.safetensors");
  try {
    pipeline::load_controlnet(dir / "vae.safetensors");
    FAIL() << "a VAE file was loaded as a ControlNet";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a ControlNet"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(pipeline::load_controlnet(test::reference_dir() / "models/esrgan/tiny-RealESRGAN_x2plus.pth"), Error);
  EXPECT_THROW(pipeline::load_controlnet(test::reference_dir() / "no-such-controlnet"), Error);
}

// Every pipeline case: the base with its ControlNets, the request from the case's params.
void run_pipeline_case(const nlohmann::json& c) {
  SCOPED_TRACE(c["name"].get<std::string>());
  const auto& p = c["params"];
  const auto keys = model_keys(c);
  auto pipe = pipeline::SdxlPipeline::load(model_path(keys[0]));
  pipeline::GenerateRequest r = test::request_of_case(c);
  r.guess_mode = p.value("guess_mode", false);
  if (p.contains("strength")) r.strength = p["strength"];
  const std::string kind = c["kind"];
  const bool multi = kind == "multi_controlnet_txt2img";
  std::vector<Tensor> control_images;
  if (multi) {
    for (size_t i = 0; i + 1 < keys.size(); ++i) control_images.push_back(u8(c, "control_image_" + std::to_string(i)));
  } else {
    control_images.push_back(u8(c, "control_image"));
  }
  auto list = [&](const char* key, double fallback, size_t i) {
    if (!p.contains(key)) return fallback;
    return p[key].is_array() ? p[key][i].get<double>() : p[key].get<double>();
  };
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    pipeline::ControlUnit unit;
    unit.model = pipeline::load_controlnet(model_path(keys[i + 1]));
    unit.image = control_images[i];
    unit.scale = list("controlnet_conditioning_scale", 1.0, i);
    unit.start = list("control_guidance_start", 0.0, i);
    unit.end = list("control_guidance_end", 1.0, i);
    r.controlnets.push_back(unit);
  }
  r.height = control_images[0].dim(2);
  r.width = control_images[0].dim(3);
  if (kind == "controlnet_img2img" || kind == "controlnet_inpaint") r.init_image = u8(c, "init_image");
  if (kind == "controlnet_inpaint") r.mask = u8(c, "mask_image");

  // The keep table diffusers derived.
  const auto keep = pipeline::controlnet_keep(r.controlnets, p["pipeline_did"]["controlnet_keep"].size());
  EXPECT_EQ(nlohmann::json(keep), p["pipeline_did"]["controlnet_keep"]);

  const pipeline::GenerateResult result = pipe.generate(r);
  test::RawCaseFile file(c);
  EXPECT_TRUE(test::matches(result.latents, file["latents"], c, "latents"));
  const int apart = test::png_levels_apart(pipeline::to_8bit(result.images), c);
  EXPECT_TRUE(apart >= 0 && apart <= 1) << apart << " PNG levels apart";
}

// bf16 (as the UNet runs it: bf16 linears and convolutions, f32 accumulation): close to the golden
// residuals, within bf16's rounding.
TEST(ControlNetGolden, Bf16ForwardIsCloseToF32) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("controlnet_forward");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases.front();
  const auto& p = c["params"];
  const auto net = pipeline::load_controlnet(model_path(c["model"]), {}, ops::Precision::BF16);
  test::RawCaseFile file(c);
  Arena arena;
  const models::ControlResiduals r =
      net->forward(arena, file["sample"], p["timestep"].get<float>(), file["encoder_hidden_states"], file["text_embeds"],
                   file["time_ids"], file["controlnet_cond"], net->residual_scales(p["conditioning_scale"].get<float>(), false));
  const Tensor got = nchw(r.mid), want = file["mid_block_res_sample"];
  double worst = 0, largest = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(got.data<float>()[i] - want.data<float>()[i])));
    largest = std::max(largest, static_cast<double>(std::abs(want.data<float>()[i])));
  }
  EXPECT_LT(worst, 0.03 * largest) << "bf16 mid residual off by " << worst << " of " << largest;
  EXPECT_GT(worst, 0.0) << "bf16 gave the f32 result exactly: was it run in bf16?";
}

// A ControlNet made for another UNet (other channels) is refused by name before a step runs.
TEST(ControlNetGolden, AControlNetOfAnotherModelIsRefused) {
  SDXL_REQUIRE_REFERENCE();
  io::ControlNetConfig config = io::parse_controlnet_config(
      io::read_json_object(model_path("tiny-sdxl-controlnet") / "config.json", "config"), "config");
  config.unet.block_out_channels = {32, 64, 64};
  config.unet.num_attention_heads = {2, 2, 2};
  models::RandomWeights weights(5);
  pipeline::ControlUnit unit;
  unit.model = std::make_shared<models::ControlNetModel>(models::ControlNetModel::load(config, weights));
  unit.image = Tensor::zeros(Shape{1, 3, 64, 64}, DType::F32);
  auto pipe = pipeline::SdxlPipeline::load(model_path("tiny-sdxl-base"));
  pipeline::GenerateRequest r;
  r.prompts.prompt = pipeline::PromptArg::text("a cat");
  r.width = r.height = 64;
  r.steps = 2;
  r.controlnets = {unit};
  try {
    pipe.generate(r);
    FAIL() << "a ControlNet of other channels ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit this model"), std::string::npos) << e.what();
  }
}

TEST(ControlNetGolden, Pipelines) {
  SDXL_REQUIRE_REFERENCE();
  size_t seen = 0;
  for (const char* kind : {"controlnet_txt2img", "controlnet_img2img", "controlnet_inpaint", "multi_controlnet_txt2img"})
    for (const auto& c : test::cases_of_kind(kind)) {
      run_pipeline_case(c);
      ++seen;
    }
  EXPECT_GE(seen, 6u);
}

}  // namespace
}  // namespace sdxl
