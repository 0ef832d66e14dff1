// IP-Adapter's parts against transformers 4.32 and diffusers v0.25.1: CLIPImageProcessor's
// preprocessing, CLIPVisionModelWithProjection (a transformers folder and the same tensors in
// open_clip's names), and StableDiffusionXLPipeline with an IP-Adapter (plain and plus).
#include <gtest/gtest.h>

#include <unistd.h>

#include "core/error.h"
#include "golden/pipeline_case.h"
#include "golden_cases.h"
#include "imaging/clip_image.h"
#include "io/image_file.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/common/weights.h"
#include "pipeline/sdxl_pipeline.h"
#include "pipeline/sources/image_encoder_source.h"
#include "pipeline/sources/ip_adapter_source.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl {
namespace {

using test::model_path;

TEST(ClipImageGolden, PreprocessingIsTransformers) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("clip_image_preprocess");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const io::Image8 input = io::read_image(test::reference_dir() / c["files"]["input"].get<std::string>());
    const io::Image8 want_crop = io::read_image(test::reference_dir() / c["files"]["resized_crop"].get<std::string>());
    const io::Image8 crop = imaging::clip_resized_crop(input);
    ASSERT_EQ(crop.pixels.size(), want_crop.pixels.size());
    EXPECT_EQ(crop.pixels, want_crop.pixels) << "Pillow's bicubic resize + centre crop";
    EXPECT_TRUE(test::matches(imaging::clip_pixel_values(input), test::RawCaseFile(c)["pixel_values"], c, "pixel_values"));
  }
}

void expect_forward_matches(const models::ClipVisionModel& encoder, const nlohmann::json& c) {
  test::RawCaseFile file(c);
  Arena arena;
  const models::ClipVisionOutput out = encoder.forward(arena, file["pixel_values"]);
  const size_t layers = out.hidden_states.size() - 1;
  EXPECT_TRUE(test::matches(out.hidden_states[0], file["hidden_states_0"], c, "hidden_states_0"));
  EXPECT_TRUE(test::matches(out.hidden_states[layers - 1], file["penultimate_hidden_state"], c, "penultimate_hidden_state"));
  EXPECT_TRUE(test::matches(out.hidden_states[layers], file["last_hidden_state"], c, "last_hidden_state"));
  EXPECT_TRUE(test::matches(out.image_embeds, file["image_embeds"], c, "image_embeds"));
}

TEST(ClipVisionGolden, ForwardFromTheFolder) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("clip_vision_forward");
  ASSERT_FALSE(cases.empty());
  const auto encoder = pipeline::load_image_encoder(model_path("tiny-clip-vision"));
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    expect_forward_matches(*encoder, c);
  }
}

