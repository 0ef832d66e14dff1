// AUTOMATIC1111's /sdapi/v1 API: the subset Open WebUI, SillyTavern and scripts written for the
// webui call, with its field names, defaults (512x512, 50 steps, CFG 7, Euler) and response
// shapes (images as bare base64 PNGs, `info` a JSON *string*). Prompts are read with
// AUTOMATIC1111's syntax and <lora:...> tags; seeds and samplers are sdxl's, so an image equals
// the CLI's for the same settings.
#include <cstdio>
#include <chrono>

#include "sdxl/sdxl.hpp"
#include "server/http/base64.h"
#include "server/http/http_common.h"
#include "server/api/a1111_fields.h"
#include "server/api/a1111_infotext.h"
#include "server/api/request_parsers.h"
#include "server/http/routes.h"
#include "server/system_memory.h"
#include "server/service/service_log.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

// The reply: bare base64 images (PNG, or samples_format's JPEG / WebP), the request echoed, and
// `info` as a JSON string.
void send_images(const ServerContext& ctx, http::Response& res, const JobView& job, const api::Generation& s, json echo,
                 bool send, bool img2img) {
  json images = json::array(), infotexts = json::array(), seeds = json::array(), subseeds = json::array(), prompts = json::array(),
       negatives = json::array();
  for (size_t i = 0; i < job.images.size(); ++i) {
    if (send) images.push_back(base64_encode(job.images[i].bytes));
    infotexts.push_back(job.images[i].infotext);
    seeds.push_back(i < job.seeds.size() ? job.seeds[i] : s.seed);
    subseeds.push_back(s.subseed + i);  // AUTOMATIC1111 numbers them per image whatever the strength
    prompts.push_back(s.prompts[0]);
    negatives.push_back(s.negative_prompts.empty() ? "" : s.negative_prompts[0]);
  }
  const auto checkpoint = ctx.catalog.find_checkpoint(job.checkpoint);
  const std::string hash = checkpoint ? ctx.catalog.sha256(*checkpoint) : "";
  const json info = {{"prompt", s.prompts[0]},
                     {"all_prompts", prompts},
                     {"negative_prompt", s.negative_prompts.empty() ? "" : s.negative_prompts[0]},
                     {"all_negative_prompts", negatives},
                     {"seed", s.seed},
                     {"all_seeds", seeds},
                     {"subseed", s.subseed},
                     {"all_subseeds", subseeds},
                     {"width", s.width},
                     {"height", s.height},
                     {"sampler_name", s.sampler},
                     {"cfg_scale", s.guidance_scale},
                     {"steps", s.steps},
                     {"batch_size", s.images_per_prompt},
                     {"restore_faces", false},
                     {"sd_model_name", job.checkpoint},
                     {"sd_model_hash", hash.substr(0, std::min<size_t>(10, hash.size()))},
                     {"denoising_strength", img2img ? json(s.strength) : json(nullptr)},
                     {"extra_generation_params", json::object()},
                     {"index_of_first_image", 0},
                     {"infotexts", infotexts},
                     {"styles", echo.value("styles", json::array())},
                     {"clip_skip", s.clip_skip < 0 ? 1 : s.clip_skip + 1},
                     {"is_using_inpainting_conditioning", false},
                     {"version", std::string("sdxl ") + sdxl_version()}};
  send_json(res, 200, {{"images", images}, {"parameters", echo}, {"info", info.dump()}});
}

