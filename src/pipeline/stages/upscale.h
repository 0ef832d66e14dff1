// Running an ESRGAN-family upscaler on an 8-bit image as AUTOMATIC1111 does
// (modules/upscaler_utils.py): values k/255 in, the model's output clamped to [0, 1] and rounded
// half to even back to 8 bits; optionally with the channel axis reversed around the model (BGR,
// A1111's convention for these models); whole or in overlapping tiles whose outputs are averaged
// where they overlap (A1111's tiled_upscale_2), so memory stays bounded on large images.
#pragma once

#include <cstdint>

#include "core/arena.h"
#include "io/png.h"
#include "models/upscalers/rrdbnet.h"

namespace sdxl::pipeline {

enum class ChannelOrder { Rgb, Bgr };

struct UpscaleOptions {
  ChannelOrder channel_order = ChannelOrder::Rgb;
  int64_t tile = -1;    // tile side in input pixels: 0 the whole image, -1 whole when it fits in memory, else 192
  int64_t overlap = 8;  // input pixels shared by neighbouring tiles
};

// AUTOMATIC1111's defaults (ESRGAN_tile, ESRGAN_tile_overlap).
inline constexpr int64_t kDefaultTile = 192, kDefaultTileOverlap = 8;

// The tile side `options` come to for this image and net (0: the whole image).
int64_t upscale_tile(const models::RrdbNet& net, const io::Image8& image, const UpscaleOptions& options);

// The net's raw output [1, scale H, scale W, 3] (RGB, not clamped) for an RGB image. Sides the
// net cannot take (x2: odd, x1: not a multiple of 4) are reflect-padded and cropped back, as
// Real-ESRGAN's inference does.
Tensor upscale_raw(Arena& arena, const models::RrdbNet& net, const io::Image8& image, const UpscaleOptions& options);

// round_half_even(clamp(x, 0, 1) * 255) of a [1, H, W, 3] output.
io::Image8 output_to_image8(const Tensor& output);

// One pass of the net: the image times its scale.
io::Image8 upscale_once(const models::RrdbNet& net, const io::Image8& image, const UpscaleOptions& options);

// AUTOMATIC1111's Upscaler.upscale: the target is int(side * scale) // 8 * 8; the net runs until
// the image reaches it (at most three passes, and at least one unless scale is 1), then a Pillow
// Lanczos resize lands on the target exactly.
io::Image8 upscale_by(const models::RrdbNet& net, const io::Image8& image, double scale, const UpscaleOptions& options);

}  // namespace sdxl::pipeline
