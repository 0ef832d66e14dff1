// The single-file (SGM) key mapping against the real checkpoints' manifests: every stored key of
// sd_xl_base_1.0 and sd_xl_refiner_1.0 maps to a diffusers tensor of the right shape, and every
// diffusers tensor is reached: none missing, none unexpected.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/json_file.h"
#include "io/original_layout.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

using Mapper = std::function<std::vector<MappedKey>(const std::string&)>;

std::vector<int64_t> transformed(const std::vector<int64_t>& shape, const MappedKey& m) {
  switch (m.transform) {
    case KeyTransform::Same: return shape;
    case KeyTransform::SqueezeConv1x1: return {shape[0], shape[1]};
    case KeyTransform::QkvPart: {
      std::vector<int64_t> out = shape;
      out[0] /= 3;
      return out;
    }
    case KeyTransform::Transpose: return {shape[1], shape[0]};
  }
  return shape;
}

void expect_covers(const std::string& manifest_name, const Mapper& map) {
  SCOPED_TRACE(manifest_name);
  const auto manifest = read_json_object(test::reference_dir() / "real/manifests" / (manifest_name + ".json"), "manifest");
  const std::string prefix = manifest["original_layout_prefix"];
  std::map<std::string, std::vector<int64_t>> want;
  for (const auto& t : manifest["diffusers_layout"]) want[t["name"]] = t["shape"].get<std::vector<int64_t>>();
  std::map<std::string, std::vector<int64_t>> got;
  size_t unmapped = 0;
  for (const auto& t : manifest["original_layout"]) {
    const std::string name = t["name"];
    ASSERT_EQ(name.rfind(prefix, 0), 0u) << name;
    const auto mapped = map(name.substr(prefix.size()));
    if (mapped.empty()) {
      ADD_FAILURE() << "no diffusers tensor for " << name;
      ++unmapped;
      continue;
    }
    for (const auto& m : mapped) {
      EXPECT_TRUE(got.emplace(m.name, transformed(t["shape"].get<std::vector<int64_t>>(), m)).second)
          << "two stored tensors map to " << m.name;
    }
  }
  EXPECT_EQ(unmapped, 0u);
  for (const auto& [name, shape] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << "missing: nothing maps to " << name;
      continue;
    }
    EXPECT_EQ(it->second, shape) << name;
  }
  for (const auto& [name, shape] : got) EXPECT_TRUE(want.count(name)) << "unexpected: " << name;
}

UNetLayout layout_of(const char* model) {
  return unet_layout(load_unet_config(test::reference_dir() / "real" / model / "unet/config.json"));
}

TEST(OriginalLayout, CoversTheRealBaseAndRefinerExactly) {
  SDXL_REQUIRE_REFERENCE();
  const UNetLayout base = layout_of("stable-diffusion-xl-base-1.0");
  const UNetLayout refiner = layout_of("stable-diffusion-xl-refiner-1.0");
  expect_covers("base_unet", [&](const std::string& k) { return map_unet_key(k, base); });
  expect_covers("refiner_unet", [&](const std::string& k) { return map_unet_key(k, refiner); });
  expect_covers("vae", [](const std::string& k) { return map_vae_key(k, 4); });
  expect_covers("base_text_encoder", map_clip_l_key);
  expect_covers("base_text_encoder_2", map_open_clip_key);
  expect_covers("refiner_text_encoder_2", map_open_clip_key);
}

