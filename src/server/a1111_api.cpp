// AUTOMATIC1111's /sdapi/v1 API: the subset Open WebUI, SillyTavern and scripts written for the
// webui call, with its field names, defaults (512x512, 50 steps, CFG 7, Euler) and response
// shapes (images as bare base64 PNGs, `info` a JSON *string*). Prompts are read with
// AUTOMATIC1111's syntax and <lora:...> tags; seeds and samplers are sdxl's, so an image equals
// the CLI's for the same settings.
#include <chrono>
#include <fstream>

#include "sdxl/sdxl.hpp"
#include "server/base64.h"
#include "server/http_common.h"
#include "server/routes.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

std::string sampler_or_default(const Fields& f) {
  std::string name = f.text("sampler_name", "");
  if (name.empty()) name = f.text("sampler_index", "Euler");
  const sdxl_sampler_info* info = nullptr;
  int karras = 0;
  if (sdxl_resolve_sampler(name.c_str(), nullptr, 0, &info, &karras) != SDXL_STATUS_OK)
    throw RequestError(422, "sampler_name", std::string("sampler_name: ") + sdxl_last_error());
  return name;
}

// The fields txt2img and img2img share, mapped onto a generation.
GenerationSpec common_spec(const ServerContext& ctx, const Fields& f, json& echo) {
  GenerationSpec s;
  s.prompt_syntax = "a1111";
  s.prompts = {f.text("prompt", "")};
  s.negative_prompts = {f.text("negative_prompt", "")};
  s.width = static_cast<int>(f.integer("width", 512, SDXL_MIN_SIDE, SDXL_MAX_SIDE));
  s.height = static_cast<int>(f.integer("height", 512, SDXL_MIN_SIDE, SDXL_MAX_SIDE));
  if (s.width % 8 || s.height % 8) f.bad(s.width % 8 ? "width" : "height", "must be a multiple of 8");
  s.steps = static_cast<int>(f.integer("steps", 50, 1, SDXL_MAX_STEPS));
  s.guidance = f.number("cfg_scale", 7.0, 0.0, 100.0);
  const int64_t seed = f.integer("seed", -1, -1, 4294967295ll);
  s.seed = seed < 0 ? random_seed() : static_cast<uint64_t>(seed);
  s.sampler = sampler_or_default(f);
  const std::string scheduler = f.text("scheduler", "");
  if (!scheduler.empty() && scheduler != "Automatic" && scheduler != "automatic" && scheduler != "Karras" && scheduler != "karras")
    f.bad("scheduler", "'" + scheduler + "' is not one of Automatic, Karras");
  s.scheduler = scheduler;
  s.images_per_prompt = static_cast<int>(f.integer("batch_size", 1, 1, SDXL_MAX_IMAGES));
  s.repeats = static_cast<int>(f.integer("n_iter", 1, 1, 100));
  if (f.boolean("enable_hr", false)) f.bad("enable_hr", "hires fix is not supported by sdxl");
  if (f.boolean("restore_faces", false)) f.bad("restore_faces", "face restoration is not supported by sdxl");
  if (f.boolean("tiling", false)) f.bad("tiling", "tiling is not supported by sdxl");
  const json& overrides = f.raw("override_settings");
  if (!overrides.is_null()) {
    if (!overrides.is_object()) f.bad("override_settings", "must be an object");
    const Fields o(overrides);
    s.checkpoint = o.text("sd_model_checkpoint", "");
    if (!s.checkpoint.empty() && !ctx.catalog.find_checkpoint(s.checkpoint))
      throw RequestError(404, "override_settings.sd_model_checkpoint", "no checkpoint named '" + s.checkpoint + "'");
    s.clip_skip = static_cast<int>(o.integer("CLIP_stop_at_last_layers", 1, 1, 12)) - 1;
    if (s.clip_skip == 0) s.clip_skip = -1;
  }
  const std::string refiner = f.text("refiner_checkpoint", "");
  if (!refiner.empty() && refiner != "None") {
    const std::filesystem::path loaded = ctx.options.refiner;
    if (loaded.empty() || (refiner != loaded.filename().string() && refiner != loaded.stem().string()))
      throw RequestError(422, "refiner_checkpoint",
                         "refiner_checkpoint: '" + refiner + "' is not the server's refiner (sdxl serve --refiner)");
    s.refiner_mode = "ensemble";
    s.high_noise_frac = f.number("refiner_switch_at", 0.8, 0.01, 0.99);
  }
  echo = {{"prompt", s.prompts[0]},       {"negative_prompt", s.negative_prompts[0]}, {"seed", s.seed},
          {"sampler_name", s.sampler},    {"scheduler", s.scheduler},                 {"batch_size", s.images_per_prompt},
          {"n_iter", s.repeats},          {"steps", s.steps},                         {"cfg_scale", s.guidance},
          {"width", s.width},             {"height", s.height},                       {"override_settings", overrides},
          {"refiner_checkpoint", refiner}, {"refiner_switch_at", s.high_noise_frac}};
  return s;
}

