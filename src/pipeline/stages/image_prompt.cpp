#include "pipeline/stages/image_prompt.h"

#include <cstring>

#include "core/error.h"
#include "models/unet/unet.h"
#include "ops.h"

namespace sdxl::pipeline {
namespace {

// The embedding the adapter projects: image_embeds (plain) or hidden_states[-2] (plus).
Tensor encode(const IpAdapterUnit& unit, const Tensor& pixel_values) {
  Arena arena;
  const models::ClipVisionOutput out = unit.encoder->forward(arena, pixel_values);
  if (!unit.adapter->config().plus) return out.image_embeds.clone();
  return out.hidden_states[out.hidden_states.size() - 2].clone();
}

// rows [negative x images | positive x images] (or the positives alone without CFG).
Tensor batch_rows(const Tensor& negative, const Tensor& positive, bool cfg, int64_t images) {
  Shape shape = positive.shape();
  shape[0] = (cfg ? 2 : 1) * images;
  Tensor out = Tensor::empty(shape, DType::F32);
  char* dst = static_cast<char*>(out.raw());
  int64_t row = 0;
  if (cfg)
    for (int64_t i = 0; i < images; ++i, ++row) std::memcpy(dst + row * negative.nbytes(), negative.raw(), negative.nbytes());
  for (int64_t i = 0; i < images; ++i, ++row) std::memcpy(dst + row * positive.nbytes(), positive.raw(), positive.nbytes());
  return out;
}

}  // namespace

ImagePromptEmbeds image_prompt_embeds(const IpAdapterUnit& unit) {
  SDXL_CHECK(unit.adapter && unit.encoder && unit.pixel_values.defined(), Internal,
             "[ip-adapter] a unit needs an adapter, an image encoder and an image");
  const auto& a = unit.adapter->config();
  const auto& e = unit.encoder->config();
  const int64_t width = a.plus ? e.hidden_size : e.projection_dim;
  SDXL_CHECK(width == a.embed_dim, InvalidArgument, "[ip-adapter] the image encoder gives ", width, "-wide ",
             a.plus ? "hidden states" : "image embeddings", ", the ", a.plus ? "plus " : "", "adapter takes ", a.embed_dim,
             " (", a.plus ? "plus adapters need the encoder they were trained with: ViT-H for the vit-h files, else ViT-bigG"
                          : "the sdxl_models files take ViT-bigG's 1280, the vit-h files ViT-H's 1024",
             ")");
  ImagePromptEmbeds out;
  out.image_embeds = encode(unit, unit.pixel_values);
  if (a.plus) {
    out.negative_image_embeds = encode(unit, Tensor::zeros(unit.pixel_values.shape(), DType::F32));
  } else {
    out.negative_image_embeds = Tensor::zeros(out.image_embeds.shape(), DType::F32);
  }
  Arena arena;
  const Tensor both = batch_rows(out.negative_image_embeds, out.image_embeds, /*cfg=*/true, 1);
  out.tokens = unit.adapter->project(arena, both).clone();
  return out;
}

ImagePrompt::ImagePrompt(const IpAdapterUnit& unit, const io::UNetConfig& unet, bool cfg, int64_t images, size_t steps) {
  const ImagePromptEmbeds embeds = image_prompt_embeds(unit);
  const Tensor negative = embeds.tokens.slice_rows(0, 1), positive = embeds.tokens.slice_rows(1, 1);
  const Tensor tokens = batch_rows(negative, positive, cfg, images);
  Arena arena;
  const std::vector<Tensor> by_processor = unit.adapter->attention_kv(arena, tokens, static_cast<float>(unit.scale));
  const std::vector<models::CrossAttentionLayer> layers = models::cross_attention_layers(unet);
  SDXL_CHECK(layers.size() == by_processor.size(), InvalidArgument, "[ip-adapter] the adapter has ", by_processor.size(),
             " cross-attention layers, the UNet ", layers.size());
  kv_.resize(layers.size());
  for (size_t k = 0; k < layers.size(); ++k) kv_[layers[k].forward_index] = by_processor[k].clone();
  const double n = static_cast<double>(steps);
  for (size_t i = 0; i < steps; ++i) {
    const double at = static_cast<double>(i) / n;
    active_.push_back(at >= unit.start && at <= unit.end);
  }
}

const std::vector<Tensor>* ImagePrompt::operator()(size_t step) const { return active_.at(step) ? &kv_ : nullptr; }

}  // namespace sdxl::pipeline
