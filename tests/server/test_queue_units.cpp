// The Redis queue's pure parts: its URL, a job's journey through the stream as JSON, and the
// A1111 checkpoint titles jobs are routed by.
#include <gtest/gtest.h>

#include <fstream>

#include "server/http/signed_links.h"

#include <nlohmann/json.hpp>

#include "server/jobs/prompt_styles.h"
#include "server/jobs/generation_json.h"
#include "server/queue/job_codec.h"
#include "server/queue/redis_client.h"
#include "server/queue/redis_job_store.h"
#include "server/http/request_fields.h"
#include "test_support.h"

namespace sdxl::server {
namespace {

TEST(RedisUrl, HostPortPasswordStream) {
  RedisAddress a = parse_redis_url("redis://10.0.0.5:6380/render");
  EXPECT_EQ(a.host, "10.0.0.5");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.stream, "render");
  EXPECT_EQ(a.password, "");
  a = parse_redis_url("redis://:s3cret@queue.local");
  EXPECT_EQ(a.host, "queue.local");
  EXPECT_EQ(a.port, 6379);
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_EQ(a.stream, "sdxl");
  a = parse_redis_url("redis://user:pw@[::1]:7000/");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 7000);
  EXPECT_EQ(a.user, "user");
  EXPECT_EQ(a.password, "pw");
  EXPECT_EQ(a.stream, "sdxl");
  for (const char* bad : {"http://localhost", "redis://host:0", "redis://host:99999", "redis://host:x", "redis://host:",
                          "redis://[::1", "redis://host/has space", "redis://host/a*b"})
    EXPECT_THROW(parse_redis_url(bad), std::invalid_argument) << bad;
}

TEST(RedisQueueKeys, CheckpointTitlesAndStreams) {
  EXPECT_EQ(plain_checkpoint_name("sd_xl_base_1.0 [31e35c80fc]"), "sd_xl_base_1.0");
  EXPECT_EQ(plain_checkpoint_name("my model"), "my model");
  EXPECT_EQ(plain_checkpoint_name("x [not a hash]"), "x [not a hash]");
  const QueueKeys keys{"sdxl"};
  EXPECT_EQ(keys.jobs_for(""), "sdxl");
  EXPECT_EQ(keys.jobs_for("base"), "sdxl:model:base");
  EXPECT_EQ(keys.job("ab12"), "sdxl:job:ab12");
}

