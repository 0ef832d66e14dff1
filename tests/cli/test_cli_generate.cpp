// `sdxl generate` run as a user runs it, compared with diffusers' golden txt2img outputs:
// the PNG's pixels (8-bit, as diffusers' numpy_to_pil rounds them) and --output-latents.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>

#include "cli/cli_runner.h"
#include "golden_cases.h"
#include "io/image_encode.h"
#include "io/image_file.h"
#include "io/png.h"
#include "io/safetensors.h"

namespace sdxl {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The largest difference, in 8-bit levels, between a PNG's pixels and the golden image floats in
// [0, 1] starting at `want` (as diffusers' numpy_to_pil rounds them).
int worst_level(const float* want, const io::Image8& image) {
  int worst = 0;
  for (size_t k = 0; k < image.pixels.size(); ++k)
    worst = std::max(worst, std::abs(static_cast<int>(std::nearbyint(want[k] * 255.0f)) - static_cast<int>(image.pixels[k])));
  return worst;
}

// The CLI arguments equivalent to a golden case's diffusers call.
std::string cli_args(const nlohmann::json& p) {
  std::string a;
  auto prompts = p["prompt"].is_string() ? std::vector<std::string>{p["prompt"]} : p["prompt"].get<std::vector<std::string>>();
  for (const auto& s : prompts) a += " -p " + shell_quote(s);
  if (p.contains("negative_prompt") && !p["negative_prompt"].is_null()) {
    auto negatives = p["negative_prompt"].is_string() ? std::vector<std::string>{p["negative_prompt"]}
                                                      : p["negative_prompt"].get<std::vector<std::string>>();
    for (const auto& s : negatives) a += " -n " + shell_quote(s);
  }
  a += " -W " + std::to_string(p["width"].get<int>()) + " -H " + std::to_string(p["height"].get<int>());
  a += " --steps " + std::to_string(p["num_inference_steps"].get<int>());
  a += " --seed " + std::to_string(p["seed"].get<uint64_t>());
  a += " --guidance " + std::to_string(p.value("guidance_scale", 5.0));
  if (p.contains("guidance_rescale")) a += " --guidance-rescale " + std::to_string(p["guidance_rescale"].get<double>());
  if (p.contains("num_images_per_prompt")) a += " --batch " + std::to_string(p["num_images_per_prompt"].get<int>());
  a += " --shared-generator";  // the reference pipelines take one torch.Generator
  const std::string scheduler = p["scheduler"];
  const auto overrides = p.value("scheduler_config_overrides", nlohmann::json::object());
  const bool third_order_sde = overrides.value("solver_order", 2) == 3 && overrides.value("algorithm_type", "") == "sde-dpmsolver++";
  a += std::string(" --sampler ") + (scheduler == "DPMSolverMultistepScheduler"       ? (third_order_sde ? "dpmpp_3m_sde" : "dpmpp_2m")
                                     : scheduler == "DPMSolverSinglestepScheduler"    ? "dpmpp_2s"
                                     : scheduler == "DEISMultistepScheduler"          ? "deis"
                                     : scheduler == "PNDMScheduler"                   ? "plms"
                                     : scheduler == "DDPMScheduler"                   ? "ddpm"
                                     : scheduler == "DDIMScheduler"                   ? "ddim"
                                     : scheduler == "EulerAncestralDiscreteScheduler" ? "euler_a"
                                     : scheduler == "LCMScheduler"                    ? "lcm"
                                                                                      : "euler");
  if (overrides.value("use_karras_sigmas", false)) a += " --karras";
  if (overrides.contains("timestep_spacing"))
    a += " --timestep-spacing " + overrides["timestep_spacing"].get<std::string>();
  // diffusers' sizes are (height, width); the CLI's are WxH. Crops are (top, left) in both.
  auto size = [&](const char* key, const char* option) {
    if (p.contains(key) && !p[key].is_null())
      a += std::string(" ") + option + " " + std::to_string(p[key][1].get<int>()) + "x" + std::to_string(p[key][0].get<int>());
  };
  auto crop = [&](const char* key, const char* option) {
    if (p.contains(key) && !p[key].is_null())
      a += std::string(" ") + option + " " + std::to_string(p[key][0].get<int>()) + "," + std::to_string(p[key][1].get<int>());
  };
  size("original_size", "--original-size");
  size("target_size", "--target-size");
  crop("crops_coords_top_left", "--crop-top-left");
  size("negative_original_size", "--negative-original-size");
  size("negative_target_size", "--negative-target-size");
  crop("negative_crops_coords_top_left", "--negative-crop-top-left");
  return a;
}

// txt2img (with its later samplers) and the few-step kinds (LCM, Turbo / Lightning style), run as a user runs them.
const char* const kKinds[] = {"txt2img", "txt2img_more", "lcm_txt2img", "fewstep_txt2img"};

class CliGenerate : public ::testing::TestWithParam<std::string> {};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CliGenerate);

