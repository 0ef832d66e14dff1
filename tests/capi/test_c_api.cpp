// The C API in process, as a server or an application links it: only include/sdxl/sdxl.h and the
// shared libsdxl.so. Bad values, errors then success on one warm engine, cancel, previews, the
// one-generation-at-a-time contract, the memory estimate, and memory given back after a large
// request.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sdxl/sdxl.h"
#include "test_support.h"

namespace {

std::string model_dir(const char* name = "tiny-sdxl-base") {
  return (sdxl::test::reference_dir() / "models" / name).string();
}

// A "Vm...:" line of /proc/self/status, MiB.
double status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(field.size())) / 1024.0;
  return 0.0;
}

// Owns an engine and a prompt; params() gives a small valid request.
class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    sdxl_engine_params params;
    sdxl_engine_params_init(&params);
    params.model_dir = model_.c_str();
    ASSERT_EQ(sdxl_engine_load(&params, &engine_), SDXL_STATUS_OK) << sdxl_last_error();
  }
  void TearDown() override { sdxl_engine_free(engine_); }

  sdxl_generate_params params(int steps = 4) const {
    sdxl_generate_params p;
    sdxl_generate_params_init(&p);
    p.prompts = prompts_;
    p.prompt_count = 1;
    p.width = p.height = 64;
    p.steps = steps;
    p.seed = 42;
    return p;
  }
  std::vector<unsigned char> generate(const sdxl_generate_params& p) const {
    sdxl_images* images = nullptr;
    EXPECT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
    if (!images) return {};
    std::vector<unsigned char> pixels(images->pixels,
                                      images->pixels + static_cast<size_t>(images->width) * images->height * 3 * images->count);
    sdxl_images_free(images);
    return pixels;
  }
  sdxl_status generate_status(const sdxl_generate_params& p) const {
    sdxl_images* images = nullptr;
    const sdxl_status status = sdxl_engine_generate(engine_, &p, &images);
    EXPECT_EQ(images == nullptr, status != SDXL_STATUS_OK);
    sdxl_images_free(images);
    return status;
  }

  std::string model_ = model_dir();
  const char* prompts_[1] = {"a photo of a cat"};
  sdxl_engine* engine_ = nullptr;
};

