// AUTOMATIC1111's extras API (its postprocessing upscale, scripts/postprocessing_upscale.py):
// /sdapi/v1/extra-single-image and /extra-batch-images with upscaler_1 (and upscaler_2 blended
// in at extras_upscaler_2_visibility), by upscaling_resize or to upscaling_resize_w x _h (centred
// on a black canvas of that size with upscaling_crop); /sdapi/v1/upscalers and
// /latent-upscale-modes. Face restoration is refused. An extras request runs on its handler
// thread, one at a time (another gets 503); its upscaler model stays loaded for the next.
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <sstream>

#include "sdxl/sdxl.hpp"
#include "server/http/base64.h"
#include "server/http/http_common.h"
#include "server/http/request_fields.h"
#include "server/http/routes.h"

namespace sdxl::server {
namespace {

using nlohmann::json;
using ImagePtr = std::unique_ptr<sdxl_image, void (*)(sdxl_image*)>;

const char* const kLatentModes[] = {"Latent",           "Latent (antialiased)", "Latent (bicubic)",
                                    "Latent (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)"};

ImagePtr own(sdxl_image* image) { return ImagePtr(image, sdxl_image_free); }

// Python's str() of a float: 2.0, 2.5.
std::string py_float(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  std::string s = out.str();
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string html_of(const std::string& text) {
  std::string out = "<p>";
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (c == '\'') out += "&#x27;";
    else if (c == '\n') out += "<br>\n";
    else out += c;
  }
  return out + "</p>";
}

struct ExtrasSettings {
  int mode = 0;  // 0: by upscaling_resize; 1: to upscaling_resize_w x _h
  double by = 2.0;
  int to_w = 512, to_h = 512;
  bool crop = true;
  std::string upscaler_1 = "None", upscaler_2 = "None";
  double visibility_2 = 0.0;
};

class ExtrasRunner {
 public:
  explicit ExtrasRunner(const ServerContext& ctx) : ctx_(ctx) {}

  // One image through the settings; `info` gets AUTOMATIC1111's postprocessing fields.
  ImagePtr run(const sdxl_image& image, const ExtrasSettings& s, std::string& info) {
    if (s.upscaler_1 == "None") return copy(image);  // the webui's process() stops there
    std::vector<std::pair<std::string, std::string>> fields;
    ImagePtr first = upscale(image, s, s.upscaler_1, "upscaler_1", fields);
    fields.emplace_back("Postprocess upscaler", s.upscaler_1);
    if (s.upscaler_2 != "None" && s.visibility_2 > 0) {
      std::vector<std::pair<std::string, std::string>> ignored;
      ImagePtr second = upscale(image, s, s.upscaler_2, "upscaler_2", ignored);
      first = blend(*first, *second, s.visibility_2);
      fields.emplace_back("Postprocess upscaler 2", s.upscaler_2);
    }
    for (const auto& [key, value] : fields) info += (info.empty() ? "" : ", ") + key + ": " + value;
    return first;
  }

  std::unique_lock<std::mutex> try_lock() { return std::unique_lock<std::mutex>(busy_, std::try_to_lock); }

 private:
  static ImagePtr copy(const sdxl_image& image) {
    sdxl_image* out = nullptr;
    api::check(sdxl_resize_image(&image, image.width, image.height, "lanczos", &out));
    return own(out);
  }