// The reply: bare base64 PNGs, the request echoed, and `info` as a JSON string.
void send_images(const ServerContext& ctx, httplib::Response& res, const JobView& job, const GenerationSpec& s, json echo,
                 bool send) {
  json images = json::array(), infotexts = json::array(), seeds = json::array(), prompts = json::array(),
       negatives = json::array();
  for (size_t i = 0; i < job.images.size(); ++i) {
    if (send) images.push_back(base64_encode(job.images[i].png));
    infotexts.push_back(job.images[i].infotext);
    const size_t per_repeat = static_cast<size_t>(s.images_per_prompt);
    seeds.push_back(job.seeds.empty() ? s.seed : job.seeds[std::min(i / per_repeat, job.seeds.size() - 1)]);
    prompts.push_back(s.prompts[0]);
    negatives.push_back(s.negative_prompts.empty() ? "" : s.negative_prompts[0]);
  }
  const auto checkpoint = ctx.catalog.find_checkpoint(job.checkpoint);
  const std::string hash = checkpoint ? ModelCatalog::sha256(*checkpoint) : "";
  const json info = {{"prompt", s.prompts[0]},
                     {"all_prompts", prompts},
                     {"negative_prompt", s.negative_prompts.empty() ? "" : s.negative_prompts[0]},
                     {"all_negative_prompts", negatives},
                     {"seed", s.seed},
                     {"all_seeds", seeds},
                     {"subseed", -1},
                     {"all_subseeds", seeds},
                     {"width", s.width},
                     {"height", s.height},
                     {"sampler_name", s.sampler},
                     {"cfg_scale", s.guidance},
                     {"steps", s.steps},
                     {"batch_size", s.images_per_prompt},
                     {"restore_faces", false},
                     {"sd_model_name", job.checkpoint},
                     {"sd_model_hash", hash.substr(0, std::min<size_t>(10, hash.size()))},
                     {"denoising_strength", s.init_image ? json(s.strength) : json(nullptr)},
                     {"extra_generation_params", json::object()},
                     {"index_of_first_image", 0},
                     {"infotexts", infotexts},
                     {"styles", json::array()},
                     {"clip_skip", s.clip_skip < 0 ? 1 : s.clip_skip + 1},
                     {"is_using_inpainting_conditioning", false},
                     {"version", std::string("sdxl ") + sdxl_version()}};
  send_json(res, 200, {{"images", images}, {"parameters", echo}, {"info", info.dump()}});
}

void generate(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res, bool img2img) {
  const json body = parse_body(req.body);
  const Fields f(body);
  json echo;
  GenerationSpec s = common_spec(ctx, f, echo);
  if (img2img) {
    const json& init = f.raw("init_images");
    if (!init.is_array() || init.empty() || !init[0].is_string())
      f.bad("init_images", "must be a list with at least one base64 image");
    s.init_image = decode_image_field(init[0].get<std::string>(), "init_images");
    if (f.has("mask")) s.mask = decode_image_field(f.text("mask", ""), "mask");
    s.strength = f.number("denoising_strength", 0.75, 0.01, 1.0);
    echo["denoising_strength"] = s.strength;
  }
  const bool send = f.boolean("send_images", true);
  const GenerationSpec kept = s;  // the queue takes its own copy
  const std::string id = ctx.queue.submit(std::move(s));
  const JobView job = wait_for(ctx, id, req);
  // AUTOMATIC1111 answers an interrupted call with what it has: no images here.
  if (job.state == JobState::Cancelled) return send_images(ctx, res, job, kept, echo, send);
  if (job.state != JobState::Succeeded) throw job_error(job);
  send_images(ctx, res, job, kept, echo, send);
}

json memory_report() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long long value = 0;
  std::string unit;
  long long total = 0, available = 0;
  while (in >> key >> value >> unit) {
    if (key == "MemTotal:") total = value * 1024;
    if (key == "MemAvailable:") available = value * 1024;
  }
  return {{"ram", {{"free", available}, {"used", total - available}, {"total", total}}},
          {"cuda", {{"error", "no CUDA device: sdxl runs on the CPU"}}}};
}

}  // namespace