TEST_P(CliGenerate, MatchesDiffusersPixelsAndLatents) {
  SDXL_REQUIRE_REFERENCE();
  nlohmann::json c;
  for (const char* kind : kKinds)
    for (const auto& x : test::cases_of_kind(kind))
      if (x["name"] == GetParam()) c = x;
  ASSERT_FALSE(c.is_null()) << GetParam();
  test::TempDir dir;
  const std::string out = (dir / "out.png").string(), latents = (dir / "latents.safetensors").string();
  auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + cli_args(c["params"]) + " -o " + quoted(fs::path(out)) +
                    " --output-latents " + quoted(fs::path(latents)));
  ASSERT_EQ(r.exit_code, 0) << r.output;

  test::CaseFile file(c);
  Tensor want = file["image"];  // [N, H, W, 3] in [0, 1]
  const int64_t n = want.dim(0), per = want.numel() / n;
  for (int64_t i = 0; i < n; ++i) {
    const std::string path = n == 1 ? out : (dir / ("out-" + std::to_string(i + 1) + ".png")).string();
    io::Image8 image = io::read_png(path);
    ASSERT_EQ(image.width, want.dim(2));
    ASSERT_EQ(image.height, want.dim(1));
    ASSERT_EQ(image.channels, 3);
    // The case tolerance (2e-3 + 1e-3 x value) is under one 8-bit level: at most a rounding flip.
    EXPECT_LE(worst_level(want.data<float>() + i * per, image), 1) << path;
    auto text = io::read_png_text(path);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text[0].first, "parameters");
    EXPECT_NE(text[0].second.find("Seed: " + std::to_string(c["params"]["seed"].get<uint64_t>())), std::string::npos);
  }
  EXPECT_TRUE(test::matches(io::SafetensorsFile::open(latents)->tensor("latents"), file["latents"], c, "latents"));
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const char* kind : kKinds)
    for (const auto& c : test::cases_of_kind(kind)) names.push_back(c["name"]);
  return names;
}
std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }
INSTANTIATE_TEST_SUITE_P(Cases, CliGenerate, ::testing::ValuesIn(case_names()), param_name);

class CliGenerateErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    model_ = quoted(test::reference_dir() / "models/tiny-sdxl-base");
  }
  // Runs with sane defaults plus `extra`; expects failure with `fragment` and no output file.
  void expect_failure(const std::string& extra, const std::string& fragment, int code) {
    const std::string out = (dir_ / "x.png").string();
    auto r = run_sdxl("generate -m " + model_ + " -p cat -W 64 -H 64 --steps 2 --seed 1 -o " + quoted(fs::path(out)) + " " + extra);
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out)) << "a file was left behind";
  }
  test::TempDir dir_;
  std::string model_;
};

