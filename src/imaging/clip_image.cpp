#include "imaging/clip_image.h"

#include "core/error.h"
#include "io/image_file.h"
#include "io/image_resize.h"

namespace sdxl::imaging {

io::Image8 clip_resized_crop(const io::Image8& image, int64_t size) {
  SDXL_CHECK(image.width > 0 && image.height > 0 && size > 0, InvalidArgument, "[clip-image] an empty image");
  const io::Image8 rgb = io::to_rgb(image);
  // transformers' get_resize_output_image_size with default_to_square=False.
  const bool portrait = rgb.width <= rgb.height;
  const int64_t short_side = portrait ? rgb.width : rgb.height, long_side = portrait ? rgb.height : rgb.width;
  const auto long_out = static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(long_side) /
                                             static_cast<double>(short_side));
  const int64_t width = portrait ? size : long_out, height = portrait ? long_out : size;
  const io::Image8 resized =
      io::resize_pil(rgb, width, height, io::ResampleFilter::Bicubic,
                     io::SourceBox{0, 0, static_cast<double>(rgb.width), static_cast<double>(rgb.height)});
  // center_crop: top = (h - size) // 2, left = (w - size) // 2 (both >= 0 after the resize).
  const int64_t top = (height - size) / 2, left = (width - size) / 2;
  io::Image8 crop;
  crop.width = size;
  crop.height = size;
  crop.channels = 3;
  crop.pixels.resize(static_cast<size_t>(size * size * 3));
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size * 3; ++x)
      crop.pixels[static_cast<size_t>(y * size * 3 + x)] =
          resized.pixels[static_cast<size_t>((top + y) * width * 3 + left * 3 + x)];
  return crop;
}

Tensor clip_pixel_values(const io::Image8& image, int64_t size) {
  static constexpr float kMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  static constexpr float kStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  const io::Image8 crop = clip_resized_crop(image, size);
  Tensor out = Tensor::empty(Shape{1, 3, size, size}, DType::F32);
  float* dst = out.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < size * size; ++i) {
      const auto x = static_cast<float>(static_cast<double>(crop.pixels[static_cast<size_t>(i * 3 + c)]) * (1.0 / 255.0));
      dst[c * size * size + i] = (x - kMean[c]) / kStd[c];
    }
  return out;
}

}  // namespace sdxl::imaging