  ImagePtr upscale(const sdxl_image& image, const ExtrasSettings& s, const std::string& name, const char* field,
                   std::vector<std::pair<std::string, std::string>>& fields) {
    double by = s.by;
    if (s.mode == 1) {
      by = std::max(static_cast<double>(s.to_w) / image.width, static_cast<double>(s.to_h) / image.height);
      fields.emplace_back("Postprocess upscale to", std::to_string(s.to_w) + "x" + std::to_string(s.to_h));
    } else {
      fields.emplace_back("Postprocess upscale by", py_float(s.by));
    }
    const long long dest_w = static_cast<long long>(std::floor(image.width * by / 8)) * 8;
    const long long dest_h = static_cast<long long>(std::floor(image.height * by / 8)) * 8;
    if (!(by > 0) || dest_w < 8 || dest_h < 8 || dest_w > 8192 || dest_h > 8192)
      throw RequestError(422, s.mode == 1 ? "upscaling_resize_w" : "upscaling_resize",
                         std::to_string(image.width) + "x" + std::to_string(image.height) + " upscaled by " + py_float(by) +
                             " is " + std::to_string(dest_w) + "x" + std::to_string(dest_h) + ": each side must be 8 to 8192");
    ImagePtr out = own(nullptr);
    if (name == "Lanczos" || name == "Nearest") {  // one resize by the factor, then to the multiple of 8
      sdxl_image* r = nullptr;
      api::check(sdxl_resize_image(&image, static_cast<int>(image.width * by), static_cast<int>(image.height * by),
                                   name == "Lanczos" ? "lanczos" : "nearest", &r));
      out = own(r);
    } else {
      const auto path = ctx_.catalog.find_upscaler(name);
      if (!path) throw RequestError(422, field, std::string(field) + ": no upscaler named '" + name + "' (None, Lanczos, Nearest, or a model in sdxl serve --upscaler-dir)");
      sdxl_upscale_params p;
      sdxl_upscale_params_init(&p);
      p.scale = by;
      p.channel_order = "bgr";  // AUTOMATIC1111's, for every ESRGAN-family model
      sdxl_image* r = nullptr;
      api::check(sdxl_upscale(model(*path), &image, &p, &r));
      out = own(r);
    }
    if (out->width != dest_w || out->height != dest_h) {
      sdxl_image* r = nullptr;
      api::check(sdxl_resize_image(out.get(), static_cast<int>(dest_w), static_cast<int>(dest_h), "lanczos", &r));
      out = own(r);
    }
    if (s.mode == 1 && s.crop) {  // a black canvas of the size asked for, the image centred on it
      ImagePtr canvas = own(static_cast<sdxl_image*>(std::calloc(1, sizeof(sdxl_image))));
      canvas->width = s.to_w;
      canvas->height = s.to_h;
      canvas->channels = 3;
      canvas->pixels = static_cast<unsigned char*>(std::calloc(static_cast<size_t>(s.to_w) * s.to_h, 3));
      if (!canvas->pixels) throw RequestError(500, "", "out of memory");
      const int left = s.to_w / 2 - out->width / 2, top = s.to_h / 2 - out->height / 2;
      for (int y = 0; y < out->height; ++y)
        for (int x = 0; x < out->width; ++x) {
          const int cx = left + x, cy = top + y;
          if (cx < 0 || cy < 0 || cx >= s.to_w || cy >= s.to_h) continue;
          for (int c = 0; c < 3; ++c)
            canvas->pixels[(static_cast<size_t>(cy) * s.to_w + cx) * 3 + c] =
                out->pixels[(static_cast<size_t>(y) * out->width + x) * out->channels + c];
        }
      fields.emplace_back("Postprocess crop to", std::to_string(s.to_w) + "x" + std::to_string(s.to_h));
      out = std::move(canvas);
    }
    return out;
  }

  // Pillow's Image.blend: in1 + alpha * (in2 - in1) in float, clamped and truncated to 8 bits.
  static ImagePtr blend(const sdxl_image& a, const sdxl_image& b, double alpha) {
    if (a.width != b.width || a.height != b.height || a.channels != b.channels)
      throw RequestError(422, "upscaler_2", "the two upscalers gave images of different sizes");
    sdxl_image* copy_of_a = nullptr;
    api::check(sdxl_resize_image(&a, a.width, a.height, "nearest", &copy_of_a));
    ImagePtr out = own(copy_of_a);
    const float f = static_cast<float>(alpha);
    for (size_t i = 0; i < static_cast<size_t>(a.width) * a.height * a.channels; ++i) {
      const float v = static_cast<float>(a.pixels[i]) + f * static_cast<float>(static_cast<int>(b.pixels[i]) - a.pixels[i]);
      out->pixels[i] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : static_cast<unsigned char>(v);
    }
    return out;
  }

  sdxl_upscaler* model(const std::filesystem::path& path) {
    if (loaded_path_ != path.string() || !loaded_) {
      loaded_.reset();
      sdxl_upscaler* u = nullptr;
      api::check(sdxl_upscaler_load(path.string().c_str(), ctx_.options.precision.c_str(), &u));
      loaded_.reset(u);
      loaded_path_ = path.string();
    }
    return loaded_.get();
  }

