#include "imaging/a1111_inpaint.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/image_resize.h"

namespace sdxl::imaging {
namespace {

Image8 lanczos(const Image8& image, int64_t w, int64_t h) { return io::resize_lanczos(image, w, h); }

// resized.resize(size, box=...) with resize's default filter (bicubic): an edge stretched.
Image8 stretch(const Image8& image, int64_t w, int64_t h, double x0, double y0, double x1, double y1) {
  return io::resize_pil(image, w, h, io::ResampleFilter::Bicubic, io::SourceBox{x0, y0, x1, y1});
}

// Python's // on possibly negative ints.
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Image8 resize_image(int mode, const Image8& im, int64_t width, int64_t height) {
  SDXL_CHECK(mode >= 0 && mode <= 2, InvalidArgument, "[image] resize mode ", mode, " is not 0, 1 or 2");
  if (mode == 0) return lanczos(im, width, height);
  const double ratio = static_cast<double>(width) / static_cast<double>(height);
  const double src_ratio = static_cast<double>(im.width) / static_cast<double>(im.height);
  Image8 res = blank_image(width, height, 3);
  if (mode == 1) {
    const int64_t src_w = ratio > src_ratio ? width : im.width * height / im.height;
    const int64_t src_h = ratio <= src_ratio ? height : im.height * width / im.width;
    paste(res, lanczos(im, src_w, src_h), floor_div(width, 2) - floor_div(src_w, 2), floor_div(height, 2) - floor_div(src_h, 2));
    return res;
  }
  const int64_t src_w = ratio < src_ratio ? width : im.width * height / im.height;
  const int64_t src_h = ratio >= src_ratio ? height : im.height * width / im.width;
  const Image8 resized = lanczos(im, src_w, src_h);
  paste(res, resized, width / 2 - src_w / 2, height / 2 - src_h / 2);
  const double rw = static_cast<double>(resized.width), rh = static_cast<double>(resized.height);
  if (ratio < src_ratio) {
    const int64_t fill_h = height / 2 - src_h / 2;
    if (fill_h > 0) {
      paste(res, stretch(resized, width, fill_h, 0, 0, static_cast<double>(width), 0), 0, 0);
      paste(res, stretch(resized, width, fill_h, 0, rh, static_cast<double>(width), rh), 0, fill_h + src_h);
    }
  } else if (ratio > src_ratio) {
    const int64_t fill_w = width / 2 - src_w / 2;
    if (fill_w > 0) {
      paste(res, stretch(resized, fill_w, height, 0, 0, 0, static_cast<double>(height)), 0, 0);
      paste(res, stretch(resized, fill_w, height, rw, 0, rw, static_cast<double>(height)), fill_w + src_w, 0);
    }
  }
  return res;
}

bool crop_region(const Image8& mask, int padding, Box& region) {
  if (!bounding_box(mask, region)) return false;
  if (padding == 0) return true;
  region = {std::max<int64_t>(region.x0 - padding, 0), std::max<int64_t>(region.y0 - padding, 0),
            std::min<int64_t>(region.x1 + padding, mask.width), std::min<int64_t>(region.y1 + padding, mask.height)};
  return true;
}

Box expand_crop_region(Box r, int64_t width, int64_t height, int64_t image_width, int64_t image_height) {
  const double ratio_region = static_cast<double>(r.x1 - r.x0) / static_cast<double>(r.y1 - r.y0);
  const double ratio = static_cast<double>(width) / static_cast<double>(height);
  // One axis grows to the size's aspect, centred, kept inside the image (Python's // and int()).
  const auto grow = [](int64_t& lo, int64_t& hi, double desired, int64_t limit) {
    const int64_t diff = static_cast<int64_t>(desired - static_cast<double>(hi - lo));
    lo -= floor_div(diff, 2);
    hi += diff - floor_div(diff, 2);
    if (hi >= limit) {
      lo -= hi - limit;
      hi = limit;
    }
    if (lo < 0) {
      hi -= lo;
      lo = 0;
    }
    if (hi >= limit) hi = limit;
  };
  if (ratio_region > ratio) grow(r.y0, r.y1, static_cast<double>(r.x1 - r.x0) / ratio, image_height);
  else grow(r.x0, r.x1, static_cast<double>(r.y1 - r.y0) * ratio, image_width);
  return r;
}

Image8 binary_mask(const Image8& mask) {
  if (mask.channels == 4) {
    Image8 alpha = alpha_channel(mask);
    const bool opaque = std::all_of(alpha.pixels.begin(), alpha.pixels.end(), [](uint8_t v) { return v == 255; });
    if (!opaque) {
      for (auto& v : alpha.pixels) v = v > 128 ? 255 : 0;
      return alpha;
    }
  }
  return to_gray(mask);
}

Image8 flatten(const Image8& image) {
  if (image.channels != 4) return to_rgb(image);
  Image8 background = to_rgba(blank_image(image.width, image.height, 3));
  for (size_t i = 0; i < background.pixels.size(); i += 4) std::fill_n(background.pixels.begin() + static_cast<std::ptrdiff_t>(i), 3, 255);
  alpha_composite(background, image);
  return to_rgb(background);
}

Image8 fill_masked(const Image8& rgb, const Image8& mask) {
  Image8 result = blank_image(rgb.width, rgb.height, 4);
  Image8 masked = blank_image(rgb.width, rgb.height, 4);  // "RGBa"
  paste_with_mask(masked, premultiplied(to_rgba(rgb)), invert(to_gray(mask)));
  const struct {
    float radius;
    int repeats;
  } passes[] = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};
  for (const auto& p : passes) {
    const Image8 blurred = unpremultiplied(pil_gaussian_blur(masked, p.radius));
    for (int i = 0; i < p.repeats; ++i) alpha_composite(result, blurred);
  }
  return to_rgb(result);
}

InpaintFrame frame_inpainting(const Image8& image, const Image8& mask, int64_t width, int64_t height, const InpaintOptions& o) {
  SDXL_CHECK(image.width == mask.width && image.height == mask.height, InvalidArgument, "[inpaint] the mask is ", mask.width,
             "x", mask.height, " but the image is ", image.width, "x", image.height);
  SDXL_CHECK(o.blur_x >= 0 && o.blur_y >= 0 && o.padding >= 0, InvalidArgument, "[inpaint] negative blur or padding");
  Image8 m = binary_mask(mask);
  if (o.invert) m = invert(m);
  // OpenCV's Gaussian of sigma blur over 2 * int(2.5 * blur + 0.5) + 1 pixels, x then y.
  if (o.blur_x > 0) m = cv_gaussian_blur(m, 2 * static_cast<int>(2.5 * o.blur_x + 0.5) + 1, 1, o.blur_x, 0);
  if (o.blur_y > 0) m = cv_gaussian_blur(m, 1, 2 * static_cast<int>(2.5 * o.blur_y + 0.5) + 1, o.blur_y, 0);
  InpaintFrame f;
  Image8 mask_for_overlay;
  std::optional<Box> region;
  Box box;
  if (o.only_masked && crop_region(m, o.padding, box)) {
    box = expand_crop_region(box, width, height, m.width, m.height);
    region = box;
    mask_for_overlay = m;
    f.mask = to_gray(resize_image(2, crop(m, box), width, height));
    f.paste_to = box;
    f.only_masked = true;
  } else {  // (a blank mask with only_masked: AUTOMATIC1111 goes on as plain inpainting)
    f.mask = resize_image(0, m, width, height);
    mask_for_overlay = f.mask;
    for (auto& v : mask_for_overlay.pixels) v = static_cast<uint8_t>(std::min(255, v * 2));
  }
  Image8 work = flatten(image);
  if (!region) work = resize_image(0, work, width, height);
  f.overlay = blank_image(work.width, work.height, 4);  // "RGBa"
  paste_with_mask(f.overlay, premultiplied(to_rgba(work)), invert(mask_for_overlay));
  f.overlay = unpremultiplied(f.overlay);
  if (region) work = resize_image(2, crop(work, *region), width, height);
  if (o.content != MaskedContent::Original) work = fill_masked(work, f.mask);
  f.image = to_rgb(work);
  return f;
}

Image8 overlay_original(const Image8& generated, const InpaintFrame& frame) {
  Image8 image = to_rgba(generated);
  if (frame.paste_to) {
    Image8 base = blank_image(frame.overlay.width, frame.overlay.height, 4);
    paste(base, resize_image(1, generated, frame.paste_to->width(), frame.paste_to->height()), frame.paste_to->x0, frame.paste_to->y0);
    image = std::move(base);
  }
  alpha_composite(image, frame.overlay);
  return to_rgb(image);
}

}  // namespace sdxl::imaging
