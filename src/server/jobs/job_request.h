// One job as the server queues it: what to generate (sdxl::api::Generation, the library's own
// request type) and what only a server adds: the checkpoint it runs on and AUTOMATIC1111's
// n_iter (the batch again, with the seed moved on by the batch's size).
#pragma once

#include <cstdint>
#include <string>

#include "sdxl/generation.hpp"

namespace sdxl::server {

struct JobRequest {
  api::Generation generation;
  std::string checkpoint;  // a catalog name for this job only; empty: the server's default
  // AUTOMATIC1111's override_settings_restore_afterwards = false: the checkpoint stays the
  // server's default after this job (a switch queued before it).
  bool checkpoint_becomes_default = false;
  int repeats = 1;  // AUTOMATIC1111's n_iter
};

// The seed of repeat `repeat`: AUTOMATIC1111 moves it on by the batch's size each time.
uint64_t repeat_seed(const JobRequest& job, int repeat);
// Its variation seed (AUTOMATIC1111's subseed), moved on the same way.
uint64_t repeat_subseed(const JobRequest& job, int repeat);

// An upload (base64 PNG or JPEG bytes) as a request's input image: only its header is read.
// RequestError naming `field` when it is not base64, not a PNG or JPEG, or has more than
// `max_pixels` pixels.
api::Image upload_of(const std::string& base64, const std::string& field, long long max_pixels);

// A seed for "-1" / absent: random, as AUTOMATIC1111 picks one.
uint64_t random_seed();

}  // namespace sdxl::server
