// The AUTOMATIC1111 ControlNet extension's API as sdxl serves it: units in txt2img and img2img in
// the shapes webuiapi's ControlNetUnit sends, the same image as the CLI for the same settings, the
// extension's PNG text, /controlnet/* routes, the jobs API's units, and 422s naming the unit's field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_runner.h"
#include "golden_cases.h"
#include "io/png.h"
#include "server/server_requests.h"
#include "server/shared_server.h"
#include "test_support.h"

namespace sdxl {
namespace {

fs::path tiny() { return test::reference_dir() / "models/tiny-sdxl-base"; }

// --controlnet-dir: a copy of the tiny ControlNet folder and the single file, as users keep them.
const fs::path& controlnet_dir() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("sdxl-cn-dir-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    fs::copy(test::reference_dir() / "models/tiny-sdxl-controlnet", d / "tiny-sdxl-controlnet", fs::copy_options::recursive);
    fs::copy_file(test::reference_dir() / "models/controlnet-single-file/tiny-sdxl-controlnet.fp16.safetensors",
                  d / "tiny-cn-single.safetensors");
    return d;
  }();
  return dir;
}

std::string edges_b64() {
  const auto cases = test::cases_of_kind("canny");
  const std::string bytes = test::read_file(test::reference_dir() / cases.at(1)["files"]["input"].get<std::string>());
  return base64_encode_simple(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

class ControlNetServer : public test::SharedServer<ControlNetServer> {
 public:
  static std::vector<std::string> server_args() {
    return {"-m", tiny().string(), "--controlnet-dir", controlnet_dir().string()};
  }
  static void TearDownTestSuite() {
    test::SharedServer<ControlNetServer>::TearDownTestSuite();
    fs::remove_all(controlnet_dir());
  }
};

// What webuiapi.ControlNetUnit(...).to_dict() sends (with enabled, as its current version does).
json webuiapi_unit(const std::string& model, const std::string& image) {
  return {{"input_image", image}, {"mask", nullptr},       {"module", "canny"},      {"model", model},
          {"weight", 0.8},        {"resize_mode", "Resize and Fill"}, {"lowvram", false}, {"processor_res", 512},
          {"threshold_a", 64},    {"threshold_b", 128},   {"guidance", 1.0},         {"guidance_start", 0.0},
          {"guidance_end", 1.0},  {"control_mode", 0},     {"pixel_perfect", false},  {"enabled", true}};
}

json txt2img(const json& units) {
  return {{"prompt", "a red house"}, {"steps", 3},  {"width", 64},    {"height", 64}, {"seed", 42}, {"cfg_scale", 5.0},
          {"sampler_name", "Euler"}, {"alwayson_scripts", {{"controlnet", {{"args", units}}}}}};
}

TEST_F(ControlNetServer, RoutesListWhatTheServerHas) {
  EXPECT_EQ(get(*server_, "/controlnet/version")["version"], 3);
  const json models = get(*server_, "/controlnet/model_list")["model_list"];
  ASSERT_EQ(models.size(), 2u) << models.dump();
  EXPECT_EQ(models[0].get<std::string>().rfind("tiny-cn-single [", 0), 0u) << models.dump();
  EXPECT_EQ(models[1].get<std::string>().rfind("tiny-sdxl-controlnet [", 0), 0u) << models.dump();
  const json modules = get(*server_, "/controlnet/module_list");
  EXPECT_EQ(modules["module_list"], json::array({"none", "canny", "ip-adapter-auto", "ip-adapter_clip_g", "ip-adapter_clip_h",
                                                 "ip-adapter_clip_sdxl", "ip-adapter_clip_sdxl_plus_vith"}));
  EXPECT_EQ(modules["module_detail"]["canny"]["sliders"][1]["value"], 100);
  EXPECT_EQ(get(*server_, "/controlnet/settings")["control_net_unit_count"], 8);
  EXPECT_EQ(get(*server_, "/sdapi/v1/scripts")["txt2img"], json::array({"controlnet"}));
}

// A webuiapi unit gives the CLI's image for the same settings, and the extension's PNG text.
TEST_F(ControlNetServer, Txt2ImgUnitEqualsTheCli) {
  const json models = get(*server_, "/controlnet/model_list")["model_list"];
  const std::string title = models[1];
  int status = 0;
  const json reply = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array({webuiapi_unit(title, edges_b64())})), &status);
  ASSERT_EQ(status, 200) << reply.dump();
  test::TempDir dir;
  const auto cases = test::cases_of_kind("canny");
  const auto cli = run_sdxl("generate -m " + quoted(tiny()) + " -p 'a red house' --prompt-syntax a1111 --steps 3 -W 64 -H 64 "
                            "--seed 42 --guidance 5 --controlnet " + quoted(controlnet_dir() / "tiny-sdxl-controlnet") +
                            " --control-image " + quoted(test::reference_dir() / cases.at(1)["files"]["input"].get<std::string>()) +
                            " --control-preprocessor canny --canny-thresholds 64,128 --control-resolution 512 "
                            "--control-resize fill --control-scale 0.8 -o " + quoted(dir / "cli.png"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(png_of(base64_decode_simple(reply["images"][0])).pixels, io::read_png(dir / "cli.png").pixels);
  const std::string info = json::parse(reply["info"].get<std::string>())["infotexts"][0];
  EXPECT_NE(info.find("ControlNet 0: \"Module: canny, Model: " + title +
                      ", Weight: 0.8, Resize Mode: Resize and Fill, Processor Res: 512, Threshold A: 64.0, Threshold B: 128.0, "
                      "Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced\""),
            std::string::npos)
      << info;
  // A unit that does not say it is enabled is off (the extension's default): the plain image.
  json off = webuiapi_unit(title, edges_b64());
  off.erase("enabled");
  const json plain = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array({off})), &status);
  ASSERT_EQ(status, 200) << plain.dump();
  const json none = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array()), &status);
  EXPECT_EQ(plain["images"][0], none["images"][0]);
  EXPECT_NE(plain["images"][0], reply["images"][0]);
}

