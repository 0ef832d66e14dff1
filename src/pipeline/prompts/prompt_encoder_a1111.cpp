// PromptEncoder::encode for AUTOMATIC1111's syntax (modules/sd_hijack_clip.py with
// modules/sd_emphasis.py's "Original" emphasis, as the webui runs SDXL):
//   each prompt is parsed for emphasis and cut into 75-token chunks, separately per tokenizer;
//   a batch's prompts are padded to the same chunk count with empty chunks;
//   per encoder and chunk index: z = the hidden state (penultimate), m0 = mean(z) over the whole
//   batch, z *= multiplier per token, z *= m0 / mean(z); chunks concatenated on the token axis;
//   the bigG encoder receives every id after the first EOS as 0;
//   pooled = the bigG projection of the first chunk, unweighted;
//   an all-empty negative prompt gives zeros (the webui's SDXL conditioner does so);
//   positive and negative are padded to the same chunk count with the empty prompt's encoding
//   (the webui's "pad prompt/negative prompt" option), so that they batch into one UNet call.
#include <cmath>

#include "core/error.h"
#include "pipeline/prompts/prompt_chunks.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "pipeline/stages/tensor_batch.h"
#include "pipeline/prompts/tokenizer_loader.h"
#include "tokenizer/prompt_attention.h"

namespace sdxl::pipeline {
namespace {

// mean of all elements, accumulated in double
double mean_of(const Tensor& t) {
  double sum = 0;
  const float* x = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) sum += x[i];
  return sum / static_cast<double>(t.numel());
}

bool all_empty(const std::vector<std::string>& texts) {
  for (const auto& t : texts)
    if (!t.empty()) return false;
  return true;
}

}  // namespace

PromptEncoder::Encoded PromptEncoder::run_chunks(const Encoder& encoder, bool second, const std::vector<std::string>& texts,
                                                 int hidden_from_end, const std::vector<TextualInversion>& embeddings,
                                                 int64_t min_chunks) const {
  const auto& tok = encoder.tokenizer;
  const int64_t hidden_size = encoder.model.config().hidden_size;
  const std::vector<TokenEmbedding> placed = token_embeddings(embeddings, tok, second, hidden_size);
  std::vector<ChunkedPrompt> prompts;
  int64_t chunk_count = min_chunks;
  for (const auto& text : texts) {
    prompts.push_back(chunk_prompt(with_tokenizer_errors([&] { return tokenizer::parse_prompt_attention(text); }), tok, placed));
    chunk_count = std::max<int64_t>(chunk_count, static_cast<int64_t>(prompts.back().chunks.size()));
  }
  const int64_t batch = static_cast<int64_t>(texts.size()), length = kChunkTokens + 2;
  const int64_t total_layers = encoder.model.config().num_hidden_layers;
  const int64_t index = total_layers + 1 - hidden_from_end;
  SDXL_CHECK(index >= 0, InvalidArgument, "[prompt] skipping ", hidden_from_end - 2, " layers is more than the encoder's ",
             total_layers, " layers allow");
  const PromptChunk empty = empty_chunk(tok);

  Encoded result;
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < chunk_count; ++i) {
    std::vector<int32_t> ids;
    std::vector<models::TokenOverride> overrides;
    std::vector<const PromptChunk*> rows;
    for (int64_t b = 0; b < batch; ++b) {
      const auto& chunks = prompts[static_cast<size_t>(b)].chunks;
      const PromptChunk& chunk = i < static_cast<int64_t>(chunks.size()) ? chunks[static_cast<size_t>(i)] : empty;
      rows.push_back(&chunk);
      const auto row_ids = second ? ids_after_first_eos_zeroed(chunk.ids, tok.eos_id()) : chunk.ids;
      ids.insert(ids.end(), row_ids.begin(), row_ids.end());
      for (const ChunkFix& fix : chunk.fixes)
        for (int64_t v = 0; v < fix.embedding->vectors.dim(0); ++v)
          overrides.push_back({b, fix.offset + 1 + v, fix.embedding->vectors.data<float>() + v * hidden_size});
    }
    const bool pooled = second && i == 0;
    Arena arena;
    auto out = encoder.model.forward(arena, ids, batch, pooled ? total_layers : index, overrides);
    Tensor z = out.hidden_states[static_cast<size_t>(index)].clone();  // [B, 77, H]
    if (pooled) result.pooled = out.text_embeds.clone();
    // sd_emphasis "Original": weight each token, then restore the original mean.
    const double original_mean = mean_of(z);
    float* x = z.data<float>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < length; ++t) {
        const float m = static_cast<float>(rows[static_cast<size_t>(b)]->multipliers[static_cast<size_t>(t)]);
        float* token = x + (b * length + t) * hidden_size;
        for (int64_t h = 0; h < hidden_size; ++h) token[h] *= m;
      }
    const float ratio = static_cast<float>(original_mean / mean_of(z));
    for (int64_t k = 0; k < z.numel(); ++k) x[k] *= ratio;
    parts.push_back(z);
  }
  result.hidden = concat_tokens(parts);
  return result;
}

