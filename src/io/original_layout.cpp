#include "io/original_layout.h"

#include <cstdlib>
#include <utility>

namespace sdxl::io {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// "12.rest" -> {12, "rest"}; false if `s` does not start with a number and a dot. No layout has a
// block index of more than a few digits; longer ones are refused so the arithmetic on them cannot overflow.
bool split_index(const std::string& s, int64_t& index, std::string& rest) {
  constexpr size_t kMaxDigits = 6;
  size_t dot = s.find('.');
  if (dot == 0 || dot == std::string::npos || dot > kMaxDigits) return false;
  for (size_t i = 0; i < dot; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  index = std::strtoll(s.substr(0, dot).c_str(), nullptr, 10);
  rest = s.substr(dot + 1);
  return true;
}

// Inside an SGM ResBlock -> diffusers ResnetBlock2D.
std::string unet_resnet_part(const std::string& rest) {
  static const std::pair<const char*, const char*> names[] = {
      {"in_layers.0.", "norm1."},          {"in_layers.2.", "conv1."},  {"emb_layers.1.", "time_emb_proj."},
      {"out_layers.0.", "norm2."},         {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."}};
  for (const auto& [from, to] : names)
    if (starts_with(rest, from)) return to + rest.substr(std::string(from).size());
  return "";
}

std::vector<MappedKey> one(std::string name, KeyTransform transform = KeyTransform::Same) {
  return {{std::move(name), transform, 0}};
}

std::vector<MappedKey> unet_resnet(const std::string& prefix, const std::string& rest) {
  const std::string part = unet_resnet_part(rest);
  return part.empty() ? std::vector<MappedKey>{} : one(prefix + part);
}

}  // namespace

UNetLayout unet_layout(const UNetConfig& c) {
  UNetLayout l;
  l.levels = static_cast<int64_t>(c.block_out_channels.size());
  l.layers_per_block = c.layers_per_block.empty() ? 2 : c.layers_per_block.front();
  for (const auto& t : c.down_block_types) l.down_has_attention.push_back(t.find("CrossAttn") != std::string::npos);
  for (const auto& t : c.up_block_types) l.up_has_attention.push_back(t.find("CrossAttn") != std::string::npos);
  return l;
}

std::vector<MappedKey> map_unet_key(const std::string& key, const UNetLayout& l) {
  static const std::pair<const char*, const char*> fixed[] = {
      {"time_embed.0.", "time_embedding.linear_1."}, {"time_embed.2.", "time_embedding.linear_2."},
      {"label_emb.0.0.", "add_embedding.linear_1."}, {"label_emb.0.2.", "add_embedding.linear_2."},
      {"input_blocks.0.0.", "conv_in."},             {"out.0.", "conv_norm_out."},
      {"out.2.", "conv_out."}};
  for (const auto& [from, to] : fixed)
    if (starts_with(key, from)) return one(to + key.substr(std::string(from).size()));
  const int64_t n = l.layers_per_block + 1;  // blocks per level in SGM's numbering
  int64_t k = 0, sub = 0;
  std::string rest, inner;
  if (starts_with(key, "input_blocks.") && split_index(key.substr(13), k, rest) && k >= 1 && split_index(rest, sub, inner)) {
    const int64_t i = (k - 1) / n, j = (k - 1) % n;
    if (i >= l.levels) return {};
    const std::string level = "down_blocks." + std::to_string(i);
    if (j == l.layers_per_block) {  // the level's downsampler
      if (sub == 0 && starts_with(inner, "op.")) return one(level + ".downsamplers.0.conv." + inner.substr(3));
      return {};
    }
    if (sub == 0) return unet_resnet(level + ".resnets." + std::to_string(j) + ".", inner);
    if (sub == 1 && l.down_has_attention[static_cast<size_t>(i)]) return one(level + ".attentions." + std::to_string(j) + "." + inner);
    return {};
  }
  if (starts_with(key, "middle_block.") && split_index(key.substr(13), k, rest)) {
    if (k == 0) return unet_resnet("mid_block.resnets.0.", rest);
    if (k == 1) return one("mid_block.attentions.0." + rest);
    if (k == 2) return unet_resnet("mid_block.resnets.1.", rest);
    return {};
  }
  if (starts_with(key, "output_blocks.") && split_index(key.substr(14), k, rest) && split_index(rest, sub, inner)) {
    const int64_t i = k / n, j = k % n;
    if (i >= l.levels) return {};
    const std::string level = "up_blocks." + std::to_string(i);
    const bool attention = l.up_has_attention[static_cast<size_t>(i)];
    const bool upsamples = i + 1 < l.levels && j == n - 1;
    if (sub == 0) return unet_resnet(level + ".resnets." + std::to_string(j) + ".", inner);
    if (sub == 1 && attention) return one(level + ".attentions." + std::to_string(j) + "." + inner);
    if (upsamples && sub == (attention ? 2 : 1) && starts_with(inner, "conv."))
      return one(level + ".upsamplers.0.conv." + inner.substr(5));
    return {};
  }
  return {};
}

namespace {

// diffusers ResnetBlock2D -> inside an SGM ResBlock ("" when `rest` is none of its parts).
std::string original_resnet_part(const std::string& rest) {
  static const std::pair<const char*, const char*> names[] = {
      {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"}, {"time_emb_proj", "emb_layers.1"},
      {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
  for (const auto& [from, to] : names) {
    const std::string f = from;
    if (rest == f) return to;
    if (starts_with(rest, f + ".")) return to + rest.substr(f.size());
  }
  return "";
}

std::string joined(const std::string& prefix, const std::string& part) { return part.empty() ? "" : prefix + part; }

}  // namespace

std::string unet_original_key(const std::string& key, const UNetLayout& l) {
  static const std::pair<const char*, const char*> fixed[] = {
      {"time_embedding.linear_1", "time_embed.0"}, {"time_embedding.linear_2", "time_embed.2"},
      {"add_embedding.linear_1", "label_emb.0.0"}, {"add_embedding.linear_2", "label_emb.0.2"},
      {"conv_in", "input_blocks.0.0"},             {"conv_norm_out", "out.0"},
      {"conv_out", "out.2"}};
  for (const auto& [from, to] : fixed) {
    const std::string f = from;
    if (key == f) return to;
    if (starts_with(key, f + ".")) return to + key.substr(f.size());
  }
  const int64_t n = l.layers_per_block + 1;
  int64_t i = 0, j = 0;
  std::string rest, inner;
  const bool down = starts_with(key, "down_blocks."), up = starts_with(key, "up_blocks.");
  if ((down || up) && split_index(key.substr(down ? 12 : 10), i, rest) && i < l.levels) {
    const std::string blocks = down ? "input_blocks." : "output_blocks.";
    const int64_t first = down ? n * i + 1 : n * i;  // the level's first block
    if (starts_with(rest, "resnets.") && split_index(rest.substr(8), j, inner))
      return joined(blocks + std::to_string(first + j) + ".0.", original_resnet_part(inner));
    if (starts_with(rest, "attentions.") && split_index(rest.substr(11), j, inner))
      return blocks + std::to_string(first + j) + ".1." + inner;
    if (down && starts_with(rest, "downsamplers.0.conv"))
      return "input_blocks." + std::to_string(n * (i + 1)) + ".0.op" + rest.substr(19);
    if (up && starts_with(rest, "upsamplers.0.conv")) {
      const bool attention = l.up_has_attention[static_cast<size_t>(i)];
      return "output_blocks." + std::to_string(n * i + n - 1) + (attention ? ".2.conv" : ".1.conv") + rest.substr(17);
    }
    return "";
  }
  if (starts_with(key, "mid_block.resnets.") && split_index(key.substr(18), j, inner) && j <= 1)
    return joined(j == 0 ? "middle_block.0." : "middle_block.2.", original_resnet_part(inner));
  if (starts_with(key, "mid_block.attentions.0.")) return "middle_block.1." + key.substr(23);
  return "";
}

namespace {

std::string vae_resnet_part(const std::string& rest) {
  for (const char* same : {"norm1.", "conv1.", "norm2.", "conv2."})
    if (starts_with(rest, same)) return rest;
  if (starts_with(rest, "nin_shortcut.")) return "conv_shortcut." + rest.substr(13);
  return "";
}

std::vector<MappedKey> vae_mid(const std::string& side, const std::string& rest) {
  if (starts_with(rest, "block_1.") || starts_with(rest, "block_2.")) {
    const std::string part = vae_resnet_part(rest.substr(8));
    if (part.empty()) return {};
    return one(side + ".mid_block.resnets." + (rest[6] == '1' ? "0." : "1.") + part);
  }
  if (!starts_with(rest, "attn_1.")) return {};
  const std::string a = rest.substr(7), target = side + ".mid_block.attentions.0.";
  if (starts_with(a, "norm.")) return one(target + "group_norm." + a.substr(5));
  static const std::pair<const char*, const char*> projections[] = {
      {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
  for (const auto& [from, to] : projections)
    if (starts_with(a, from)) {
      const std::string tail = a.substr(std::string(from).size());
      return one(target + to + tail, tail == "weight" ? KeyTransform::SqueezeConv1x1 : KeyTransform::Same);
    }
  return {};
}

}  // namespace

std::vector<MappedKey> map_vae_key(const std::string& key, int64_t levels) {
  for (const char* same : {"quant_conv.", "post_quant_conv.", "encoder.conv_in.", "encoder.conv_out.", "decoder.conv_in.",
                           "decoder.conv_out."})
    if (starts_with(key, same)) return one(key);
  if (starts_with(key, "encoder.norm_out.")) return one("encoder.conv_norm_out." + key.substr(17));
  if (starts_with(key, "decoder.norm_out.")) return one("decoder.conv_norm_out." + key.substr(17));
  if (starts_with(key, "encoder.mid.")) return vae_mid("encoder", key.substr(12));
  if (starts_with(key, "decoder.mid.")) return vae_mid("decoder", key.substr(12));
  int64_t i = 0, j = 0;
  std::string rest, inner;
  const bool encoder = starts_with(key, "encoder.down.");
  const bool decoder = starts_with(key, "decoder.up.");
  if (!encoder && !decoder) return {};
  if (!split_index(key.substr(encoder ? 13 : 11), i, rest) || i >= levels) return {};
  // The decoder's levels are numbered in reverse in the original layout.
  const std::string level = encoder ? "encoder.down_blocks." + std::to_string(i) : "decoder.up_blocks." + std::to_string(levels - 1 - i);
  if (starts_with(rest, "block.") && split_index(rest.substr(6), j, inner)) {
    const std::string part = vae_resnet_part(inner);
    return part.empty() ? std::vector<MappedKey>{} : one(level + ".resnets." + std::to_string(j) + "." + part);
  }
  const std::string resample = encoder ? "downsample.conv." : "upsample.conv.";
  if (starts_with(rest, resample))
    return one(level + (encoder ? ".downsamplers.0.conv." : ".upsamplers.0.conv.") + rest.substr(resample.size()));
  return {};
}

std::vector<MappedKey> map_clip_l_key(const std::string& key) {
  if (!starts_with(key, "text_model.") || is_known_extra_key(key)) return {};
  return one(key);  // transformers' own names
}

std::vector<MappedKey> map_open_clip_key(const std::string& key) {
  if (key == "token_embedding.weight") return one("text_model.embeddings.token_embedding.weight");
  if (key == "positional_embedding") return one("text_model.embeddings.position_embedding.weight");
  if (key == "text_projection") return one("text_projection.weight", KeyTransform::Transpose);
  if (starts_with(key, "ln_final.")) return one("text_model.final_layer_norm." + key.substr(9));
  int64_t n = 0;
  std::string rest;
  if (!starts_with(key, "transformer.resblocks.") || !split_index(key.substr(22), n, rest)) return {};
  const std::string layer = "text_model.encoder.layers." + std::to_string(n) + ".";
  if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
    const std::string tail = rest == "attn.in_proj_weight" ? "weight" : "bias";
    return {{layer + "self_attn.q_proj." + tail, KeyTransform::QkvPart, 0},
            {layer + "self_attn.k_proj." + tail, KeyTransform::QkvPart, 1},
            {layer + "self_attn.v_proj." + tail, KeyTransform::QkvPart, 2}};
  }
  static const std::pair<const char*, const char*> names[] = {{"ln_1.", "layer_norm1."},
                                                              {"ln_2.", "layer_norm2."},
                                                              {"attn.out_proj.", "self_attn.out_proj."},
                                                              {"mlp.c_fc.", "mlp.fc1."},
                                                              {"mlp.c_proj.", "mlp.fc2."}};
  for (const auto& [from, to] : names)
    if (starts_with(rest, from)) return one(layer + to + rest.substr(std::string(from).size()));
  return {};
}

namespace {

MappedKey stored(std::string name, KeyTransform transform = KeyTransform::Same, int part = 0) {
  return {std::move(name), transform, part};
}

std::string original_vae_resnet_part(const std::string& rest) {
  for (const char* same : {"norm1.", "conv1.", "norm2.", "conv2."})
    if (starts_with(rest, same)) return rest;
  if (starts_with(rest, "conv_shortcut.")) return "nin_shortcut." + rest.substr(14);
  return "";
}

MappedKey original_vae_mid(const std::string& side, const std::string& rest) {
  int64_t j = 0;
  std::string inner;
  if (starts_with(rest, "resnets.") && split_index(rest.substr(8), j, inner) && j <= 1) {
    const std::string part = original_vae_resnet_part(inner);
    return part.empty() ? MappedKey{} : stored(side + ".mid.block_" + (j == 0 ? "1." : "2.") + part);
  }
  if (!starts_with(rest, "attentions.0.")) return {};
  const std::string a = rest.substr(13), target = side + ".mid.attn_1.";
  if (starts_with(a, "group_norm.")) return stored(target + "norm." + a.substr(11));
  static const std::pair<const char*, const char*> projections[] = {
      {"to_q.", "q."}, {"to_k.", "k."}, {"to_v.", "v."}, {"to_out.0.", "proj_out."}};
  for (const auto& [from, to] : projections)
    if (starts_with(a, from)) {
      const std::string tail = a.substr(std::string(from).size());
      return stored(target + to + tail, tail == "weight" ? KeyTransform::SqueezeConv1x1 : KeyTransform::Same);
    }
  return {};
}

}  // namespace

MappedKey vae_original_key(const std::string& key, int64_t levels) {
  for (const char* same : {"quant_conv.", "post_quant_conv.", "encoder.conv_in.", "encoder.conv_out.", "decoder.conv_in.",
                           "decoder.conv_out."})
    if (starts_with(key, same)) return stored(key);
  if (starts_with(key, "encoder.conv_norm_out.")) return stored("encoder.norm_out." + key.substr(22));
  if (starts_with(key, "decoder.conv_norm_out.")) return stored("decoder.norm_out." + key.substr(22));
  if (starts_with(key, "encoder.mid_block.")) return original_vae_mid("encoder", key.substr(18));
  if (starts_with(key, "decoder.mid_block.")) return original_vae_mid("decoder", key.substr(18));
  const bool encoder = starts_with(key, "encoder.down_blocks."), decoder = starts_with(key, "decoder.up_blocks.");
  int64_t i = 0, j = 0;
  std::string rest, inner;
  if ((!encoder && !decoder) || !split_index(key.substr(encoder ? 20 : 18), i, rest) || i >= levels) return {};
  const std::string level = encoder ? "encoder.down." + std::to_string(i) : "decoder.up." + std::to_string(levels - 1 - i);
  if (starts_with(rest, "resnets.") && split_index(rest.substr(8), j, inner)) {
    const std::string part = original_vae_resnet_part(inner);
    return part.empty() ? MappedKey{} : stored(level + ".block." + std::to_string(j) + "." + part);
  }
  const std::string resample = encoder ? "downsamplers.0.conv." : "upsamplers.0.conv.";
  if (starts_with(rest, resample)) return stored(level + (encoder ? ".downsample.conv." : ".upsample.conv.") + rest.substr(resample.size()));
  return {};
}

MappedKey open_clip_original_key(const std::string& key) {
  if (key == "text_model.embeddings.token_embedding.weight") return stored("token_embedding.weight");
  if (key == "text_model.embeddings.position_embedding.weight") return stored("positional_embedding");
  if (key == "text_projection.weight") return stored("text_projection", KeyTransform::Transpose);
  if (starts_with(key, "text_model.final_layer_norm.")) return stored("ln_final." + key.substr(28));
  int64_t n = 0;
  std::string rest;
  if (!starts_with(key, "text_model.encoder.layers.") || !split_index(key.substr(26), n, rest)) return {};
  const std::string layer = "transformer.resblocks." + std::to_string(n) + ".";
  static const char* qkv[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
  for (int part = 0; part < 3; ++part)
    if (starts_with(rest, qkv[part])) {
      const std::string tail = rest.substr(17);
      if (tail != "weight" && tail != "bias") return {};
      return stored(layer + (tail == "weight" ? "attn.in_proj_weight" : "attn.in_proj_bias"), KeyTransform::QkvPart, part);
    }
  static const std::pair<const char*, const char*> names[] = {{"layer_norm1.", "ln_1."},
                                                              {"layer_norm2.", "ln_2."},
                                                              {"self_attn.out_proj.", "attn.out_proj."},
                                                              {"mlp.fc1.", "mlp.c_fc."},
                                                              {"mlp.fc2.", "mlp.c_proj."}};
  for (const auto& [from, to] : names)
    if (starts_with(rest, from)) return stored(layer + to + rest.substr(std::string(from).size()));
  return {};
}

bool is_known_extra_key(const std::string& key) {
  const auto ends_with = [&](const std::string& tail) {
    return key.size() >= tail.size() && key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with("position_ids") || ends_with("logit_scale");
}

}  // namespace sdxl::io
