// 8-bit image operations exactly as Pillow 9.x computes them (mode conversions, crop, paste,
// premultiplied alpha, alpha compositing, GaussianBlur), and OpenCV's GaussianBlur: what
// AUTOMATIC1111's inpainting does to images around the model, reproduced to the byte.
#pragma once

#include <cstdint>

#include "io/image_file.h"
#include "io/png.h"

namespace sdxl::imaging {

using io::Image8;
using io::to_gray;  // convert("L"): ITU-R 601-2 luma, PIL's fixed point
using io::to_rgb;   // convert("RGB"): gray repeated, alpha dropped

struct Box {  // PIL's (left, upper, right, lower)
  int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int64_t width() const { return x1 - x0; }
  int64_t height() const { return y1 - y0; }
};

Image8 blank_image(int64_t width, int64_t height, int64_t channels);  // zeros (PIL's Image.new)
Image8 to_rgba(const Image8& image);   // convert("RGBA"): alpha 255 where there was none
Image8 alpha_channel(const Image8& rgba);  // split()[-1]
Image8 invert(const Image8& image);    // ImageOps.invert: 255 - v
// RGBA -> "RGBa" and back, as copies (io::premultiply / io::unpremultiply).
Image8 premultiplied(const Image8& rgba);
Image8 unpremultiplied(const Image8& rgba);

// crop(box): parts outside the image are zeros.
Image8 crop(const Image8& image, Box box);
// paste(src, (x, y)): src converted to dst's channels, clipped to dst.
void paste(Image8& dst, const Image8& src, int64_t x, int64_t y);
// paste(src, mask=L): per byte, dst = (dst * (255 - m) + src * m) / 255, rounded (same sizes).
void paste_with_mask(Image8& dst, const Image8& src, const Image8& mask);
// dst.alpha_composite(src): src over dst, both RGBA of one size.
void alpha_composite(Image8& dst, const Image8& src);

// getbbox(): the smallest box holding every non-zero pixel; false when there is none.
bool bounding_box(const Image8& image, Box& box);

// filter(ImageFilter.GaussianBlur(radius)): three box blurs of the radius PIL derives.
Image8 pil_gaussian_blur(const Image8& image, float radius);
// cv2.GaussianBlur(image, (kx, ky), sigma_x, sigma_y) on a gray image, OpenCV's default border.
Image8 cv_gaussian_blur(const Image8& gray, int kx, int ky, double sigma_x, double sigma_y);

}  // namespace sdxl::imaging
