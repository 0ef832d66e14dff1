// T2I-Adapter and IP-Adapter units through AUTOMATIC1111's ControlNet extension API as webuiapi's
// ControlNetUnit sends them (the adapter files in --controlnet-dir, the image encoders in
// --image-encoder-dir), each the CLI's image for the same settings, and 422s naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_runner.h"
#include "cli/tensor_png.h"
#include "golden_cases.h"
#include "io/png.h"
#include "server/server_requests.h"
#include "server/shared_server.h"
#include "test_support.h"

namespace sdxl {
namespace {

fs::path tiny() { return test::reference_dir() / "models/tiny-sdxl-base"; }

fs::path scratch() { return fs::temp_directory_path() / ("sdxl-adapters-" + std::to_string(::getpid())); }

// --controlnet-dir with the tiny T2I-Adapter folder and both IP-Adapter files;
// --image-encoder-dir with the tiny encoder as clip_g (a folder) and as clip_h (one file).
const fs::path& model_dirs() {
  static const fs::path dir = [] {
    const fs::path d = scratch();
    fs::remove_all(d);
    fs::create_directories(d / "controlnet");
    fs::create_directories(d / "encoders/clip_g");
    const fs::path ref = test::reference_dir() / "models";
    fs::copy(ref / "tiny-t2i-adapter-xl", d / "controlnet/tiny-t2i-adapter-xl", fs::copy_options::recursive);
    fs::copy_file(ref / "ip-adapter/tiny-ip-adapter_sdxl.safetensors", d / "controlnet/tiny-ip-adapter_sdxl.safetensors");
    fs::copy_file(ref / "ip-adapter/tiny-ip-adapter-plus_sdxl.safetensors",
                  d / "controlnet/tiny-ip-adapter-plus_sdxl_vit-h.safetensors");
    fs::copy(ref / "tiny-clip-vision", d / "encoders/clip_g", fs::copy_options::recursive);
    fs::copy_file(ref / "tiny-clip-vision/model.safetensors", d / "encoders/clip_h.safetensors");
    return d;
  }();
  return dir;
}

class AdapterServer : public test::SharedServer<AdapterServer> {
 public:
  static std::vector<std::string> server_args() {
    return {"-m", tiny().string(), "--controlnet-dir", (model_dirs() / "controlnet").string(), "--image-encoder-dir",
            (model_dirs() / "encoders").string()};
  }
  static void TearDownTestSuite() {
    test::SharedServer<AdapterServer>::TearDownTestSuite();
    fs::remove_all(scratch());
  }
};

std::string b64_of(const fs::path& file) {
  const std::string bytes = test::read_file(file);
  return base64_encode_simple(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

fs::path adapter_png() {
  static const fs::path png = [] {
    const fs::path p = scratch().string() + "-adapter.png";
    write_tensor_png(p, test::RawCaseFile(test::cases_of_kind("t2i_adapter_txt2img").front())["adapter_image"]);
    return p;
  }();
  return png;
}

fs::path ip_png() {
  return test::reference_dir() /
         test::cases_of_kind("ip_adapter_txt2img").front()["params"]["ip_adapter_image"].get<std::string>();
}

// What webuiapi.ControlNetUnit(...).to_dict() sends (with enabled, as its current version does).
json webuiapi_unit(const std::string& module, const std::string& model, const std::string& image, double weight) {
  return {{"input_image", image}, {"mask", nullptr},         {"module", module},        {"model", model},
          {"weight", weight},     {"resize_mode", "Crop and Resize"}, {"lowvram", false}, {"processor_res", 512},
          {"threshold_a", 64},    {"threshold_b", 64},       {"guidance", 1.0},         {"guidance_start", 0.0},
          {"guidance_end", 1.0},  {"control_mode", 0},       {"pixel_perfect", false},  {"enabled", true}};
}

json txt2img(const json& units) {
  return {{"prompt", "a red house"}, {"steps", 3},  {"width", 64},    {"height", 64}, {"seed", 42}, {"cfg_scale", 5.0},
          {"sampler_name", "Euler"}, {"alwayson_scripts", {{"controlnet", {{"args", units}}}}}};
}

std::string cli_base() {
  return "generate -m " + quoted(tiny()) + " -p 'a red house' --prompt-syntax a1111 --steps 3 -W 64 -H 64 --seed 42 --guidance 5";
}

TEST_F(AdapterServer, ListsTheAdaptersAndModules) {
  const json models = get(*server_, "/controlnet/model_list")["model_list"];
  ASSERT_EQ(models.size(), 3u) << models.dump();
  const json modules = get(*server_, "/controlnet/module_list")["module_list"];
  EXPECT_NE(std::find(modules.begin(), modules.end(), "ip-adapter_clip_sdxl"), modules.end()) << modules.dump();
}

TEST_F(AdapterServer, T2IAdapterUnitEqualsTheCli) {
  int status = 0;
  const json reply = post(*server_, "/sdapi/v1/txt2img",
                          txt2img(json::array({webuiapi_unit("none", "tiny-t2i-adapter-xl", b64_of(adapter_png()), 0.8)})), &status);
  ASSERT_EQ(status, 200) << reply.dump();
  test::TempDir dir;
  const auto cli = run_sdxl(cli_base() + " --t2i-adapter " + quoted(model_dirs() / "controlnet/tiny-t2i-adapter-xl") +
                            " --adapter-image " + quoted(adapter_png()) + " --adapter-scale 0.8 -o " + quoted(dir / "cli.png"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(png_of(base64_decode_simple(reply["images"][0])).pixels, io::read_png(dir / "cli.png").pixels);
  const std::string info = json::parse(reply["info"].get<std::string>())["infotexts"][0];
  EXPECT_NE(info.find("ControlNet 0: \"Module: none, Model: tiny-t2i-adapter-xl ["), std::string::npos) << info;
  const json plain = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array()), &status);
  EXPECT_NE(plain["images"][0], reply["images"][0]);
}

TEST_F(AdapterServer, IpAdapterUnitsEqualTheCli) {
  // ip-adapter_clip_sdxl runs clip_g (a folder); the plus vit-h file with ip-adapter-auto runs clip_h (a file).
  const struct {
    const char* module;
    const char* model;
    const char* file;
    const char* encoder;
  } units[] = {{"ip-adapter_clip_sdxl", "tiny-ip-adapter_sdxl", "tiny-ip-adapter_sdxl.safetensors", "clip_g"},
               {"ip-adapter-auto", "tiny-ip-adapter-plus_sdxl_vit-h", "tiny-ip-adapter-plus_sdxl_vit-h.safetensors",
                "clip_h.safetensors"}};
  for (const auto& u : units) {
    SCOPED_TRACE(u.module);
    int status = 0;
    const json reply = post(*server_, "/sdapi/v1/txt2img", txt2img(json::array({webuiapi_unit(u.module, u.model, b64_of(ip_png()), 0.6)})),
                            &status);
    ASSERT_EQ(status, 200) << reply.dump();
    test::TempDir dir;
    const auto cli = run_sdxl(cli_base() + " --ip-adapter " + quoted(model_dirs() / "controlnet" / u.file) + " --image-encoder " +
                              quoted(model_dirs() / "encoders" / u.encoder) + " --ip-adapter-image " + quoted(ip_png()) +
                              " --ip-adapter-scale 0.6 -o " + quoted(dir / "cli.png"));
    ASSERT_EQ(cli.exit_code, 0) << cli.output;
    EXPECT_EQ(png_of(base64_decode_simple(reply["images"][0])).pixels, io::read_png(dir / "cli.png").pixels);
    const std::string info = json::parse(reply["info"].get<std::string>())["infotexts"][0];
    EXPECT_NE(info.find(std::string("IP-Adapter: \"Model: ") + u.model + " ["), std::string::npos) << info;
  }
}

// The jobs API: an ip_adapter and a T2I-Adapter unit, named inside the server's folders; the
// CLI's image for the same settings.
TEST_F(AdapterServer, JobsApiTakesBoth) {
  int status = 0;
  const json created =
      post(*server_, "/v1/jobs",
           {{"prompt", "a red house"}, {"width", 64}, {"height", 64}, {"num_inference_steps", 3}, {"seed", 9},
            {"ip_adapter", {{"model", "tiny-ip-adapter_sdxl"}, {"image_encoder", "clip_g"}, {"image", b64_of(ip_png())}, {"scale", 0.5}}},
            {"controlnets", {{{"model", "tiny-t2i-adapter-xl"}, {"image", b64_of(adapter_png())}, {"kind", "t2i_adapter"},
                              {"controlnet_conditioning_scale", 0.9}, {"control_guidance_end", 0.5}}}}},
           &status);
  ASSERT_EQ(status, 202) << created.dump();
  const std::string id = created["id"];
  json job;
  for (int i = 0; i < 600 && (job = get(*server_, "/v1/jobs/" + id))["status"] != "succeeded"; ++i) {
    ASSERT_NE(job["status"], "failed") << job.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto image = server_->client().Get(("/v1/jobs/" + id + "/images/0").c_str());
  ASSERT_TRUE(image);
  test::TempDir dir;
  const auto cli = run_sdxl("generate -m " + quoted(tiny()) + " -p 'a red house' --steps 3 -W 64 -H 64 --seed 9 --ip-adapter " +
                            quoted(model_dirs() / "controlnet/tiny-ip-adapter_sdxl.safetensors") + " --image-encoder " +
                            quoted(model_dirs() / "encoders/clip_g") + " --ip-adapter-image " + quoted(ip_png()) +
                            " --ip-adapter-scale 0.5 --t2i-adapter " + quoted(model_dirs() / "controlnet/tiny-t2i-adapter-xl") +
                            " --adapter-image " + quoted(adapter_png()) + " --adapter-scale 0.9 --adapter-factor 0.5 -o " +
                            quoted(dir / "cli.png"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(png_of(image->body).pixels, io::read_png(dir / "cli.png").pixels);
  // Names outside the folders, and an unknown member, are refused by field.
  post(*server_, "/v1/jobs", {{"prompt", "x"}, {"ip_adapter", {{"model", "tiny-ip-adapter_sdxl"}, {"image_encoder", "../encoders/clip_g"}, {"image", b64_of(ip_png())}}}}, &status);
  EXPECT_EQ(status, 422);
  const json bad = post(*server_, "/v1/jobs", {{"prompt", "x"}, {"ip_adapter", {{"model", "tiny-ip-adapter_sdxl"}, {"weight", 1}}}}, &status);
  EXPECT_EQ(status, 422);
  EXPECT_EQ(bad["field"], "ip_adapter.weight") << bad.dump();
}

TEST_F(AdapterServer, BadUnitsNameTheirField) {
  const std::string image = b64_of(ip_png());
  const std::string field = "alwayson_scripts.controlnet.args[0]";
  auto expect_422 = [&](const json& units, const std::string& name) {
    int status = 0;
    const json reply = post(*server_, "/sdapi/v1/txt2img", txt2img(units), &status);
    EXPECT_EQ(status, 422) << reply.dump();
    EXPECT_NE(reply.dump().find(name), std::string::npos) << reply.dump();
  };
  json masked = webuiapi_unit("ip-adapter_clip_sdxl", "tiny-ip-adapter_sdxl", image, 0.6);
  masked["mask"] = image;
  expect_422(json::array({masked}), field + ".mask");
  expect_422(json::array({webuiapi_unit("ip-adapter_clip_sdxl", "no-such-adapter", image, 0.6)}), field + ".model");
  expect_422(json::array({webuiapi_unit("ip-adapter_clip_sdxl", "tiny-ip-adapter_sdxl", image, 3.0)}), field + ".weight");
  expect_422(json::array({webuiapi_unit("ip-adapter_clip_sdxl", "tiny-ip-adapter_sdxl", image, 0.6),
                          webuiapi_unit("ip-adapter_clip_sdxl", "tiny-ip-adapter_sdxl", image, 0.6)}),
             "alwayson_scripts.controlnet.args[1].module");
  // An image that does not decode names its unit's field.
  expect_422(json::array({webuiapi_unit("ip-adapter_clip_sdxl", "tiny-ip-adapter_sdxl", "bm90IGFuIGltYWdl", 0.6)}),
             field + ".input_image");
  // An adapter as the model of an IP-Adapter module: the library's error, named.
  expect_422(json::array({webuiapi_unit("ip-adapter_clip_sdxl", "tiny-t2i-adapter-xl", image, 0.6)}),
             "IP-Adapter unit");
  EXPECT_EQ(get(*server_, "/controlnet/version")["version"], 3);  // still serving
}

}  // namespace
}  // namespace sdxl