TEST_F(CliGenerateErrors, SizeNotMultipleOf8) { expect_failure("-W 100", "multiples of 8", 2); }
TEST_F(CliGenerateErrors, SizeOutOfRange) { expect_failure("-W 8192", "between 64 and 4096", 2); }
TEST_F(CliGenerateErrors, ZeroSteps) { expect_failure("--steps 0", "--steps", 2); }
TEST_F(CliGenerateErrors, UnknownSampler) { expect_failure("--sampler dpmpp_sde", "dpmpp_sde", 2); }
TEST_F(CliGenerateErrors, GuidanceNotANumber) { expect_failure("--guidance nan", "--guidance: [limits] guidance scale must be a number", 2); }
TEST_F(CliGenerateErrors, BadSizeSyntax) { expect_failure("--original-size 1024", "WIDTHxHEIGHT", 2); }
TEST_F(CliGenerateErrors, NegativeCountMismatch) { expect_failure("-p dog -p bird -n a -n b", "-n/--negative: [generate] 2 negative prompts for 3 prompts", 2); }
TEST_F(CliGenerateErrors, KarrasWithoutKarrasSupport) { expect_failure("--sampler euler_a --karras", "Karras", 1); }
TEST_F(CliGenerateErrors, UnknownPrecision) { expect_failure("--precision fp8", "fp8", 2); }
TEST_F(CliGenerateErrors, MissingModel) {
  model_ = "/nonexistent/model";
  expect_failure("", "/nonexistent/model", 1);
}
// A torch checkpoint is read by the weights-only reader: a damaged one is a format error, a
// hostile one is refused naming what it would call.
TEST_F(CliGenerateErrors, DamagedOrHostileCheckpointIsRefused) {
  test::write_file(dir_ / "model.ckpt", "PK\x03\x04 not a zip");
  model_ = quoted(dir_ / "model.ckpt");
  expect_failure("", "[zip]", 1);
  model_ = quoted(test::reference_dir() / "models/pickle/hostile/subprocess_popen.ckpt");
  expect_failure("", "'subprocess.Popen'", 1);
}
TEST_F(CliGenerateErrors, UnwritableOutput) {
  auto r = run_sdxl("generate -m " + model_ + " -p cat -W 64 -H 64 --steps 2 -o /nonexistent-dir/x.png");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent-dir"), std::string::npos) << r.output;
}
TEST_F(CliGenerateErrors, IncompleteModelFolder) {
  fs::copy(test::reference_dir() / "models/tiny-sdxl-base", dir_ / "model", fs::copy_options::recursive);
  fs::remove(dir_ / "model/unet/diffusion_pytorch_model.safetensors");
  model_ = quoted(dir_ / "model");
  expect_failure("", "unet", 1);
}