PromptEmbeddings PromptEncoder::encode_a1111(const PromptRequest& request) const {
  SDXL_CHECK(!request.prompt.is_none() && request.prompt.size() > 0, InvalidArgument, "[prompt] no prompt given");
  const size_t batch = request.prompt.size();
  const auto prompts = request.prompt.for_batch(batch, "prompt");
  const auto prompts_2 = (first_ && request.prompt_2.truthy() ? request.prompt_2 : request.prompt).for_batch(batch, "prompt_2");
  const PromptArg negative_arg = request.negative_prompt.is_none() ? PromptArg::text("") : request.negative_prompt;
  const auto negatives = negative_arg.for_batch(batch, "negative_prompt");
  const auto negatives_2 =
      (first_ && request.negative_prompt_2.truthy() ? request.negative_prompt_2 : negative_arg).for_batch(batch, "negative_prompt_2");
  const int from_end = request.layers_from_end();

  std::vector<std::string> all_texts = prompts;
  for (const auto* list : {&prompts_2, &negatives, &negatives_2}) all_texts.insert(all_texts.end(), list->begin(), list->end());
  const auto embeddings = load_textual_inversions(request.embedding_dir, all_texts);

  // One side (positive or negative): both encoders, chunk counts aligned between them.
  auto encode_side = [&](const std::vector<std::string>& texts, const std::vector<std::string>& texts_2, int64_t min_chunks) {
    Encoded second = run_chunks(*second_, true, texts_2, from_end, embeddings, min_chunks);
    Tensor hidden;
    if (first_) {
      const int64_t chunks = second.hidden.dim(1) / (kChunkTokens + 2);
      Encoded first = run_chunks(*first_, false, texts, from_end, embeddings, chunks);
      if (first.hidden.dim(1) > second.hidden.dim(1))  // the first tokenizer needed more chunks
        second = run_chunks(*second_, true, texts_2, from_end, embeddings, first.hidden.dim(1) / (kChunkTokens + 2));
      hidden = first.hidden;
    }
    second.hidden = concat_last(hidden, second.hidden);
    return second;
  };
  // The empty prompt's encoding, one chunk: what the shorter side is padded with.
  auto empty_encoding = [&]() { return encode_side({""}, {""}, 1).hidden; };
  auto pad_to = [&](Tensor embeds, int64_t tokens) {
    if (embeds.dim(1) >= tokens) return embeds;
    const Tensor empty = repeat_each(empty_encoding(), embeds.dim(0));
    std::vector<Tensor> parts{embeds};
    for (int64_t t = embeds.dim(1); t < tokens; t += empty.dim(1)) parts.push_back(empty);
    return concat_tokens(parts);
  };

  PromptEmbeddings result;
  Encoded positive = encode_side(prompts, prompts_2, 1);
  result.prompt_embeds = positive.hidden;
  result.pooled_prompt_embeds = positive.pooled;
  if (request.classifier_free_guidance) {
    if (all_empty(negatives) && all_empty(negatives_2)) {
      const int64_t width = result.prompt_embeds.dim(2);
      result.negative_prompt_embeds = Tensor::zeros(Shape{static_cast<int64_t>(batch), kChunkTokens + 2, width}, DType::F32);
      result.negative_pooled_prompt_embeds = Tensor::zeros(result.pooled_prompt_embeds.shape(), DType::F32);
    } else {
      Encoded negative = encode_side(negatives, negatives_2, 1);
      result.negative_prompt_embeds = negative.hidden;
      result.negative_pooled_prompt_embeds = negative.pooled;
    }
    const int64_t tokens = std::max(result.prompt_embeds.dim(1), result.negative_prompt_embeds.dim(1));
    result.prompt_embeds = pad_to(result.prompt_embeds, tokens);
    result.negative_prompt_embeds = pad_to(result.negative_prompt_embeds, tokens);
  }
  return repeat_per_image(std::move(result), request.num_images_per_prompt);
}

}  // namespace sdxl::pipeline