// unet_original_key inverts map_unet_key on every key of the real base and refiner (4 levels:
// block indices of 10 and above), for tensor names and for module paths (what LoRA keys name).
TEST(OriginalLayout, UNetKeysMapBackToTheOriginalLayout) {
  SDXL_REQUIRE_REFERENCE();
  for (const char* model : {"base", "refiner"}) {
    SCOPED_TRACE(model);
    const UNetLayout layout = layout_of(model == std::string("base") ? "stable-diffusion-xl-base-1.0"
                                                                      : "stable-diffusion-xl-refiner-1.0");
    const auto manifest = read_json_object(test::reference_dir() / "real/manifests" / (std::string(model) + "_unet.json"), "manifest");
    const std::string prefix = manifest["original_layout_prefix"];
    size_t checked = 0;
    for (const auto& t : manifest["original_layout"]) {
      const std::string original = t["name"].get<std::string>().substr(prefix.size());
      const auto mapped = map_unet_key(original, layout);
      ASSERT_EQ(mapped.size(), 1u) << original;
      EXPECT_EQ(unet_original_key(mapped[0].name, layout), original);
      const std::string module = mapped[0].name.substr(0, mapped[0].name.rfind('.'));
      EXPECT_EQ(unet_original_key(module, layout), original.substr(0, original.rfind('.')));
      ++checked;
    }
    EXPECT_GT(checked, 1000u);
  }
  UNetLayout l;
  l.levels = 3;
  l.down_has_attention = {false, true, true};
  l.up_has_attention = {true, true, false};
  EXPECT_EQ(unet_original_key("down_blocks.7.resnets.0.conv1.weight", l), "");
  EXPECT_EQ(unet_original_key("mid_block.resnets.0.nothing", l), "");
  EXPECT_EQ(unet_original_key("up_blocks.1.upsamplers.0.conv", l), "output_blocks.5.2.conv");
  // An index no layout has (here one that would overflow the block arithmetic) maps to nothing.
  EXPECT_EQ(unet_original_key("down_blocks.1.resnets.99999999999999999999999.conv1.weight", l), "");
  EXPECT_TRUE(map_unet_key("input_blocks.99999999999999999999.0.in_layers.0.weight", l).empty());
}

// The VAE's and OpenCLIP's inverse maps on every key of the real manifests (what sdxl convert
// writes a folder's tensors under).
TEST(OriginalLayout, VaeAndOpenClipKeysMapBack) {
  SDXL_REQUIRE_REFERENCE();
  const std::pair<const char*, std::function<MappedKey(const std::string&)>> maps[] = {
      {"vae", [](const std::string& k) { return vae_original_key(k, 4); }},
      {"base_text_encoder_2", open_clip_original_key},
      {"refiner_text_encoder_2", open_clip_original_key}};
  for (const auto& [manifest_name, inverse] : maps) {
    SCOPED_TRACE(manifest_name);
    const auto manifest = read_json_object(test::reference_dir() / "real/manifests" / (std::string(manifest_name) + ".json"), "manifest");
    const std::string prefix = manifest["original_layout_prefix"];
    std::set<std::string> originals;
    for (const auto& t : manifest["original_layout"]) originals.insert(t["name"].get<std::string>().substr(prefix.size()));
    std::set<std::string> reached;
    for (const auto& t : manifest["diffusers_layout"]) {
      const std::string name = t["name"];
      const MappedKey back = inverse(name);
      ASSERT_FALSE(back.name.empty()) << name;
      EXPECT_TRUE(originals.count(back.name)) << name << " -> " << back.name;
      reached.insert(back.name);
      // and forward again
      const auto forward = manifest_name == std::string("vae") ? map_vae_key(back.name, 4) : map_open_clip_key(back.name);
      ASSERT_FALSE(forward.empty()) << back.name;
      EXPECT_EQ(forward.at(static_cast<size_t>(back.part)).name, name);
    }
    for (const auto& o : originals)
      if (!is_known_extra_key(o)) EXPECT_TRUE(reached.count(o)) << "nothing writes " << o;
  }
}

TEST(OriginalLayout, ExtraAndForeignKeys) {
  EXPECT_TRUE(is_known_extra_key("text_model.embeddings.position_ids"));
  EXPECT_TRUE(is_known_extra_key("logit_scale"));
  EXPECT_TRUE(map_clip_l_key("text_model.embeddings.position_ids").empty());
  UNetLayout l;
  l.levels = 3;
  l.down_has_attention = {false, true, true};
  l.up_has_attention = {true, true, false};
  EXPECT_TRUE(map_unet_key("input_blocks.1.1.proj_in.weight", l).empty());  // level 0 has no attentions
  EXPECT_TRUE(map_unet_key("input_blocks.40.0.in_layers.0.weight", l).empty());
  EXPECT_TRUE(map_unet_key("model_ema.decay", l).empty());
  EXPECT_EQ(map_unet_key("output_blocks.2.2.conv.weight", l).at(0).name, "up_blocks.0.upsamplers.0.conv.weight");
  EXPECT_EQ(map_unet_key("output_blocks.8.1.conv.weight", l).size(), 0u);  // the last level does not upsample
  EXPECT_EQ(map_vae_key("decoder.up.3.upsample.conv.weight", 4).at(0).name, "decoder.up_blocks.0.upsamplers.0.conv.weight");
  EXPECT_TRUE(map_open_clip_key("transformer.resblocks.x.ln_1.weight").empty());
}

}  // namespace
}  // namespace sdxl::io