void generate(const ServerContext& ctx, const http::Request& req, http::Response& res, bool img2img) {
  const json body = parse_body(req.body);
  json echo;
  std::vector<std::string> ignored;
  JobRequest request = parse_a1111_request(body, img2img, lookup_of(ctx), echo, ignored);
  if (!ignored.empty()) {
    // AUTOMATIC1111 ignores fields it does not have; a typo should still be visible.
    std::string names;
    for (const auto& n : ignored) names += (names.empty() ? "" : ", ") + n;
    res.set_header("X-Sdxl-Ignored-Fields", names);
    service_log(SDXL_LOG_LEVEL_WARN, "ignored_fields", {{"request_id", req.id}, {"route", req.path}, {"fields", ignored}},
                "fields outside AUTOMATIC1111's schema, ignored as AUTOMATIC1111 does");
  }
  const bool send = Fields(body).boolean("send_images", true);
  auto kept = std::make_shared<api::Generation>(request.generation);  // the queue takes its own copy
  kept->image.reset();  // the reply needs the settings, not the upload
  kept->mask_image.reset();
  const bool img2img_reply = request.generation.image != nullptr;
  // Overrides are this request's only, unless it says otherwise: then the checkpoint becomes
  // the default first (a queued switch, so jobs before this one keep theirs).
  if (request.checkpoint_becomes_default) ctx.queue.switch_checkpoint(request.checkpoint);
  request.request_id = req.id;
  const std::string id = ctx.queue.submit(std::move(request));
  answer_when_done(ctx, id, res, [&ctx, kept, echo = std::move(echo), send, img2img_reply](const JobView& job, http::Response& res) {
    // An interrupted call answers with what it has, as AUTOMATIC1111's: the repeats done and
    // the one interrupted, decoded from the latents it reached (Succeeded); a cancelled one
    // (its client gone) has none.
    if (job.state != JobState::Succeeded && job.state != JobState::Cancelled) throw job_error(job);
    send_images(ctx, res, job, *kept, echo, send, img2img_reply);
  });
}

json memory_report() {
  const SystemMemory m = system_memory();
  return {{"ram", {{"free", m.available_bytes}, {"used", m.total_bytes - m.available_bytes}, {"total", m.total_bytes}}},
          {"cuda", {{"error", "no CUDA device: sdxl runs on the CPU"}}}};
}

}  // namespace

