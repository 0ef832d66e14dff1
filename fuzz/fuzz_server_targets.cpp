#include "fuzz_server_targets.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/http/base64.h"
#include "server/queue/job_codec.h"
#include "server/http/request_fields.h"
#include "server/api/a1111_infotext.h"
#include "server/api/request_parsers.h"

namespace sdxl::fuzz {

namespace {

// A small engine's capacity (no model is loaded here): what an accepted request is checked
// against, as `sdxl serve --queue` checks it against a worker's.
constexpr const char* kCapacity =
    R"({"model": "fuzz", "vae_scale": 8, "has_refiner": true, "is_refiner": false, "one_shot": false,
        "base": {"text_encoders_gib": 0.01, "unet_gib": 0.01, "vae_gib": 0.01, "unet_channels": 32, "vae_channels": 32,
                 "loaded": true},
        "refiner": {"text_encoders_gib": 0.01, "unet_gib": 0.01, "vae_gib": 0.01, "unet_channels": 32, "vae_channels": 32,
                    "loaded": true},
        "available_gib": -1})";

// The library's check of a parsed request: never a crash, and what it accepts is in bounds.
void check_accepted(const server::JobRequest& job) {
  const api::GenerateParams params(job.generation, api::GenerateParams::Images::StandIns);
  if (sdxl_check_capacity(kCapacity, &params.get()) != SDXL_STATUS_OK) return;
  const api::Generation& g = job.generation;
  // txt2img sizes are taken as they are; an image is resized to a size rounded down to 8.
  if (!g.image && (g.width % 8 || g.height % 8 || g.width < SDXL_MIN_SIDE || g.height > SDXL_MAX_SIDE)) std::abort();
  if (g.steps < 1 || g.steps > SDXL_MAX_STEPS || !(g.guidance_scale >= 0)) std::abort();
}

}  // namespace

int server_request_bytes(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  server::NameLookup names;
  names.has_checkpoint = [](const std::string& n) { return n == "base" || n == "base [0123456789]"; };
  names.lora = [](const std::string& n) -> std::optional<std::string> {
    if (n == "style") return std::string("/loras/style.safetensors");
    return std::nullopt;
  };
  names.refiner = "refiner";
  const auto clean = [](auto body_fn) {
    try {
      body_fn();
    } catch (const server::RequestError& e) {
      if (e.status() < 400 || e.status() >= 600) std::abort();  // a refusal is always an HTTP error status
      if (std::getenv("SDXL_FUZZ_VERBOSE")) std::fprintf(stderr, "clean error: %s\n", e.what());
    }
  };
  clean([&] {
    const nlohmann::json j = server::parse_body(body);
    (void)j.dump();  // replies echo requests: whatever parses must serialize (recursion bounded by depth)
    for (bool img2img : {false, true})
      clean([&] {
        nlohmann::json echo;
        std::vector<std::string> ignored;
        check_accepted(server::parse_a1111_request(j, img2img, names, echo, ignored));
      });
    clean([&] {
      const auto s = server::parse_job_request(j, names);
      for (const auto& l : s.generation.loras)
        if (l.path != "/loras/style.safetensors") std::abort();  // names resolve only to the folder's files
      check_accepted(s);
    });
    clean([&] {
      server::OpenAiAnswer answer;
      check_accepted(server::parse_openai_request(j, names, answer));
    });
  });
  // The same bytes as an images.edit upload (multipart/form-data with a boundary the clients'
  // form): whatever parses is an edit request or a clean refusal.
  clean([&] {
    server::OpenAiAnswer answer;
    check_accepted(server::parse_openai_edit(body, "multipart/form-data; boundary=----formdata-undici-0123", names, answer));
  });
  // The same bytes as an image's parameters text (png-info parses any upload's): a dict with its
  // prompt, always.
  if (!server::parse_generation_parameters(body).contains("Prompt")) std::abort();
  // The same bytes as a job a worker reads off the Redis stream (anyone with Redis access can
  // write one): a clean refusal, and no LoRA path outside the worker's folder.
  clean([&] {
    const auto s = server::decode_job(body, {"/nonexistent-lora-folder", "", ""});
    if (!s.generation.loras.empty() || !s.generation.refiner_loras.empty()) std::abort();  // no file exists there
  });
  const auto decoded = server::base64_decode(body);
  if (decoded && server::base64_encode(*decoded).size() > body.size() + 4 && body.find_first_of(" \n\r\t=") == std::string::npos &&
      body.rfind("data:", 0) != 0)
    std::abort();  // decoding never invents data
  return 0;
}

}  // namespace sdxl::fuzz
