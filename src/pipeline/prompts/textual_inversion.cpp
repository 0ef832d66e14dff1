#include "pipeline/prompts/textual_inversion.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "io/tensor_file.h"
#include "pipeline/prompts/tokenizer_loader.h"

namespace sdxl::pipeline {

namespace fs = std::filesystem;

namespace {

// Where an SDXL embedding keeps its two sets of vectors: `clip_l` / `clip_g` at the top (the
// safetensors layout, and torch.save of the same dict), or inside AUTOMATIC1111's .pt layout
// (`string_to_param`). A .pt with one `string_to_param` tensor is an SD 1.x/2.x embedding.
std::pair<const io::TensorRecord*, const io::TensorRecord*> sdxl_vectors(const io::SafetensorsFile& file,
                                                                         std::string& problem) {
  for (const std::string prefix : {"", "string_to_param."})
    if (const io::TensorRecord *l = file.find(prefix + "clip_l"), *g = file.find(prefix + "clip_g"); l && g) return {l, g};
  problem = "no clip_l and clip_g tensors (not an SDXL embedding)";
  for (const auto& r : file.records())
    if (r.name.rfind("string_to_param.", 0) == 0 && r.shape.rank() == 2)
      problem = "an SD 1.x/2.x embedding (one set of " + std::to_string(r.shape[1]) +
                "-wide vectors in string_to_param); an SDXL embedding has clip_l (768) and clip_g (1280)";
  return {nullptr, nullptr};
}

bool is_embedding_file(const fs::directory_entry& entry) {
  const std::string ext = entry.path().extension().string();
  return ext == ".safetensors" || ext == ".pt" || ext == ".bin";
}

}  // namespace

std::vector<TextualInversion> load_textual_inversions(const fs::path& dir, const std::vector<std::string>& texts) {
  std::vector<TextualInversion> out;
  if (dir.empty()) return out;
  std::error_code ec;
  SDXL_CHECK(fs::is_directory(dir, ec), Io, "[embeddings] ", dir.string(), ": not a directory");
  std::vector<fs::path> files;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (!is_embedding_file(*it)) continue;
    std::error_code entry_ec;
    const bool regular = it->is_regular_file(entry_ec);
    // A symlink loop or a dangling link in the folder is one bad entry, not a failed request.
    if (entry_ec) log_warn("[embeddings] ", it->path().string(), ": skipped (", entry_ec.message(), ")");
    else if (regular) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const std::string name = file.stem().string();
    const bool used = std::any_of(texts.begin(), texts.end(), [&](const std::string& t) { return t.find(name) != std::string::npos; });
    if (name.empty() || !used) continue;
    const auto st = io::open_tensor_file(file);
    std::string problem;
    const auto [l, g] = sdxl_vectors(*st, problem);
    SDXL_CHECK(l && g, Format, "[embeddings] ", file.string(), ": ", problem);
    TextualInversion ti{name, st->tensor(*l).to(DType::F32).clone(), st->tensor(*g).to(DType::F32).clone()};
    SDXL_CHECK(ti.clip_l.rank() == 2 && ti.clip_g.rank() == 2 && ti.clip_l.dim(0) == ti.clip_g.dim(0), Format,
               "[embeddings] ", file.string(), ": clip_l ", ti.clip_l.shape().to_string(), " and clip_g ",
               ti.clip_g.shape().to_string(), " must be [n, width] with the same n");
    SDXL_CHECK(ti.clip_l.dim(0) >= 1 && ti.clip_l.dim(0) <= kChunkTokens, Format, "[embeddings] ", file.string(), ": ",
               ti.clip_l.dim(0), " vectors; an embedding has 1 to ", kChunkTokens);
    out.push_back(std::move(ti));
  }
  return out;
}

std::vector<EmbeddingEntry> list_textual_inversions(const fs::path& dir) {
  std::vector<EmbeddingEntry> out;
  std::error_code ec;
  SDXL_CHECK(fs::is_directory(dir, ec), Io, "[embeddings] ", dir.string(), ": not a directory");
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (!is_embedding_file(*it) || !it->is_regular_file(entry_ec) || entry_ec) continue;
    EmbeddingEntry e{it->path().stem().string(), it->path(), 0, 0, 0, ""};
    try {
      const auto st = io::open_tensor_file(e.file);
      const auto [l, g] = sdxl_vectors(*st, e.problem);
      const bool matrices = l && g && l->shape.rank() == 2 && g->shape.rank() == 2;
      if (l && g && (!matrices || l->shape[0] != g->shape[0])) e.problem = "clip_l and clip_g must be [n, width] with the same n";
      else if (matrices && (l->shape[0] < 1 || l->shape[0] > kChunkTokens)) e.problem = "an embedding has 1 to 75 vectors";
      if (matrices) {
        e.vectors = l->shape[0];
        e.clip_l_width = l->shape[1];
        e.clip_g_width = g->shape[1];
      }
    } catch (const Error& error) {
      e.problem = error.what();
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const EmbeddingEntry& a, const EmbeddingEntry& b) { return a.name < b.name; });
  return out;
}

std::vector<TokenEmbedding> token_embeddings(const std::vector<TextualInversion>& embeddings,
                                             const tokenizer::ClipTokenizer& tokenizer, bool second_encoder,
                                             int64_t hidden_size) {
  std::vector<TokenEmbedding> out;
  for (const auto& e : embeddings) {
    const Tensor& vectors = second_encoder ? e.clip_g : e.clip_l;
    SDXL_CHECK(vectors.dim(1) == hidden_size, InvalidArgument, "[embeddings] ", e.name, ": ",
               second_encoder ? "clip_g" : "clip_l", " vectors are ", vectors.dim(1), " wide but the ",
               second_encoder ? "second" : "first", " text encoder's are ", hidden_size);
    out.push_back({e.name, with_tokenizer_errors([&] { return tokenizer.token_ids(e.name); }), vectors});
  }
  return out;
}

}  // namespace sdxl::pipeline