// Every field of the generation's JSON form, set away from its default, comes back the same.
TEST(JobCodec, EverySettingSurvivesTheStream) {
  test::TempDir dir;
  test::write_file(dir / "front/styles/ink.safetensors", "x");
  test::write_file(dir / "worker/styles/ink.safetensors", "x");
  test::write_file(dir / "front/refine.safetensors", "x");
  test::write_file(dir / "worker/refine.safetensors", "x");
  JobRequest job;
  api::Generation& g = job.generation;
  g.prompts = {"a", "b"};
  g.negative_prompts = {"fog"};
  g.prompt_2 = "second";
  g.negative_prompt_2 = "second fog";
  g.prompt_syntax = "a1111";
  g.width = 832;
  g.height = 1216;
  g.steps = 7;
  g.guidance_scale = 6.5;
  g.guidance_rescale = 0.7;
  g.clip_skip = 2;
  g.sampler = "dpmpp_2m";
  g.scheduler = "karras";
  g.timestep_spacing = "trailing";
  g.seed = 4294967295u;
  g.images_per_prompt = 2;
  g.original_size = {2048, 1536};
  g.target_size = {1024, 768};
  g.negative_original_size = {512, 640};
  g.negative_target_size = {256, 320};
  g.crops_coords_top_left = {16, 32};
  g.negative_crops_coords_top_left = {8, 24};
  g.strength = 0.55;
  g.refiner_mode = "img2img";
  g.high_noise_frac = 0.7;
  g.refiner_strength = 0.25;
  g.refiner_seed = 99;
  g.aesthetic_score = 7.5;
  g.negative_aesthetic_score = 1.5;
  g.vae_tiling = true;
  g.preview_every = 4;
  g.eta = 0.5;
  g.ancestral_eta = 0.3;
  g.shared_generator = true;
  g.subseed = 12345;
  g.subseed_strength = 0.4;
  g.seed_resize_from = {512, 384};
  g.mask_invert = true;
  g.mask_blur_x = 4;
  g.mask_blur_y = 6;
  g.inpaint_only_masked = true;
  g.inpaint_padding = 32;
  g.inpaint_fill = "latent_noise";
  g.initial_noise_multiplier = 0.9;
  g.inpaint_overlay = true;
  g.loras = {{(dir / "front/styles/ink.safetensors").string(), 0.8}};
  g.refiner_loras = {{(dir / "front/refine.safetensors").string(), -0.5}};
  job.checkpoint = "base";
  job.repeats = 3;
  job.output = {"webp", 55, true};
  unsigned char pixels[2 * 3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  unsigned char* png = nullptr;
  size_t png_size = 0;
  ASSERT_EQ(sdxl_encode_image_png(pixels, 3, 2, 3, &png, &png_size), SDXL_STATUS_OK);
  g.image = api::InputImage::from_encoded(std::string(reinterpret_cast<char*>(png), png_size));
  g.mask_image = g.image;
  sdxl_free_bytes(png);
  // A ControlNet unit with every member off its default, its model a diffusers folder in each
  // end's own --controlnet-dir.
  api::ControlNet unit;
  unit.model = (dir / "front-nets/canny-xl").string();
  unit.name = "canny-xl [0123abcd]";
  unit.image = g.image;
  unit.preprocessor = "canny";
  unit.threshold_a = 50;
  unit.threshold_b = 150;
  unit.resolution = 768;
  unit.resize_mode = "Resize and Fill";
  unit.scale = 0.6;
  unit.start = 0.1;
  unit.end = 0.9;
  unit.control_mode = "ControlNet is more important";
  unit.a1111_window = true;
  g.controlnets = {unit};
  g.guess_mode = true;
  std::filesystem::create_directories(dir / "front-nets/canny-xl");
  std::filesystem::create_directories(dir / "worker-nets/canny-xl");
  unit.kind = "controlnet";
  g.controlnets = {unit};
  // An IP-Adapter: its file in --controlnet-dir, its encoder in --image-encoder-dir, each end's own.
  api::IpAdapter ip;
  ip.model = (dir / "front-nets/ip.safetensors").string();
  ip.image_encoder = (dir / "front-enc/clip_g").string();
  ip.image = g.image;
  ip.scale = 0.4;
  ip.start = 0.2;
  ip.end = 0.8;
  ip.name = "ip [00000000]";
  g.ip_adapter = ip;
  for (const char* side : {"front", "worker"}) {
    std::filesystem::create_directories(dir / (std::string(side) + "-enc/clip_g"));
    std::ofstream(dir / (std::string(side) + "-nets/ip.safetensors")) << "x";
  }

  const std::string text = encode_job(job, {(dir / "front").string(), (dir / "front-nets").string(), (dir / "front-enc").string()});
  const JobRequest back =
      decode_job(text, {(dir / "worker").string(), (dir / "worker-nets").string(), (dir / "worker-enc").string()});
  ASSERT_TRUE(back.generation.ip_adapter);
  EXPECT_EQ(back.generation.ip_adapter->model, (dir / "worker-nets/ip.safetensors").string());
  EXPECT_EQ(back.generation.ip_adapter->image_encoder, (dir / "worker-enc/clip_g").string());
  ASSERT_EQ(back.generation.controlnets.size(), 1u);
  EXPECT_EQ(back.generation.controlnets[0].model, (dir / "worker-nets/canny-xl").string());
  EXPECT_EQ(back.checkpoint, "base");
  EXPECT_EQ(back.repeats, 3);
  EXPECT_EQ(back.output.format, "webp");
  EXPECT_EQ(back.output.quality, 55);
  EXPECT_TRUE(back.output.lossless);
  // Each LoRA is the worker's own copy of the same file; everything else is the same value.
  ASSERT_EQ(back.generation.loras.size(), 1u);
  EXPECT_EQ(back.generation.loras[0].path, (dir / "worker/styles/ink.safetensors").string());
  EXPECT_EQ(back.generation.loras[0].weight, 0.8);
  ASSERT_EQ(back.generation.refiner_loras.size(), 1u);
  EXPECT_EQ(back.generation.refiner_loras[0].path, (dir / "worker/refine.safetensors").string());
  const FileNaming as_written{[](const std::string& name, const char*) { return name; },
                              [](const std::string& path) { return std::filesystem::path(path).filename().string(); },
                              [](const std::string& name, const std::string&) { return name; },
                              [](const std::string& path) { return std::filesystem::path(path).filename().string(); },
                              [](const std::string& name, const std::string&) { return name; },
                              [](const std::string& path) { return std::filesystem::path(path).filename().string(); }};
  const nlohmann::json sent = generation_to_json(g, as_written), received = generation_to_json(back.generation, as_written);
  EXPECT_EQ(received, sent);
  const nlohmann::json defaults = generation_to_json(api::Generation{}, as_written);
  for (const auto& [key, value] : defaults.items())
    EXPECT_NE(sent[key], value) << key << " is at its default in this test: it would not show a field that is lost";

  ASSERT_TRUE(back.generation.image);
  EXPECT_EQ(back.generation.image->encoded, g.image->encoded);  // the upload as it came
  EXPECT_EQ(back.generation.image->width, 3);
  EXPECT_EQ(back.generation.image->height, 2);
  const api::ImageHandle decoded = back.generation.image->pixels(100);
  EXPECT_EQ(std::vector<unsigned char>(decoded->pixels, decoded->pixels + 18), std::vector<unsigned char>(pixels, pixels + 18));
  EXPECT_THROW(back.generation.image->pixels(5), api::Failure);  // more pixels than allowed
}

TEST(JobCodec, BadJobsAndLorasOutsideTheFolderAreRequestErrors) {
  test::TempDir dir;
  JobRequest job;
  job.generation.loras = {{"/etc/passwd", 1.0}};
  EXPECT_THROW(encode_job(job, {dir.path().string(), "", ""}), RequestError);
  job.generation.loras.clear();
  nlohmann::json j = nlohmann::json::parse(encode_job(job, {}));
  j["loras"] = {{{"name", "../../etc/passwd"}, {"weight", 1.0}}};
  EXPECT_THROW(decode_job(j.dump(), {dir.path().string(), "", ""}), RequestError);
  j["loras"] = {{{"name", "missing.safetensors"}, {"weight", 1.0}}};
  try {
    decode_job(j.dump(), {dir.path().string(), "", ""});
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_EQ(e.status(), 404);
  }
  EXPECT_THROW(decode_job("{not json", {}), RequestError);
  EXPECT_THROW(decode_job("{}", {}), RequestError);
  j["loras"] = nlohmann::json::array();
  j["n_iter"] = 0;
  EXPECT_THROW(decode_job(j.dump(), {}), RequestError);
  j["n_iter"] = 1;
  EXPECT_NO_THROW(decode_job(j.dump(), {}));
  j["unknown"] = 1;
  EXPECT_THROW(decode_job(j.dump(), {}), RequestError);
}

}  // namespace
}  // namespace sdxl::server

