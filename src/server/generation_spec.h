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

// An uploaded image as it came (PNG or JPEG bytes): a job keeps only these while it waits, and
// decodes them when it is checked and when it runs, bounded by the pixels its size can use.
struct UploadedImage {
  std::string bytes;
  std::string field;  // the request's name for it, for errors
  int width = 0, height = 0;  // from its header
};
using Upload = std::shared_ptr<const UploadedImage>;
// A base64 field's bytes and size (read from the header: nothing is decoded); RequestError
// naming `field` when it is not base64, not a PNG or JPEG, or has more than `max_pixels`.
Upload upload_of(const std::string& base64, const std::string& field, int64_t max_pixels);
// The pixels; RequestError naming the upload's field when they cannot be decoded or are more
// than `max_pixels`.
ImageHandle decode_upload(const UploadedImage& upload, int64_t max_pixels);

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
  Upload init_image, mask;  // img2img / inpainting
  double strength = 0.3;
  std::string refiner_mode = "none";
  double high_noise_frac = 0.8;
  std::vector<std::pair<std::string, double>> loras;  // files (resolved in the LoRA folder) and weights
  std::string checkpoint;                             // a catalog name; empty: the loaded one
  int repeats = 1;                                    // AUTOMATIC1111's n_iter: the batch again, seed + batch size
  int preview_every = 1;
  std::string embedding_dir;  // the server's --embedding-dir (AUTOMATIC1111-syntax prompts)
};

// The C API's view of `spec` for one repeat; pointers into `spec` and the holder. The uploads
// are decoded on the first call and kept for the next repeats.
struct GenerateCall {
  GenerateCall() = default;
  GenerateCall(const GenerateCall&) = delete;
  GenerateCall& operator=(const GenerateCall&) = delete;
  // Decoded uploads are megabytes: their memory goes back to the system, not to malloc's free
  // lists (which would keep it resident for the next large allocation of that thread).
  ~GenerateCall();
  sdxl_generate_params params;
  std::vector<const char*> prompts, negatives;
  std::vector<sdxl_lora> loras;
  ImageHandle init_image, mask;
  std::vector<unsigned char> stand_in_image, stand_in_mask;
};
void make_call(const GenerationSpec& spec, int repeat, GenerateCall& call);
// The call the engine checks when a job is submitted: the uploads are stood in for by blank
// images of the size asked for (all the check looks at: an upload is resized to it), so
// nothing is decoded before the job runs.
void make_check_call(const GenerationSpec& spec, GenerateCall& call);

// The most pixels an upload may have for `spec`: 16 megapixels, or four times the size asked
// for when that is more (an image is resized to the size asked for).
int64_t max_upload_pixels(const GenerationSpec& spec);

// A seed for "-1" / absent: random, as AUTOMATIC1111 picks one.
uint64_t random_seed();

}  // namespace sdxl::server