  const ServerContext& ctx_;
  std::mutex busy_;
  std::unique_ptr<sdxl_upscaler, void (*)(sdxl_upscaler*)> loaded_{nullptr, sdxl_upscaler_free};
  std::string loaded_path_;
};

ExtrasSettings settings_of(const Fields& f) {
  for (const char* face : {"gfpgan_visibility", "codeformer_visibility"})
    if (f.finite(face, 0.0) != 0.0) f.bad(face, "face restoration is not supported by sdxl");
  ExtrasSettings s;
  s.mode = static_cast<int>(f.integer("resize_mode", 0, 0, 1));
  s.by = f.finite("upscaling_resize", 2.0);
  if (!(s.by > 0 && s.by <= 16)) f.bad("upscaling_resize", "must be in (0, 16]");
  s.to_w = static_cast<int>(f.integer("upscaling_resize_w", 512, 1, 8192));
  s.to_h = static_cast<int>(f.integer("upscaling_resize_h", 512, 1, 8192));
  s.crop = f.boolean("upscaling_crop", true);
  s.upscaler_1 = f.text("upscaler_1", "None");
  s.upscaler_2 = f.text("upscaler_2", "None");
  s.visibility_2 = f.finite("extras_upscaler_2_visibility", 0.0);
  if (s.visibility_2 < 0 || s.visibility_2 > 1) f.bad("extras_upscaler_2_visibility", "must be in [0, 1]");
  return s;
}

ImagePtr decode_upload(const std::string& text, const std::string& field) {
  std::string b64 = text;
  if (const size_t comma = b64.find(','); b64.rfind("data:", 0) == 0 && comma != std::string::npos) b64 = b64.substr(comma + 1);
  const auto bytes = base64_decode(b64);
  if (!bytes || bytes->empty()) throw RequestError(422, field, field + ": not base64 image data");
  sdxl_image* image = nullptr;
  if (sdxl_decode_image_bounded(reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(), 4096ll * 4096, &image) !=
      SDXL_STATUS_OK)
    throw RequestError(422, field, field + ": " + sdxl_last_error());
  return own(image);
}

std::string encode_result(const sdxl_image& image, const std::string& info) {
  const char* keys[] = {"postprocessing"};
  const char* values[] = {info.c_str()};
  unsigned char* bytes = nullptr;
  size_t size = 0;
  api::check(sdxl_encode_image_png_text(image.pixels, image.width, image.height, image.channels, keys, values,
                                        info.empty() ? 0 : 1, &bytes, &size));
  const std::string png(reinterpret_cast<const char*>(bytes), size);
  sdxl_free_bytes(bytes);
  return base64_encode(png);
}

}  // namespace

void add_a1111_extras_routes(Router& server, const ServerContext& ctx) {
  auto runner = std::make_shared<ExtrasRunner>(ctx);
  server.Get("/sdapi/v1/upscalers", guarded([&ctx](const http::Request&, http::Response& res) {
    json list = json::array();
    for (const char* name : {"None", "Lanczos", "Nearest"})
      list.push_back({{"name", name}, {"model_name", nullptr}, {"model_path", nullptr}, {"model_url", nullptr}, {"scale", 4}});
    for (const auto& [name, path] : ctx.catalog.upscalers())
      list.push_back({{"name", name}, {"model_name", name}, {"model_path", path.string()}, {"model_url", nullptr}, {"scale", 4}});
    send_json(res, 200, list);
  }));
  server.Get("/sdapi/v1/latent-upscale-modes", guarded([](const http::Request&, http::Response& res) {
    json list = json::array();
    for (const char* name : kLatentModes) list.push_back({{"name", name}});
    send_json(res, 200, list);
  }));
  server.Post("/sdapi/v1/extra-single-image", guarded([runner](const http::Request& req, http::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    const ExtrasSettings s = settings_of(f);
    if (!f.has("image")) f.bad("image", "is required");
    const ImagePtr image = decode_upload(f.text("image", ""), "image");
    const auto lock = runner->try_lock();
    if (!lock) throw RequestError(503, "", "an extras request is running; try again when it ends");
    std::string info;
    const ImagePtr out = runner->run(*image, s, info);
    send_json(res, 200, {{"html_info", html_of(info)}, {"image", encode_result(*out, info)}});
  }));
  server.Post("/sdapi/v1/extra-batch-images", guarded([runner](const http::Request& req, http::Response& res) {
    const json body = parse_body(req.body);
    const Fields f(body);
    const ExtrasSettings s = settings_of(f);
    const json& list = f.raw("imageList");
    if (!list.is_array() || list.empty()) f.bad("imageList", "must be a list of {data, name}");
    if (list.size() > 64) f.bad("imageList", "at most 64 images in one call");
    std::vector<ImagePtr> images;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string field = "imageList[" + std::to_string(i) + "].data";
      if (!list[i].is_object() || !list[i].contains("data") || !list[i]["data"].is_string())
        throw RequestError(422, field, field + ": is required (base64 image data)");
      images.push_back(decode_upload(list[i]["data"].get<std::string>(), field));
    }
    const auto lock = runner->try_lock();
    if (!lock) throw RequestError(503, "", "an extras request is running; try again when it ends");
    json out = json::array();
    std::string first_info;
    for (const auto& image : images) {
      std::string info;
      const ImagePtr done = runner->run(*image, s, info);
      if (first_info.empty()) first_info = info;
      out.push_back(encode_result(*done, info));
    }
    send_json(res, 200, {{"html_info", html_of(first_info)}, {"images", out}});
  }));
}

}  // namespace sdxl::server
