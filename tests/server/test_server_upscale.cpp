// The hires fix (enable_hr) and the extras API as webuiapi calls them: txt2img with hr_* fields
// gives the golden hires image and AUTOMATIC1111's Hires fields; extra-single-image with an ESRGAN
// model of --upscaler-dir (run in A1111's BGR order) gives the golden esrgan output; the lists;
// and 422s naming the field for what is not supported.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "golden_cases.h"
#include "io/png.h"
#include "server/server_requests.h"
#include "server/shared_server.h"
#include "test_support.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

fs::path tiny() { return test::reference_dir() / "models/tiny-sdxl-base"; }

class UpscaleServer : public test::SharedServer<UpscaleServer> {
 public:
  static std::vector<std::string> server_args() {
    return {"-m", tiny().string(), "--upscaler-dir", (test::reference_dir() / "models/esrgan").string()};
  }
};

std::string b64_of(const fs::path& file) {
  const std::string bytes = test::read_file(file);
  return base64_encode_simple(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

const nlohmann::json& hires_case(const std::string& name) {
  static const auto cases = test::cases_of_kind("hires_txt2img");
  for (const auto& c : cases)
    if (c["name"] == name) return c;
  throw std::runtime_error("no case " + name);
}

// webuiapi.txt2img(..., enable_hr=True, hr_scale, hr_upscaler, hr_second_pass_steps, denoising_strength).
json webuiapi_hires(const nlohmann::json& c) {
  const auto& p = c["params"];
  json body = {{"prompt", p["prompt"]},     {"negative_prompt", p["negative_prompt"].is_string() ? p["negative_prompt"] : json("")},
               {"steps", p["steps"]},       {"width", p["width"]},         {"height", p["height"]},
               {"seed", p["seed"]},         {"cfg_scale", p["guidance_scale"]}, {"sampler_name", "Euler"},
               {"enable_hr", true},         {"hr_scale", p["hr_scale"]},   {"hr_upscaler", p["hr_upscaler"]},
               {"hr_second_pass_steps", p["hr_second_pass_steps"]},         {"denoising_strength", p["denoising_strength"]},
               {"hr_resize_x", 0},          {"hr_resize_y", 0},            {"hr_sampler_name", ""}, {"hr_prompt", ""},
               {"hr_negative_prompt", ""},  {"batch_size", 1},             {"n_iter", 1}};
  return body;
}

TEST_F(UpscaleServer, EnableHrGivesTheGoldenHiresImage) {
  for (const char* name : {"hires_latent", "hires_lanczos", "hires_latent_nearest_exact"}) {
    SCOPED_TRACE(name);
    const auto& c = hires_case(name);
    int status = 0;
    const json reply = post(*server_, "/sdapi/v1/txt2img", webuiapi_hires(c), &status);
    ASSERT_EQ(status, 200) << reply.dump();
    const int apart = test::png_levels_apart(png_of(base64_decode_simple(reply["images"][0])).pixels, c);
    EXPECT_TRUE(apart >= 0 && apart <= 2) << apart;
    const std::string info = json::parse(reply["info"].get<std::string>())["infotexts"][0];
    EXPECT_NE(info.find("Size: 64x64"), std::string::npos) << info;
    EXPECT_NE(info.find("Hires upscale: 1.5"), std::string::npos) << info;
    EXPECT_NE(info.find(std::string("Hires upscaler: ") + c["params"]["hr_upscaler"].get<std::string>()), std::string::npos) << info;
    std::ostringstream strength;
    strength << c["params"]["denoising_strength"].get<double>();
    EXPECT_NE(info.find("Denoising strength: " + strength.str()), std::string::npos) << info;
  }
}

TEST_F(UpscaleServer, ExtrasUpscaleWithAModelAsAutomatic1111) {
  const auto cases = test::cases_of_kind("esrgan_upscale");
  const nlohmann::json* bgr = nullptr;
  for (const auto& c : cases)
    if (c["params"]["channel_order"] == "bgr") bgr = &c;
  ASSERT_NE(bgr, nullptr);
  const auto& p = (*bgr)["params"];
  const std::string model = fs::path(p["model_file"].get<std::string>()).stem().string();
  // webuiapi.extra_single_image(image, upscaler_1=..., upscaling_resize=4)
  const json body = {{"resize_mode", 0},           {"show_extras_results", true}, {"gfpgan_visibility", 0},
                     {"codeformer_visibility", 0}, {"codeformer_weight", 0},      {"upscaling_resize", 4},
                     {"upscaling_resize_w", 512},  {"upscaling_resize_h", 512},   {"upscaling_crop", true},
                     {"upscaler_1", model},        {"upscaler_2", "None"},        {"extras_upscaler_2_visibility", 0},
                     {"upscale_first", false},     {"image", b64_of(test::reference_dir() / p["input_png"].get<std::string>())}};
  int status = 0;
  const json reply = post(*server_, "/sdapi/v1/extra-single-image", body, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  const io::Image8 got = png_of(base64_decode_simple(reply["image"]));
  const io::Image8 want = io::read_png(test::reference_dir() / p["output_png"].get<std::string>());
  const int apart = test::png_levels_apart(got, want);
  EXPECT_TRUE(apart >= 0 && apart <= 1) << apart;
  EXPECT_NE(reply["html_info"].get<std::string>().find("Postprocess upscale by: 4.0, Postprocess upscaler: " + model),
            std::string::npos) << reply["html_info"];

  // Resize to a box with crop, a second upscaler blended in, two images in a batch.
  json batch = body;
  batch.erase("image");
  batch["resize_mode"] = 1;
  batch["upscaling_resize_w"] = 48;
  batch["upscaling_resize_h"] = 40;
  batch["upscaler_1"] = "Lanczos";
  batch["upscaler_2"] = "Nearest";
  batch["extras_upscaler_2_visibility"] = 0.5;
  const std::string image = b64_of(test::reference_dir() / p["input_png"].get<std::string>());
  batch["imageList"] = json::array({{{"data", image}, {"name", "a.png"}}, {{"data", image}, {"name", "b.png"}}});
  const json many = post(*server_, "/sdapi/v1/extra-batch-images", batch, &status);
  ASSERT_EQ(status, 200) << many.dump();
  ASSERT_EQ(many["images"].size(), 2u);
  const io::Image8 boxed = png_of(base64_decode_simple(many["images"][0]));
  EXPECT_EQ(boxed.width, 48);
  EXPECT_EQ(boxed.height, 40);
  EXPECT_EQ(many["images"][0], many["images"][1]);
  EXPECT_NE(many["html_info"].get<std::string>().find("Postprocess upscaler 2: Nearest"), std::string::npos) << many["html_info"];
}

TEST_F(UpscaleServer, ListsAndRefusals) {
  const json upscalers = get(*server_, "/sdapi/v1/upscalers");
  ASSERT_GE(upscalers.size(), 6u) << upscalers.dump();
  EXPECT_EQ(upscalers[0]["name"], "None");
  bool found = false;
  for (const auto& u : upscalers) found = found || u["name"] == "tiny-RealESRGAN_x2plus";
  EXPECT_TRUE(found) << upscalers.dump();
  EXPECT_EQ(get(*server_, "/sdapi/v1/latent-upscale-modes").size(), 6u);

  const std::string image = b64_of(test::reference_dir() / "cases/esrgan_x2_pth_rgb.input.png");
  const struct {
    json body;
    const char* route;
    const char* field;
  } bad[] = {{{{"image", image}, {"upscaler_1", "Lanczos"}, {"gfpgan_visibility", 0.5}}, "/sdapi/v1/extra-single-image", "gfpgan_visibility"},
             {{{"image", image}, {"upscaler_1", "4x-Missing"}}, "/sdapi/v1/extra-single-image", "upscaler_1"},
             {{{"image", "not base64!"}, {"upscaler_1", "Lanczos"}}, "/sdapi/v1/extra-single-image", "image"},
             {{{"prompt", "x"}, {"width", 64}, {"height", 64}, {"enable_hr", true}, {"hr_upscaler", "4x-Missing"}}, "/sdapi/v1/txt2img", "hr_upscaler"},
             {{{"prompt", "x"}, {"width", 64}, {"height", 64}, {"enable_hr", true}, {"hr_checkpoint_name", "other"}}, "/sdapi/v1/txt2img", "hr_checkpoint_name"},
             {{{"prompt", "x"}, {"width", 64}, {"height", 64}, {"enable_hr", true}, {"hr_scale", 100}}, "/sdapi/v1/txt2img", "hr_scale"}};
  for (const auto& b : bad) {
    SCOPED_TRACE(b.field);
    int status = 0;
    const json reply = post(*server_, b.route, b.body, &status);
    EXPECT_EQ(status, 422) << reply.dump();
    EXPECT_NE(reply.dump().find(b.field), std::string::npos) << reply.dump();
  }
}

// The jobs API's hires object: the golden hires image; an unknown member or upscaler is refused.
TEST_F(UpscaleServer, JobsApiHiresObject) {
  const auto& c = hires_case("hires_latent");
  const auto& p = c["params"];
  const json body = {{"prompt", p["prompt"]},
                     {"num_inference_steps", p["steps"]},
                     {"width", p["width"]},
                     {"height", p["height"]},
                     {"seed", p["seed"]},
                     {"guidance_scale", p["guidance_scale"]},
                     {"sampler", "euler"},
                     {"hires", {{"scale", p["hr_scale"]}, {"upscaler", "Latent"}, {"denoising_strength", p["denoising_strength"]}}}};
  int status = 0;
  const json created = post(*server_, "/v1/jobs", body, &status);
  ASSERT_EQ(status, 202) << created.dump();
  const std::string id = created["id"];
  json job;
  for (int i = 0; i < 600 && (job = get(*server_, "/v1/jobs/" + id))["status"] != "succeeded"; ++i) {
    ASSERT_NE(job["status"], "failed") << job.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto image = server_->client().Get(("/v1/jobs/" + id + "/images/0").c_str());
  ASSERT_TRUE(image);
  const int apart = test::png_levels_apart(png_of(image->body).pixels, c);
  EXPECT_TRUE(apart >= 0 && apart <= 2) << apart;
  json bad = body;
  bad["hires"]["weight"] = 1;
  EXPECT_NE(post(*server_, "/v1/jobs", bad, &status).dump().find("hires.weight"), std::string::npos);
  EXPECT_EQ(status, 422);
  bad = body;
  bad["hires"]["upscaler"] = "4x-Missing";
  EXPECT_NE(post(*server_, "/v1/jobs", bad, &status).dump().find("hires.upscaler"), std::string::npos);
  EXPECT_EQ(status, 422);
}

}  // namespace
}  // namespace sdxl