namespace sdxl::server {
namespace {

// AUTOMATIC1111's styles.csv as Python's csv module reads it, and its merge rules.
TEST(PromptStyles, ReadAndMergedAsAutomatic1111Does) {
  const auto styles = PromptStyles::load(std::filesystem::path(SDXL_SOURCE_DIR) / "tests/fixtures/styles.csv");
  ASSERT_EQ(styles.all().size(), 3u);  // "# hidden" is a comment
  const PromptStyle* cinematic = styles.find("cinematic");
  ASSERT_NE(cinematic, nullptr);
  EXPECT_EQ(cinematic->prompt, "cinematic still of {prompt}, film grain");
  EXPECT_EQ(cinematic->negative_prompt, "cartoon, drawing");  // skipinitialspace, then the quotes
  EXPECT_EQ(styles.find("quote")->prompt, "say \"hi\", then\nwave");
  EXPECT_EQ(styles.find("hidden"), nullptr);
  const PromptStyle* watercolor = styles.find("watercolor");
  EXPECT_EQ(styles.apply("a fox", {cinematic, watercolor}, false), "cinematic still of a fox, film grain, watercolor, soft");
  EXPECT_EQ(styles.apply("blurry", {cinematic, watercolor}, true), "blurry, cartoon, drawing");
  EXPECT_EQ(merge_prompts("{prompt} and {prompt}", "x"), "x and x");
  EXPECT_EQ(merge_prompts("style", "  "), "style");
  EXPECT_EQ(merge_prompts("", " fox "), "fox");  // AUTOMATIC1111 strips when it joins
  EXPECT_THROW(PromptStyles::parse("name,prompt\n\"open,x\n", "bad.csv"), std::runtime_error);
  EXPECT_THROW(PromptStyles::parse("title,text2\nx,y\n", "bad.csv"), std::runtime_error);
}

}  // namespace
}  // namespace sdxl::server