// The tiny encoder's tensors renamed as open_clip names them (q, k, v fused into in_proj, the
// projection transposed): the same outputs.
TEST(ClipVisionGolden, OpenClipNamesGiveTheSameOutputs) {
  SDXL_REQUIRE_REFERENCE();
  const auto folder = model_path("tiny-clip-vision");
  const auto source = io::SafetensorsFile::open(folder / "model.safetensors");
  std::vector<std::pair<std::string, Tensor>> renamed;
  const std::string layer = "vision_model.encoder.layers.";
  std::map<std::string, std::vector<Tensor>> qkv;  // resblock prefix + field -> q, k, v
  for (const auto& r : source->records()) {
    const std::string& n = r.name;
    Tensor t = source->tensor(r).to(DType::F32);
    if (n == "visual_projection.weight") {
      Tensor p = Tensor::empty(Shape{t.dim(1), t.dim(0)}, DType::F32);
      for (int64_t i = 0; i < t.dim(0); ++i)
        for (int64_t j = 0; j < t.dim(1); ++j) p.data<float>()[j * t.dim(0) + i] = t.data<float>()[i * t.dim(1) + j];
      renamed.emplace_back("visual.proj", p);
      continue;
    }
    static const std::map<std::string, std::string> top{
        {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
        {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
        {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
        {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"},
        {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
        {"vision_model.post_layernorm.weight", "visual.ln_post.weight"},
        {"vision_model.post_layernorm.bias", "visual.ln_post.bias"}};
    if (top.count(n)) {
      renamed.emplace_back(top.at(n), t);
      continue;
    }
    ASSERT_EQ(n.rfind(layer, 0), 0u) << n;
    const size_t dot = n.find('.', layer.size());
    const std::string block = "visual.transformer.resblocks." + n.substr(layer.size(), dot - layer.size()) + ".";
    const std::string field = n.substr(dot + 1);
    static const std::map<std::string, std::string> fields{
        {"layer_norm1.weight", "ln_1.weight"}, {"layer_norm1.bias", "ln_1.bias"}, {"layer_norm2.weight", "ln_2.weight"},
        {"layer_norm2.bias", "ln_2.bias"}, {"self_attn.out_proj.weight", "attn.out_proj.weight"},
        {"self_attn.out_proj.bias", "attn.out_proj.bias"}, {"mlp.fc1.weight", "mlp.c_fc.weight"},
        {"mlp.fc1.bias", "mlp.c_fc.bias"}, {"mlp.fc2.weight", "mlp.c_proj.weight"}, {"mlp.fc2.bias", "mlp.c_proj.bias"}};
    if (fields.count(field)) {
      renamed.emplace_back(block + fields.at(field), t);
      continue;
    }
    const bool weight = field.size() > 6 && field.compare(field.size() - 6, 6, "weight") == 0;
    const int part = field[10] == 'q' ? 0 : field[10] == 'k' ? 1 : 2;  // "self_attn.X_proj..."
    auto& parts = qkv[block + (weight ? "attn.in_proj_weight" : "attn.in_proj_bias")];
    parts.resize(3);
    parts[static_cast<size_t>(part)] = t;
  }
  for (auto& [name, parts] : qkv) {
    Shape shape = parts[0].shape();
    shape[0] *= 3;
    Tensor fused = Tensor::empty(shape, DType::F32);
    for (size_t p = 0; p < 3; ++p)
      std::memcpy(static_cast<char*>(fused.raw()) + p * parts[p].nbytes(), parts[p].raw(), parts[p].nbytes());
    renamed.emplace_back(name, fused);
  }
  test::TempDir dir;
  io::write_safetensors(dir.path() / "clip_vision_tiny.safetensors", renamed);
  // Its architecture read from the tensors: the folder's, but for the heads (not in the tensors).
  const io::WeightSet weights = io::open_weight_set("image-encoder", {dir.path() / "clip_vision_tiny.safetensors"});
  const nlohmann::json inferred = pipeline::image_encoder_config_from_tensors(weights);
  const nlohmann::json real = io::read_json_object(folder / "config.json", "config");
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "patch_size", "image_size",
                          "projection_dim", "hidden_act"})
    EXPECT_EQ(inferred[key], real[key]) << key;
  // With the folder's config beside it, the outputs are the folder's.
  std::filesystem::copy_file(folder / "config.json", dir.path() / "config.json");
  const auto encoder = pipeline::load_image_encoder(dir.path() / "clip_vision_tiny.safetensors");
  for (const auto& c : test::cases_of_kind("clip_vision_forward")) expect_forward_matches(*encoder, c);
  // A single file in transformers' names works alike.
  std::filesystem::copy_file(folder / "model.safetensors", dir.path() / "transformers_names.safetensors");
  const auto same = pipeline::load_image_encoder(dir.path() / "transformers_names.safetensors");
  for (const auto& c : test::cases_of_kind("clip_vision_forward")) expect_forward_matches(*same, c);
}

TEST(ClipVisionGolden, OtherFilesAreRefusedByName) {
  SDXL_REQUIRE_REFERENCE();
  try {
    pipeline::load_image_encoder(model_path("tiny-sdxl-controlnet-single-fp16"));
    FAIL() << "a ControlNet was loaded as an image encoder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a CLIP image encoder"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pipeline::load_image_encoder(test::reference_dir() / "no-such-encoder"), Error);
  EXPECT_THROW(pipeline::load_image_encoder(model_path("tiny-sdxl-base") / "text_encoder"), Error);
}

pipeline::IpAdapterUnit ip_unit(const nlohmann::json& c, const io::UNetConfig& unet) {
  const auto& p = c["params"];
  pipeline::IpAdapterUnit unit;
  unit.adapter = pipeline::load_ip_adapter(test::reference_dir() / p["ip_adapter_file"].get<std::string>(), unet);
  unit.encoder = pipeline::load_image_encoder(test::reference_dir() / p["image_encoder"].get<std::string>());
  unit.pixel_values =
      imaging::clip_pixel_values(io::read_image(test::reference_dir() / p["ip_adapter_image"].get<std::string>()));
  unit.scale = p["ip_adapter_scale"];
  return unit;
}

TEST(IpAdapterGolden, Pipelines) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("ip_adapter_txt2img");
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    auto pipe = pipeline::SdxlPipeline::load(model_path(test::model_keys(c)[0]));
    const io::UNetConfig unet = io::load_unet_config(model_path(test::model_keys(c)[0]) / "unet/config.json");
    pipeline::GenerateRequest r = test::request_of_case(c);
    r.ip_adapter = ip_unit(c, unet);
    test::RawCaseFile file(c);
    // The encoder's embeddings and the adapter's tokens.
    const pipeline::ImagePromptEmbeds embeds = pipeline::image_prompt_embeds(*r.ip_adapter);
    EXPECT_TRUE(test::matches(embeds.image_embeds, file["image_embeds"], c, "image_embeds"));
    EXPECT_TRUE(test::matches(embeds.negative_image_embeds, file["negative_image_embeds"], c, "negative_image_embeds"));
    EXPECT_TRUE(test::matches(embeds.tokens, file["ip_tokens"], c, "ip_tokens"));
    EXPECT_EQ(embeds.tokens.dim(1), p["pipeline_did"]["num_image_tokens"].get<int64_t>());

    const pipeline::GenerateResult result = pipe.generate(r);
    EXPECT_TRUE(test::matches(result.latents, file["latents"], c, "latents"));
    const int apart = test::png_levels_apart(pipeline::to_8bit(result.images), c);
    EXPECT_TRUE(apart >= 0 && apart <= 1) << apart << " PNG levels apart";
  }
}

// An encoder whose width does not fit the adapter, and an adapter made for SD 1.5 (16
// cross-attention layers of 320..1280 channels), are refused by name.
TEST(IpAdapterGolden, MisfitsAreNamed) {
  SDXL_REQUIRE_REFERENCE();
  const io::UNetConfig unet = io::load_unet_config(model_path("tiny-sdxl-base") / "unet/config.json");
  const auto c = test::cases_of_kind("ip_adapter_txt2img").front();
  pipeline::IpAdapterUnit unit = ip_unit(c, unet);
  io::ClipVisionConfig wide = unit.encoder->config();
  wide.projection_dim = 48;
  models::RandomWeights weights(3);
  unit.encoder = std::make_shared<models::ClipVisionModel>(models::ClipVisionModel::load(wide, weights));
  try {
    pipeline::image_prompt_embeds(unit);
    FAIL() << "an encoder of another width ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the image encoder gives 48-wide image embeddings"), std::string::npos) << e.what();
  }
  test::TempDir dir;
  std::vector<std::pair<std::string, Tensor>> sd15{
      {"image_proj.proj.weight", Tensor::zeros(Shape{4 * 64, 24}, DType::F32)},
      {"image_proj.proj.bias", Tensor::zeros(Shape{4 * 64}, DType::F32)},
      {"image_proj.norm.weight", Tensor::zeros(Shape{64}, DType::F32)},
      {"image_proj.norm.bias", Tensor::zeros(Shape{64}, DType::F32)}};
  for (int k = 1; k < 32; k += 2) {
    sd15.emplace_back("ip_adapter." + std::to_string(k) + ".to_k_ip.weight", Tensor::zeros(Shape{32, 64}, DType::F32));
    sd15.emplace_back("ip_adapter." + std::to_string(k) + ".to_v_ip.weight", Tensor::zeros(Shape{32, 64}, DType::F32));
  }
  io::write_safetensors(dir.path() / "ip-adapter_sd15.safetensors", sd15);
  try {
    pipeline::load_ip_adapter(dir.path() / "ip-adapter_sd15.safetensors", unet);
    FAIL() << "an SD 1.5 IP-Adapter was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("an IP-Adapter for SD 1.5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pipeline::load_ip_adapter(model_path("tiny-sdxl-controlnet-single-fp16"), unet), Error);
}

}  // namespace
}  // namespace sdxl
