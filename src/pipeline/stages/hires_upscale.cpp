#include "pipeline/stages/hires_upscale.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "io/image_resize.h"
#include "pipeline/stages/upscale.h"

namespace sdxl::pipeline {
namespace {

const std::map<std::string, LatentUpscale>& latent_modes() {
  // AUTOMATIC1111's modules/shared.py latent_upscale_modes.
  static const std::map<std::string, LatentUpscale> modes = {
      {"Latent", {ops::Interpolation::Bilinear, false}},
      {"Latent (antialiased)", {ops::Interpolation::Bilinear, true}},
      {"Latent (bicubic)", {ops::Interpolation::Bicubic, false}},
      {"Latent (bicubic antialiased)", {ops::Interpolation::Bicubic, true}},
      {"Latent (nearest)", {ops::Interpolation::Nearest, false}},
      {"Latent (nearest-exact)", {ops::Interpolation::NearestExact, false}}};
  return modes;
}

// AUTOMATIC1111's Upscaler.upscale with a resize as its do_upscale (UpscalerLanczos,
// UpscalerNearest): one resize by the scale, then Lanczos to int(side * scale) // 8 * 8.
io::Image8 resize_upscaler(const io::Image8& image, double scale, bool nearest) {
  const auto dest_w = static_cast<int64_t>(std::floor(static_cast<double>(image.width) * scale / 8)) * 8;
  const auto dest_h = static_cast<int64_t>(std::floor(static_cast<double>(image.height) * scale / 8)) * 8;
  const auto w = static_cast<int64_t>(static_cast<double>(image.width) * scale);
  const auto h = static_cast<int64_t>(static_cast<double>(image.height) * scale);
  io::Image8 out = nearest ? io::resize_nearest_pil(image, w, h) : io::resize_lanczos(image, w, h);
  if (out.width != dest_w || out.height != dest_h) out = io::resize_lanczos(out, dest_w, dest_h);
  return out;
}

}  // namespace

std::optional<LatentUpscale> latent_upscale_mode(const std::string& upscaler) {
  auto it = latent_modes().find(upscaler);
  if (it == latent_modes().end()) return std::nullopt;
  return it->second;
}

const std::vector<std::string>& latent_upscaler_names() {
  static const std::vector<std::string> names = {"Latent",           "Latent (antialiased)",
                                                 "Latent (bicubic)", "Latent (bicubic antialiased)",
                                                 "Latent (nearest)", "Latent (nearest-exact)"};
  return names;
}

bool is_builtin_pixel_upscaler(const std::string& upscaler) {
  return upscaler == "Lanczos" || upscaler == "Nearest" || upscaler == "None";
}

Tensor upscale_latents(const Tensor& latents, int64_t width, int64_t height, LatentUpscale mode, int64_t truncate_x,
                       int64_t truncate_y) {
  SDXL_CHECK(latents.rank() == 4 && latents.dtype() == DType::F32, InvalidArgument, "[hires] latents must be f32 [N, C, h, w]");
  Arena arena;
  const Tensor up = ops::interpolate(arena, latents, height / 8, width / 8, mode.mode, mode.antialias);
  if (truncate_x == 0 && truncate_y == 0) return up.clone();
  const int64_t n = up.dim(0), c = up.dim(1), h = up.dim(2), w = up.dim(3);
  const int64_t top = truncate_y / 2, left = truncate_x / 2, oh = h - truncate_y, ow = w - truncate_x;
  SDXL_CHECK(oh > 0 && ow > 0, InvalidArgument, "[hires] cropping ", truncate_x, "x", truncate_y, " leaves no latents");
  Tensor out = Tensor::empty(Shape{n, c, oh, ow}, DType::F32);
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x)
        out.data<float>()[(p * oh + y) * ow + x] = up.data<float>()[(p * h + top + y) * w + left + x];
  return out;
}

io::Image8 upscale_pixels(const io::Image8& image, int64_t width, int64_t height, const std::string& upscaler,
                          const models::RrdbNet* net) {
  io::Image8 out = image;
  const double scale = std::max(static_cast<double>(width) / static_cast<double>(image.width),
                                static_cast<double>(height) / static_cast<double>(image.height));
  if (scale > 1.0 && upscaler != "None") {  // None: only the final Lanczos resize
    if (net) {
      UpscaleOptions options;
      options.channel_order = ChannelOrder::Bgr;  // AUTOMATIC1111's, as its hires fix runs them
      out = upscale_by(*net, image, scale, options);
    } else {
      SDXL_CHECK(is_builtin_pixel_upscaler(upscaler), InvalidArgument, "[hires] unknown upscaler '", upscaler, "'");
      out = resize_upscaler(image, scale, upscaler == "Nearest");
    }
  }
  if (out.width != width || out.height != height) out = io::resize_lanczos(out, width, height);
  return out;
}

io::Image8 truncate_image(const io::Image8& image, int64_t truncate_x, int64_t truncate_y) {
  if (truncate_x == 0 && truncate_y == 0) return image;
  const int64_t width = image.width - 8 * truncate_x, height = image.height - 8 * truncate_y;
  SDXL_CHECK(width > 0 && height > 0, InvalidArgument, "[hires] cropping ", truncate_x, "x", truncate_y, " leaves no image");
  const int64_t left = 8 * (truncate_x / 2), top = 8 * (truncate_y / 2), c = image.channels;
  io::Image8 out{width, height, c, std::vector<uint8_t>(static_cast<size_t>(width * height * c))};
  for (int64_t y = 0; y < height; ++y)
    std::copy_n(&image.pixels[static_cast<size_t>(((top + y) * image.width + left) * c)], width * c,
                &out.pixels[static_cast<size_t>(y * width * c)]);
  return out;
}

}  // namespace sdxl::pipeline