namespace sdxl::server {
namespace {

TEST(LinkSigner, SignsOnePathUntilItExpires) {
  const LinkSigner links("secret");
  const std::string query = links.query_for("/v1/jobs/ab/images/0", 60);
  const std::string expires = query.substr(9, query.find('&') - 9), sig = query.substr(query.find("sig=") + 4);
  const int64_t now = unix_now();
  EXPECT_TRUE(links.valid("/v1/jobs/ab/images/0", expires, sig, now));
  EXPECT_FALSE(links.valid("/v1/jobs/ab/images/0", expires, sig, now + 120)) << "expired";
  EXPECT_FALSE(links.valid("/v1/jobs/ab/images/1", expires, sig, now));
  EXPECT_FALSE(LinkSigner("other").valid("/v1/jobs/ab/images/0", expires, sig, now));
  EXPECT_FALSE(links.valid("/v1/jobs/ab/images/0", "", sig, now));
  EXPECT_FALSE(links.valid("/v1/jobs/ab/images/0", "99999999999999999999", sig, now));
  EXPECT_FALSE(links.valid("/v1/jobs/ab/images/0", expires, "", now));
  EXPECT_NE(LinkSigner().query_for("/x"), LinkSigner().query_for("/x")) << "a random secret per signer";
}

}  // namespace
}  // namespace sdxl::server

namespace sdxl::server {
namespace {

// /progress's eta_relative: the steps left (this repeat's and the later repeats') at the measured
// step time; before one is measured, AUTOMATIC1111's extrapolation of the elapsed time.
TEST(JobView, EtaFromMeasuredStepTimes) {
  JobView v;
  v.state = JobState::Running;
  v.stage = "denoising";
  v.step = 10;
  v.total = 30;
  v.repeat = 0;
  v.repeats = 2;
  v.elapsed_seconds = 12;
  v.step_seconds = 0.5;
  EXPECT_DOUBLE_EQ(v.eta_seconds(), (20 + 30) * 0.5);
  v.repeat = 1;
  EXPECT_DOUBLE_EQ(v.eta_seconds(), 20 * 0.5);
  v.step_seconds = 0;
  EXPECT_NEAR(v.eta_seconds(), 12 / v.progress() - 12, 1e-9);
  v.state = JobState::Succeeded;
  EXPECT_EQ(v.eta_seconds(), 0.0);
}

}  // namespace
}  // namespace sdxl::server
