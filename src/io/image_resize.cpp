#include "io/image_resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sdxl::io {
namespace {

// 32-bit accumulators: 8 bits of pixel, 2 of head-room for the filter's negative lobes.
constexpr int kPrecisionBits = 32 - 8 - 2;

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double lanczos3(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0; }

// PIL's bicubic (a = -0.5).
double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Kernel {
  double (*weight)(double);
  double support;
};

Kernel kernel_of(ResampleFilter f) { return f == ResampleFilter::Bicubic ? Kernel{bicubic, 2.0} : Kernel{lanczos3, 3.0}; }

// For each output index, the first input index and the fixed-point weights of the taps.
struct Taps {
  int64_t width = 0;               // taps per output (the widest filter)
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;    // [out][width]
};

// PIL's precompute_coeffs: output o samples the source span [in0, in1) at in0 + (o + 0.5) * scale.
Taps compute_taps(int64_t in_size, double in0, double in1, int64_t out_size, Kernel kernel) {
  const double scale = (in1 - in0) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);  // shrinking widens the filter: anti-aliasing
  const double support = kernel.support * filter_scale;
  Taps taps;
  taps.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(static_cast<size_t>(out_size));
  taps.count.resize(static_cast<size_t>(out_size));
  taps.weights.assign(static_cast<size_t>(out_size * taps.width), 0);
  std::vector<double> w(static_cast<size_t>(taps.width));
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = in0 + (static_cast<double>(o) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    double total = 0.0;
    for (int64_t i = lo; i < hi; ++i) {
      w[static_cast<size_t>(i - lo)] = kernel.weight((static_cast<double>(i) - center + 0.5) / filter_scale);
      total += w[static_cast<size_t>(i - lo)];
    }
    for (int64_t i = lo; i < hi; ++i) {
      double v = w[static_cast<size_t>(i - lo)];
      if (total != 0.0) v /= total;
      // round half away from zero, as PIL does
      const double fixed = v * static_cast<double>(1 << kPrecisionBits);
      taps.weights[static_cast<size_t>(o * taps.width + (i - lo))] = static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    taps.first[static_cast<size_t>(o)] = lo;
    taps.count[static_cast<size_t>(o)] = hi - lo;
  }
  return taps;
}

uint8_t clip8(int32_t accumulated) {
  return static_cast<uint8_t>(std::clamp(accumulated >> kPrecisionBits, 0, 255));
}

// Filters rows first_row.. of `in` along x into `out` (out.height rows).
void resample_rows(const Image8& in, Image8& out, const Taps& taps, int64_t first_row) {
  const int64_t c = in.channels;
  for (int64_t y = 0; y < out.height; ++y) {
    const uint8_t* row = in.pixels.data() + (first_row + y) * in.width * c;
    uint8_t* dst = out.pixels.data() + y * out.width * c;
    for (int64_t x = 0; x < out.width; ++x) {
      const int32_t* k = taps.weights.data() + x * taps.width;
      const uint8_t* src = row + taps.first[static_cast<size_t>(x)] * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (int64_t t = 0; t < taps.count[static_cast<size_t>(x)]; ++t) acc += src[t * c + ch] * k[t];
        dst[x * c + ch] = clip8(acc);
      }
    }
  }
}

// Filters along y into `out`; `in` holds the source rows from `row_offset` on.
void resample_columns(const Image8& in, Image8& out, const Taps& taps, int64_t row_offset) {
  const int64_t c = in.channels, stride = in.width * c;
  for (int64_t y = 0; y < out.height; ++y) {
    const int32_t* k = taps.weights.data() + y * taps.width;
    const uint8_t* top = in.pixels.data() + (taps.first[static_cast<size_t>(y)] - row_offset) * stride;
    uint8_t* dst = out.pixels.data() + y * out.width * c;
    for (int64_t i = 0; i < out.width * c; ++i) {
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (int64_t t = 0; t < taps.count[static_cast<size_t>(y)]; ++t) acc += top[t * stride + i] * k[t];
      dst[i] = clip8(acc);
    }
  }
}

Image8 blank(int64_t width, int64_t height, int64_t channels) {
  return Image8{width, height, channels, std::vector<uint8_t>(static_cast<size_t>(width * height * channels))};
}

}  // namespace

// PIL's RGBA -> RGBa: colour times alpha / 255, rounded.
void premultiply(Image8& image) {
  for (size_t i = 0; i < image.pixels.size(); i += 4)
    for (size_t ch = 0; ch < 3; ++ch) {
      const uint32_t t = image.pixels[i + ch] * image.pixels[i + 3] + 128u;
      image.pixels[i + ch] = static_cast<uint8_t>(((t >> 8) + t) >> 8);
    }
}

