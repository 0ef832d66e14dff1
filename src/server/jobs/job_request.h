// One job as the server queues it: what to generate (sdxl::api::Generation, the library's own
// request type) and what only a server adds: the checkpoint it runs on and AUTOMATIC1111's
// n_iter (the batch again, with the seed moved on by the batch's size).
#pragma once

#include <cstdint>
#include <string>

#include "sdxl/generation.hpp"

namespace sdxl::server {

// How a job's images are encoded: the format ("png", "jpeg", "webp"), the quality of JPEG and
// lossy WebP (0: 80, AUTOMATIC1111's jpeg_quality) and WebP's lossless mode.
struct ImageOutput {
  std::string format = "png";
  int quality = 0;
  bool lossless = false;
};

struct JobRequest {
  api::Generation generation;
  ImageOutput output;
  std::string checkpoint;  // a catalog name for this job only; empty: the server's default
  // AUTOMATIC1111's override_settings_restore_afterwards = false: the checkpoint stays the
  // server's default after this job (a switch queued before it).
  bool checkpoint_becomes_default = false;
  int repeats = 1;  // AUTOMATIC1111's n_iter
  std::string request_id;    // the HTTP request that made it (X-Request-Id): in every log line about it
  int64_t submitted_ms = 0;  // when it was queued, Unix milliseconds: its wait in the queue
};

// The seed of repeat `repeat`: AUTOMATIC1111 moves it on by the batch's size each time.
uint64_t repeat_seed(const JobRequest& job, int repeat);
// Its variation seed (AUTOMATIC1111's subseed), moved on the same way.
uint64_t repeat_subseed(const JobRequest& job, int repeat);

// An upload (base64 PNG or JPEG bytes) as a request's input image: only its header is read.
// RequestError naming `field` when it is not base64, not a PNG, JPEG or WebP, or has more than
// `max_pixels` pixels.
api::Image upload_of(const std::string& base64, const std::string& field, long long max_pixels);

// The MIME type of encoded image bytes (PNG, JPEG or WebP), from their first bytes.
const char* image_mime_type(const std::string& bytes);

// A seed for "-1" / absent: random, as AUTOMATIC1111 picks one.
uint64_t random_seed();

}  // namespace sdxl::server
