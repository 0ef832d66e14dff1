// The UNet's conditioning for a batch: prompt embeddings, pooled embeddings and SDXL's
// micro-conditioning time ids, in the order and layout each diffusers pipeline builds them.
#pragma once

#include "pipeline/stages/denoiser.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "pipeline/request/generate_request.h"

namespace sdxl::pipeline {

enum class TimeIdsLayout {
  // StableDiffusionXLPipeline: cat([negative, positive]).repeat(n): interleaved rows.
  Txt2Img,
  // The img2img and inpaint pipelines: negatives repeated, then positives repeated: blocked.
  Img2Img,
};

// time ids of one image: [orig h, orig w, crop top, crop left, target h, target w], or with
// `aesthetic` (the refiner) [orig h, orig w, crop top, crop left, aesthetic score].
struct TimeIds {
  std::vector<float> positive, negative;
};
TimeIds make_time_ids(const GenerateRequest& r, int64_t height, int64_t width, bool aesthetic, TimeIdsLayout layout);

Conditioning make_conditioning(const PromptEmbeddings& emb, const TimeIds& ids, bool guidance, TimeIdsLayout layout);

}  // namespace sdxl::pipeline