// The control modes change the image; "ControlNet is more important" differs from "My prompt...".
TEST_F(ControlNetServer, ControlModesAndWindow) {
  const std::string model = "tiny-sdxl-controlnet";  // the name alone, as the extension also takes it
  std::vector<std::string> images;
  for (const json& mode : {json(0), json("My prompt is more important"), json(2)}) {
    json unit = webuiapi_unit(model, edges_b64());
    unit["control_mode"] = mode;
    int status = 0;
    const json reply = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array({unit})), &status);
    ASSERT_EQ(status, 200) << reply.dump();
    images.push_back(reply["images"][0]);
  }
  EXPECT_NE(images[0], images[1]);
  EXPECT_NE(images[1], images[2]);
}

TEST_F(ControlNetServer, Img2ImgUnitWithoutImageTakesTheInitImage) {
  json body = txt2img(json::array({webuiapi_unit("tiny-sdxl-controlnet", "")}));
  body["init_images"] = json::array({edges_b64()});
  body["denoising_strength"] = 0.6;
  int status = 0;
  const json reply = post(*server_, "/sdapi/v1/img2img", body, &status);
  EXPECT_EQ(status, 200) << reply.dump();
}

// /controlnet/detect at the image's own resolution is the reference's OpenCV map.
TEST_F(ControlNetServer, DetectRunsThePreprocessor) {
  const auto cases = test::cases_of_kind("canny");
  const auto& p = cases.at(1)["params"];
  int status = 0;
  const json reply = post(*server_, "/controlnet/detect",
                          {{"controlnet_module", "canny"}, {"controlnet_input_images", {edges_b64()}},
                           {"controlnet_processor_res", 64}, {"controlnet_threshold_a", p["low_threshold"]},
                           {"controlnet_threshold_b", p["high_threshold"]}},
                          &status);
  ASSERT_EQ(status, 200) << reply.dump();
  const io::Image8 map = png_of(base64_decode_simple(reply["images"][0]));
  const io::Image8 want = io::read_png(test::reference_dir() / cases.at(1)["files"]["edges"].get<std::string>());
  ASSERT_EQ(map.width * map.height, want.width * want.height);
  for (int64_t i = 0; i < want.width * want.height; ++i)
    ASSERT_EQ(map.pixels[static_cast<size_t>(i * map.channels)], want.pixels[static_cast<size_t>(i * want.channels)]) << i;
  post(*server_, "/controlnet/detect", {{"controlnet_module", "depth_midas"}, {"controlnet_input_images", {edges_b64()}}}, &status);
  EXPECT_EQ(status, 422);
}

