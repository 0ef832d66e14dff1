// One generation as the server's APIs ask for it: owned, validated values (each API family maps
// its own field names onto these), and the C API's parameters made from them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdxl.h"

namespace sdxl::server {

using ImageHandle = std::shared_ptr<sdxl_image>;
// An uploaded image (base64 PNG or JPEG) decoded; RequestError naming `field` when it is not one.
ImageHandle decode_image_field(const std::string& base64, const char* field);

struct GenerationSpec {
  std::vector<std::string> prompts{""};
  std::vector<std::string> negative_prompts;  // none, one for all, or one per prompt
  std::optional<std::string> prompt_2;
  int width = 1024, height = 1024, steps = 30, images_per_prompt = 1;
  double guidance = 5.0;
  uint64_t seed = 0;
  std::string sampler = "euler", scheduler;
  std::string prompt_syntax = "plain";
  int clip_skip = -1;
  ImageHandle init_image, mask;  // img2img / inpainting
  double strength = 0.3;
  std::string refiner_mode = "none";
  double high_noise_frac = 0.8;
  std::vector<std::pair<std::string, double>> loras;  // files (resolved in the LoRA folder) and weights
  std::string checkpoint;                             // a catalog name; empty: the loaded one
  int repeats = 1;                                    // AUTOMATIC1111's n_iter: the batch again, seed + batch size
  int preview_every = 1;
  std::string embedding_dir;  // the server's --embedding-dir (AUTOMATIC1111-syntax prompts)
};

// The C API's view of `spec` for one repeat; pointers into `spec` and the holder.
struct GenerateCall {
  sdxl_generate_params params;
  std::vector<const char*> prompts, negatives;
  std::vector<sdxl_lora> loras;
};
void make_call(const GenerationSpec& spec, int repeat, GenerateCall& call);

// A seed for "-1" / absent: random, as AUTOMATIC1111 picks one.
uint64_t random_seed();

}  // namespace sdxl::server
