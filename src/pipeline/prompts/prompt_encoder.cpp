#include "pipeline/prompts/prompt_encoder.h"

#include <cstring>

#include "ops.h"
#include "core/log.h"
#include "pipeline/stages/tensor_batch.h"
#include "pipeline/sources/component_loader.h"
#include "pipeline/prompts/tokenizer_loader.h"

namespace sdxl::pipeline {

PromptArg PromptArg::text(std::string s) {
  PromptArg a;
  a.items_ = {std::move(s)};
  a.present_ = true;
  return a;
}

PromptArg PromptArg::list(std::vector<std::string> items) {
  PromptArg a;
  a.items_ = std::move(items);
  a.is_list_ = true;
  a.present_ = true;
  return a;
}

std::vector<std::string> PromptArg::for_batch(size_t batch, const char* what) const {
  if (!is_list_ && items_.size() == 1) return std::vector<std::string>(batch, items_[0]);
  // diffusers takes a one-element list only for a batch of one; repeating it is harmless.
  if (items_.size() == 1) return std::vector<std::string>(batch, items_[0]);
  SDXL_CHECK(items_.size() == batch, InvalidArgument, "[prompt] ", what, " has ", items_.size(),
             " entries but the batch has ", batch, " prompts");
  return items_;
}

PromptEncoder PromptEncoder::load(const ModelSource& source, ops::Precision precision,
                                  std::map<std::string, models::AdaptableLayers>* adaptable,
                                  const PackedCacheSettings* cache) {
  PromptEncoder encoder;
  encoder.force_zeros_for_empty_prompt_ = source.index().force_zeros_for_empty_prompt;
  auto load_pair = [&](const std::string& tokenizer, const std::string& model) {
    return std::make_shared<Encoder>(
        Encoder{load_clip_tokenizer(source.tokenizer_dir(tokenizer), source.tokenizer_vocab_dir(tokenizer)),
                load_text_encoder(source, model, precision, adaptable ? &(*adaptable)[model] : nullptr, cache)});
  };
  SDXL_CHECK(source.has("text_encoder_2") && source.has("tokenizer_2"), Format, "[model] ", source.location().string(),
             ": an SDXL pipeline needs text_encoder_2 and tokenizer_2");
  encoder.second_ = load_pair("tokenizer_2", "text_encoder_2");
  SDXL_CHECK(encoder.second_->model.config().with_projection(), Format, "[model] ", source.location().string(),
             ": text_encoder_2 must be a CLIPTextModelWithProjection (its pooled output conditions the UNet)");
  if (source.has("text_encoder")) {
    SDXL_CHECK(source.has("tokenizer"), Format, "[model] ", source.location().string(),
               ": text_encoder is present but tokenizer is not");
    encoder.first_ = load_pair("tokenizer", "text_encoder");
  }
  return encoder;
}

int64_t PromptEncoder::embedding_dim() const {
  return second_->model.config().hidden_size + (first_ ? first_->model.config().hidden_size : 0);
}

PromptEncoder::Encoded PromptEncoder::run(const Encoder& encoder, const std::vector<std::string>& texts,
                                          int hidden_from_end, bool need_pooled) const {
  const auto& tok = encoder.tokenizer;
  std::vector<int32_t> ids;
  for (const auto& text : texts) {
    auto row = with_tokenizer_errors([&] { return tok.encode(text); });
    auto full = with_tokenizer_errors([&] { return tok.encode_untruncated(text); });
    if (full.size() > row.size())
      log_warn("The following part of your input was truncated because CLIP can only handle sequences up to ",
               tok.max_length(), " tokens: ",
               tok.decode(std::vector<int32_t>(full.begin() + tok.max_length() - 1, full.end() - 1)));
    ids.insert(ids.end(), row.begin(), row.end());
  }
  const int64_t batch = static_cast<int64_t>(texts.size());
  const int64_t total_layers = encoder.model.config().num_hidden_layers;
  // hidden_states has total_layers + 1 entries; [-k] is the output of layer total_layers + 1 - k.
  const int64_t index = total_layers + 1 - hidden_from_end;
  SDXL_CHECK(index >= 0, InvalidArgument, "[prompt] skipping ", hidden_from_end - 2, " layers is more than the encoder's ",
             total_layers, " layers allow");
  Arena arena;
  auto out = encoder.model.forward(arena, ids, batch, need_pooled ? total_layers : index);
  Encoded result;
  result.hidden = out.hidden_states[static_cast<size_t>(index)].clone();
  if (need_pooled) result.pooled = out.text_embeds.clone();
  return result;
}

PromptEmbeddings repeat_per_image(PromptEmbeddings e, int64_t n) {
  e.prompt_embeds = repeat_each(e.prompt_embeds, n);
  e.pooled_prompt_embeds = repeat_each(e.pooled_prompt_embeds, n);
  if (e.negative_prompt_embeds.defined()) {
    e.negative_prompt_embeds = repeat_each(e.negative_prompt_embeds, n);
    e.negative_pooled_prompt_embeds = repeat_each(e.negative_pooled_prompt_embeds, n);
  }
  return e;
}

PromptEmbeddings PromptEncoder::encode(const PromptRequest& request) const {
  if (request.syntax == PromptSyntax::A1111) return encode_a1111(request);
  SDXL_CHECK(request.prompt.truthy() || (!request.prompt.is_none() && request.prompt.size() > 0), InvalidArgument,
             "[prompt] no prompt given");
  SDXL_CHECK(request.num_images_per_prompt >= 1, InvalidArgument, "[prompt] num_images_per_prompt must be >= 1");
  const size_t batch = request.prompt.size();
  const std::vector<std::string> prompts = request.prompt.for_batch(batch, "prompt");
  const int positive_from_end = request.layers_from_end();

  // diffusers zips [prompt, prompt_2] with the encoders present: with text_encoder_2 alone (the
  // refiner) that pairs it with `prompt`, and prompt_2 goes unused.
  const PromptArg& second_arg = first_ ? (request.prompt_2.truthy() ? request.prompt_2 : request.prompt) : request.prompt;
  PromptEmbeddings result;
  Tensor hidden;
  if (first_) hidden = run(*first_, prompts, positive_from_end, false).hidden;
  Encoded second = run(*second_, second_arg.for_batch(batch, "prompt_2"), positive_from_end, true);
  result.prompt_embeds = concat_last(hidden, second.hidden);
  result.pooled_prompt_embeds = second.pooled;

  if (request.classifier_free_guidance) {
    const bool zero_out = request.negative_prompt.is_none() && force_zeros_for_empty_prompt_;
    if (zero_out) {
      result.negative_prompt_embeds = Tensor::zeros(result.prompt_embeds.shape(), DType::F32);
      result.negative_pooled_prompt_embeds = Tensor::zeros(result.pooled_prompt_embeds.shape(), DType::F32);
    } else {
      const PromptArg negative = request.negative_prompt.truthy() ? request.negative_prompt : PromptArg::text("");
      const PromptArg negative_2 = request.negative_prompt_2.truthy() ? request.negative_prompt_2 : negative;
      // Negative embeddings always come from the penultimate layer (PromptRequest::layers_from_end).
      Tensor neg_hidden;
      if (first_) neg_hidden = run(*first_, negative.for_batch(batch, "negative_prompt"), 2, false).hidden;
      const PromptArg& neg_second = first_ ? negative_2 : negative;
      Encoded neg = run(*second_, neg_second.for_batch(batch, "negative_prompt_2"), 2, true);
      result.negative_prompt_embeds = concat_last(neg_hidden, neg.hidden);
      result.negative_pooled_prompt_embeds = neg.pooled;
    }
  }

  return repeat_per_image(std::move(result), request.num_images_per_prompt);
}

}  // namespace sdxl::pipeline
