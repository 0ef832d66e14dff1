// StableDiffusionXLPipeline.encode_prompt (diffusers 0.25.1), for the base (two encoders) and
// the refiner (text_encoder_2 only).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/sources/model_source.h"
#include "pipeline/sources/packed_layers.h"
#include "pipeline/prompts/textual_inversion.h"
#include "core/error.h"
#include "models/clip/clip_text_model.h"
#include "models/common/adaptable_layers.h"
#include "tokenizer/clip_tokenizer.h"

namespace sdxl::pipeline {

// A prompt argument as diffusers receives it: None, one string, or a list of strings.
// Python's `a or b` treats None, "" and [] alike, which decides several defaults.
class PromptArg {
 public:
  PromptArg() = default;  // None
  static PromptArg text(std::string s);
  static PromptArg list(std::vector<std::string> items);
  bool is_none() const { return !present_; }
  bool truthy() const { return present_ && !items_.empty() && (is_list_ || !items_[0].empty()); }
  // The strings for a batch of `batch`: a single string is repeated, a list must match.
  std::vector<std::string> for_batch(size_t batch, const char* what) const;
  size_t size() const { return items_.size(); }
  bool is_list() const { return is_list_; }
  // Each string changed in place by `edit` (None stays None).
  template <typename Edit>
  void edit_each(Edit&& edit) {
    for (auto& item : items_) edit(item);
  }

 private:
  std::vector<std::string> items_;
  bool is_list_ = false;
  bool present_ = false;
};

// How prompt text is read: diffusers' way (77 tokens, brackets are text) or AUTOMATIC1111's
// (emphasis weights, BREAK, 75-token chunks, textual-inversion embeddings).
enum class PromptSyntax { Plain, A1111 };

struct PromptRequest {
  PromptArg prompt, prompt_2, negative_prompt, negative_prompt_2;
  PromptSyntax syntax = PromptSyntax::Plain;
  std::filesystem::path embedding_dir;  // A1111: textual-inversion embeddings, by file name
  int64_t num_images_per_prompt = 1;
  bool classifier_free_guidance = true;
  std::optional<int> clip_skip;

  // The hidden state, counted from the end, the prompt's embeddings come from: diffusers'
  // hidden_states[-(clip_skip + 2)], the penultimate layer without clip_skip (the negative
  // prompt's always come from the penultimate: diffusers skips no layer for it).
  int layers_from_end() const {
    SDXL_CHECK(!clip_skip || *clip_skip >= 0, InvalidArgument, "[prompt] clip_skip must be >= 0, got ", *clip_skip);
    return clip_skip ? *clip_skip + 2 : 2;
  }
};

// Owned tensors; the negative ones are undefined without classifier-free guidance.
struct PromptEmbeddings {
  Tensor prompt_embeds;           // [B * n, 77, D]
  Tensor pooled_prompt_embeds;    // [B * n, P]
  Tensor negative_prompt_embeds;  // [B * n, 77, D]
  Tensor negative_pooled_prompt_embeds;
};

// Each prompt's embeddings repeated for its n images (diffusers' num_images_per_prompt).
PromptEmbeddings repeat_per_image(PromptEmbeddings embeddings, int64_t n);

class PromptEncoder {
 public:
  // Loads tokenizer(_2) and text_encoder(_2) as the folder has them (the refiner has only _2).
  // `adaptable`: where each text encoder's layers are recorded for later LoRA changes, by component.
  static PromptEncoder load(const ModelSource& source, ops::Precision precision = ops::Precision::F32,
                            std::map<std::string, models::AdaptableLayers>* adaptable = nullptr,
                            const PackedCacheSettings* cache = nullptr);
  PromptEmbeddings encode(const PromptRequest& request) const;

  bool has_first_encoder() const { return first_ != nullptr; }
  int64_t embedding_dim() const;  // D: the hidden sizes of the encoders, concatenated
  const tokenizer::ClipTokenizer& tokenizer_2() const { return second_->tokenizer; }
  const tokenizer::ClipTokenizer* tokenizer_1() const { return first_ ? &first_->tokenizer : nullptr; }

 private:
  struct Encoder {
    tokenizer::ClipTokenizer tokenizer;
    models::ClipTextModel model;
  };
  struct Encoded {
    Tensor hidden;  // [B, 77, H], owned
    Tensor pooled;  // [B, P], owned (text_encoder_2 only)
  };
  // `hidden_from_end`: 2 is the penultimate layer (hidden_states[-2]).
  Encoded run(const Encoder& encoder, const std::vector<std::string>& texts, int hidden_from_end,
              bool need_pooled) const;
  // AUTOMATIC1111's syntax (prompt_encoder_a1111.cpp).
  PromptEmbeddings encode_a1111(const PromptRequest& request) const;
  Encoded run_chunks(const Encoder& encoder, bool second, const std::vector<std::string>& texts, int hidden_from_end,
                     const std::vector<TextualInversion>& embeddings, int64_t min_chunks) const;

  std::shared_ptr<Encoder> first_, second_;
  bool force_zeros_for_empty_prompt_ = true;
};

}  // namespace sdxl::pipeline