// The jobs API takes units in diffusers' names; its image equals the CLI's.
TEST_F(ControlNetServer, JobsApiUnits) {
  int status = 0;
  const json created = post(*server_, "/v1/jobs",
                            {{"prompt", "a red house"}, {"width", 64}, {"height", 64}, {"num_inference_steps", 3}, {"seed", 9},
                             {"controlnets", {{{"model", "tiny-sdxl-controlnet"}, {"image", edges_b64()},
                                               {"controlnet_conditioning_scale", 0.7}, {"control_guidance_end", 0.7}}}}},
                            &status);
  ASSERT_EQ(status, 202) << created.dump();
  const std::string id = created["id"];
  for (int i = 0; i < 600 && get(*server_, "/v1/jobs/" + id)["status"] != "succeeded"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto image = server_->client().Get(("/v1/jobs/" + id + "/images/0").c_str());
  ASSERT_TRUE(image);
  test::TempDir dir;
  const auto cases = test::cases_of_kind("canny");
  const auto cli = run_sdxl("generate -m " + quoted(tiny()) + " -p 'a red house' --steps 3 -W 64 -H 64 --seed 9 --controlnet " +
                            quoted(controlnet_dir() / "tiny-sdxl-controlnet") + " --control-image " +
                            quoted(test::reference_dir() / cases.at(1)["files"]["input"].get<std::string>()) +
                            " --control-scale 0.7 --control-end 0.7 -o " + quoted(dir / "cli.png"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(png_of(image->body).pixels, io::read_png(dir / "cli.png").pixels);
  post(*server_, "/v1/jobs", {{"prompt", "x"}, {"controlnets", {{{"model", "../etc"}, {"image", edges_b64()}}}}}, &status);
  EXPECT_EQ(status, 422);
}

// What the extension or sdxl refuses is a 422 naming the unit's field; the server keeps serving.
TEST_F(ControlNetServer, BadUnitsNameTheirField) {
  const std::string image = edges_b64();
  const auto expect_422 = [&](json unit, const std::string& field) {
    int status = 0;
    const json reply = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array({unit})), &status);
    EXPECT_EQ(status, 422) << field << ": " << reply.dump();
    EXPECT_EQ(reply.value("field", ""), "alwayson_scripts.controlnet.args[0]." + field) << reply.dump();
  };
  json unit = webuiapi_unit("tiny-sdxl-controlnet", image);
  unit["module"] = "depth_midas";
  expect_422(unit, "module");
  unit = webuiapi_unit("no-such-net", image);
  expect_422(unit, "model");
  unit = webuiapi_unit("tiny-sdxl-controlnet", image);
  unit["weight"] = 2.5;
  expect_422(unit, "weight");
  unit = webuiapi_unit("tiny-sdxl-controlnet", image);
  unit["guidance_start"] = 0.8;
  unit["guidance_end"] = 0.5;
  unit["guidance"] = 0.5;
  expect_422(unit, "guidance_start");
  unit = webuiapi_unit("tiny-sdxl-controlnet", "");
  expect_422(unit, "image");
  unit = webuiapi_unit("tiny-sdxl-controlnet", "/etc/passwd");
  expect_422(unit, "input_image");
  unit = webuiapi_unit("tiny-sdxl-controlnet", image);
  unit["advanced_weighting"] = json::array({1, 1});
  expect_422(unit, "advanced_weighting");
  EXPECT_EQ(get(*server_, "/controlnet/version")["version"], 3);
}

}  // namespace
}  // namespace sdxl
