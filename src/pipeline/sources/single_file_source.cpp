#include "pipeline/sources/single_file_source.h"

#include <functional>

#include "core/error.h"
#include "io/tensor_file.h"
#include "io/original_layout.h"
#include "pipeline/sources/data_dir.h"

namespace sdxl::pipeline {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool has_prefix(const io::SafetensorsFile& f, const std::string& prefix) {
  for (const auto& r : f.records())
    if (starts_with(r.name, prefix)) return true;
  return false;
}

}  // namespace

io::WeightSet original_layout_weights(const std::string& component, std::shared_ptr<io::SafetensorsFile> file,
                                      const std::string& prefix, const OriginalKeyMap& map, const std::string& mismatch_hint) {
  std::vector<io::RenamedTensor> renamed;
  std::vector<std::string> unknown;
  for (const auto& r : file->records()) {
    if (!starts_with(r.name, prefix)) continue;
    const std::string key = r.name.substr(prefix.size());
    const auto mapped = map(key);
    if (mapped.empty()) {
      if (!io::is_known_extra_key(key)) unknown.push_back(r.name);
      continue;
    }
    for (const auto& m : mapped) renamed.push_back({m.name, r.name, m.transform, m.part});
  }
  SDXL_CHECK(!renamed.empty(), Format, "[model] ", file->path().string(), ": no ", prefix, "* tensors for the ", component);
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 5; ++i) list += (i ? ", " : "") + unknown[i];
    fail(ErrorCode::Format, "[model] ", file->path().string(), ": ", unknown.size(), " tensors of the ", component,
         " match no layer of its architecture (", list, unknown.size() > 5 ? ", ..." : "", "): ", mismatch_hint);
  }
  return io::renamed_weight_set(component, std::move(file), renamed);
}

SingleFileSource::SingleFileSource(const std::filesystem::path& file, const std::filesystem::path& config_dir)
    : file_(file) {
  st_ = io::open_tensor_file(file);
  bool wrapped = !st_->records().empty();
  for (const auto& r : st_->records()) wrapped = wrapped && starts_with(r.name, "state_dict.");
  if (wrapped) wrapper_ = "state_dict.";
  const bool has_clip_l = has_prefix(*st_, wrapper_ + "conditioner.embedders.0.transformer.");
  built_in_configs_ = config_dir.empty();
  configs_ = std::make_unique<FolderSource>(
      built_in_configs_ ? data_dir() / "configs" / (has_clip_l ? "stable-diffusion-xl-base-1.0" : "stable-diffusion-xl-refiner-1.0")
                        : config_dir,
      "");
  // A checkpoint of another family, told by its keys, is refused by name.
  SDXL_CHECK(has_prefix(*st_, wrapper_ + "model.diffusion_model."), Format, "[model] ", file.string(),
             ": no model.diffusion_model.* tensors: not a single-file Stable Diffusion checkpoint");
  SDXL_CHECK(!has_prefix(*st_, wrapper_ + "cond_stage_model."), Unsupported, "[model] ", file.string(),
             ": a Stable Diffusion 1.x/2.x checkpoint (cond_stage_model.*), not SDXL");
  // EDM-trained SDXL descendants (Playground v2.5, CosXL) mark their sampling with edm_* keys
  // (and CosXL with v_pred): SDXL 1.0's DDPM schedule would give noise.
  SDXL_CHECK(!has_prefix(*st_, wrapper_ + "edm_") && !st_->find(wrapper_ + "v_pred"), Unsupported, "[model] ", file.string(),
             ": an SDXL-EDM checkpoint (edm_* / v_pred keys, as Playground v2.5 and CosXL): its EDM sampling is not "
             "SDXL 1.0's, and sdxl does not implement it");
  SDXL_CHECK(has_prefix(*st_, wrapper_ + "conditioner.embedders."), Unsupported, "[model] ", file.string(),
             ": no conditioner.embedders.* (SDXL's text encoders): not an SDXL checkpoint");
  // A base has CLIP-L (embedders.0.transformer) and bigG; a refiner bigG alone.
  const bool base = has_clip_l;
  SDXL_CHECK(built_in_configs_ || base == configs_->has("text_encoder"), InvalidArgument, "[model] ", file.string(), " is an SDXL ",
             base ? "base (two text encoders)" : "refiner (one text encoder)", " but --config ", config_dir.string(),
             " is ", base ? "a refiner's" : "a base's", " architecture");
}

std::filesystem::path SingleFileSource::tokenizer_vocab_dir(const std::string&) const {
  return built_in_configs_ ? data_dir() / "tokenizer" : std::filesystem::path();
}

io::WeightSet SingleFileSource::weights(const std::string& component) const {
  std::string prefix;
  OriginalKeyMap map;
  if (component == "unet") {
    prefix = "model.diffusion_model.";
    const io::UNetConfig unet = io::parse_unet_config(config("unet"), config_origin("unet"));
    const io::UNetLayout layout = io::unet_layout(unet);
    // The first convolution tells the UNet's input: 9 channels is an inpainting UNet.
    if (const io::TensorRecord* conv_in = st_->find(wrapper_ + "model.diffusion_model.input_blocks.0.0.weight"))
      SDXL_CHECK(conv_in->shape.rank() != 4 || conv_in->shape[1] == unet.in_channels, Unsupported, "[model] ", file_.string(),
                 ": its UNet takes ", conv_in->shape[1], " input channels", conv_in->shape[1] == 9 ? " (an inpainting UNet)" : "",
                 ", the architecture ", unet.in_channels, built_in_configs_ ? " (SDXL 1.0)" : "");
    map = [layout](const std::string& k) { return io::map_unet_key(k, layout); };
  } else if (component == "vae") {
    prefix = "first_stage_model.";
    const auto levels = static_cast<int64_t>(io::parse_vae_config(config("vae"), config_origin("vae")).block_out_channels.size());
    map = [levels](const std::string& k) { return io::map_vae_key(k, levels); };
  } else if (component == "text_encoder") {
    prefix = "conditioner.embedders.0.transformer.";
    map = io::map_clip_l_key;
  } else if (component == "text_encoder_2") {
    // The base's bigG is the second embedder; the refiner's, without CLIP-L, the first.
    prefix = has("text_encoder") ? "conditioner.embedders.1.model." : "conditioner.embedders.0.model.";
    map = io::map_open_clip_key;
  } else {
    fail(ErrorCode::Internal, "[model] ", file_.string(), ": no weights for component '", component, "'");
  }
  return original_layout_weights(component, st_, wrapper_ + prefix, map,
                                 built_in_configs_ ? "not SDXL 1.0's architecture; give its diffusers folder with --config"
                                                   : "is --config the checkpoint's architecture?");
}

}  // namespace sdxl::pipeline