TEST(CApiEdges, NullsAndBadEngineParams) {
  sdxl_engine* engine = nullptr;
  EXPECT_EQ(sdxl_engine_load(nullptr, &engine), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(sdxl_last_error()).find("NULL"), std::string::npos);
  sdxl_engine_params params;
  sdxl_engine_params_init(&params);
  EXPECT_EQ(sdxl_engine_load(&params, nullptr), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(sdxl_engine_load(&params, &engine), SDXL_STATUS_INVALID_ARGUMENT);  // no model
  params.model_dir = "/nonexistent/model";
  EXPECT_EQ(sdxl_engine_load(&params, &engine), SDXL_STATUS_IO_ERROR);
  EXPECT_NE(std::string(sdxl_last_error()).find("/nonexistent/model"), std::string::npos) << sdxl_last_error();
  EXPECT_EQ(engine, nullptr);
  params.model_dir = "m";
  params.precision = "fp8";
  EXPECT_EQ(sdxl_engine_load(&params, &engine), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(sdxl_last_error()).find("fp8"), std::string::npos);
  params.precision = "fp32";
  params.memory_policy = static_cast<sdxl_memory_policy>(7);
  EXPECT_EQ(sdxl_engine_load(&params, &engine), SDXL_STATUS_INVALID_ARGUMENT);

  sdxl_images* images = nullptr;
  sdxl_generate_params generate;
  sdxl_generate_params_init(&generate);
  EXPECT_EQ(sdxl_engine_generate(nullptr, &generate, &images), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(sdxl_engine_release_memory(nullptr), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(sdxl_write_png("x.png", nullptr, 0, nullptr), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(sdxl_engine_is_refiner(nullptr), 0);
  sdxl_engine_free(nullptr);
  sdxl_images_free(nullptr);
  sdxl_engine_params_init(nullptr);
  sdxl_generate_params_init(nullptr);
  EXPECT_STREQ(sdxl_status_name(SDXL_STATUS_CANCELLED), "cancelled");
  EXPECT_STREQ(sdxl_status_name(SDXL_STATUS_BUSY), "busy");
  EXPECT_NE(std::string(sdxl_build_info()).find("revision: "), std::string::npos);
}

// The packed-weight cache through the C API: off unless asked for, its bound checked, and an
// engine loaded from it generates what one loaded from the checkpoint does.
TEST(CApiEdges, PackedWeightCache) {
  SDXL_REQUIRE_REFERENCE();
  sdxl_engine_params params;
  sdxl_engine_params_init(&params);
  EXPECT_EQ(params.packed_cache_dir, nullptr);
  EXPECT_EQ(params.packed_cache_max_gb, 64);
  const std::string folder(sdxl_packed_cache_default_dir());
  EXPECT_NE(folder.find("packed"), std::string::npos) << folder;
  const std::string model = model_dir();
  params.model_dir = model.c_str();
  sdxl::test::TempDir dir;
  const std::string cache = (dir / "cache").string();
  params.packed_cache_dir = cache.c_str();
  sdxl_engine* engine = nullptr;
  for (double bad : {0.0, -2.0, std::nan("")}) {
    params.packed_cache_max_gb = bad;
    EXPECT_EQ(sdxl_engine_load(&params, &engine), SDXL_STATUS_INVALID_ARGUMENT);
    EXPECT_STREQ(sdxl_last_error_parameter(), "packed_cache_max_gb");
  }
  params.packed_cache_max_gb = 1;
  const char* prompts[1] = {"a lighthouse"};
  auto image = [&](const char* cache_dir) {
    params.packed_cache_dir = cache_dir;
    sdxl_engine* e = nullptr;
    EXPECT_EQ(sdxl_engine_load(&params, &e), SDXL_STATUS_OK) << sdxl_last_error();
    sdxl_generate_params p;
    sdxl_generate_params_init(&p);
    p.prompts = prompts;
    p.prompt_count = 1;
    p.width = p.height = 64;
    p.steps = 2;
    p.seed = 3;
    sdxl_images* images = nullptr;
    EXPECT_EQ(sdxl_engine_generate(e, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
    std::vector<unsigned char> pixels;
    if (images) pixels.assign(images->pixels, images->pixels + static_cast<size_t>(images->width) * images->height * 3);
    sdxl_images_free(images);
    sdxl_engine_free(e);
    return pixels;
  };
  const auto plain = image(nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir / "cache"));
  EXPECT_EQ(image(cache.c_str()), plain);  // fills it
  EXPECT_FALSE(std::filesystem::is_empty(dir / "cache"));
  EXPECT_EQ(image(cache.c_str()), plain);  // maps it
}

TEST(CApiEdges, SamplerTable) {
  ASSERT_GE(sdxl_sampler_count(), 10);
  EXPECT_EQ(sdxl_sampler_at(-1), nullptr);
  EXPECT_EQ(sdxl_sampler_at(sdxl_sampler_count()), nullptr);
  const sdxl_sampler_info* info = nullptr;
  int karras = 0;
  ASSERT_EQ(sdxl_resolve_sampler("DPM++ 2M Karras", nullptr, 0, &info, &karras), SDXL_STATUS_OK);
  EXPECT_STREQ(info->name, "dpmpp_2m");
  EXPECT_STREQ(info->diffusers_class, "DPMSolverMultistepScheduler");
  EXPECT_EQ(karras, 1);
  ASSERT_EQ(sdxl_resolve_sampler("Euler a", "Automatic", 0, &info, &karras), SDXL_STATUS_OK);
  EXPECT_STREQ(info->name, "euler_a");
  EXPECT_EQ(karras, 0);
  ASSERT_EQ(sdxl_resolve_sampler("k_lms", "karras", 0, &info, &karras), SDXL_STATUS_OK);
  EXPECT_STREQ(info->display_name, "LMS");
  EXPECT_EQ(karras, 1);
  ASSERT_EQ(sdxl_resolve_sampler("DPM++ 3M SDE (diffusers) Karras", nullptr, 0, &info, &karras), SDXL_STATUS_OK);
  EXPECT_STREQ(info->name, "dpmpp_3m_sde");
  EXPECT_EQ(karras, 1);
  // k-diffusion's DPM++ 3M SDE is another algorithm: its name finds nothing.
  EXPECT_EQ(sdxl_resolve_sampler("DPM++ 3M SDE", nullptr, 0, &info, &karras), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(sdxl_resolve_sampler("dpmpp_sde", nullptr, 0, &info, &karras), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(sdxl_last_error()).find("dpmpp_sde"), std::string::npos);
  EXPECT_EQ(sdxl_resolve_sampler("euler", "exponential", 0, &info, &karras), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(sdxl_resolve_sampler("ddim", "karras", 0, &info, &karras), SDXL_STATUS_UNSUPPORTED);
}

TEST_F(CApi, BadValuesThenSuccessOnTheSameWarmEngine) {
  struct Bad {
    const char* what;
    void (*set)(sdxl_generate_params&);
    const char* fragment;
    const char* parameter;  // sdxl_last_error_parameter: the member at fault
  };
  const Bad bad[] = {
      {"width", [](sdxl_generate_params& p) { p.width = 100; }, "multiples of 8", "width"},
      {"huge", [](sdxl_generate_params& p) { p.height = 8192; }, "4096", "height"},
      {"steps", [](sdxl_generate_params& p) { p.steps = 0; }, "steps", "steps"},
      {"guidance", [](sdxl_generate_params& p) { p.guidance_scale = 0.0 / 0.0; }, "guidance", "guidance_scale"},
      {"sampler", [](sdxl_generate_params& p) { p.sampler = "dpmpp_sde"; }, "dpmpp_sde", "sampler"},
      {"schedule", [](sdxl_generate_params& p) { p.scheduler = "exponential"; }, "exponential", "scheduler"},
      {"images", [](sdxl_generate_params& p) { p.images_per_prompt = 65; }, "images per prompt", "images_per_prompt"},
      {"prompts", [](sdxl_generate_params& p) { p.prompt_count = 0; }, "no prompt", "prompts"},
      {"refiner", [](sdxl_generate_params& p) { p.refiner_mode = "ensemble"; }, "no refiner", "refiner_mode"},
      {"mode", [](sdxl_generate_params& p) { p.refiner_mode = "sideways"; }, "sideways", "refiner_mode"},
      {"strength", [](sdxl_generate_params& p) { p.denoising_end = 1.5; }, "denoising_end", "denoising_end"},
      {"switch", [](sdxl_generate_params& p) { p.high_noise_frac = 1.0; }, "high_noise_frac", "high_noise_frac"},
      {"clip skip", [](sdxl_generate_params& p) { p.clip_skip = 12; }, "clip_skip", "clip_skip"},
      {"syntax", [](sdxl_generate_params& p) { p.prompt_syntax = "comfy"; }, "comfy", "prompt_syntax"},
      {"spacing", [](sdxl_generate_params& p) { p.timestep_spacing = "random"; }, "random", "timestep_spacing"},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.what);
    sdxl_generate_params p = params();
    b.set(p);
    EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(sdxl_last_error()).find(b.fragment), std::string::npos) << sdxl_last_error();
    EXPECT_STREQ(sdxl_last_error_parameter(), b.parameter);
    EXPECT_EQ(sdxl_engine_check(engine_, &p), SDXL_STATUS_INVALID_ARGUMENT);  // the check says the same
    EXPECT_STREQ(sdxl_last_error_parameter(), b.parameter);
  }
  const auto first = generate(params());
  EXPECT_STREQ(sdxl_last_error(), "");
  EXPECT_STREQ(sdxl_last_error_parameter(), "");
  ASSERT_EQ(first.size(), 64u * 64u * 3u);
  EXPECT_EQ(generate(params()), first);  // warm and deterministic
}

// DDIM's eta (diffusers' DDIMScheduler.step): noise from the call's generator, so the same seed
// gives the same image; the PNG text says it as AUTOMATIC1111 does; samplers without one refuse it.
TEST_F(CApi, DdimEtaDrawsNoiseFromTheSeedAndOtherSamplersRefuseIt) {
  sdxl_generate_params p = params();
  p.sampler = "ddim";
  const auto deterministic = generate(p);
  p.eta = 0.5;
  const auto noisy = generate(p);
  EXPECT_NE(noisy, deterministic);
  EXPECT_EQ(generate(p), noisy);
  sdxl_images* images = nullptr;
  ASSERT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
  char* text = nullptr;
  ASSERT_EQ(sdxl_engine_infotext(engine_, &p, images, 0, &text), SDXL_STATUS_OK) << sdxl_last_error();
  EXPECT_NE(std::string(text).find(", Eta DDIM: 0.5, "), std::string::npos) << text;
  sdxl_free_string(text);
  sdxl_images_free(images);
  p.sampler = "euler";
  EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(sdxl_last_error_parameter(), "eta");
  p.sampler = "ddim";
  p.eta = -1;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(sdxl_last_error_parameter(), "eta");
}

// Euler a's eta (k-diffusion's, as AUTOMATIC1111 passes it): 1 is diffusers' step, 0 leaves no
// fresh noise, which is plain Euler (the same draws, unused); the PNG text says "Eta" as
// AUTOMATIC1111 writes it; samplers without one refuse it.
TEST_F(CApi, AncestralEtaScalesEulerAsFreshNoise) {
  sdxl_generate_params p = params();
  p.sampler = "euler_a";
  const auto diffusers = generate(p);
  p.ancestral_eta = 1.0;
  EXPECT_EQ(generate(p), diffusers);
  p.ancestral_eta = 0.5;
  const auto half = generate(p);
  EXPECT_NE(half, diffusers);
  sdxl_images* images = nullptr;
  ASSERT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
  char* text = nullptr;
  ASSERT_EQ(sdxl_engine_infotext(engine_, &p, images, 0, &text), SDXL_STATUS_OK) << sdxl_last_error();
  EXPECT_NE(std::string(text).find(", Eta: 0.5, "), std::string::npos) << text;
  sdxl_free_string(text);
  sdxl_images_free(images);
  p.ancestral_eta = 0.0;
  const auto none = generate(p);
  p.sampler = "euler";
  p.ancestral_eta = 1.0;
  const auto euler = generate(p);
  ASSERT_EQ(none.size(), euler.size());
  int worst = 0;
  for (size_t k = 0; k < none.size(); ++k) worst = std::max(worst, std::abs(int{none[k]} - int{euler[k]}));
  EXPECT_LE(worst, 1) << "Euler a at eta 0 should be Euler";
  p.ancestral_eta = 0.5;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(sdxl_last_error_parameter(), "ancestral_eta");
  p.sampler = "euler_a";
  p.ancestral_eta = -0.1;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(sdxl_last_error_parameter(), "ancestral_eta");
}

// AUTOMATIC1111's inpainting options through the C API: each changes the image; unset they are
// diffusers' inpainting; refused with the parameter named when out of range or without a mask.
TEST_F(CApi, Automatic1111InpaintingOptions) {
  std::vector<unsigned char> init(64 * 64 * 3), mask(64 * 64, 0);
  for (size_t i = 0; i < init.size(); ++i) init[i] = static_cast<unsigned char>((i * 7) % 251);
  for (int y = 16; y < 40; ++y)
    for (int x = 20; x < 44; ++x) mask[static_cast<size_t>(y * 64 + x)] = 255;
  sdxl_generate_params p = params(3);
  p.init_image = init.data();
  p.init_width = p.init_height = 64;
  p.init_channels = 3;
  p.mask = mask.data();
  p.mask_width = p.mask_height = 64;
  p.mask_channels = 1;
  p.strength = 0.8;
  const auto diffusers = generate(p);
  p.inpaint_fill = "original";
  EXPECT_EQ(generate(p), diffusers);  // named but nothing asked for
  std::vector<std::vector<unsigned char>> seen = {diffusers};
  const auto differs = [&](const char* what) {
    const auto pixels = generate(p);
    for (const auto& other : seen) EXPECT_NE(pixels, other) << what;
    seen.push_back(pixels);
  };
  p.inpaint_fill = "latent_nothing";
  differs("latent nothing");
  p.inpaint_fill = "latent_noise";
  differs("latent noise");
  p.inpaint_fill = nullptr;
  p.initial_noise_multiplier = 0.5;
  differs("a noise multiplier");
  p.initial_noise_multiplier = 0;  // 0 means 1
  p.mask_blur_x = p.mask_blur_y = 4;
  p.inpaint_overlay = 1;
  differs("a blur and the overlay");
  // Outside the blurred mask, the overlay keeps the init image.
  sdxl_images* images = nullptr;
  ASSERT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
  EXPECT_TRUE(std::equal(images->pixels, images->pixels + 64 * 3 * 4, init.begin()));  // the top rows
  sdxl_images_free(images);
  const auto refused = [&](sdxl_generate_params q, const char* parameter) {
    EXPECT_EQ(generate_status(q), SDXL_STATUS_INVALID_ARGUMENT) << parameter;
    EXPECT_STREQ(sdxl_last_error_parameter(), parameter);
  };
  sdxl_generate_params bad = p;
  bad.inpaint_fill = "paint";
  refused(bad, "inpaint_fill");
  bad = p;
  bad.mask_blur_x = -1;
  refused(bad, "mask_blur_x");
  bad = p;
  bad.initial_noise_multiplier = -1;
  refused(bad, "initial_noise_multiplier");
  bad = p;
  bad.mask = nullptr;
  bad.inpaint_only_masked = 1;
  refused(bad, "inpaint_only_masked");
}

// AUTOMATIC1111's variation seed: at strength 1 the starting noise is the subseed's (with a
// deterministic sampler, the image of that seed), at 0 none; in between something else; every
// image keeps the seed and image i names variation seed subseed + i.
TEST_F(CApi, VariationSeedsSlerpTheStartingNoise) {
  sdxl_generate_params p = params(3);
  const auto own = generate(p);
  p.seed = 77;
  const auto other = generate(p);
  p.seed = 42;
  p.subseed = 77;
  p.subseed_strength = 1.0;
  const auto full = generate(p);
  ASSERT_EQ(full.size(), other.size());
  int worst = 0;
  for (size_t k = 0; k < full.size(); ++k) worst = std::max(worst, std::abs(int{full[k]} - int{other[k]}));
  EXPECT_LE(worst, 1) << "strength 1 should start from the subseed's noise";
  p.subseed_strength = 0.5;
  const auto half = generate(p);
  EXPECT_NE(half, own);
  EXPECT_NE(half, other);
  p.images_per_prompt = 2;
  sdxl_images* images = nullptr;
  ASSERT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
  for (int i = 0; i < 2; ++i) {
    char* text = nullptr;
    ASSERT_EQ(sdxl_engine_infotext(engine_, &p, images, i, &text), SDXL_STATUS_OK) << sdxl_last_error();
    const std::string t = text;
    sdxl_free_string(text);
    EXPECT_NE(t.find("Seed: 42,"), std::string::npos) << t;
    EXPECT_NE(t.find("Variation seed: " + std::to_string(77 + i) + ", Variation seed strength: 0.5"), std::string::npos) << t;
  }
  const std::vector<unsigned char> first(images->pixels, images->pixels + 64 * 64 * 3);
  sdxl_images_free(images);
  EXPECT_EQ(first, half);  // image 0 of the batch is the single image
  p.subseed_strength = 1.5;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_STREQ(sdxl_last_error_parameter(), "subseed_strength");
}

// The PNG text numbers clip skip as AUTOMATIC1111 does (CLIP_stop_at_last_layers): diffusers'
// clip_skip 1 is its "Clip skip: 2", and 0 (the default layer) is not written.
TEST_F(CApi, ClipSkipIsWrittenInAutomatic1111sNumbering) {
  const auto text_of = [&](int clip_skip) {
    sdxl_generate_params p = params(1);
    p.clip_skip = clip_skip;
    sdxl_images* images = nullptr;
    EXPECT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
    char* text = nullptr;
    EXPECT_EQ(sdxl_engine_infotext(engine_, &p, images, 0, &text), SDXL_STATUS_OK) << sdxl_last_error();
    const std::string out = text ? text : "";
    sdxl_free_string(text);
    sdxl_images_free(images);
    return out;
  };
  EXPECT_NE(text_of(1).find(", Clip skip: 2, "), std::string::npos) << text_of(1);
  EXPECT_EQ(text_of(0).find("Clip skip"), std::string::npos) << text_of(0);
  EXPECT_EQ(text_of(-1).find("Clip skip"), std::string::npos) << text_of(-1);
}

struct CancelAt {
  int at_step = 0;
  std::vector<std::string> stages;
  std::vector<int> steps;
  int previews = 0, preview_width = 0;
  static int callback(const sdxl_progress* p, void* user) {
    auto& self = *static_cast<CancelAt*>(user);
    self.stages.emplace_back(p->stage);
    self.steps.push_back(p->step);
    if (p->preview) {
      ++self.previews;
      self.preview_width = p->preview_width;
    }
    return std::string(p->stage) == "denoising" && p->step == self.at_step ? 1 : 0;
  }
};

TEST_F(CApi, CancelStopsPromptlyAndTheEngineStaysUsable) {
  const auto uncancelled = generate(params(6));
  CancelAt cancel;
  cancel.at_step = 2;
  sdxl_generate_params p = params(6);
  p.progress = CancelAt::callback;
  p.progress_user_data = &cancel;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_CANCELLED);
  EXPECT_NE(std::string(sdxl_last_error()).find("cancelled"), std::string::npos);
  EXPECT_EQ(cancel.steps, (std::vector<int>{1, 2}));  // nothing ran after the answer
  EXPECT_EQ(generate(params(6)), uncancelled);

  // Cancelling inside the VAE decode (between its blocks).
  struct CancelDecode {
    static int callback(const sdxl_progress* p, void*) { return std::string(p->stage) == "decoding" && p->step == 1; }
  };
  p.progress = CancelDecode::callback;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_CANCELLED);
  EXPECT_NE(std::string(sdxl_last_error()).find("decoding"), std::string::npos) << sdxl_last_error();
  EXPECT_EQ(generate(params(6)), uncancelled);
}

// SDXL_PROGRESS_FINISH (AUTOMATIC1111's interrupt): no step runs after the answer, the call
// succeeds with the images decoded from the latents reached: what the step's preview showed.
TEST_F(CApi, FinishNowDecodesTheLatentsReached) {
  const auto whole = generate(params(6));
  struct FinishAt {
    std::vector<int> steps;
    std::vector<std::string> stages;
    static int callback(const sdxl_progress* p, void* user) {
      auto& self = *static_cast<FinishAt*>(user);
      self.steps.push_back(p->step);
      self.stages.emplace_back(p->stage);
      return std::string(p->stage) == "denoising" && p->step == 2 ? SDXL_PROGRESS_FINISH : 0;
    }
  } finish;
  sdxl_generate_params p = params(6);
  p.progress = FinishAt::callback;
  p.progress_user_data = &finish;
  sdxl_images* images = nullptr;
  ASSERT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
  ASSERT_EQ(images->count, 1);
  const std::vector<unsigned char> partial(images->pixels, images->pixels + 64 * 64 * 3);
  sdxl_images_free(images);
  std::vector<int> denoising;
  for (size_t i = 0; i < finish.stages.size(); ++i)
    if (finish.stages[i] == "denoising") denoising.push_back(finish.steps[i]);
  EXPECT_EQ(denoising, (std::vector<int>{1, 2}));  // nothing ran after the answer
  EXPECT_EQ(finish.stages.back(), "decoding");     // but the decode did
  EXPECT_NE(partial, whole);
  EXPECT_EQ(generate(params(6)), whole);  // and the engine is as it was
}

TEST_F(CApi, ProgressReportsEveryStepAndPreviewsWhenAsked) {
  CancelAt watch;  // never cancels
  sdxl_generate_params p = params(5);
  p.progress = CancelAt::callback;
  p.progress_user_data = &watch;
  p.preview_every = 2;
  const auto pixels = generate(p);
  std::vector<int> denoising;
  for (size_t i = 0; i < watch.stages.size(); ++i)
    if (watch.stages[i] == "denoising") denoising.push_back(watch.steps[i]);
  EXPECT_EQ(denoising, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(watch.stages.back(), "decoding");
  EXPECT_EQ(watch.previews, 3);  // steps 2, 4 and the last
  EXPECT_EQ(watch.preview_width, 64 / 8);
  EXPECT_EQ(pixels, generate(params(5)));  // watching changes nothing
}

TEST_F(CApi, ASecondCallWhileGeneratingIsBusy) {
  struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool inside = false, release = false;
    static int callback(const sdxl_progress*, void* user) {
      auto& g = *static_cast<Gate*>(user);
      std::unique_lock<std::mutex> lock(g.m);
      g.inside = true;
      g.cv.notify_all();
      g.cv.wait(lock, [&] { return g.release; });
      return 0;
    }
  } gate;
  sdxl_generate_params slow = params(2);
  slow.progress = Gate::callback;
  slow.progress_user_data = &gate;
  std::atomic<sdxl_status> first{SDXL_STATUS_INTERNAL_ERROR};
  std::thread worker([&] { first = generate_status(slow); });
  {
    std::unique_lock<std::mutex> lock(gate.m);
    gate.cv.wait(lock, [&] { return gate.inside; });
  }
  EXPECT_EQ(generate_status(params()), SDXL_STATUS_BUSY);
  EXPECT_NE(std::string(sdxl_last_error()).find("busy"), std::string::npos);
  EXPECT_EQ(sdxl_engine_release_memory(engine_), SDXL_STATUS_BUSY);
  {
    std::lock_guard<std::mutex> lock(gate.m);
    gate.release = true;
  }
  gate.cv.notify_all();
  worker.join();
  EXPECT_EQ(first.load(), SDXL_STATUS_OK);
  EXPECT_EQ(generate_status(params()), SDXL_STATUS_OK);
}

TEST_F(CApi, ARequestThatCannotFitIsRefusedUpFront) {
  sdxl_generate_params p = params();
  p.width = p.height = 4096;
  p.images_per_prompt = 64;
  double needed = 0, available = 0;
  ASSERT_EQ(sdxl_engine_estimate_memory(engine_, &p, &needed, &available), SDXL_STATUS_OK) << sdxl_last_error();
  if (available < 0) GTEST_SKIP() << "this system does not say how much memory is available";
  ASSERT_GT(needed, available);  // 64 images of 16 megapixels
  EXPECT_EQ(generate_status(p), SDXL_STATUS_OUT_OF_MEMORY);
  EXPECT_NE(std::string(sdxl_last_error()).find("GiB"), std::string::npos) << sdxl_last_error();
  sdxl_generate_params small = params();
  ASSERT_EQ(sdxl_engine_estimate_memory(engine_, &small, &needed, &available), SDXL_STATUS_OK);
  EXPECT_LT(needed, available);
}

// A front end without the model checks requests against the engine's published capacity: the
// same verdicts as the engine's own check, with the memory of the engine's machine.
TEST_F(CApi, CapacityChecksAsTheEngineDoes) {
  char* text = nullptr;
  ASSERT_EQ(sdxl_engine_capacity(engine_, &text), SDXL_STATUS_OK) << sdxl_last_error();
  const std::string capacity = text;
  sdxl_free_string(text);
  const sdxl_generate_params plain = params();
  EXPECT_EQ(sdxl_check_capacity(capacity.c_str(), &plain), SDXL_STATUS_OK) << sdxl_last_error();
  sdxl_generate_params huge = params();
  huge.width = huge.height = 4096;
  huge.images_per_prompt = 64;
  double needed = 0, available = 0;
  ASSERT_EQ(sdxl_engine_estimate_memory(engine_, &huge, &needed, &available), SDXL_STATUS_OK);
  if (available >= 0) {
    EXPECT_EQ(sdxl_check_capacity(capacity.c_str(), &huge), SDXL_STATUS_OUT_OF_MEMORY);
    EXPECT_NE(std::string(sdxl_last_error()).find("GiB"), std::string::npos) << sdxl_last_error();
  }
  sdxl_generate_params odd = params();
  odd.width = 100;  // not a multiple of 8
  EXPECT_EQ(sdxl_check_capacity(capacity.c_str(), &odd), sdxl_engine_check(engine_, &odd));
  sdxl_generate_params refined = params();
  refined.refiner_mode = "ensemble";  // this engine has no refiner
  EXPECT_EQ(sdxl_check_capacity(capacity.c_str(), &refined), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(sdxl_last_error()).find("refiner"), std::string::npos) << sdxl_last_error();
  // Another machine with more memory takes what this one cannot.
  std::string roomy = capacity;
  roomy.replace(roomy.find("\"available_gib\":"), std::string("\"available_gib\":").size(), "\"available_gib\":1e9,\"x\":");
  EXPECT_EQ(sdxl_check_capacity(roomy.c_str(), &huge), SDXL_STATUS_OK) << sdxl_last_error();
  EXPECT_EQ(sdxl_check_capacity("{not json", &plain), SDXL_STATUS_FORMAT_ERROR);
  EXPECT_EQ(sdxl_check_capacity("{}", &plain), SDXL_STATUS_FORMAT_ERROR);
  EXPECT_EQ(sdxl_check_capacity(nullptr, &plain), SDXL_STATUS_INVALID_ARGUMENT);
}

// An arena keeps a block of its high-water size for the next request of that size; in a
// long-lived process one 1024x1024 request would keep it mapped for good. What is mapped
// (VmSize) shows it whether or not its pages were touched since.
TEST_F(CApi, MemoryGoesBackDownAfterALargeRequest) {
  generate(params(1));
  const double before = status_mib("VmSize:");
  sdxl_generate_params large = params(1);
  large.width = large.height = 1024;
  generate(large);
  const double after_large = status_mib("VmSize:");
  ASSERT_EQ(sdxl_engine_release_memory(engine_), SDXL_STATUS_OK) << sdxl_last_error();
  generate(params(1));
  const double after_small = status_mib("VmSize:");
  // The tiny VAE's 1024x1024 decode alone maps several hundred MiB of activations.
  EXPECT_GT(after_large - before, 400.0) << "before " << before << ", after the large request " << after_large;
  EXPECT_LT(after_small - before, (after_large - before) / 2)
      << "before " << before << ", large " << after_large << ", small after release " << after_small;
}

}  // namespace

namespace {

// LoRAs per call on one warm engine: the images report the LoRAs they were made with (the
// params' and the prompt's tags), a bad LoRA is an error that leaves the engine usable, and
// going back to none gives the first image again.
TEST_F(CApi, LorasPerCallAndTheirReport) {
  const std::string loras_dir = (sdxl::test::reference_dir() / "models/loras").string();
  const std::string kohya = loras_dir + "/tiny-sdxl-base-kohya-attn.safetensors";
  const auto plain = generate(params(2));
  sdxl_lora lora{kohya.c_str(), 0.5};
  sdxl_generate_params p = params(2);
  p.loras = &lora;
  p.lora_count = 1;
  sdxl_images* images = nullptr;
  ASSERT_EQ(sdxl_engine_generate(engine_, &p, &images), SDXL_STATUS_OK) << sdxl_last_error();
  ASSERT_EQ(images->lora_count, 1);
  EXPECT_EQ(std::string(images->loras[0].path), kohya);
  EXPECT_DOUBLE_EQ(images->loras[0].weight, 0.5);
  sdxl_images_free(images);
  sdxl_lora missing{"/nowhere/x.safetensors", 1.0};
  p.loras = &missing;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_IO_ERROR) << sdxl_last_error();
  p.lora_count = -1;
  EXPECT_EQ(generate_status(p), SDXL_STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(generate(params(2)), plain);

  char* hex = nullptr;
  ASSERT_EQ(sdxl_file_hash(kohya.c_str(), SDXL_HASH_SAFETENSORS_DATA, &hex), SDXL_STATUS_OK) << sdxl_last_error();
  EXPECT_EQ(std::string(hex).size(), 64u);
  sdxl_free_string(hex);
  EXPECT_EQ(sdxl_file_hash("/nowhere", SDXL_HASH_FILE, &hex), SDXL_STATUS_IO_ERROR);
}

}  // namespace
