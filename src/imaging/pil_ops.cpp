#include "imaging/pil_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "io/image_resize.h"

namespace sdxl::imaging {
namespace {

void check_image(const Image8& image, const char* what) {
  SDXL_CHECK(image.width > 0 && image.height > 0 && (image.channels == 1 || image.channels == 3 || image.channels == 4) &&
                 image.pixels.size() == static_cast<size_t>(image.width * image.height * image.channels),
             InvalidArgument, "[image] ", what, ": not a whole 8-bit image");
}

uint8_t div255(uint32_t a) {  // PIL's DIV255 / MULDIV255 rounding
  const uint32_t t = a + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

}  // namespace

Image8 blank_image(int64_t width, int64_t height, int64_t channels) {
  return Image8{width, height, channels, std::vector<uint8_t>(static_cast<size_t>(width * height * channels), 0)};
}

Image8 to_rgba(const Image8& image) {
  check_image(image, "to RGBA");
  if (image.channels == 4) return image;
  Image8 out = blank_image(image.width, image.height, 4);
  for (int64_t i = 0; i < image.width * image.height; ++i) {
    for (int64_t ch = 0; ch < 3; ++ch)
      out.pixels[static_cast<size_t>(i * 4 + ch)] = image.pixels[static_cast<size_t>(i * image.channels + (image.channels == 1 ? 0 : ch))];
    out.pixels[static_cast<size_t>(i * 4 + 3)] = 255;
  }
  return out;
}

Image8 alpha_channel(const Image8& rgba) {
  SDXL_CHECK(rgba.channels == 4, InvalidArgument, "[image] only an RGBA image has an alpha channel");
  Image8 out = blank_image(rgba.width, rgba.height, 1);
  for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = rgba.pixels[i * 4 + 3];
  return out;
}

Image8 invert(const Image8& image) {
  Image8 out = image;
  for (auto& v : out.pixels) v = static_cast<uint8_t>(255 - v);
  return out;
}

Image8 premultiplied(const Image8& rgba) {
  SDXL_CHECK(rgba.channels == 4, InvalidArgument, "[image] premultiplying needs RGBA");
  Image8 out = rgba;
  io::premultiply(out);
  return out;
}

Image8 unpremultiplied(const Image8& rgba) {
  SDXL_CHECK(rgba.channels == 4, InvalidArgument, "[image] unpremultiplying needs RGBA");
  Image8 out = rgba;
  io::unpremultiply(out);
  return out;
}

Image8 crop(const Image8& image, Box box) {
  check_image(image, "crop");
  SDXL_CHECK(box.width() > 0 && box.height() > 0, InvalidArgument, "[image] an empty crop");
  Image8 out = blank_image(box.width(), box.height(), image.channels);
  paste(out, image, -box.x0, -box.y0);
  return out;
}

void paste(Image8& dst, const Image8& src, int64_t x, int64_t y) {
  const Image8 converted = src.channels == dst.channels ? src
                           : dst.channels == 1       ? to_gray(src)
                           : dst.channels == 3       ? to_rgb(src)
                                                     : to_rgba(src);
  const int64_t c = dst.channels;
  for (int64_t row = std::max<int64_t>(0, -y); row < converted.height && y + row < dst.height; ++row) {
    const int64_t from = std::max<int64_t>(0, -x), to = std::min(converted.width, dst.width - x);
    if (to <= from) continue;
    std::memcpy(dst.pixels.data() + ((y + row) * dst.width + x + from) * c, converted.pixels.data() + (row * converted.width + from) * c,
                static_cast<size_t>((to - from) * c));
  }
}

void paste_with_mask(Image8& dst, const Image8& src, const Image8& mask) {
  SDXL_CHECK(src.width == dst.width && src.height == dst.height && src.channels == dst.channels && mask.channels == 1 &&
                 mask.width == dst.width && mask.height == dst.height,
             InvalidArgument, "[image] a masked paste needs images and a gray mask of one size");
  const int64_t c = dst.channels;
  for (int64_t i = 0; i < dst.width * dst.height; ++i) {
    const uint32_t m = mask.pixels[static_cast<size_t>(i)];
    for (int64_t ch = 0; ch < c; ++ch) {
      uint8_t& out = dst.pixels[static_cast<size_t>(i * c + ch)];
      out = div255(out * (255 - m) + src.pixels[static_cast<size_t>(i * c + ch)] * m);
    }
  }
}

void alpha_composite(Image8& dst, const Image8& src) {
  SDXL_CHECK(dst.channels == 4 && src.channels == 4 && dst.width == src.width && dst.height == src.height, InvalidArgument,
             "[image] alpha compositing needs two RGBA images of one size");
  constexpr uint32_t kBits = 7;  // PIL's PRECISION_BITS here
  const auto shift_div255 = [](uint32_t a) { return ((a >> 8) + a) >> 8; };
  for (size_t i = 0; i < dst.pixels.size(); i += 4) {
    const uint8_t* s = src.pixels.data() + i;
    uint8_t* d = dst.pixels.data() + i;
    if (s[3] == 0) continue;
    const uint32_t blend = d[3] * (255u - s[3]);
    const uint32_t outa255 = s[3] * 255u + blend;
    const uint32_t coef1 = s[3] * 255u * 255u * (1u << kBits) / outa255;
    const uint32_t coef2 = 255u * (1u << kBits) - coef1;
    for (int ch = 0; ch < 3; ++ch) {
      const uint32_t t = s[ch] * coef1 + d[ch] * coef2;
      d[ch] = static_cast<uint8_t>(shift_div255(t + (0x80u << kBits)) >> kBits);
    }
    d[3] = static_cast<uint8_t>(shift_div255(outa255 + 0x80u));
  }
}

bool bounding_box(const Image8& image, Box& box) {
  check_image(image, "bounding box");
  box = {image.width, image.height, 0, 0};
  const int64_t c = image.channels;
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x) {
      bool any = false;
      for (int64_t ch = 0; ch < c; ++ch) any = any || image.pixels[static_cast<size_t>((y * image.width + x) * c + ch)] != 0;
      if (!any) continue;
      box.x0 = std::min(box.x0, x);
      box.y0 = std::min(box.y0, y);
      box.x1 = std::max(box.x1, x + 1);
      box.y1 = std::max(box.y1, y + 1);
    }
  return box.x1 > box.x0;
}

namespace {

// Pillow's box blur of one line of 4-byte pixels (BoxBlur.c), 8.24 fixed point.
void line_box_blur(uint8_t* out, const uint8_t* in, int lastx, int radius, int edge_a, int edge_b, uint32_t ww, uint32_t fw) {
  uint32_t acc[4], bulk[4];
  const auto px = [in](int x, int ch) { return static_cast<uint32_t>(in[x * 4 + ch]); };
  for (int ch = 0; ch < 4; ++ch) {
    acc[ch] = px(0, ch) * static_cast<uint32_t>(radius + 1);
    for (int x = 0; x < edge_a - 1; ++x) acc[ch] += px(x, ch);
    acc[ch] += px(lastx, ch) * static_cast<uint32_t>(radius - edge_a + 1);
  }
  const auto step = [&](int x, int subtract, int add, int left, int right) {
    for (int ch = 0; ch < 4; ++ch) {
      acc[ch] += px(add, ch) - px(subtract, ch);
      bulk[ch] = acc[ch] * ww + (px(left, ch) + px(right, ch)) * fw;
      out[x * 4 + ch] = static_cast<uint8_t>((bulk[ch] + (1u << 23)) >> 24);
    }
  };
  if (edge_a <= edge_b) {
    for (int x = 0; x < edge_a; ++x) step(x, 0, x + radius, 0, x + radius + 1);
    for (int x = edge_a; x < edge_b; ++x) step(x, x - radius - 1, x + radius, x - radius - 1, x + radius + 1);
    for (int x = edge_b; x <= lastx; ++x) step(x, x - radius - 1, lastx, x - radius - 1, lastx);
  } else {
    for (int x = 0; x < edge_b; ++x) step(x, 0, x + radius, 0, x + radius + 1);
    for (int x = edge_b; x < edge_a; ++x) step(x, 0, lastx, 0, lastx);
    for (int x = edge_a; x <= lastx; ++x) step(x, x - radius - 1, lastx, x - radius - 1, lastx);
  }
}

void horizontal_box_blur(Image8& image, float float_radius) {
  const int radius = static_cast<int>(float_radius);
  const uint32_t ww = static_cast<uint32_t>(static_cast<float>(1 << 24) / (float_radius * 2 + 1));
  const uint32_t fw = ((1u << 24) - static_cast<uint32_t>(radius * 2 + 1) * ww) / 2;
  const int width = static_cast<int>(image.width);
  const int edge_a = std::min(radius + 1, width), edge_b = std::max(width - radius - 1, 0);
  std::vector<uint8_t> line(static_cast<size_t>(width * 4));
  for (int64_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.pixels.data() + y * image.width * 4;
    line_box_blur(line.data(), row, width - 1, radius, edge_a, edge_b, ww, fw);
    std::memcpy(row, line.data(), line.size());
  }
}

Image8 transposed(const Image8& image) {
  Image8 out = blank_image(image.height, image.width, image.channels);
  const int64_t c = image.channels;
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x)
      std::memcpy(out.pixels.data() + (x * out.width + y) * c, image.pixels.data() + (y * image.width + x) * c, static_cast<size_t>(c));
  return out;
}

// Pillow's _gaussian_blur_radius (Gwosdek et al.): the box radius whose `passes` blurs make a
// Gaussian of this radius; in float, as Pillow computes it.
float box_radius_of(float radius, int passes) {
  const float sigma2 = radius * radius / static_cast<float>(passes);
  const float big_l = static_cast<float>(std::sqrt(12.0 * sigma2 + 1.0));
  const float l = static_cast<float>(std::floor((big_l - 1.0) / 2.0));
  float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
  a /= 6 * (sigma2 - (l + 1) * (l + 1));
  return l + a;
}

}  // namespace

