#include "pipeline/prompts/tokenize_report.h"

#include <nlohmann/json.hpp>

#include "pipeline/sources/model_source.h"
#include "pipeline/prompts/prompt_chunks.h"
#include "pipeline/prompts/textual_inversion.h"
#include "pipeline/prompts/tokenizer_loader.h"
#include "tokenizer/prompt_attention.h"

namespace sdxl::pipeline {

std::string tokenize_report(const TokenizeRequest& request) {
  const auto source = open_model_source(request.model);
  const bool a1111 = request.syntax == PromptSyntax::A1111;
  const std::vector<tokenizer::WeightedText> parts =
      a1111 ? with_tokenizer_errors([&] { return tokenizer::parse_prompt_attention(request.text); })
            : std::vector<tokenizer::WeightedText>{{request.text, 1.0}};
  const auto embeddings = a1111 ? load_textual_inversions(request.embedding_dir, {request.text}) : std::vector<TextualInversion>{};

  nlohmann::json json = nlohmann::json::object();
  json["parts"] = nlohmann::json::array();
  for (const auto& p : parts) json["parts"].push_back({p.text, p.weight});
  std::string text_report;
  for (const char* name : {"tokenizer", "tokenizer_2"}) {
    if (!source->has(name)) continue;
    const auto tok = load_clip_tokenizer(source->tokenizer_dir(name), source->tokenizer_vocab_dir(name));
    const bool second = std::string(name) == "tokenizer_2";
    std::vector<std::vector<int32_t>> ids;
    std::vector<std::vector<double>> weights;
    if (a1111) {
      std::vector<TokenEmbedding> placed;
      for (const auto& e : embeddings)  // any width: tokenize places names, it does not encode
        placed.push_back({e.name, with_tokenizer_errors([&] { return tok.token_ids(e.name); }), second ? e.clip_g : e.clip_l});
      for (const auto& chunk : chunk_prompt(parts, tok, placed).chunks) {
        ids.push_back(second ? ids_after_first_eos_zeroed(chunk.ids, tok.eos_id()) : chunk.ids);
        weights.push_back(chunk.multipliers);
      }
    } else {
      ids.push_back(with_tokenizer_errors([&] { return tok.encode(request.text); }));
      weights.emplace_back(ids.back().size(), 1.0);
    }
    json[name] = {{"ids", ids}, {"weights", weights}};
    for (const auto& row : ids) {
      text_report += name;
      text_report += ":";
      for (int32_t id : row) text_report += " " + std::to_string(id);
      text_report += "\n";
    }
  }
  SDXL_CHECK(!text_report.empty(), Format, "[tokenize] ", request.model.string(), ": the model has no tokenizer folder");
  return request.as_json ? json.dump() + "\n" : text_report;
}

}  // namespace sdxl::pipeline
