// The HTTP server as clients see it: started as `sdxl serve` on a free loopback port, driven
// over HTTP. Images equal the CLI's for the same settings; every API family; errors answered as
// 4xx naming the field while the server keeps serving; the queue (full, cancel, interrupt,
// concurrent clients); auth.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_runner.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "server/server_process.h"
#include "server/server_requests.h"
#include "server/shared_server.h"
#include "test_support.h"

namespace sdxl {
namespace {

using nlohmann::json;
using test::ServerProcess;

fs::path tiny() { return test::reference_dir() / "models/tiny-sdxl-base"; }
fs::path loras() { return test::reference_dir() / "models/loras"; }

class Server : public test::SharedServer<Server> {
 public:
  static std::vector<std::string> server_args() {
    return {"-m", tiny().string(), "--lora-dir", loras().string(), "--max-body-mb", "1", "--styles-file",
            (fs::path(SDXL_SOURCE_DIR) / "tests/fixtures/styles.csv").string()};
  }
};

// AUTOMATIC1111's txt2img gives the CLI's image for the same settings (A1111 syntax, its
// sampler names, a <lora:...> tag) and its response shape.
TEST_F(Server, A1111Txt2ImgEqualsTheCli) {
  const json request = {{"prompt", "a (red:1.2) barn <lora:tiny-sdxl-base-kohya-attn:0.7>"},
                        {"negative_prompt", "fog"},
                        {"steps", 4},
                        {"width", 64},
                        {"height", 64},
                        {"seed", 1234},
                        {"cfg_scale", 6.5},
                        {"sampler_name", "DPM++ 2M Karras"}};
  int status = 0;
  const json reply = post(*server_, "/sdapi/v1/txt2img", request, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  ASSERT_EQ(reply["images"].size(), 1u);
  const json info = json::parse(reply["info"].get<std::string>());
  EXPECT_EQ(info["seed"], 1234);
  EXPECT_EQ(reply["parameters"]["steps"], 4);
  const std::string png = base64_decode_simple(reply["images"][0]);
  test::TempDir dir;
  auto cli = run_sdxl("generate -m " + quoted(tiny()) + " --lora-dir " + quoted(loras()) +
                      " --prompt-syntax a1111 -p 'a (red:1.2) barn <lora:tiny-sdxl-base-kohya-attn:0.7>' -n fog --steps 4" +
                      " -W 64 -H 64 --seed 1234 --guidance 6.5 --sampler 'DPM++ 2M' --karras -o " + quoted(dir / "cli.png"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(png_of(png).pixels, io::read_png(dir / "cli.png").pixels);
  const std::string infotext = info["infotexts"][0];
  EXPECT_NE(infotext.find("Sampler: DPM++ 2M Karras"), std::string::npos) << infotext;
  EXPECT_NE(infotext.find("Lora hashes: "), std::string::npos) << infotext;
  EXPECT_EQ(io::read_png_text(dir / "cli.png").at(0).second, infotext);  // the same parameters text
}

// AUTOMATIC1111 numbers seeds per image across batch_size and n_iter (seed + i): all_seeds and
// each infotext say so, and image i is the single image of its seed (webuiapi's "re-use seed").
TEST_F(Server, A1111BatchImagesCarryTheirOwnSeeds) {
  const json base = {{"prompt", "a kite"}, {"steps", 3}, {"width", 64}, {"height", 64}, {"sampler_name", "Euler a"}};
  json request = base;
  request.update({{"seed", 50}, {"batch_size", 2}, {"n_iter", 2}});
  int status = 0;
  const json reply = post(*server_, "/sdapi/v1/txt2img", request, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  ASSERT_EQ(reply["images"].size(), 4u);
  const json info = json::parse(reply["info"].get<std::string>());
  EXPECT_EQ(info["all_seeds"], json({50, 51, 52, 53}));
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(info["infotexts"][i].get<std::string>().find("Seed: " + std::to_string(50 + i) + ","), std::string::npos) << i;
  json alone = base;
  alone["seed"] = 53;
  const json single = post(*server_, "/sdapi/v1/txt2img", alone, &status);
  ASSERT_EQ(status, 200) << single.dump();
  const auto batch_pixels = png_of(base64_decode_simple(reply["images"][3])).pixels;
  const auto single_pixels = png_of(base64_decode_simple(single["images"][0])).pixels;
  ASSERT_EQ(batch_pixels.size(), single_pixels.size());
  int worst = 0;
  for (size_t k = 0; k < batch_pixels.size(); ++k) worst = std::max(worst, std::abs(int{batch_pixels[k]} - int{single_pixels[k]}));
  EXPECT_LE(worst, 1);
}

// webuiapi's txt2img body, every field as that client sends it by default: accepted, and the
// image is the plain request's (eta 1 is Euler a's own); DDIM takes the same eta as DDIM's.
json webuiapi_txt2img(const std::string& sampler) {
  return {{"enable_hr", false}, {"hr_scale", 2}, {"hr_upscaler", "Latent"}, {"hr_second_pass_steps", 0}, {"hr_resize_x", 0},
          {"hr_resize_y", 0}, {"hr_prompt", ""}, {"hr_negative_prompt", ""}, {"denoising_strength", 0.7},
          {"firstphase_width", 0}, {"firstphase_height", 0}, {"prompt", "a lamp"}, {"styles", json::array()}, {"seed", 21},
          {"subseed", -1}, {"subseed_strength", 0.0}, {"seed_resize_from_h", 0}, {"seed_resize_from_w", 0},
          {"sampler_name", sampler}, {"batch_size", 1}, {"n_iter", 1}, {"steps", 3}, {"cfg_scale", 7.0}, {"width", 64},
          {"height", 64}, {"restore_faces", false}, {"tiling", false}, {"do_not_save_samples", false},
          {"do_not_save_grid", false}, {"negative_prompt", ""}, {"eta", 1.0}, {"s_churn", 0}, {"s_tmax", 0}, {"s_tmin", 0},
          {"s_noise", 1}, {"override_settings", json::object()}, {"override_settings_restore_afterwards", true},
          {"script_args", json::array()}, {"script_name", nullptr}, {"send_images", true}, {"save_images", false},
          {"alwayson_scripts", json::object()}, {"sampler_index", sampler}};
}

TEST_F(Server, A1111FieldsAreHonouredOrRefused) {
  int status = 0;
  const json full = post(*server_, "/sdapi/v1/txt2img", webuiapi_txt2img("Euler a"), &status);
  ASSERT_EQ(status, 200) << full.dump();
  const json plain = post(*server_, "/sdapi/v1/txt2img",
                          {{"prompt", "a lamp"}, {"seed", 21}, {"sampler_name", "Euler a"}, {"steps", 3}, {"width", 64}, {"height", 64}});
  EXPECT_EQ(full["images"][0], plain["images"][0]);
  const json ddim = post(*server_, "/sdapi/v1/txt2img", webuiapi_txt2img("DDIM"), &status);
  ASSERT_EQ(status, 200) << ddim.dump();
  const std::string ddim_text = json::parse(ddim["info"].get<std::string>())["infotexts"][0];
  EXPECT_NE(ddim_text.find("Eta DDIM: 1.0,"), std::string::npos) << ddim_text;
  json half = webuiapi_txt2img("Euler a");
  half["eta"] = 0.5;
  const json halfway = post(*server_, "/sdapi/v1/txt2img", half, &status);
  ASSERT_EQ(status, 200) << halfway.dump();
  EXPECT_NE(json::parse(halfway["info"].get<std::string>())["infotexts"][0].get<std::string>().find("Eta: 0.5,"), std::string::npos);

  // Styles from --styles-file, merged into both prompts as AUTOMATIC1111 merges them.
  const json styles = get(*server_, "/sdapi/v1/prompt-styles");
  ASSERT_EQ(styles.size(), 3u) << styles.dump();
  EXPECT_EQ(styles[0]["name"], "cinematic");
  json styled = webuiapi_txt2img("Euler a");
  styled["styles"] = {"cinematic", "watercolor"};
  styled["negative_prompt"] = "blurry";
  const json with_styles = post(*server_, "/sdapi/v1/txt2img", styled, &status);
  ASSERT_EQ(status, 200) << with_styles.dump().substr(0, 300);
  const json sinfo = json::parse(with_styles["info"].get<std::string>());
  EXPECT_EQ(sinfo["prompt"], "cinematic still of a lamp, film grain, watercolor, soft");
  EXPECT_EQ(sinfo["negative_prompt"], "blurry, cartoon, drawing");
  EXPECT_EQ(sinfo["styles"], json({"cinematic", "watercolor"}));
  EXPECT_EQ(sinfo["infotexts"][0].get<std::string>().rfind("cinematic still of a lamp, film grain, watercolor, soft\n", 0), 0u);

  // A variation seed, as AUTOMATIC1111 numbers it.
  json varied = webuiapi_txt2img("Euler a");
  varied.update({{"subseed", 900}, {"subseed_strength", 0.3}, {"batch_size", 2}});
  const json variation = post(*server_, "/sdapi/v1/txt2img", varied, &status);
  ASSERT_EQ(status, 200) << variation.dump().substr(0, 300);
  const json vinfo = json::parse(variation["info"].get<std::string>());
  EXPECT_EQ(vinfo["all_seeds"], json({21, 21}));
  EXPECT_EQ(vinfo["all_subseeds"], json({900, 901}));
  EXPECT_NE(vinfo["infotexts"][1].get<std::string>().find("Variation seed: 901, Variation seed strength: 0.3"), std::string::npos);
  // Resize seed from: at the size made it changes nothing; from another size the noise is that
  // size's, centred (AUTOMATIC1111 keeps a composition across sizes with it), and the text says so.
  json same = webuiapi_txt2img("Euler a"), unresized = same, other = same;
  same.update({{"seed_resize_from_w", 64}, {"seed_resize_from_h", 64}});
  other.update({{"seed_resize_from_w", 96}, {"seed_resize_from_h", 48}});
  const json plain_out = post(*server_, "/sdapi/v1/txt2img", unresized, &status), same_out = post(*server_, "/sdapi/v1/txt2img", same, &status),
             other_out = post(*server_, "/sdapi/v1/txt2img", other, &status);
  ASSERT_EQ(status, 200) << other_out.dump().substr(0, 300);
  const auto pixels = [](const json& out) { return png_of(base64_decode_simple(out["images"][0])).pixels; };
  EXPECT_EQ(pixels(same_out), pixels(plain_out));
  EXPECT_NE(pixels(other_out), pixels(plain_out));
  EXPECT_NE(json::parse(other_out["info"].get<std::string>())["infotexts"][0].get<std::string>().find("Seed resize from: 96x48"),
            std::string::npos);

  // What sdxl cannot do is a 422 naming the field, never a silently different image.
  const std::vector<std::pair<json, std::string>> refused = {
      {{{"styles", {"no such style"}}}, "styles"},
      {{{"seed_resize_from_h", 4}, {"seed_resize_from_w", 64}}, "seed_resize_from_h"},
      {{{"sampler_name", "Euler"}, {"s_churn", 0.5}}, "s_churn"},
      {{{"s_noise", 0.9}}, "s_noise"},
      {{{"s_min_uncond", 0.2}}, "s_min_uncond"},
      {{{"sampler_name", "DPM2 a"}, {"eta", 0.5}}, "eta"},
      {{{"sampler_name", "DDPM"}, {"eta", 0.5}}, "eta"},
      // AUTOMATIC1111's algorithms of these names are not diffusers': no look-alike under their name.
      {{{"sampler_name", "DPM++ 3M SDE"}}, "sampler_name"},
      {{{"sampler_name", "DPM++ 2S a"}}, "sampler_name"},
      {{{"sampler_name", "DPM++ SDE"}}, "sampler_name"},
      {{{"disable_extra_networks", true}}, "disable_extra_networks"},
      {{{"script_name", "x/y/z plot"}}, "script_name"},
      {{{"alwayson_scripts", {{"ADetailer", {{"args", json::array()}}}}}}, "alwayson_scripts"},
      {{{"infotext", "a lamp\nSteps: 3"}}, "infotext"},
      {{{"override_settings", {{"sd_vae", "other.safetensors"}}}}, "override_settings.sd_vae"},
      {{{"override_settings", {{"samples_format", "gif"}}}}, "override_settings.samples_format"},
      {{{"override_settings", {{"jpeg_quality", 0}}}}, "override_settings.jpeg_quality"},
      {{{"override_settings", {{"eta_noise_seed_delta", 31337}}}}, "override_settings.eta_noise_seed_delta"},
      {{{"override_settings", {{"img2img_fix_steps", true}}}}, "override_settings.img2img_fix_steps"}};
  for (const auto& [change, field] : refused) {
    json body = webuiapi_txt2img("Euler a");
    body.update(change);
    const json answer = post(*server_, "/sdapi/v1/txt2img", body, &status);
    EXPECT_EQ(status, 422) << field << ": " << answer.dump();
    EXPECT_EQ(answer.value("field", ""), field) << answer.dump();
  }
  // diffusers' own samplers run under names of their own; PLMS is AUTOMATIC1111's algorithm too.
  for (const char* name : {"PLMS", "DPM++ 3M SDE (diffusers) Karras"}) {
    const json answer = post(*server_, "/sdapi/v1/txt2img", webuiapi_txt2img(name), &status);
    ASSERT_EQ(status, 200) << name << ": " << answer.dump().substr(0, 300);
    const std::string text = json::parse(answer["info"].get<std::string>())["infotexts"][0];
    EXPECT_NE(text.find(std::string("Sampler: ") + name), std::string::npos) << text;
  }
  // Outside the schema: ignored as AUTOMATIC1111 ignores it, and named.
  json typo = webuiapi_txt2img("Euler a");
  typo["cfg_scal"] = 3;
  auto c = server_->client();
  auto r = c.Post("/sdapi/v1/txt2img", typo.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Sdxl-Ignored-Fields"), "cfg_scal");
  r = c.Post("/sdapi/v1/txt2img", webuiapi_txt2img("Euler a").dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_header("X-Sdxl-Ignored-Fields"));

  // POST /options: the server's defaults only as they are; other settings refused.
  post(*server_, "/sdapi/v1/options", {{"CLIP_stop_at_last_layers", 1}, {"samples_format", "png"}}, &status);
  EXPECT_EQ(status, 200);
  const json clip = post(*server_, "/sdapi/v1/options", {{"CLIP_stop_at_last_layers", 2}}, &status);
  EXPECT_EQ(status, 422);
  EXPECT_EQ(clip.value("field", ""), "CLIP_stop_at_last_layers") << clip.dump();
}

TEST_F(Server, A1111Img2ImgAndPngInfo) {
  const json t2i = post(*server_, "/sdapi/v1/txt2img", {{"prompt", "a boat"}, {"steps", 2}, {"width", 64}, {"height", 64}, {"seed", 3}});
  ASSERT_TRUE(t2i.contains("images")) << t2i.dump();
  int status = 0;
  const json i2i = post(*server_, "/sdapi/v1/img2img",
                        {{"prompt", "a boat at night"}, {"init_images", {"data:image/png;base64," + t2i["images"][0].get<std::string>()}},
                         {"denoising_strength", 0.5}, {"steps", 4}, {"width", 64}, {"height", 64}, {"seed", 4}},
                        &status);
  ASSERT_EQ(status, 200) << i2i.dump();
  EXPECT_NE(json::parse(i2i["info"].get<std::string>())["infotexts"][0].get<std::string>().find("Denoising strength: 0.5"),
            std::string::npos);
  EXPECT_FALSE(i2i["parameters"].contains("init_images"));  // echoed only with include_init_images
  const json echoed = post(*server_, "/sdapi/v1/img2img",
                           {{"prompt", "x"}, {"init_images", {t2i["images"][0]}}, {"steps", 2}, {"width", 64}, {"height", 64},
                            {"include_init_images", true}},
                           &status);
  ASSERT_EQ(status, 200) << echoed.dump();
  EXPECT_EQ(echoed["parameters"]["init_images"], json({t2i["images"][0]}));
  const json info = post(*server_, "/sdapi/v1/png-info", {{"image", i2i["images"][0]}});
  EXPECT_NE(info["info"].get<std::string>().find("a boat at night"), std::string::npos) << info.dump();
  // png-info's parameters sent back to txt2img, as a client fills the fields from them, make the
  // image again (Clip skip in AUTOMATIC1111's numbering, the schedule in the sampler's name).
  const json made = post(*server_, "/sdapi/v1/txt2img",
                         {{"prompt", "a boat, (calm:1.2)"}, {"negative_prompt", "fog, rain"}, {"steps", 3}, {"width", 64}, {"height", 64},
                          {"seed", 11}, {"cfg_scale", 6.5}, {"sampler_name", "DPM++ 2M"}, {"scheduler", "Karras"},
                          {"override_settings", {{"CLIP_stop_at_last_layers", 2}}}},
                         &status);
  ASSERT_EQ(status, 200) << made.dump().substr(0, 300);
  const json p = post(*server_, "/sdapi/v1/png-info", {{"image", made["images"][0]}})["parameters"];
  const json again = post(*server_, "/sdapi/v1/txt2img",
                          {{"prompt", p["Prompt"]}, {"negative_prompt", p["Negative prompt"]},
                           {"steps", std::stoi(p["Steps"].get<std::string>())}, {"sampler_name", p["Sampler"]},
                           {"scheduler", p.value("Schedule type", "Automatic")}, {"cfg_scale", std::stod(p["CFG scale"].get<std::string>())},
                           {"seed", std::stoll(p["Seed"].get<std::string>())}, {"width", std::stoi(p["Size-1"].get<std::string>())},
                           {"height", std::stoi(p["Size-2"].get<std::string>())},
                           {"override_settings", {{"CLIP_stop_at_last_layers", std::stoi(p["Clip skip"].get<std::string>())}}}},
                          &status);
  ASSERT_EQ(status, 200) << p.dump() << again.dump().substr(0, 300);
  EXPECT_EQ(png_of(base64_decode_simple(again["images"][0])).pixels, png_of(base64_decode_simple(made["images"][0])).pixels) << p.dump();
  EXPECT_EQ(p["Clip skip"], "2");
  // samples_format jpg / webp: the images as AUTOMATIC1111's API encodes them (the parameters in
  // EXIF), which png-info reads back and img2img takes as its input.
  for (const auto& [format, magic] : {std::pair<std::string, std::string>{"jpg", "\xFF\xD8\xFF"}, {"webp", "RIFF"}}) {
    const json out = post(*server_, "/sdapi/v1/txt2img",
                          {{"prompt", "a boat, " + format}, {"steps", 2}, {"width", 64}, {"height", 64}, {"seed", 3},
                           {"override_settings", {{"samples_format", format}, {"jpeg_quality", 90}}}},
                          &status);
    ASSERT_EQ(status, 200) << out.dump().substr(0, 300);
    const std::string bytes = base64_decode_simple(out["images"][0]);
    EXPECT_EQ(bytes.compare(0, magic.size(), magic), 0) << format;
    const json read = post(*server_, "/sdapi/v1/png-info", {{"image", out["images"][0]}});
    EXPECT_EQ(read["info"], json::parse(out["info"].get<std::string>())["infotexts"][0]) << format;
    post(*server_, "/sdapi/v1/img2img",
         {{"prompt", "x"}, {"init_images", {out["images"][0]}}, {"steps", 2}, {"width", 64}, {"height", 64}}, &status);
    EXPECT_EQ(status, 200) << format << " as an init image";
  }
  post(*server_, "/sdapi/v1/options", {{"samples_format", "jpg"}}, &status);
  EXPECT_EQ(status, 422) << "the server's default format stays png";
  post(*server_, "/sdapi/v1/img2img", {{"prompt", "x"}, {"init_images", {"bm90IGFuIGltYWdl"}}}, &status);
  EXPECT_EQ(status, 422);
  // Inpainting as webuiapi asks for it, AUTOMATIC1111's defaults (a 4-pixel blur, "fill", only
  // the masked area): the image keeps its size, and outside the blurred mask its pixels.
  io::Image8 mask{96, 80, 1, std::vector<uint8_t>(96 * 80, 0)};
  for (int y = 30; y < 50; ++y)
    for (int x = 40; x < 64; ++x) mask.pixels[static_cast<size_t>(y * 96 + x)] = 255;
  const io::Image8 source = io::read_png(fs::path(SDXL_SOURCE_DIR) / "tests/fixtures/a1111_inpaint/whole-in-image.png");
  const auto b64 = [](const io::Image8& image) { return base64_encode_simple(io::encode_png(image)); };
  json inpaint = {{"prompt", "a boat"}, {"init_images", {b64(source)}}, {"mask", b64(mask)}, {"steps", 2},
                  {"width", 64}, {"height", 64}, {"seed", 4}, {"mask_blur_x", 4}, {"mask_blur_y", 4}, {"inpainting_fill", 0},
                  {"inpaint_full_res", true}, {"inpaint_full_res_padding", 0}, {"inpainting_mask_invert", 0},
                  {"initial_noise_multiplier", 1}, {"denoising_strength", 0.75}};
  const json painted = post(*server_, "/sdapi/v1/img2img", inpaint, &status);
  ASSERT_EQ(status, 200) << painted.dump().substr(0, 300);
  const io::Image8 out = png_of(base64_decode_simple(painted["images"][0]));
  ASSERT_EQ(out.width, 96);
  ASSERT_EQ(out.height, 80);
  int64_t same = 0, far = 0;
  for (int y = 0; y < 80; ++y)
    for (int x = 0; x < 96; ++x) {
      if (x > 25 && x < 79 && y > 15 && y < 65) continue;  // the mask and its blur
      ++far;
      same += std::equal(out.pixels.begin() + (y * 96 + x) * 3, out.pixels.begin() + (y * 96 + x) * 3 + 3,
                         source.pixels.begin() + (y * 96 + x) * 3);
    }
  EXPECT_EQ(same, far) << "pixels outside the mask changed";
  const std::string text = json::parse(painted["info"].get<std::string>())["infotexts"][0];
  EXPECT_NE(text.find("Mask blur: 4, Inpaint area: Only masked, Masked area padding: 0"), std::string::npos) << text;
  inpaint["resize_mode"] = 1;
  EXPECT_EQ(post(*server_, "/sdapi/v1/img2img", inpaint, &status).value("field", ""), "resize_mode");
}

TEST_F(Server, A1111Lists) {
  const json samplers = get(*server_, "/sdapi/v1/samplers");
  ASSERT_TRUE(samplers.is_array());
  bool euler_a = false;
  std::set<std::string> names;
  for (const auto& s : samplers) names.insert(s["name"].get<std::string>());
  for (const char* listed : {"Euler a", "DPM++ 2M", "PLMS", "DEIS", "DDPM", "DPM++ 3M SDE (diffusers)", "DPM++ 2S (diffusers)"})
    EXPECT_EQ(names.count(listed), 1u) << listed;
  EXPECT_EQ(names.count("DPM++ 3M SDE"), 0u) << "k-diffusion's algorithm of that name is not diffusers'";
  const json models = get(*server_, "/sdapi/v1/sd-models");
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["model_name"], "tiny-sdxl-base");
  EXPECT_EQ(get(*server_, "/sdapi/v1/options")["sd_model_checkpoint"], "tiny-sdxl-base");
  EXPECT_EQ(get(*server_, "/sdapi/v1/loras").size(), 3u);
  EXPECT_EQ(get(*server_, "/sdapi/v1/schedulers").size(), 2u);
  EXPECT_EQ(get(*server_, "/sdapi/v1/sd-vae"), json::array());
  // Without --upscaler-dir: the upscalers that need no model, and the latent modes.
  EXPECT_EQ(get(*server_, "/sdapi/v1/upscalers").size(), 3u);
  EXPECT_EQ(get(*server_, "/sdapi/v1/latent-upscale-modes").size(), 6u);
  EXPECT_GT(get(*server_, "/sdapi/v1/memory")["ram"]["total"].get<double>(), 0);
  EXPECT_EQ(get(*server_, "/sdapi/v1/embeddings"), json({{"loaded", json::object()}, {"skipped", json::object()}}));
  EXPECT_EQ(get(*server_, "/sdapi/v1/scripts"), json({{"txt2img", json::array({"controlnet"})}, {"img2img", json::array({"controlnet"})}}));
  const json flags = get(*server_, "/sdapi/v1/cmd-flags");
  EXPECT_EQ(flags["api"], true);
  EXPECT_EQ(flags["listen"], false);
  EXPECT_EQ(flags["lora_dir"], loras().string());
  const json progress = get(*server_, "/sdapi/v1/progress");
  EXPECT_TRUE(progress.contains("progress") && progress.contains("eta_relative") && progress["state"].contains("sampling_step"));
  int status = 0;
  for (const char* refresh : {"/sdapi/v1/refresh-loras", "/sdapi/v1/refresh-checkpoints", "/sdapi/v1/skip"}) {
    post(*server_, refresh, json::object(), &status);
    EXPECT_EQ(status, 200) << refresh;
  }
  EXPECT_EQ(get(*server_, "/sdapi/v1/loras").size(), 3u);
  EXPECT_EQ(get(*server_, "/sdapi/v1/sd-models").size(), 1u);
  // No CORS headers unless --cors-origin is given.
  auto c = server_->client();
  EXPECT_FALSE(c.Get("/sdapi/v1/samplers")->has_header("Access-Control-Allow-Origin"));
}

TEST_F(Server, OpenAiImages) {
  int status = 0;
  const json b64 = post(*server_, "/v1/images/generations", {{"prompt", "a cat"}, {"size", "64x64"}, {"n", 2}}, &status);
  ASSERT_EQ(status, 200) << b64.dump();
  ASSERT_EQ(b64["data"].size(), 2u);
  EXPECT_EQ(png_of(base64_decode_simple(b64["data"][0]["b64_json"])).width, 64);
  const json url = post(*server_, "/v1/images/generations", {{"prompt", "a cat"}, {"size", "64x64"}, {"response_format", "url"}});
  const std::string link = url["data"][0]["url"];
  auto c = server_->client();
  auto r = c.Get(link.substr(link.find("/v1/")).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(png_of(r->body).height, 64);
  const json bad = post(*server_, "/v1/images/generations", {{"prompt", "a cat"}, {"size", "big"}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad["error"]["param"], "size");
  const json too_big = post(*server_, "/v1/images/generations", {{"prompt", "a cat"}, {"size", "64x8192"}}, &status);
  EXPECT_EQ(status, 400);  // the library's bound, in OpenAI's words
  EXPECT_EQ(too_big["error"]["param"], "size") << too_big.dump();
  const json too_many = post(*server_, "/v1/images/generations", {{"prompt", "a cat"}, {"n", 11}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(too_many["error"]["param"], "n") << too_many.dump();
  // output_format and output_compression (a JPEG's or WebP's quality)
  const json jpeg = post(*server_, "/v1/images/generations",
                         {{"prompt", "a cat"}, {"size", "64x64"}, {"output_format", "jpeg"}, {"output_compression", 40}}, &status);
  ASSERT_EQ(status, 200) << jpeg.dump();
  EXPECT_EQ(base64_decode_simple(jpeg["data"][0]["b64_json"]).compare(0, 3, "\xFF\xD8\xFF"), 0);
  for (const json& wrong : {json{{"prompt", "a cat"}, {"output_format", "gif"}},
                            json{{"prompt", "a cat"}, {"output_format", "png"}, {"output_compression", 50}}}) {
    const json answer = post(*server_, "/v1/images/generations", wrong, &status);
    EXPECT_EQ(status, 400) << wrong.dump();
    EXPECT_TRUE(answer["error"]["param"] == "output_format" || answer["error"]["param"] == "output_compression") << answer.dump();
  }
  EXPECT_EQ(get(*server_, "/v1/models")["data"][0]["id"], "tiny-sdxl-base");
}

// The jobs API: 202 with an id, the events stream until done, the image by id, and the same
// image as the CLI for the same seed (diffusers' names and defaults).
TEST_F(Server, JobsApiAndEvents) {
  int status = 0;
  const json created = post(*server_, "/v1/jobs",
                            {{"prompt", "a lighthouse"}, {"width", 64}, {"height", 64}, {"num_inference_steps", 5}, {"seed", 77}},
                            &status);
  ASSERT_EQ(status, 202) << created.dump();
  const std::string id = created["id"];
  auto c = server_->client();
  std::string events;
  auto r = c.Get(("/v1/jobs/" + id + "/events").c_str(), [&](const char* data, size_t n) {
    events.append(data, n);
    return true;
  });
  ASSERT_TRUE(r);
  EXPECT_NE(events.find("event: done"), std::string::npos) << events;
  const json view = get(*server_, "/v1/jobs/" + id);
  EXPECT_EQ(view["status"], "succeeded");
  auto image = c.Get(("/v1/jobs/" + id + "/images/0").c_str());
  ASSERT_TRUE(image);
  test::TempDir dir;
  auto cli = run_sdxl("generate -m " + quoted(tiny()) + " -p 'a lighthouse' --steps 5 -W 64 -H 64 --seed 77 -o " + quoted(dir / "cli.png"));
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_EQ(png_of(image->body).pixels, io::read_png(dir / "cli.png").pixels);
  get(*server_, "/v1/jobs/ffff0000", &status);
  EXPECT_EQ(status, 404);
  const json webp = post(*server_, "/v1/jobs",
                         {{"prompt", "a lighthouse"}, {"width", 64}, {"height", 64}, {"num_inference_steps", 2}, {"output_format", "webp"},
                          {"output_lossless", true}},
                         &status);
  ASSERT_TRUE(status == 200 || status == 202) << webp.dump();
  const std::string webp_id = webp["id"];
  for (int i = 0; i < 600 && get(*server_, "/v1/jobs/" + webp_id)["status"] != "succeeded"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  image = c.Get(("/v1/jobs/" + webp_id + "/images/0").c_str());
  ASSERT_TRUE(image);
  EXPECT_EQ(image->get_header_value("Content-Type"), "image/webp");
}

// Bad requests are 4xx naming the field, and the server keeps serving.
TEST_F(Server, BadRequestsAreClearAndHarmless) {
  struct Case {
    const char* path;
    std::string body;
    int status;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"/sdapi/v1/txt2img", "{not json", 400, ""},
      {"/sdapi/v1/txt2img", "[1, 2]", 400, ""},
      {"/sdapi/v1/txt2img", R"({"steps": "many"})", 422, "steps"},
      {"/sdapi/v1/txt2img", R"({"width": 100000})", 422, "width"},
      {"/sdapi/v1/txt2img", R"({"sampler_name": "Nonsense"})", 422, "sampler_name"},
      {"/sdapi/v1/txt2img", R"({"override_settings": {"sd_model_checkpoint": "../../etc/passwd"}})", 404,
       "override_settings.sd_model_checkpoint"},
      {"/sdapi/v1/txt2img", R"({"prompt": "<lora:../../secret:1>", "width": 64, "height": 64})", 422, ""},
      {"/v1/jobs", R"({"prompt": "x", "loras": [{"name": "/etc/passwd"}]})", 404, "loras"},
      {"/v1/jobs", R"({"prompt": "x", "image": "%%%"})", 422, "image"},
      {"/v1/jobs", R"({"prompt": 5})", 422, "prompt"},
      // Bounds are the library's, its parameter named in each API's own words.
      {"/v1/jobs", R"({"prompt": "x", "num_inference_steps": 0})", 422, "num_inference_steps"},
      {"/v1/jobs", R"({"prompt": "x", "image": "iVBORw0KGgo=", "strength": 0.5})", 422, "image"},
      {"/v1/jobs", R"({"prompt": "x", "nonsense": 1})", 422, "nonsense"},
      {"/v1/jobs", R"({"prompt": "x", "eta": 0.5})", 422, "eta"},  // Euler takes no eta
      {"/sdapi/v1/txt2img", R"({"cfg_scale": 1000, "width": 64, "height": 64})", 422, "cfg_scale"},
      {"/sdapi/v1/txt2img", R"({"batch_size": 65, "width": 64, "height": 64})", 422, "batch_size"},
      {"/sdapi/v1/txt2img", R"({"width": 64, "height": 64, "scheduler": "Exponential"})", 422, "scheduler"},
      {"/sdapi/v1/options", R"({"sd_model_checkpoint": "nope"})", 404, "sd_model_checkpoint"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(std::string(k.path) + " " + k.body);
    auto c = server_->client();
    auto r = c.Post(k.path, k.body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, k.status) << r->body;
    const json body = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(body.contains("detail")) << r->body;
    if (*k.field) EXPECT_EQ(body.value("field", ""), k.field) << r->body;
  }
  auto c = server_->client();
  auto huge = c.Post("/sdapi/v1/txt2img", std::string(2u << 20, ' '), "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_TRUE(server_->alive());
  int status = 0;
  post(*server_, "/sdapi/v1/txt2img", {{"prompt", "still here"}, {"steps", 1}, {"width", 64}, {"height", 64}}, &status);
  EXPECT_EQ(status, 200);
}

// 8 clients x 4 requests at once: every one answered with its own seed's image.
TEST_F(Server, ConcurrentClientsAreAllAnswered) {
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      for (int k = 0; k < 4; ++k) {
        const int seed = 1000 + t * 10 + k;
        auto c = server_->client();
        auto r = c.Post("/sdapi/v1/txt2img",
                        json{{"prompt", "a tree"}, {"steps", 1}, {"width", 64}, {"height", 64}, {"seed", seed}}.dump(),
                        "application/json");
        if (!r || r->status != 200) continue;
        const json reply = json::parse(r->body);
        const std::string infotext = json::parse(reply["info"].get<std::string>())["infotexts"][0];
        if (infotext.find("Seed: " + std::to_string(seed) + ",") != std::string::npos) ++good;
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(good.load(), 32);
}

// A second server for the queue's edges: one slot, long jobs.
TEST(ServerQueue, FullCancelAndInterrupt) {
  SDXL_REQUIRE_REFERENCE();
  ServerProcess s({"-m", tiny().string(), "--queue-size", "1"});
  ASSERT_GT(s.port(), 0);
  const json slow = {{"prompt", "slow"}, {"width", 256}, {"height", 256}, {"num_inference_steps", 1000}, {"seed", 1}};
  int status = 0;
  const std::string running = post(s, "/v1/jobs", slow, &status)["id"];
  ASSERT_EQ(status, 202);
  for (int i = 0; i < 100 && get(s, "/v1/jobs/" + running)["status"] != "running"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string queued = post(s, "/v1/jobs", slow, &status)["id"];
  ASSERT_EQ(status, 202);
  EXPECT_EQ(get(s, "/v1/jobs/" + queued)["queue_position"], 1);
  auto c = s.client();
  auto full = c.Post("/v1/jobs", slow.dump(), "application/json");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 503);
  EXPECT_TRUE(full->has_header("Retry-After"));
  // Cancel the queued one, then the running one.
  auto cancelled = c.Delete(("/v1/jobs/" + queued).c_str());
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(get(s, "/v1/jobs/" + queued)["status"], "cancelled");
  c.Delete(("/v1/jobs/" + running).c_str());
  json view;
  for (int i = 0; i < 200; ++i) {
    view = get(s, "/v1/jobs/" + running);
    if (view["status"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(view["status"], "cancelled");
  // AUTOMATIC1111's interrupt stops a synchronous call, which answers with the image its latents
  // reached, and runs no further n_iter repeat; /progress meanwhile only goes forward.
  std::atomic<bool> watching{true};
  std::vector<double> seen;
  std::thread watcher([&] {
    while (watching) {
      const json p = get(s, "/sdapi/v1/progress");
      if (p["state"]["job_count"].get<int>() > 0) {
        seen.push_back(p["progress"].get<double>());
        EXPECT_EQ(p["state"]["job_count"], 2) << "n_iter";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::thread interrupter([&] {
    for (int i = 0; i < 200; ++i) {
      if (get(s, "/sdapi/v1/progress")["state"]["sampling_step"].get<int>() > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    post(s, "/sdapi/v1/interrupt", json::object());
  });
  const json interrupted = post(s, "/sdapi/v1/txt2img",
                                 {{"prompt", "slow"}, {"steps", 1000}, {"width", 256}, {"height", 256}, {"n_iter", 2}}, &status);
  interrupter.join();
  watching = false;
  watcher.join();
  EXPECT_EQ(status, 200);
  ASSERT_EQ(interrupted["images"].size(), 1u) << interrupted.dump().substr(0, 300);
  EXPECT_EQ(png_of(base64_decode_simple(interrupted["images"][0])).width, 256);
  EXPECT_FALSE(seen.empty());
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i], seen[i - 1]) << "progress went back at " << i;
  // The next job runs.
  post(s, "/sdapi/v1/txt2img", {{"prompt", "fast"}, {"steps", 1}, {"width", 64}, {"height", 64}}, &status);
  EXPECT_EQ(status, 200);
}

// A client that hangs up on a synchronous call cancels its job.
TEST(ServerQueue, ADisconnectedClientsJobIsCancelled) {
  SDXL_REQUIRE_REFERENCE();
  ServerProcess s({"-m", tiny().string()});
  ASSERT_GT(s.port(), 0);
  {
    auto c = s.client(1);  // gives up after a second
    auto r = c.Post("/sdapi/v1/txt2img", json{{"prompt", "slow"}, {"steps", 1000}, {"width", 256}, {"height", 256}}.dump(),
                    "application/json");
    EXPECT_FALSE(r);
  }
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = get(s, "/sdapi/v1/progress")["state"]["job"] == "";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(stopped);
}

TEST(ServerAuth, BasicAndBearer) {
  SDXL_REQUIRE_REFERENCE();
  ServerProcess s({"-m", tiny().string(), "--api-auth", "alice:wonder,bob:builder", "--api-key", "sk-test"});
  ASSERT_GT(s.port(), 0);
  auto c = s.client();
  auto r = c.Get("/sdapi/v1/samplers");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Basic realm=\"sdxl\"");
  c.set_basic_auth("bob", "builder");
  EXPECT_EQ(c.Get("/sdapi/v1/samplers")->status, 200);
  c.set_basic_auth("bob", "wonder");
  EXPECT_EQ(c.Get("/sdapi/v1/samplers")->status, 401);
  auto k = s.client();
  k.set_bearer_token_auth("sk-test");
  EXPECT_EQ(k.Get("/v1/models")->status, 200);
  k.set_bearer_token_auth("sk-wrong");
  EXPECT_EQ(k.Get("/v1/models")->status, 401);
}

// An OpenAI `url` works without the key (an <img> cannot send one): signed, for that image
// only, expiring; it starts with --public-url behind a proxy.
TEST(ServerAuth, ResultLinksAreSignedAndNeedNoKey) {
  SDXL_REQUIRE_REFERENCE();
  ServerProcess s({"-m", tiny().string(), "--api-key", "sk-test", "--public-url", "https://images.example/sdxl/"});
  ASSERT_GT(s.port(), 0);
  auto k = s.client();
  k.set_bearer_token_auth("sk-test");
  auto r = k.Post("/v1/images/generations", json{{"prompt", "a kite"}, {"size", "64x64"}, {"n", 2}, {"response_format", "url"}}.dump(),
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string link = json::parse(r->body)["data"][1]["url"];
  EXPECT_EQ(link.rfind("https://images.example/sdxl/v1/jobs/", 0), 0u) << link;
  const std::string path = link.substr(link.find("/v1/"));
  auto anyone = s.client();  // no key
  auto image = anyone.Get(path.c_str());
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
  EXPECT_EQ(png_of(image->body).width, 64);
  std::string other = path;
  other.replace(other.find("/images/1"), 9, "/images/0");  // the signature is for image 1 only
  EXPECT_EQ(anyone.Get(other.c_str())->status, 401);
  std::string tampered = path;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(anyone.Get(tampered.c_str())->status, 401);
  EXPECT_EQ(anyone.Get(path.substr(0, path.find('?')).c_str())->status, 401);
  const size_t at = path.find("expires=") + 8;
  std::string extended = path;
  extended.replace(at, 1, "9");  // a later expiry: the signature no longer matches
  EXPECT_EQ(anyone.Get(extended.c_str())->status, 401);
}

// /sdapi/v1/embeddings lists --embedding-dir as AUTOMATIC1111 does: SDXL embeddings loaded (shape:
// both encoders' widths), others (an SD 1.x one here) skipped.
TEST(ServerLists, Embeddings) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  io::write_safetensors(dir / "badhands.safetensors", {{"clip_l", Tensor::zeros(Shape{3, 32}, DType::F32)},
                                                       {"clip_g", Tensor::zeros(Shape{3, 64}, DType::F32)}});
  io::write_safetensors(dir / "sd15.safetensors", {{"emb_params", Tensor::zeros(Shape{2, 768}, DType::F32)}});
  ServerProcess s({"-m", tiny().string(), "--embedding-dir", dir.path().string()});
  ASSERT_GT(s.port(), 0);
  const json list = get(s, "/sdapi/v1/embeddings");
  ASSERT_TRUE(list["loaded"].contains("badhands")) << list.dump();
  EXPECT_EQ(list["loaded"]["badhands"]["vectors"], 3);
  EXPECT_EQ(list["loaded"]["badhands"]["shape"], 96);
  EXPECT_TRUE(list["loaded"]["badhands"]["step"].is_null());
  EXPECT_TRUE(list["skipped"].contains("sd15")) << list.dump();
}

TEST(ServerCors, OnlyForTheGivenOrigin) {
  SDXL_REQUIRE_REFERENCE();
  ServerProcess s({"-m", tiny().string(), "--cors-origin", "http://app.example"});
  ASSERT_GT(s.port(), 0);
  auto c = s.client();
  auto r = c.Get("/sdapi/v1/samplers");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "http://app.example");
  auto preflight = c.Options("/sdapi/v1/txt2img");
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
}

TEST(ServerModels, SwitchingCheckpoints) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  fs::copy(tiny(), dir / "second", fs::copy_options::recursive);  // another folder (a link to the first is the same model)
  fs::create_symlink(test::reference_dir() / "models/single-file/tiny-sdxl-base.safetensors", dir / "single.safetensors");
  ServerProcess s({"-m", tiny().string(), "--models-dir", dir.path().string(), "--config", tiny().string()});
  ASSERT_GT(s.port(), 0);
  const json models = get(s, "/sdapi/v1/sd-models");
  ASSERT_EQ(models.size(), 3u) << models.dump();
  std::string single_title;
  for (const auto& m : models)
    if (m["model_name"] == "single") single_title = m["title"];
  EXPECT_EQ(single_title.size(), std::string("single [0123456789]").size()) << single_title;
  int status = 0;
  post(s, "/sdapi/v1/options", {{"sd_model_checkpoint", single_title}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(get(s, "/sdapi/v1/options")["sd_model_checkpoint"], single_title);
  const json reply = post(s, "/sdapi/v1/txt2img", {{"prompt", "x"}, {"steps", 1}, {"width", 64}, {"height", 64},
                                                   {"override_settings", {{"sd_model_checkpoint", "second"}}}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(json::parse(reply["info"].get<std::string>())["sd_model_name"], "second");
  // The override was that request's (AUTOMATIC1111's override_settings_restore_afterwards: true),
  // and neither the OpenAI model nor the jobs API's changes the default either.
  EXPECT_EQ(get(s, "/sdapi/v1/options")["sd_model_checkpoint"], single_title);
  const json after = post(s, "/sdapi/v1/txt2img", {{"prompt", "x"}, {"steps", 1}, {"width", 64}, {"height", 64}}, &status);
  EXPECT_EQ(json::parse(after["info"].get<std::string>())["sd_model_name"], "single");
  post(s, "/v1/images/generations", {{"prompt", "x"}, {"model", "second"}, {"size", "64x64"}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(get(s, "/sdapi/v1/options")["sd_model_checkpoint"], single_title);
  // Unless the request says to keep it.
  post(s, "/sdapi/v1/txt2img", {{"prompt", "x"}, {"steps", 1}, {"width", 64}, {"height", 64},
                                {"override_settings", {{"sd_model_checkpoint", "second"}}},
                                {"override_settings_restore_afterwards", false}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(get(s, "/sdapi/v1/options")["sd_model_checkpoint"], "second");
  // A checkpoint that does not load: a clear error, and the server keeps the one it had.
  test::write_file(dir / "broken.safetensors", "not a safetensors file");
  post(s, "/sdapi/v1/refresh-checkpoints", json::object());
  const json refused = post(s, "/sdapi/v1/options", {{"sd_model_checkpoint", "broken"}}, &status);
  EXPECT_EQ(status, 422) << refused.dump();
  EXPECT_NE(refused["detail"].get<std::string>().find("does not load"), std::string::npos) << refused.dump();
  EXPECT_EQ(get(s, "/sdapi/v1/options")["sd_model_checkpoint"], "second");
  const json last = post(s, "/sdapi/v1/txt2img", {{"prompt", "x"}, {"steps", 1}, {"width", 64}, {"height", 64}}, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(json::parse(last["info"].get<std::string>())["sd_model_name"], "second");
}

}  // namespace
}  // namespace sdxl