// #23 item 10: outputs and inputs that are not regular files. -o onto a FIFO (or a device) is
// refused rather than replaced; a planted "<out>.tmp" symlink is never followed; a FIFO given
// as an input is refused at once instead of blocking forever.
TEST_F(CliGenerateErrors, SpecialFilesAreRefusedNotReplacedOrWaitedOn) {
  ASSERT_EQ(mkfifo((dir_ / "fifo.png").c_str(), 0600), 0);
  auto r = run_sdxl("generate -m " + model_ + " -p cat -W 64 -H 64 --steps 1 -o " + quoted(dir_ / "fifo.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_fifo(dir_ / "fifo.png"));
  // The input FIFO (a hang here is caught by the test's time limit).
  r = run_sdxl("generate -m " + model_ + " -p cat -W 64 -H 64 --steps 1 --init-image " + quoted(dir_ / "fifo.png") + " -o " +
               quoted(dir_ / "x.png"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << r.output;
  test::write_file(dir_ / "victim.txt", "keep me");
  fs::create_symlink(dir_ / "victim.txt", dir_ / "out.png.tmp");
  r = run_sdxl("generate -m " + model_ + " -p cat -W 64 -H 64 --steps 1 -o " + quoted(dir_ / "out.png"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::read_file(dir_ / "victim.txt"), "keep me");
  EXPECT_TRUE(fs::is_regular_file(dir_ / "out.png"));
}

TEST_F(CliGenerateErrors, ThreadsAreBoundedByTheMachine) { expect_failure("--threads 65536", "--threads", 2); }

// #23 item 11: several outputs are written all or none: the second's target being a folder
// leaves no first image behind.
TEST_F(CliGenerateErrors, BatchOutputsAreAllOrNone) {
  fs::create_directories(dir_ / "img-2.png");
  auto r = run_sdxl("generate -m " + model_ + " -p cat --batch 2 -W 64 -H 64 --steps 1 -o " + quoted(dir_ / "img.png"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "img-1.png")) << "a partial set of outputs was left";
  for (const auto& entry : fs::directory_iterator(dir_.path()))
    EXPECT_EQ(entry.path().filename().string().find("partial"), std::string::npos) << entry.path();
}

// --vae-tiling decodes with whole-image statistics: the golden image, like the untiled run.
TEST(CliGenerate, VaeTilingGivesTheSameImage) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("txt2img");
  ASSERT_FALSE(cases.empty());
  const nlohmann::json& c = cases.front();
  test::TempDir dir;
  auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + cli_args(c["params"]) + " --vae-tiling -o " +
                    quoted(dir / "tiled.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Tensor want = test::CaseFile(c)["image"];
  const std::string path = want.dim(0) == 1 ? "tiled.png" : "tiled-1.png";
  io::Image8 image = io::read_png(dir / path);
  ASSERT_EQ(static_cast<int64_t>(image.pixels.size()), want.numel() / want.dim(0));
  EXPECT_LE(worst_level(want.data<float>(), image), 1);
}

TEST(CliGenerate, SeveralImagesAreNumberedPromptMajor) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                        " -p cat -p dog --batch 2 -W 64 -H 64 --steps 2 --seed 3 -o " + quoted(dir / "img.png"),
                    false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(fs::exists(dir / ("img-" + std::to_string(i) + ".png"))) << i;
  auto text = io::read_png_text(dir / "img-3.png");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text[0].second.rfind("dog\n", 0), 0u) << text[0].second;  // images 3-4 belong to the second prompt
}

// -o out.jpg / out.webp: the format by the extension, the parameters in EXIF (AUTOMATIC1111's
// UserComment), the same text as the PNG's: byte for byte the PNG's pixels encoded at --quality.
TEST(CliGenerate, JpegAndWebpOutputsByExtension) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const std::string common = "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                             " -p 'a red kite' -W 64 -H 64 --steps 3 --seed 5 -o ";
  ASSERT_EQ(run_sdxl(common + quoted(dir / "k.png")).exit_code, 0);
  const io::Image8 png = io::read_png(dir / "k.png");
  const std::string text = io::read_png_text(dir / "k.png").at(0).second;
  for (const auto& [name, format] : {std::pair<std::string, io::ImageFormat>{"k.jpg", io::ImageFormat::Jpeg}, {"k.webp", io::ImageFormat::Webp}}) {
    auto r = run_sdxl(common + quoted(dir / name) + " --quality 95");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto bytes = io::read_file_bytes(dir / name);
    EXPECT_EQ(io::image_parameters(bytes, name), text) << name;
    EXPECT_EQ(bytes, io::encode_image(png, {format, 95, false}, text)) << name;
  }
  EXPECT_NE(run_sdxl(common + quoted(dir / "q.jpg") + " --quality 0").exit_code, 0);
  const auto png_quality = run_sdxl(common + quoted(dir / "q.png") + " --quality 90");
  EXPECT_EQ(png_quality.exit_code, 2) << png_quality.output;
  EXPECT_NE(png_quality.output.find("--quality"), std::string::npos) << png_quality.output;
}

// AUTOMATIC1111's variation seed and seed resize from the CLI: the PNG text names both, a resize
// from the size made changes nothing, and a half-strength variation changes the image.
TEST(CliGenerate, VariationSeedAndSeedResize) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const std::string common = "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                             " -p 'a red kite' -W 64 -H 64 --steps 3 --seed 5 --sampler euler_a -o ";
  ASSERT_EQ(run_sdxl(common + quoted(dir / "plain.png")).exit_code, 0);
  ASSERT_EQ(run_sdxl(common + quoted(dir / "same.png") + " --seed-resize-from 64x64").exit_code, 0);
  auto r = run_sdxl(common + quoted(dir / "varied.png") + " --subseed 9 --subseed-strength 0.5 --seed-resize-from 96x48");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(io::read_png(dir / "same.png").pixels, io::read_png(dir / "plain.png").pixels);
  EXPECT_NE(io::read_png(dir / "varied.png").pixels, io::read_png(dir / "plain.png").pixels);
  const std::string text = io::read_png_text(dir / "varied.png").at(0).second;
  EXPECT_NE(text.find("Variation seed: 9, Variation seed strength: 0.5, Seed resize from: 96x48"), std::string::npos) << text;
  EXPECT_EQ(run_sdxl(common + quoted(dir / "bad.png") + " --seed-resize-from 4x64").exit_code, 2);
}

// Image i of a batch takes seed + i: its PNG text says so, and `--seed` with that seed alone
// makes the same pixels (to a rounding flip of the batched GEMMs). --shared-generator keeps
// diffusers' one generator: every image names the batch's seed.
TEST(CliGenerate, BatchImagesCarryTheirOwnSeed) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const std::string model = quoted(test::reference_dir() / "models/tiny-sdxl-base");
  const std::string common = " -p cat -W 64 -H 64 --steps 3 --sampler euler_a";
  auto r = run_sdxl("generate -m " + model + common + " --batch 3 --seed 40 -o " + quoted(dir / "batch.png"), false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_sdxl("generate -m " + model + common + " --seed 42 -o " + quoted(dir / "alone.png"), false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 1; i <= 3; ++i) {
    const auto text = io::read_png_text(dir / ("batch-" + std::to_string(i) + ".png"));
    ASSERT_FALSE(text.empty());
    EXPECT_NE(text[0].second.find("Seed: " + std::to_string(39 + i) + ","), std::string::npos) << text[0].second;
  }
  const io::Image8 third = io::read_png(dir / "batch-3.png"), alone = io::read_png(dir / "alone.png");
  ASSERT_EQ(third.pixels.size(), alone.pixels.size());
  int worst = 0;
  for (size_t k = 0; k < third.pixels.size(); ++k) worst = std::max(worst, std::abs(int{third.pixels[k]} - int{alone.pixels[k]}));
  EXPECT_LE(worst, 1);

  r = run_sdxl("generate -m " + model + common + " --batch 2 --seed 40 --shared-generator -o " + quoted(dir / "shared.png"), false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(io::read_png_text(dir / "shared-2.png").at(0).second.find("Seed: 40,"), std::string::npos);
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// A 3-chunk weighted prompt with a textual-inversion negative, through the CLI.
TEST(CliGenerate, A1111PromptWithChunksAndAnEmbedding) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path model = test::reference_dir() / "models/tiny-sdxl-base";
  auto width = [&](const char* component) {
    return nlohmann::json::parse(test::read_file(model / component / "config.json"))["hidden_size"].get<int64_t>();
  };
  fs::create_directories(dir / "embeddings");
  io::write_safetensors(dir / "embeddings/badhands.safetensors",
                        {{"clip_l", Tensor::zeros(Shape{2, width("text_encoder")}, DType::F32)},
                         {"clip_g", Tensor::zeros(Shape{2, width("text_encoder_2")}, DType::F32)}});
  const std::string prompt =
      "'(masterpiece:1.2), a lighthouse on a cliff, [blurry] BREAK crashing waves, ((sea spray)) BREAK oil painting'";
  auto run = [&](const std::string& syntax, const std::string& out) {
    return run_sdxl("generate -m " + quoted(model) + " --prompt-syntax " + syntax + " --embedding-dir " +
                    quoted(dir / "embeddings") + " -p " + prompt + " -n 'badhands, lowres' -W 64 -H 64 --steps 2 --seed 3 -o " +
                    quoted(dir / out));
  };
  const auto a1111 = run("a1111", "a.png");
  ASSERT_EQ(a1111.exit_code, 0) << a1111.output;
  const auto plain = run("plain", "p.png");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(io::read_png(dir / "a.png").pixels, io::read_png(dir / "p.png").pixels);
  const auto tokens = run_sdxl("tokenize --prompt-syntax a1111 --json --embedding-dir " + quoted(dir / "embeddings") +
                                   " -m " + quoted(model) + " " + prompt,
                               false);
  ASSERT_EQ(tokens.exit_code, 0) << tokens.output;
  EXPECT_EQ(nlohmann::json::parse(tokens.output)["tokenizer"]["ids"].size(), 3u);
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// --taesd decodes the golden taesd_txt2img image; --preview rewrites a preview during sampling,
// and a preview that cannot be written costs a warning, not the image.
TEST(CliGenerate, TaesdAndPreviews) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("taesd_txt2img");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases[0];
  const auto& p = c["params"];
  test::TempDir dir;
  const std::string common = "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") + " --taesd " +
                             quoted(test::reference_dir() / "models/tiny-taesdxl") + " -p " + shell_quote(p["prompt"]) +
                             " -W 64 -H 64 --steps " + std::to_string(p["num_inference_steps"].get<int>()) + " --seed " +
                             std::to_string(p["seed"].get<uint64_t>());
  auto r = run_sdxl(common + " --preview " + quoted(dir / "preview.png") + " -o " + quoted(dir / "out.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  test::CaseFile file(c);
  const Tensor want = file["image"];
  const io::Image8 image = io::read_png(dir / "out.png");
  ASSERT_EQ(static_cast<int64_t>(image.pixels.size()), want.numel());
  EXPECT_LE(worst_level(want.data<float>(), image), 1);
  const io::Image8 preview = io::read_png(dir / "preview.png");
  EXPECT_EQ(preview.width, 64);  // TAESD previews are full size

  auto unwritable = run_sdxl(common + " --preview " + quoted(dir / "preview.png/sub.png") + " -o " + quoted(dir / "b.png"));
  EXPECT_NE(unwritable.exit_code, 0);  // the folder does not exist: refused before any work
  EXPECT_NE(unwritable.output.find("--preview"), std::string::npos) << unwritable.output;
  fs::create_directories(dir / "locked");
  fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  if (::access((dir / "locked").c_str(), W_OK) != 0) {  // root may write anywhere: then there is nothing to test
    auto failed = run_sdxl(common + " --preview " + quoted(dir / "locked/p.png") + " -o " + quoted(dir / "c.png"));
    EXPECT_EQ(failed.exit_code, 2) << failed.output;
  }
}

TEST(CliGenerate, LcmWithAGuidanceEmbeddingUnetSaysTheNegativeIsUnused) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-lcm") +
                    " --sampler lcm --steps 2 --guidance 8 -p cat -n blurry -W 64 -H 64 --seed 1 -o " + quoted(dir / "x.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("negative prompt is not used"), std::string::npos) << r.output;
  auto too_many = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-lcm") +
                           " --sampler lcm --steps 60 -p cat -W 64 -H 64 --seed 1 -o " + quoted(dir / "y.png"));
  EXPECT_EQ(too_many.exit_code, 2) << too_many.output;
  EXPECT_NE(too_many.output.find("LCM takes 1 to 50 steps"), std::string::npos) << too_many.output;
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// Single-file checkpoints through the CLI (-m FILE --config DIR; --refiner FILE --refiner-config DIR).
TEST(CliGenerate, SingleFileCheckpoints) {
  SDXL_REQUIRE_REFERENCE();
  size_t seen = 0;
  for (const char* kind : {"single_file", "single_file_refiner"})
    for (const auto& c : test::cases_of_kind(kind)) {
      SCOPED_TRACE(c["name"].get<std::string>());
      const auto& p = c["params"];
      const auto ref = test::reference_dir();
      nlohmann::json args = p;
      std::string extra = " --config " + quoted(ref / p["architecture_config"].get<std::string>());
      if (p.contains("refiner_single_file")) {
        args["seed"] = p["base_seed"];
        extra += " --refiner " + quoted(ref / p["refiner_single_file"].get<std::string>()) + " --refiner-config " +
                 quoted(ref / p["refiner_architecture_config"].get<std::string>()) + " --high-noise-frac " +
                 std::to_string(p["denoising_end"].get<double>()) + " --refiner-seed " +
                 std::to_string(p["refiner_seed"].get<uint64_t>());
      }
      test::TempDir dir;
      auto r = run_sdxl("generate -m " + quoted(ref / p["single_file"].get<std::string>()) + extra + cli_args(args) +
                        " -o " + quoted(dir / "out.png"));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      test::CaseFile file(c);
      const Tensor want = file["image"];
      const io::Image8 image = io::read_png(dir / "out.png");
      ASSERT_EQ(static_cast<int64_t>(image.pixels.size()), want.numel());
      EXPECT_LE(worst_level(want.data<float>(), image), 1);
      ++seen;
    }
  EXPECT_GE(seen, 2u);
}

}  // namespace
}  // namespace sdxl

#include "io/file_hash.h"
#include "random_tensor.h"

namespace sdxl {
namespace {

std::string infotext(const fs::path& png) {
  auto text = io::read_png_text(png);
  return text.empty() ? "" : text[0].second;
}

// LoRA cases through the CLI (--lora FILE:SCALE, in order), their hashes in the infotext, and a
// <lora:NAME:W> tag with --lora-dir giving the same image as --lora.
TEST(CliGenerate, LorasAndTheirHashes) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  size_t seen = 0;
  for (const auto& c : test::cases_of_kind("lora")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::string loras, hashes;
    for (const auto& l : c["params"]["loras"]) {
      const fs::path file = ref / l["file"].get<std::string>();
      loras += " --lora " + quoted(fs::path(file.string() + ":" + std::to_string(l["lora_scale"].get<double>())));
      hashes += (hashes.empty() ? "" : ", ") + file.stem().string() + ": " +
                io::file_sha256(file, io::FileHashKind::SafetensorsData, {}).substr(0, 12);
    }
    test::TempDir dir;
    auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + loras + cli_args(c["params"]) + " -o " + quoted(dir / "out.png"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const Tensor want = test::CaseFile(c)["image"];
    EXPECT_LE(worst_level(want.data<float>(), io::read_png(dir / "out.png")), 1);
    EXPECT_NE(infotext(dir / "out.png").find(", Lora hashes: \"" + hashes + "\", Version: "), std::string::npos)
        << infotext(dir / "out.png");
    ++seen;
  }
  EXPECT_GE(seen, 3u);

  const nlohmann::json c = test::cases_of_kind("lora").at(0);
  const fs::path file = ref / c["params"]["loras"][0]["file"].get<std::string>();
  nlohmann::json tagged = c["params"];
  tagged["prompt"] = tagged["prompt"].get<std::string>() + " <lora:" + file.stem().string() + ":1>";
  test::TempDir dir;
  auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + " --lora-dir " + quoted(file.parent_path()) +
                    cli_args(tagged) + " -o " + quoted(dir / "tag.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LE(worst_level(test::CaseFile(c)["image"].data<float>(), io::read_png(dir / "tag.png")), 1);
  EXPECT_NE(infotext(dir / "tag.png").find("<lora:" + file.stem().string() + ":1>"), std::string::npos);  // the prompt as written

  r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + " -p 'a <lora:nowhere:1>' -W 64 -H 64 --steps 1 --lora-dir " +
               quoted(file.parent_path()) + " -o " + quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no nowhere.safetensors"), std::string::npos) << r.output;
  r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + " -p 'a <lora:x:1>' -W 64 -H 64 --steps 1 -o " + quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--lora-dir"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.png"));
}

// A single-file model's infotext: "Model hash" (AutoV2: 10 digits of the file's SHA-256) and
// "Model" (its stem), and with --vae FILE "VAE hash" and "VAE", in AUTOMATIC1111's order.
TEST(CliGenerate, ModelAndVaeHashesInTheInfotext) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  const fs::path model = ref / "models/single-file/tiny-sdxl-base.safetensors";
  test::TempDir dir;
  auto r = run_sdxl("generate -m " + quoted(model) + " --config " + quoted(ref / "models/tiny-sdxl-base") + " --vae " +
                    quoted(model) + " -p x -W 64 -H 64 --steps 1 --seed 1 -o " + quoted(dir / "out.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;  // a whole checkpoint is not a VAE
  EXPECT_NE(r.output.find("whole checkpoint"), std::string::npos) << r.output;
  const fs::path vae = ref / "models/tiny-sdxl-base/vae/diffusion_pytorch_model.safetensors";
  r = run_sdxl("generate -m " + quoted(model) + " --config " + quoted(ref / "models/tiny-sdxl-base") + " --vae " + quoted(vae) +
               " -p x -W 64 -H 64 --steps 1 --seed 1 -o " + quoted(dir / "out.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string want = "Size: 64x64, Model hash: " + io::file_sha256(model, io::FileHashKind::WholeFile, {}).substr(0, 10) +
                           ", Model: tiny-sdxl-base, VAE hash: " +
                           io::file_sha256(vae, io::FileHashKind::WholeFile, {}).substr(0, 10) + ", VAE: diffusion_pytorch_model,";
  EXPECT_NE(infotext(dir / "out.png").find(want), std::string::npos) << infotext(dir / "out.png") << "\nwant: " << want;
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// LCM-LoRA as its README command runs it (--lora FILE --sampler lcm --steps 4 --guidance 1). The
// real lcm-lora-sdxl names every UNet layer kohya-style with diffusers' block names (convolutions,
// time and add embeddings too); this one has the same layout with zero `up` weights, so the image
// must be the plain UNet's LCM sampling (the lcm_lora_style golden case); random ones change it.
TEST(CliGenerate, LcmLoraCommand) {
  SDXL_REQUIRE_REFERENCE();
  nlohmann::json c;
  for (const auto& x : test::cases_of_kind("lcm_txt2img"))
    if (x["name"] == "lcm_lora_style_t2i_4step") c = x;
  ASSERT_FALSE(c.is_null());
  const auto unet = io::SafetensorsFile::open(test::model_dir(c) / "unet/diffusion_pytorch_model.safetensors");
  test::TempDir dir;
  for (const bool zero : {true, false}) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    uint32_t seed = 1;
    for (const auto& r : unet->records()) {
      const size_t dot = r.name.rfind(".weight");
      if (dot == std::string::npos || dot + 7 != r.name.size() || r.shape.rank() < 2) continue;
      std::string key = "lora_unet_" + r.name.substr(0, dot);
      std::replace(key.begin(), key.end(), '.', '_');
      Shape down = r.shape, up = r.shape.rank() == 4 ? Shape{r.shape[0], 2, 1, 1} : Shape{r.shape[0], 2};
      down[0] = 2;
      const Tensor dt = test::random_tensor(down, seed++, -0.05f, 0.05f);
      const Tensor random_up = test::random_tensor(up, seed++, -0.05f, 0.05f);
      const Tensor ut = zero ? Tensor::zeros(up, DType::F32) : random_up;
      tensors.emplace_back(key + ".lora_down.weight", dt.to(DType::F16));
      tensors.emplace_back(key + ".lora_up.weight", ut.to(DType::F16));
    }
    const fs::path lora = dir / (zero ? "lcm-zero.safetensors" : "lcm-random.safetensors");
    io::write_safetensors(lora, tensors);
    const fs::path out = dir / (zero ? "zero.png" : "random.png");
    auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + " --lora " + quoted(lora) + " --sampler lcm --steps 4 --guidance 1" +
                      " -p " + shell_quote(c["params"]["prompt"]) + " -W 64 -H 64 --seed " +
                      std::to_string(c["params"]["seed"].get<uint64_t>()) + " -o " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const int worst = worst_level(test::CaseFile(c)["image"].data<float>(), io::read_png(out));
    if (zero) EXPECT_LE(worst, 1);
    else EXPECT_GT(worst, 1);
  }
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// #23 item 10: a symlink loop in --embedding-dir is one skipped entry (with a warning), not a
// failure of every AUTOMATIC1111-syntax prompt.
TEST(CliGenerate, ASymlinkLoopInTheEmbeddingFolderIsSkipped) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  fs::create_directories(dir / "embeddings");
  fs::create_symlink(dir / "embeddings/loop.safetensors", dir / "embeddings/loop.safetensors");
  auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                    " --prompt-syntax a1111 --embedding-dir " + quoted(dir / "embeddings") +
                    " -p 'a (cat:1.1)' -W 64 -H 64 --steps 1 -o " + quoted(dir / "x.png"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("loop.safetensors: skipped"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sdxl
