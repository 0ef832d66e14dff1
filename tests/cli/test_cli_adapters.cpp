// T2I-Adapters and IP-Adapters through the CLI: every golden case of both kinds (the images written
// as 8-bit PNGs, exact since the cases' values are k/255), and the errors a user can make.
#include <gtest/gtest.h>

#include <cmath>

#include "cli/cli_runner.h"
#include "cli/tensor_png.h"
#include "cli/golden_cli_case.h"
#include "golden_cases.h"
#include "io/png.h"

namespace sdxl {
namespace {

using test::model_keys;
using test::model_path;

using test::sampler_of;
std::string number(double v) { return test::number_arg(v); }

std::string common_args(const nlohmann::json& c) {
  const auto& p = c["params"];
  std::string args = "generate -m " + quoted(model_path(model_keys(c)[0])) + " -p '" + p["prompt"].get<std::string>() + "'";
  if (p.contains("negative_prompt")) args += " -n '" + p["negative_prompt"].get<std::string>() + "'";
  return args + " --steps " + std::to_string(p["num_inference_steps"].get<int>()) + " --guidance " +
         number(p["guidance_scale"].get<double>()) + " --sampler " + sampler_of(p["scheduler"]) + " --seed " +
         std::to_string(p["seed"].get<int>()) + " -W " + std::to_string(p["width"].get<int>()) + " -H " +
         std::to_string(p["height"].get<int>());
}

// Runs the case's command line and compares its latents and PNG with the case's.
void expect_case_matches(const nlohmann::json& c, const std::string& args, const fs::path& dir) {
  const auto r = run_sdxl(args + " -o " + quoted(dir / "out.png") + " --output-latents " + quoted(dir / "l.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  test::expect_cli_outputs_match(c, dir);
}

TEST(CliT2IAdapter, EveryGoldenCaseMatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("t2i_adapter_txt2img");
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    test::TempDir dir;
    const auto& p = c["params"];
    write_tensor_png(dir.path() / "adapter.png", test::RawCaseFile(c)["adapter_image"]);
    const std::string args = common_args(c) + " --t2i-adapter " + quoted(model_path(model_keys(c)[1])) +
                             " --adapter-image " + quoted(dir.path() / "adapter.png") + " --adapter-scale " +
                             number(p["adapter_conditioning_scale"].get<double>()) + " --adapter-factor " +
                             number(p["adapter_conditioning_factor"].get<double>());
    expect_case_matches(c, args, dir.path());
    const std::string text = io::read_png_text(dir.path() / "out.png").at(0).second;
    EXPECT_NE(text.find("ControlNet 0: \"Module: none, Model: tiny-t2i-adapter-xl"), std::string::npos) << text;
  }
}

// The run fails, says `expected`, and writes nothing.
void expect_refused(const std::string& args, const std::string& expected, const fs::path& output) {
  SCOPED_TRACE(args);
  const auto r = run_sdxl(args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(output));
}

TEST(CliT2IAdapter, MistakesAreNamed) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const auto c = test::cases_of_kind("t2i_adapter_txt2img").front();
  write_tensor_png(dir.path() / "adapter.png", test::RawCaseFile(c)["adapter_image"]);
  const std::string base = "generate -m " + quoted(model_path("tiny-sdxl-base")) + " -p cat --steps 2 -W 64 -H 64 -o " +
                           quoted(dir.path() / "out.png");
  const std::string adapter = quoted(model_path("tiny-t2i-adapter-xl"));
  const struct {
    std::string args, expected;
  } cases[] = {
      {" --t2i-adapter " + adapter, "--t2i-adapter and --adapter-image come in pairs"},
      {" --adapter-scale 0.5", "--adapter-scale / --adapter-factor given without --t2i-adapter"},
      {" --t2i-adapter " + adapter + " --adapter-image " + quoted(dir.path() / "adapter.png") + " --adapter-factor 0",
       "--adapter-factor"},
      // A ControlNet given as an adapter: named.
      {" --t2i-adapter " + quoted(model_path("tiny-sdxl-controlnet")) + " --adapter-image " + quoted(dir.path() / "adapter.png"),
       "--t2i-adapter (adapter 0)"},
      // An adapter given as a ControlNet: named.
      {" --controlnet " + adapter + " --control-image " + quoted(dir.path() / "adapter.png"), "is a T2I-Adapter"},
      // An image that does not decode.
      {" --t2i-adapter " + adapter + " --adapter-image " + quoted(model_path("tiny-t2i-adapter-xl") / "config.json"),
       "config.json"},
      // Not a multiple of 16.
      {" --t2i-adapter " + adapter + " --adapter-image " + quoted(dir.path() / "adapter.png") + " -W 72",
       "not a multiple of the adapter's 16"},
  };
  for (const auto& k : cases) expect_refused(base + k.args, k.expected, dir.path() / "out.png");
}

TEST(CliIpAdapter, EveryGoldenCaseMatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("ip_adapter_txt2img");
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    test::TempDir dir;
    const auto& p = c["params"];
    const fs::path ref = test::reference_dir();
    const std::string args = common_args(c) + " --ip-adapter " + quoted(ref / p["ip_adapter_file"].get<std::string>()) +
                             " --image-encoder " + quoted(ref / p["image_encoder"].get<std::string>()) +
                             " --ip-adapter-image " + quoted(ref / p["ip_adapter_image"].get<std::string>()) +
                             " --ip-adapter-scale " + number(p["ip_adapter_scale"].get<double>());
    expect_case_matches(c, args, dir.path());
    const std::string text = io::read_png_text(dir.path() / "out.png").at(0).second;
    EXPECT_NE(text.find("IP-Adapter: \"Model: tiny-ip-adapter"), std::string::npos) << text;
    EXPECT_NE(text.find("Image Encoder: tiny-clip-vision ["), std::string::npos) << text;
  }
}

TEST(CliIpAdapter, MistakesAreNamed) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path ref = test::reference_dir();
  const std::string base = "generate -m " + quoted(model_path("tiny-sdxl-base")) + " -p cat --steps 2 -W 64 -H 64 -o " +
                           quoted(dir.path() / "out.png");
  const std::string plain = quoted(ref / "models/ip-adapter/tiny-ip-adapter_sdxl.safetensors");
  const std::string encoder = quoted(model_path("tiny-clip-vision"));
  const std::string image = quoted(ref / test::cases_of_kind("ip_adapter_txt2img").front()["params"]["ip_adapter_image"].get<std::string>());
  const struct {
    std::string args, expected;
  } cases[] = {
      {" --ip-adapter " + plain + " --ip-adapter-image " + image, "--ip-adapter needs --image-encoder"},
      {" --ip-adapter " + plain + " --image-encoder " + encoder, "--ip-adapter needs --ip-adapter-image"},
      {" --ip-adapter-scale 0.5", "given without --ip-adapter"},
      // An image that does not decode: named.
      {" --ip-adapter " + plain + " --image-encoder " + encoder + " --ip-adapter-image " + quoted(model_path("tiny-clip-vision") / "config.json"),
       "config.json"},
      // A ControlNet as the adapter, a UNet as the encoder: named.
      {" --ip-adapter " + quoted(model_path("tiny-sdxl-controlnet-single-fp16")) + " --image-encoder " + encoder +
           " --ip-adapter-image " + image,
       "--ip-adapter: "},
      {" --ip-adapter " + plain + " --image-encoder " + quoted(model_path("tiny-sdxl-base") / "unet") + " --ip-adapter-image " + image,
       "--image-encoder: "},
      {" --ip-adapter " + quoted(ref / "no-such.safetensors") + " --image-encoder " + encoder + " --ip-adapter-image " + image,
       "no such file"},
  };
  for (const auto& k : cases) expect_refused(base + k.args, k.expected, dir.path() / "out.png");
}

}  // namespace
}  // namespace sdxl
