// The ControlNet extension's own routes (its scripts/api.py, API version 3): version, model and
// module lists with its slider details, settings, and /controlnet/detect running a preprocessor.
#include <memory>

#include "sdxl/sdxl.hpp"
#include "server/api/a1111_controlnet.h"
#include "server/http/base64.h"
#include "server/http/http_common.h"
#include "server/http/request_fields.h"
#include "server/http/routes.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

json slider(const char* name, double value, double min, double max, double step) {
  return {{"name", name}, {"value", value}, {"min", min}, {"max", max}, {"step", step}};
}

// The IP-Adapter modules sdxl runs (their image encoder from --image-encoder-dir).
const char* const kIpAdapterModules[] = {"ip-adapter-auto", "ip-adapter_clip_g", "ip-adapter_clip_h", "ip-adapter_clip_sdxl",
                                         "ip-adapter_clip_sdxl_plus_vith"};

json module_list() {
  json list = json::array({"none", "canny"});
  for (const char* m : kIpAdapterModules) list.push_back(m);
  return list;
}

json module_detail() {
  const json resolution = slider("Resolution", 512, 64, 2048, 8);
  json detail = {{"none", {{"model_free", false}, {"sliders", json::array({resolution})}}},
                 {"canny",
                  {{"model_free", false},
                   {"sliders", json::array({resolution, slider("Low Threshold", 100, 1, 255, 1),
                                            slider("High Threshold", 200, 1, 255, 1)})}}}};
  for (const char* m : kIpAdapterModules) detail[m] = {{"model_free", false}, {"sliders", json::array()}};
  return detail;
}

// The preprocessor's map of one base64 image, as a base64 PNG.
std::string detect_one(const std::string& base64, const std::string& field, const std::string& module, int resolution,
                       double low, double high) {
  const auto bytes = base64_decode(base64);
  if (!bytes || bytes->empty()) throw RequestError(422, field, field + ": not base64 image data");
  sdxl_image* decoded = nullptr;
  if (sdxl_decode_image_bounded(reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(), 4096LL * 4096LL,
                                &decoded) != SDXL_STATUS_OK)
    throw RequestError(422, field, field + ": " + sdxl_last_error());
  std::unique_ptr<sdxl_image, void (*)(sdxl_image*)> image(decoded, sdxl_image_free);
  sdxl_image* map = nullptr;
  if (sdxl_control_preprocess(image.get(), module.c_str(), low, high, resolution, &map) != SDXL_STATUS_OK)
    throw RequestError(422, "controlnet_module", std::string("controlnet_module: ") + sdxl_last_error());
  std::unique_ptr<sdxl_image, void (*)(sdxl_image*)> out(map, sdxl_image_free);
  unsigned char* png = nullptr;
  size_t size = 0;
  api::check(sdxl_encode_image_png(out->pixels, out->width, out->height, out->channels, &png, &size));
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> held(png, sdxl_free_bytes);
  return base64_encode(png, size);
}

}  // namespace

void add_controlnet_routes(Router& server, const ServerContext& ctx) {
  server.Get("/controlnet/version", guarded([](const http::Request&, http::Response& res) {
    send_json(res, 200, {{"version", 3}});
  }));
  server.Get("/controlnet/model_list", guarded([&ctx](const http::Request& req, http::Response& res) {
    if (req.get_param_value("update") != "false") ctx.catalog.refresh_controlnets();
    json list = json::array();
    for (const auto& c : ctx.catalog.controlnets()) list.push_back(c.title);
    send_json(res, 200, {{"model_list", list}});
  }));
  server.Get("/controlnet/module_list", guarded([](const http::Request&, http::Response& res) {
    send_json(res, 200, {{"module_list", module_list()}, {"module_detail", module_detail()}});
  }));
  server.Get("/controlnet/settings", guarded([](const http::Request&, http::Response& res) {
    send_json(res, 200, {{"control_net_unit_count", 8}});
  }));
  server.Post("/controlnet/detect", guarded([](const http::Request& req, http::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    std::string module = f.text("controlnet_module", "none");
    if (module == "None") module = "none";
    if (module != "none" && module != "canny")
      f.bad("controlnet_module", is_extension_module(module) ? "'" + module + "' needs a network sdxl does not have (it runs none and canny)"
                                                             : "'" + module + "' is not available");
    const json& images = f.raw("controlnet_input_images");
    if (!images.is_array() || images.empty()) f.bad("controlnet_input_images", "No image selected");
    if (images.size() > 16) f.bad("controlnet_input_images", "at most 16 images in one call");
    // Outside the module's sliders, the slider's default (the extension's bound check).
    const double processor_res = f.number("controlnet_processor_res", -1, -1e9, 1e9);
    const int resolution = processor_res >= 64 && processor_res <= 2048 ? static_cast<int>(processor_res) : 512;
    double low = f.number("controlnet_threshold_a", -1, -1e9, 1e9), high = f.number("controlnet_threshold_b", -1, -1e9, 1e9);
    if (low < 1 || low > 255) low = 100;
    if (high < 1 || high > 255) high = 200;
    json out = json::array();
    for (size_t i = 0; i < images.size(); ++i) {
      const std::string field = "controlnet_input_images[" + std::to_string(i) + "]";
      if (!images[i].is_string()) throw RequestError(422, field, field + ": must be a base64 image");
      out.push_back(detect_one(images[i].get<std::string>(), field, module, resolution, low, high));
    }
    send_json(res, 200, {{"images", out}, {"info", "Success"}});
  }));
}

}  // namespace sdxl::server
