#include "pipeline/stages/upscale.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/memory.h"
#include "io/image_resize.h"

namespace sdxl::pipeline {
namespace {

// Rows/columns [y0, y0 + h) x [x0, x0 + w) of the padded image as the net's input [1, h, w, 3]:
// k / 255, channels reversed for BGR. Indices past the image reflect (torch's "reflect" pad).
Tensor input_tile(Arena& arena, const io::Image8& image, int64_t y0, int64_t x0, int64_t h, int64_t w, ChannelOrder order) {
  Tensor t = Tensor::in_arena(arena, Shape{1, h, w, 3}, DType::F32);
  float* out = t.data<float>();
  auto reflect = [](int64_t i, int64_t n) { return i < n ? i : 2 * (n - 1) - i; };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t sy = reflect(y0 + y, image.height), sx = reflect(x0 + x, image.width);
      const uint8_t* p = &image.pixels[static_cast<size_t>((sy * image.width + sx) * 3)];
      float* q = out + (y * w + x) * 3;
      for (int c = 0; c < 3; ++c) q[c] = static_cast<float>(p[order == ChannelOrder::Bgr ? 2 - c : c]) / 255.0f;
    }
  return t;
}

int64_t multiple_of_input(const models::RrdbNet& net) { return 4 / net.config().scale; }

}  // namespace

int64_t upscale_tile(const models::RrdbNet& net, const io::Image8& image, const UpscaleOptions& options) {
  SDXL_CHECK(options.tile >= -1 && options.overlap >= 0, InvalidArgument, "[upscale] tile ", options.tile, " and overlap ",
             options.overlap, " must be >= 0 (tile -1: automatic)");
  int64_t tile = options.tile;
  if (tile < 0) {
    const double whole_gib = static_cast<double>(net.peak_bytes(image.height, image.width)) / (1ull << 30);
    tile = whole_gib < 0.5 * available_memory_gib() ? 0 : kDefaultTile;
  }
  if (tile == 0 || (tile >= image.height && tile >= image.width)) return 0;
  const int64_t m = multiple_of_input(net);
  tile = std::max<int64_t>(m, tile / m * m);
  SDXL_CHECK(options.overlap < tile, InvalidArgument, "[upscale] the tile overlap ", options.overlap,
             " must be smaller than the tile (", tile, ")");
  return tile;
}