// PIL's RGBa -> RGBA: colour * 255 / alpha, truncated and clipped; alpha 0 or 255 unchanged.
void unpremultiply(Image8& image) {
  for (size_t i = 0; i < image.pixels.size(); i += 4) {
    const uint32_t alpha = image.pixels[i + 3];
    if (alpha == 0 || alpha == 255) continue;
    for (size_t ch = 0; ch < 3; ++ch) image.pixels[i + ch] = static_cast<uint8_t>(std::min(255u, 255u * image.pixels[i + ch] / alpha));
  }
}

int64_t round_down_to_multiple(int64_t size, int64_t multiple) { return size - size % multiple; }

Image8 resize_lanczos(const Image8& image, int64_t width, int64_t height) {
  if (width == image.width && height == image.height) return image;
  return resize_pil(image, width, height, ResampleFilter::Lanczos,
                    SourceBox{0, 0, static_cast<double>(image.width), static_cast<double>(image.height)});
}

Image8 resize_pil(const Image8& image, int64_t width, int64_t height, ResampleFilter filter, SourceBox box) {
  SDXL_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4, InvalidArgument,
             "[image] resizing needs 1, 3 or 4 channels, got ", image.channels);
  SDXL_CHECK(width > 0 && height > 0 && width <= kMaxImageSide && height <= kMaxImageSide, InvalidArgument,
             "[image] cannot resize to ", width, "x", height);
  SDXL_CHECK(image.width > 0 && image.height > 0 &&
                 image.pixels.size() == static_cast<size_t>(image.width * image.height * image.channels),
             InvalidArgument, "[image] the pixel buffer does not match ", image.width, "x", image.height);
  SDXL_CHECK(box.x0 >= 0 && box.y0 >= 0 && box.x1 >= box.x0 && box.y1 >= box.y0 && box.x1 <= static_cast<double>(image.width) &&
                 box.y1 <= static_cast<double>(image.height),
             InvalidArgument, "[image] the source box is not inside the ", image.width, "x", image.height, " image");
  const bool whole = box.x0 == 0 && box.y0 == 0 && box.x1 == static_cast<double>(image.width) && box.y1 == static_cast<double>(image.height);
  if (width == image.width && height == image.height && whole) return image;
  // PIL filters along an axis when the size or the box changes it.
  const bool horizontal = width != image.width || box.x0 != 0 || box.x1 != static_cast<double>(image.width);
  const bool vertical = height != image.height || box.y0 != 0 || box.y1 != static_cast<double>(image.height);
  const Kernel kernel = kernel_of(filter);
  Image8 current = image;
  if (current.channels == 4) premultiply(current);
  const Taps columns = compute_taps(image.height, box.y0, box.y1, height, kernel);
  // The horizontal pass only filters the rows the vertical pass will read.
  const int64_t first_row = columns.first.front();
  const int64_t last_row = columns.first.back() + columns.count.back();
  int64_t row_offset = 0;
  if (horizontal) {
    Image8 rows = blank(width, vertical ? last_row - first_row : image.height, current.channels);
    resample_rows(current, rows, compute_taps(image.width, box.x0, box.x1, width, kernel), vertical ? first_row : 0);
    current = std::move(rows);
    row_offset = vertical ? first_row : 0;
  }
  if (vertical) {
    Image8 out = blank(width, height, current.channels);
    resample_columns(current, out, columns, row_offset);
    current = std::move(out);
  }
  if (current.channels == 4) unpremultiply(current);
  return current;
}

Image8 resize_nearest_pil(const Image8& image, int64_t width, int64_t height) {
  SDXL_CHECK(width > 0 && height > 0 && width <= kMaxImageSide && height <= kMaxImageSide, InvalidArgument,
             "[resize] ", width, "x", height, " is not a size to resize to");
  Image8 out{width, height, image.channels, std::vector<uint8_t>(static_cast<size_t>(width * height * image.channels))};
  if (width == image.width && height == image.height) return image;
  const double step_x = static_cast<double>(image.width) / static_cast<double>(width);
  const double step_y = static_cast<double>(image.height) / static_cast<double>(height);
  std::vector<int64_t> columns(static_cast<size_t>(width));
  double at = step_x * 0.5;
  for (int64_t x = 0; x < width; ++x, at += step_x)
    columns[static_cast<size_t>(x)] = std::min<int64_t>(at < 0 ? -1 : static_cast<int64_t>(at), image.width - 1);
  at = step_y * 0.5;
  const size_t c = static_cast<size_t>(image.channels);
  for (int64_t y = 0; y < height; ++y, at += step_y) {
    const int64_t sy = std::min<int64_t>(static_cast<int64_t>(at), image.height - 1);
    for (int64_t x = 0; x < width; ++x)
      for (size_t k = 0; k < c; ++k)
        out.pixels[static_cast<size_t>(y * width + x) * c + k] =
            image.pixels[static_cast<size_t>(sy * image.width + columns[static_cast<size_t>(x)]) * c + k];
  }
  return out;
}

}  // namespace sdxl::io
