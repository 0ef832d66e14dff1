// A case's 8-bit image input ([1, C, H, W] floats k / 255) written as the PNG a user would give the
// CLI: exact, since its values are multiples of 1/255.
#pragma once

#include <cmath>
#include <filesystem>

#include "core/tensor.h"
#include "io/png.h"

namespace sdxl {

inline void write_tensor_png(const std::filesystem::path& path, const Tensor& t) {
  io::Image8 image;
  image.channels = t.dim(1);
  image.height = t.dim(2);
  image.width = t.dim(3);
  const int64_t plane = image.height * image.width;
  image.pixels.resize(static_cast<size_t>(plane * image.channels));
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t c = 0; c < image.channels; ++c)
      image.pixels[static_cast<size_t>(i * image.channels + c)] =
          static_cast<uint8_t>(std::nearbyint(t.data<float>()[c * plane + i] * 255.0f));
  io::write_png(path, image);
}

}  // namespace sdxl