Tensor upscale_raw(Arena& arena, const models::RrdbNet& net, const io::Image8& image, const UpscaleOptions& options) {
  SDXL_CHECK(image.channels == 3 && image.width > 0 && image.height > 0, InvalidArgument,
             "[upscale] the image must be RGB (3 channels), not ", image.channels);
  const int64_t m = multiple_of_input(net), s = net.config().scale;
  const int64_t h = (image.height + m - 1) / m * m, w = (image.width + m - 1) / m * m;  // padded
  SDXL_CHECK(h - image.height < image.height && w - image.width < image.width, InvalidArgument, "[upscale] a ",
             image.width, "x", image.height, " image is too small for an x", s, " net");
  Tensor out = Tensor::in_arena(arena, Shape{1, image.height * s, image.width * s, 3}, DType::F32);
  const int64_t tile = upscale_tile(net, image, options);
  ArenaScope temporaries(arena);
  // The net's activations in an arena of their own, reserved for a whole pass: a pass that
  // outgrew it would free and fetch its overflow at every layer.
  const int64_t pass_h = tile == 0 ? h : std::min(tile, h), pass_w = tile == 0 ? w : std::min(tile, w);
  Arena work(static_cast<size_t>(net.peak_bytes(pass_h, pass_w) + (64u << 20)));
  Tensor padded;  // [1, s h, s w, 3]: the net's output for the padded image
  if (tile == 0) {
    padded = net.forward(work, input_tile(work, image, 0, 0, h, w, options.channel_order));
  } else {
    // tiled_upscale_2: tiles at a stride of tile - overlap plus one flush with the far edge; the
    // outputs are summed and divided by how many tiles covered each pixel.
    const int64_t th = std::min(tile, h), tw = std::min(tile, w), stride_h = std::max<int64_t>(th - options.overlap, m),
                  stride_w = std::max<int64_t>(tw - options.overlap, m);
    std::vector<int64_t> ys, xs;
    for (int64_t y = 0; y < h - th; y += stride_h) ys.push_back(y / m * m);
    ys.push_back(h - th);
    for (int64_t x = 0; x < w - tw; x += stride_w) xs.push_back(x / m * m);
    xs.push_back(w - tw);
    padded = Tensor::in_arena(arena, Shape{1, h * s, w * s, 3}, DType::F32);
    std::vector<float> count(static_cast<size_t>(h * s * w * s), 0.0f);
    std::fill(padded.data<float>(), padded.data<float>() + padded.numel(), 0.0f);
    for (int64_t y0 : ys)
      for (int64_t x0 : xs) {
        work.reset();  // the first tile's overflow, if any, becomes one block for the rest
        const Tensor o = net.forward(work, input_tile(work, image, y0, x0, th, tw, options.channel_order));
        for (int64_t y = 0; y < th * s; ++y) {
          float* dst = padded.data<float>() + ((y0 * s + y) * w * s + x0 * s) * 3;
          const float* src = o.data<float>() + y * tw * s * 3;
          float* n = count.data() + (y0 * s + y) * w * s + x0 * s;
          for (int64_t i = 0; i < tw * s * 3; ++i) dst[i] += src[i];
          for (int64_t i = 0; i < tw * s; ++i) n[i] += 1.0f;
        }
      }
    float* p = padded.data<float>();
    for (int64_t i = 0; i < h * s * w * s; ++i)
      for (int c = 0; c < 3; ++c) p[i * 3 + c] /= count[static_cast<size_t>(i)];
  }
  // Crop the padding away and put the channels back in RGB order.
  const float* src = padded.data<float>();
  float* dst = out.data<float>();
  for (int64_t y = 0; y < image.height * s; ++y)
    for (int64_t x = 0; x < image.width * s; ++x)
      for (int c = 0; c < 3; ++c)
        dst[(y * image.width * s + x) * 3 + c] =
            src[(y * w * s + x) * 3 + (options.channel_order == ChannelOrder::Bgr ? 2 - c : c)];
  return out;
}

io::Image8 output_to_image8(const Tensor& output) {
  io::Image8 image{output.dim(2), output.dim(1), 3, std::vector<uint8_t>(static_cast<size_t>(output.numel()))};
  const float* x = output.data<float>();
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const float v = std::min(std::max(x[i], 0.0f), 1.0f) * 255.0f;
    image.pixels[i] = static_cast<uint8_t>(std::nearbyint(v));  // half to even, as numpy's round
  }
  return image;
}

io::Image8 upscale_once(const models::RrdbNet& net, const io::Image8& image, const UpscaleOptions& options) {
  Arena arena;
  return output_to_image8(upscale_raw(arena, net, image, options));
}

io::Image8 upscale_by(const models::RrdbNet& net, const io::Image8& image, double scale, const UpscaleOptions& options) {
  SDXL_CHECK(std::isfinite(scale) && scale > 0 && scale <= 16, InvalidArgument, "[upscale] scale ", scale,
             " must be in (0, 16]");
  const auto target_w = static_cast<int64_t>(std::floor(static_cast<double>(image.width) * scale / 8)) * 8;
  const auto target_h = static_cast<int64_t>(std::floor(static_cast<double>(image.height) * scale / 8)) * 8;
  SDXL_CHECK(target_w >= 8 && target_h >= 8 && target_w <= io::kMaxImageSide && target_h <= io::kMaxImageSide,
             InvalidArgument, "[upscale] ", image.width, "x", image.height, " x ", scale, " gives ", target_w, "x", target_h,
             ": each side must be 8 to ", io::kMaxImageSide);
  io::Image8 current = image;
  for (int pass = 0; pass < 3; ++pass) {
    if (current.width >= target_w && current.height >= target_h && (pass > 0 || scale != 1.0)) break;
    SDXL_CHECK(current.width * net.config().scale <= 2 * io::kMaxImageSide, InvalidArgument, "[upscale] the pass would make ",
               current.width * net.config().scale, " pixels wide, beyond ", 2 * io::kMaxImageSide);
    current = upscale_once(net, current, options);
  }
  if (current.width != target_w || current.height != target_h) current = io::resize_lanczos(current, target_w, target_h);
  return current;
}

}  // namespace sdxl::pipeline