Image8 pil_gaussian_blur(const Image8& image, float radius) {
  SDXL_CHECK(image.channels == 4, InvalidArgument, "[image] the Gaussian blur here takes 4-channel images");
  if (radius == 0.0f) return image;
  constexpr int kPasses = 3;
  const float box = box_radius_of(radius, kPasses);
  Image8 out = image;
  if (box == 0.0f) return out;
  for (int i = 0; i < kPasses; ++i) horizontal_box_blur(out, box);
  Image8 t = transposed(out);
  for (int i = 0; i < kPasses; ++i) horizontal_box_blur(t, box);
  return transposed(t);
}

Image8 cv_gaussian_blur(const Image8& gray, int kx, int ky, double sigma_x, double sigma_y) {
  SDXL_CHECK(gray.channels == 1, InvalidArgument, "[image] the mask blur takes a gray image");
  Image8 out = gray;
  const cv::Mat in(static_cast<int>(gray.height), static_cast<int>(gray.width), CV_8UC1, const_cast<uint8_t*>(gray.pixels.data()));
  cv::Mat result(static_cast<int>(out.height), static_cast<int>(out.width), CV_8UC1, out.pixels.data());
  cv::GaussianBlur(in, result, cv::Size(kx, ky), sigma_x, sigma_y);
  return out;
}

}  // namespace sdxl::imaging
