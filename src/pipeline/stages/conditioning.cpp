#include "pipeline/stages/conditioning.h"

#include <cstring>

namespace sdxl::pipeline {
namespace {

void place(Tensor& dst, int64_t row, const void* src, size_t bytes) {
  std::memcpy(static_cast<uint8_t*>(dst.raw()) + static_cast<size_t>(row) * bytes, src, bytes);
}

}  // namespace

TimeIds make_time_ids(const GenerateRequest& r, int64_t height, int64_t width, bool aesthetic, TimeIdsLayout layout) {
  const SizeHW size{height, width};
  const SizeHW original = r.original_size.value_or(size);
  const SizeHW target = r.target_size.value_or(size);
  const auto crop = r.crops_coords_top_left;
  auto f = [](int64_t v) { return static_cast<float>(v); };
  TimeIds ids;
  if (aesthetic) {
    const SizeHW neg_original = r.negative_original_size.value_or(original);
    const auto neg_crop = r.negative_crops_coords_top_left;
    ids.positive = {f(original.height), f(original.width), f(crop.first), f(crop.second), static_cast<float>(r.aesthetic_score)};
    ids.negative = {f(neg_original.height), f(neg_original.width), f(neg_crop.first), f(neg_crop.second),
                    static_cast<float>(r.negative_aesthetic_score)};
    return ids;
  }
  ids.positive = {f(original.height), f(original.width), f(crop.first), f(crop.second), f(target.height), f(target.width)};
  if (layout == TimeIdsLayout::Txt2Img) {
    // txt2img has its own negatives only when both negative sizes are given.
    if (r.negative_original_size && r.negative_target_size) {
      const auto neg_crop = r.negative_crops_coords_top_left;
      ids.negative = {f(r.negative_original_size->height), f(r.negative_original_size->width), f(neg_crop.first),
                      f(neg_crop.second), f(r.negative_target_size->height), f(r.negative_target_size->width)};
    } else {
      ids.negative = ids.positive;
    }
  } else {
    // img2img / inpaint default each negative size to the positive one, and (a diffusers quirk)
    // pair them with the positive crop.
    const SizeHW neg_original = r.negative_original_size.value_or(original);
    const SizeHW neg_target = r.negative_target_size.value_or(target);
    ids.negative = {f(neg_original.height), f(neg_original.width), f(crop.first), f(crop.second),
                    f(neg_target.height), f(neg_target.width)};
  }
  return ids;
}

Conditioning make_conditioning(const PromptEmbeddings& emb, const TimeIds& ids, bool guidance, TimeIdsLayout layout) {
  const int64_t images = emb.prompt_embeds.dim(0);
  const int64_t rows = guidance ? 2 * images : images;
  const int64_t k = static_cast<int64_t>(ids.positive.size());
  Conditioning cond;
  cond.context = Tensor::empty(Shape{rows, emb.prompt_embeds.dim(1), emb.prompt_embeds.dim(2)}, DType::F32);
  cond.text_embeds = Tensor::empty(Shape{rows, emb.pooled_prompt_embeds.dim(1)}, DType::F32);
  cond.time_ids = Tensor::empty(Shape{rows, k}, DType::F32);
  const size_t context_bytes = emb.prompt_embeds.nbytes(), pooled_bytes = emb.pooled_prompt_embeds.nbytes();
  if (guidance) {
    place(cond.context, 0, emb.negative_prompt_embeds.raw(), context_bytes);
    place(cond.context, 1, emb.prompt_embeds.raw(), context_bytes);
    place(cond.text_embeds, 0, emb.negative_pooled_prompt_embeds.raw(), pooled_bytes);
    place(cond.text_embeds, 1, emb.pooled_prompt_embeds.raw(), pooled_bytes);
  } else {
    place(cond.context, 0, emb.prompt_embeds.raw(), context_bytes);
    place(cond.text_embeds, 0, emb.pooled_prompt_embeds.raw(), pooled_bytes);
  }
  const size_t row_bytes = static_cast<size_t>(k) * sizeof(float);
  for (int64_t row = 0; row < rows; ++row) {
    bool negative = false;
    if (guidance) negative = layout == TimeIdsLayout::Txt2Img ? row % 2 == 0 : row < images;
    place(cond.time_ids, row, (negative ? ids.negative : ids.positive).data(), row_bytes);
  }
  return cond;
}

}  // namespace sdxl::pipeline
