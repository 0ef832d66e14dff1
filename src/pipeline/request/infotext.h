// AUTOMATIC1111's "parameters" text (PNG tEXt chunk, the A1111 API's `info`), which image
// viewers and web UIs read back: the prompt, the negative prompt, then "Key: value" fields in the
// webui's order and quoting, with the model's provenance (Model hash, VAE hash, Lora hashes).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lora/lora_set.h"

namespace sdxl::pipeline {

struct EngineRequest;
struct EngineOptions;

struct InfotextFields {
  std::string prompt, negative_prompt;
  std::optional<std::string> prompt_2;
  int64_t steps = 30;
  std::string sampler;  // AUTOMATIC1111's name, "DPM++ 2M Karras"
  double guidance = 5.0, guidance_rescale = 0.0;
  uint64_t seed = 0;
  int64_t width = 0, height = 0;
  std::filesystem::path model, vae, refiner;  // vae, refiner: empty when none
  std::optional<double> denoising_strength;   // img2img / inpainting
  bool inpaint = false;
  std::optional<double> refiner_switch_at, refiner_strength;  // the ensemble's fraction, or img2img's strength
  std::string precision = "fp32";
  std::vector<lora::LoraSpec> loras;
  // AUTOMATIC1111's extra_generation_params: "Key: value" pairs written in order before Version
  // (values quoted as the webui quotes them).
  std::vector<std::pair<std::string, std::string>> extra;
  std::string version;
};

// What image `index` (of `width` x `height`) of a generation ran with: the request the engine
// ran (the prompt as written, with its <lora:...> tags), the engine's options and the LoRAs it
// merged. `version` is left to the caller.
InfotextFields infotext_fields(const EngineRequest& request, const EngineOptions& options,
                               const std::vector<lora::LoraSpec>& loras, int64_t width, int64_t height, int64_t index);

// The text; model, VAE and LoRA files are hashed through the hash cache (io/file_hash.h).
std::string a1111_infotext(const InfotextFields& fields);

struct ControlSpec;
// How the ControlNet extension names a model: "stem [old model hash]" (the spec's own name when
// it has one); a diffusers folder by its name and its weights file's hash.
std::string controlnet_model_name(const ControlSpec& spec);
// "stem [old model hash]" of a model file, or of a folder (its name) by the first of its
// `folder_files` that exists.
std::string model_name_with_hash(const std::filesystem::path& model, const std::vector<std::string>& folder_files);
// The extension's "ControlNet N" value for a unit (ControlNetUnit.serialize) for an output of
// width x height.
std::string controlnet_unit_text(const ControlSpec& spec, int64_t width, int64_t height);

// AUTOMATIC1111's quoting of a value: as it is, unless a comma, colon or newline would break
// the list; then a JSON string.
std::string infotext_quote(const std::string& text);

}  // namespace sdxl::pipeline
