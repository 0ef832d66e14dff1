// The Redis queue's pure parts: its URL, a job's journey through the stream as JSON, and the
// A1111 checkpoint titles jobs are routed by.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/job_codec.h"
#include "server/redis_client.h"
#include "server/redis_job_store.h"
#include "server/request_fields.h"
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

TEST(JobCodec, EverySettingSurvivesTheStream) {
  test::TempDir dir;
  test::write_file(dir / "front/styles/ink.safetensors", "x");
  test::write_file(dir / "worker/styles/ink.safetensors", "x");
  GenerationSpec s;
  s.prompts = {"a", "b"};
  s.negative_prompts = {"fog"};
  s.prompt_2 = "second";
  s.width = 832;
  s.height = 1216;
  s.steps = 7;
  s.images_per_prompt = 2;
  s.guidance = 6.5;
  s.seed = 4294967295u;
  s.sampler = "dpmpp_2m";
  s.scheduler = "karras";
  s.prompt_syntax = "a1111";
  s.clip_skip = 2;
  s.strength = 0.55;
  s.refiner_mode = "ensemble";
  s.high_noise_frac = 0.7;
  s.checkpoint = "base";
  s.repeats = 3;
  s.preview_every = 4;
  s.loras = {{(dir / "front/styles/ink.safetensors").string(), 0.8}};
  unsigned char pixels[2 * 3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  unsigned char* png = nullptr;
  size_t png_size = 0;
  ASSERT_EQ(sdxl_encode_image_png(pixels, 3, 2, 3, &png, &png_size), SDXL_STATUS_OK);
  s.init_image = std::make_shared<const UploadedImage>(UploadedImage{std::string(reinterpret_cast<char*>(png), png_size), "image"});
  sdxl_free_bytes(png);
  const std::string text = encode_job(s, (dir / "front").string());
  const GenerationSpec back = decode_job(text, (dir / "worker").string());
  EXPECT_EQ(back.prompts, s.prompts);
  EXPECT_EQ(back.negative_prompts, s.negative_prompts);
  EXPECT_EQ(back.prompt_2, s.prompt_2);
  EXPECT_EQ(back.width, 832);
  EXPECT_EQ(back.height, 1216);
  EXPECT_EQ(back.steps, 7);
  EXPECT_EQ(back.images_per_prompt, 2);
  EXPECT_EQ(back.guidance, 6.5);
  EXPECT_EQ(back.seed, 4294967295u);
  EXPECT_EQ(back.sampler, "dpmpp_2m");
  EXPECT_EQ(back.scheduler, "karras");
  EXPECT_EQ(back.prompt_syntax, "a1111");
  EXPECT_EQ(back.clip_skip, 2);
  EXPECT_EQ(back.strength, 0.55);
  EXPECT_EQ(back.refiner_mode, "ensemble");
  EXPECT_EQ(back.high_noise_frac, 0.7);
  EXPECT_EQ(back.checkpoint, "base");
  EXPECT_EQ(back.repeats, 3);
  EXPECT_EQ(back.preview_every, 4);
  ASSERT_EQ(back.loras.size(), 1u);
  EXPECT_EQ(back.loras[0].first, (dir / "worker/styles/ink.safetensors").string());  // the worker's own copy
  EXPECT_EQ(back.loras[0].second, 0.8);
  ASSERT_TRUE(back.init_image);
  EXPECT_EQ(back.init_image->bytes, s.init_image->bytes);  // the upload as it came
  EXPECT_EQ(back.init_image->field, "image");
  const ImageHandle decoded = decode_upload(*back.init_image, 100);
  EXPECT_EQ(decoded->width, 3);
  EXPECT_EQ(decoded->height, 2);
  EXPECT_EQ(std::vector<unsigned char>(decoded->pixels, decoded->pixels + 18), std::vector<unsigned char>(pixels, pixels + 18));
  EXPECT_THROW(decode_upload(*back.init_image, 5), RequestError);  // more pixels than allowed
  EXPECT_FALSE(back.mask);
}

TEST(JobCodec, BadJobsAndLorasOutsideTheFolderAreRequestErrors) {
  test::TempDir dir;
  GenerationSpec s;
  s.loras = {{"/etc/passwd", 1.0}};
  EXPECT_THROW(encode_job(s, dir.path().string()), RequestError);
  s.loras.clear();
  nlohmann::json j = nlohmann::json::parse(encode_job(s, ""));
  j["loras"] = {{{"path", "../../etc/passwd"}, {"weight", 1.0}}};
  EXPECT_THROW(decode_job(j.dump(), dir.path().string()), RequestError);
  j["loras"] = {{{"path", "missing.safetensors"}, {"weight", 1.0}}};
  try {
    decode_job(j.dump(), dir.path().string());
    FAIL();
  } catch (const RequestError& e) {
    EXPECT_EQ(e.status(), 404);
  }
  EXPECT_THROW(decode_job("{not json", ""), RequestError);
  EXPECT_THROW(decode_job("{}", ""), RequestError);
  j["loras"] = nlohmann::json::array();
  j["repeats"] = 0;
  EXPECT_THROW(decode_job(j.dump(), ""), RequestError);
}

}  // namespace
}  // namespace sdxl::server