void add_a1111_routes(httplib::Server& server, const ServerContext& ctx) {
  server.Post("/sdapi/v1/txt2img", guarded([&ctx](const httplib::Request& req, httplib::Response& res) { generate(ctx, req, res, false); }));
  server.Post("/sdapi/v1/img2img", guarded([&ctx](const httplib::Request& req, httplib::Response& res) { generate(ctx, req, res, true); }));
  server.Get("/sdapi/v1/progress", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    const auto job = ctx.queue.running();
    const bool image = req.get_param_value("skip_current_image") != "true";
    json state = {{"skipped", false},           {"interrupted", false},        {"stopping_generation", false},
                  {"job", job ? job->id : ""},  {"job_count", (job ? 1 : 0) + static_cast<int>(ctx.queue.queued())},
                  {"job_timestamp", "0"},       {"job_no", job ? job->repeat : 0},
                  {"sampling_step", job ? job->step : 0}, {"sampling_steps", job ? job->total : 0}};
    const double progress = job ? job->progress() : 0.0;
    const double eta = job && progress > 0 ? job->elapsed_seconds / progress - job->elapsed_seconds : 0.0;
    send_json(res, 200,
              {{"progress", progress},
               {"eta_relative", eta},
               {"state", state},
               {"current_image", job && image && !job->preview_png.empty() ? json(base64_encode(job->preview_png)) : json(nullptr)},
               {"textinfo", job ? json(job->stage) : json(nullptr)}});
  }));
  server.Post("/sdapi/v1/interrupt", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    ctx.queue.interrupt();
    send_json(res, 200, json::object());
  }));
  server.Post("/sdapi/v1/skip", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    ctx.queue.skip();
    send_json(res, 200, json::object());
  }));
  server.Get("/sdapi/v1/options", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    const auto current = ctx.catalog.find_checkpoint(ctx.catalog.current());
    send_json(res, 200,
              {{"sd_model_checkpoint", current ? ModelCatalog::title(*current) : ctx.catalog.current()},
               {"sd_checkpoint_hash", current ? ModelCatalog::sha256(*current) : ""},
               {"sd_vae", ctx.options.vae.empty() ? "Automatic" : std::filesystem::path(ctx.options.vae).filename().string()},
               {"CLIP_stop_at_last_layers", 1},
               {"samples_format", "png"}});
  }));
  server.Post("/sdapi/v1/options", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    if (f.has("sd_model_checkpoint")) {
      const JobView job = wait_for(ctx, ctx.queue.switch_checkpoint(f.text("sd_model_checkpoint", "")), req);
      if (job.state != JobState::Succeeded) throw job_error(job);
    }
    send_json(res, 200, nullptr);
  }));
  server.Get("/sdapi/v1/sd-models", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const auto& c : ctx.catalog.checkpoints()) {
      const std::string sha = ModelCatalog::sha256(c);
      list.push_back({{"title", ModelCatalog::title(c)},
                      {"model_name", c.name},
                      {"hash", sha.empty() ? json(nullptr) : json(sha.substr(0, 10))},
                      {"sha256", sha.empty() ? json(nullptr) : json(sha)},
                      {"filename", c.path.string()},
                      {"config", nullptr}});
    }
    send_json(res, 200, list);
  }));
  server.Get("/sdapi/v1/samplers", guarded([](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (int i = 0; i < sdxl_sampler_count(); ++i) {
      const sdxl_sampler_info* s = sdxl_sampler_at(i);
      list.push_back({{"name", s->display_name}, {"aliases", {s->name}}, {"options", json::object()}});
    }
    send_json(res, 200, list);
  }));
  server.Get("/sdapi/v1/schedulers", guarded([](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              json::array({{{"name", "automatic"}, {"label", "Automatic"}, {"aliases", nullptr}, {"default_rho", -1}, {"need_inner_model", false}},
                           {{"name", "karras"}, {"label", "Karras"}, {"aliases", nullptr}, {"default_rho", 7.0}, {"need_inner_model", false}}}));
  }));
  server.Get("/sdapi/v1/loras", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    for (const auto& l : ctx.catalog.loras())
      list.push_back({{"name", l.name}, {"alias", l.name}, {"path", l.path.string()}, {"metadata", json::object()}});
    send_json(res, 200, list);
  }));
  for (const char* empty : {"/sdapi/v1/upscalers", "/sdapi/v1/latent-upscale-modes", "/sdapi/v1/prompt-styles",
                            "/sdapi/v1/hypernetworks", "/sdapi/v1/face-restorers"})
    server.Get(empty, guarded([](const httplib::Request&, httplib::Response& res) { send_json(res, 200, json::array()); }));
  server.Get("/sdapi/v1/sd-vae", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    json list = json::array();
    if (!ctx.options.vae.empty())
      list.push_back({{"model_name", std::filesystem::path(ctx.options.vae).filename().string()}, {"filename", ctx.options.vae}});
    send_json(res, 200, list);
  }));
  server.Get("/sdapi/v1/memory", guarded([](const httplib::Request&, httplib::Response& res) { send_json(res, 200, memory_report()); }));
  server.Post("/sdapi/v1/png-info", guarded([](const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    const auto bytes = base64_decode(f.text("image", ""));
    if (!bytes || bytes->empty()) f.bad("image", "not base64 image data");
    char* text = nullptr;
    if (sdxl_png_parameters(reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(), &text) != SDXL_STATUS_OK)
      f.bad("image", sdxl_last_error());
    const std::string info = api::take_string(text);
    send_json(res, 200, {{"info", info}, {"items", info.empty() ? json::object() : json{{"parameters", info}}}, {"parameters", json::object()}});
  }));
  server.Post("/sdapi/v1/refresh-checkpoints", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    ctx.catalog.refresh_checkpoints();
    send_json(res, 200, nullptr);
  }));
  server.Post("/sdapi/v1/refresh-loras", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    ctx.catalog.refresh_loras();
    send_json(res, 200, nullptr);
  }));
}

}  // namespace sdxl::server