void add_a1111_routes(Router& server, const ServerContext& ctx) {
  server.Post("/sdapi/v1/txt2img", guarded([&ctx](const http::Request& req, http::Response& res) { generate(ctx, req, res, false); },
                                          send_error, a1111_field_of));
  server.Post("/sdapi/v1/img2img", guarded([&ctx](const http::Request& req, http::Response& res) { generate(ctx, req, res, true); },
                                          send_error, a1111_field_of));
  server.Get("/sdapi/v1/progress", guarded([&ctx](const http::Request& req, http::Response& res) {
    const auto job = ctx.queue.running();
    const bool image = req.get_param_value("skip_current_image") != "true";
    // A job id is access to its result: shown only where every caller is the same user.
    const bool one_user = ctx.options.api_auth.size() + (ctx.options.api_key.empty() ? 0 : 1) == 1;
    json state = {{"skipped", false},           {"interrupted", false},        {"stopping_generation", false},
                  {"job", job && one_user ? job->id : ""},  {"job_count", job ? job->repeats : 0},
                  {"job_timestamp", "0"},       {"job_no", job ? job->repeat : 0},
                  {"sampling_step", job ? job->step : 0}, {"sampling_steps", job ? job->total : 0}};
    const double progress = job ? job->progress() : 0.0;
    const double eta = job ? job->eta_seconds() : 0.0;
    send_json(res, 200,
              {{"progress", progress},
               {"eta_relative", eta},
               {"state", state},
               {"current_image", job && image && !job->preview_png.empty() ? json(base64_encode(job->preview_png)) : json(nullptr)},
               {"textinfo", job ? json(job->stage) : json(nullptr)}});
  }));
  server.Post("/sdapi/v1/interrupt", guarded([&ctx](const http::Request&, http::Response& res) {
    ctx.queue.interrupt();
    send_json(res, 200, json::object());
  }));
  server.Post("/sdapi/v1/skip", guarded([&ctx](const http::Request&, http::Response& res) {
    ctx.queue.skip();
    send_json(res, 200, json::object());
  }));
  server.Get("/sdapi/v1/options", guarded([&ctx](const http::Request&, http::Response& res) {
    const std::string current_name = ctx.catalog.default_checkpoint();
    const auto current = ctx.catalog.find_checkpoint(current_name);
    send_json(res, 200,
              {{"sd_model_checkpoint", current ? ctx.catalog.title(*current) : current_name},
               {"sd_checkpoint_hash", current ? ctx.catalog.sha256(*current) : ""},
               {"sd_vae", ctx.options.vae.empty() ? "Automatic" : std::filesystem::path(ctx.options.vae).filename().string()},
               {"CLIP_stop_at_last_layers", 1},
               {"samples_format", "png"}});
  }));
  server.Post("/sdapi/v1/options", guarded([&ctx](const http::Request& req, http::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    check_a1111_options(body, "", lookup_of(ctx).vae, /*per_request=*/false);
    if (!f.has("sd_model_checkpoint")) return send_json(res, 200, nullptr);
    answer_when_done(ctx, ctx.queue.switch_checkpoint(f.text("sd_model_checkpoint", "")), res, [](const JobView& job, http::Response& res) {
      if (job.state != JobState::Succeeded) throw job_error(job);
      send_json(res, 200, nullptr);
    });
  }));
  server.Get("/sdapi/v1/sd-models", guarded([&ctx](const http::Request&, http::Response& res) {
    json list = json::array();
    for (const auto& c : ctx.catalog.checkpoints()) {
      const std::string sha = ctx.catalog.sha256(c);
      list.push_back({{"title", ctx.catalog.title(c)},
                      {"model_name", c.name},
                      {"hash", sha.empty() ? json(nullptr) : json(sha.substr(0, 10))},
                      {"sha256", sha.empty() ? json(nullptr) : json(sha)},
                      {"filename", c.path.string()},
                      {"config", nullptr}});
    }
    // The refiner is a checkpoint in AUTOMATIC1111's list too (refiner_checkpoint names it);
    // sdxl serves it only as the refiner, so it is not a default one may switch to.
    if (!ctx.options.refiner.empty()) {
      const std::filesystem::path refiner = ctx.options.refiner;
      const std::string name = (refiner.has_extension() ? refiner.stem() : refiner.filename()).string();
      list.push_back({{"title", name}, {"model_name", name}, {"hash", nullptr}, {"sha256", nullptr},
                      {"filename", refiner.string()}, {"config", nullptr}});
    }
    send_json(res, 200, list);
  }));
  // AUTOMATIC1111's scripts (x/y/z plot, ...): sdxl has the ControlNet extension's alwayson script
  // only (clients look for "controlnet" here).
  server.Get("/sdapi/v1/scripts", guarded([](const http::Request&, http::Response& res) {
    send_json(res, 200, {{"txt2img", json::array({"controlnet"})}, {"img2img", json::array({"controlnet"})}});
  }));
  // Its command-line flags, where sdxl serve has one that means the same.
  server.Get("/sdapi/v1/cmd-flags", guarded([&ctx](const http::Request&, http::Response& res) {
    const ServerOptions& o = ctx.options;
    send_json(res, 200, {{"api", true}, {"nowebui", false}, {"listen", o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1"},
                         {"port", o.port}, {"api_auth", nullptr}, {"ckpt", o.model}, {"ckpt_dir", o.models_dir},
                         {"lora_dir", o.lora_dir}, {"embeddings_dir", o.embedding_dir}, {"vae_path", o.vae},
                         {"cors_allow_origins", o.cors_origin.empty() ? json(nullptr) : json(o.cors_origin)}});
  }));
  server.Get("/sdapi/v1/samplers", guarded([](const http::Request&, http::Response& res) {
    json list = json::array();
    for (int i = 0; i < sdxl_sampler_count(); ++i) {
      const sdxl_sampler_info* s = sdxl_sampler_at(i);
      list.push_back({{"name", s->display_name}, {"aliases", {s->name}}, {"options", json::object()}});
    }
    send_json(res, 200, list);
  }));
  server.Get("/sdapi/v1/schedulers", guarded([](const http::Request&, http::Response& res) {
    send_json(res, 200,
              json::array({{{"name", "automatic"}, {"label", "Automatic"}, {"aliases", nullptr}, {"default_rho", -1}, {"need_inner_model", false}},
                           {{"name", "karras"}, {"label", "Karras"}, {"aliases", nullptr}, {"default_rho", 7.0}, {"need_inner_model", false}}}));
  }));
  server.Get("/sdapi/v1/loras", guarded([&ctx](const http::Request&, http::Response& res) {
    json list = json::array();
    for (const auto& l : ctx.catalog.loras())
      list.push_back({{"name", l.name}, {"alias", l.name}, {"path", l.path.string()}, {"metadata", json::object()}});
    send_json(res, 200, list);
  }));
  server.Get("/sdapi/v1/prompt-styles", guarded([&ctx](const http::Request&, http::Response& res) {
    json list = json::array();
    for (const auto& s : ctx.catalog.styles().all())
      list.push_back({{"name", s.name}, {"prompt", s.prompt}, {"negative_prompt", s.negative_prompt}});
    send_json(res, 200, list);
  }));
  for (const char* empty : {"/sdapi/v1/hypernetworks", "/sdapi/v1/face-restorers"})
    server.Get(empty, guarded([](const http::Request&, http::Response& res) { send_json(res, 200, json::array()); }));
  server.Get("/sdapi/v1/sd-vae", guarded([&ctx](const http::Request&, http::Response& res) {
    json list = json::array();
    if (!ctx.options.vae.empty())
      list.push_back({{"model_name", std::filesystem::path(ctx.options.vae).filename().string()}, {"filename", ctx.options.vae}});
    send_json(res, 200, list);
  }));
  // The textual-inversion embeddings of --embedding-dir: the SDXL ones "loaded" (usable by name in
  // a prompt), the rest "skipped", each with AUTOMATIC1111's fields (shape: clip_l + clip_g width).
  server.Get("/sdapi/v1/embeddings", guarded([&ctx](const http::Request&, http::Response& res) {
    json loaded = json::object(), skipped = json::object();
    if (!ctx.options.embedding_dir.empty()) {
      char* text = nullptr;
      api::check(sdxl_list_embeddings(ctx.options.embedding_dir.c_str(), &text));
      for (const auto& e : json::parse(api::take_string(text))) {
        const json entry = {{"step", nullptr}, {"sd_checkpoint", nullptr}, {"sd_checkpoint_name", nullptr},
                            {"shape", e["clip_l_width"].get<int64_t>() + e["clip_g_width"].get<int64_t>()}, {"vectors", e["vectors"]}};
        (e["error"].is_null() ? loaded : skipped)[e["name"].get<std::string>()] = entry;
      }
    }
    send_json(res, 200, {{"loaded", loaded}, {"skipped", skipped}});
  }));
  server.Get("/sdapi/v1/memory", guarded([](const http::Request&, http::Response& res) { send_json(res, 200, memory_report()); }));
  server.Post("/sdapi/v1/png-info", guarded([](const http::Request& req, http::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    const auto bytes = base64_decode(f.text("image", ""));
    if (!bytes || bytes->empty()) f.bad("image", "not base64 image data");
    char* text = nullptr;
    if (sdxl_image_parameters(reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(), &text) != SDXL_STATUS_OK)
      f.bad("image", sdxl_last_error());
    const std::string info = api::take_string(text);
    // Its read_info_from_image takes the parameters out of `items` (and the EXIF, and PIL's file
    // facts): nothing is left of the images sdxl reads.
    send_json(res, 200, {{"info", info}, {"items", json::object()}, {"parameters", parse_generation_parameters(info)}});
  }));
  server.Post("/sdapi/v1/refresh-checkpoints", guarded([&ctx](const http::Request&, http::Response& res) {
    ctx.catalog.refresh_checkpoints();
    send_json(res, 200, nullptr);
  }));
  server.Post("/sdapi/v1/refresh-loras", guarded([&ctx](const http::Request&, http::Response& res) {
    ctx.catalog.refresh_loras();
    send_json(res, 200, nullptr);
  }));
}

}  // namespace sdxl::server
