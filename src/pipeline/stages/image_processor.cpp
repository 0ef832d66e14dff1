#include "pipeline/stages/image_processor.h"

#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "io/image_file.h"
#include "io/image_resize.h"

namespace sdxl::pipeline {

ImageSize processed_size(const io::Image8& image, int64_t width, int64_t height, int64_t multiple) {
  return {io::round_down_to_multiple(width > 0 ? width : image.width, multiple),
          io::round_down_to_multiple(height > 0 ? height : image.height, multiple)};
}

namespace {

io::Image8 resized(const io::Image8& image, ImageSize size, const char* what) {
  SDXL_CHECK(size.width > 0 && size.height > 0, InvalidArgument, "[image] the ", what, " cannot be resized to ",
             size.width, "x", size.height);
  if (size.width == image.width && size.height == image.height) return image;
  log_info("[image] resizing the ", what, " from ", image.width, "x", image.height, " to ", size.width, "x", size.height);
  return io::resize_lanczos(image, size.width, size.height);
}

}  // namespace

Tensor preprocess_image(const io::Image8& input, ImageSize size) {
  return image_tensor(io::to_rgb(resized(input, size, "init image")));
}

Tensor image_tensor(const io::Image8& image) {
  SDXL_CHECK(image.channels == 3, Internal, "[image] ", image.channels, " channels where RGB was expected");
  Tensor out = Tensor::empty(Shape{1, 3, image.height, image.width}, DType::F32);
  const int64_t plane = image.width * image.height;
  float* dst = out.data<float>();
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t c = 0; c < 3; ++c) dst[c * plane + i] = static_cast<float>(image.pixels[static_cast<size_t>(i * 3 + c)]) / 255.0f;
  return out;
}

Tensor preprocess_mask(const io::Image8& input, ImageSize size) {
  const io::Image8 mask = io::to_gray(resized(input, size, "mask"));
  Tensor out = Tensor::empty(Shape{1, 1, mask.height, mask.width}, DType::F32);
  for (size_t i = 0; i < mask.pixels.size(); ++i) out.data<float>()[i] = static_cast<float>(mask.pixels[i]) / 255.0f;
  return out;
}

std::vector<uint8_t> to_8bit(const Tensor& images) {
  std::vector<uint8_t> out(static_cast<size_t>(images.numel()));
  for (int64_t i = 0; i < images.numel(); ++i)
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(std::nearbyint(images.data<float>()[i] * 255.0f));
  return out;
}

}  // namespace sdxl::pipeline
