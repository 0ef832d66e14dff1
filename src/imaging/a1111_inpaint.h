// AUTOMATIC1111's inpainting, the image side (1.10's StableDiffusionProcessingImg2Img.init and
// apply_overlay): the mask made binary, inverted and blurred; "only masked" cropping the box
// around it (padded, grown to the size's aspect) and working at the requested size; the masked
// area pre-filled from its surroundings ("fill"); and the original put back over the result
// outside the blurred mask. The model's side (what repaints the mask) is the pipeline's.
#pragma once

#include <optional>

#include "imaging/pil_ops.h"

namespace sdxl::imaging {

// AUTOMATIC1111's inpainting_fill 0-3.
enum class MaskedContent { Fill, Original, LatentNoise, LatentNothing };

struct InpaintOptions {
  bool invert = false;        // inpainting_mask_invert: repaint the black area
  int blur_x = 0, blur_y = 0; // mask_blur_x / _y, pixels (OpenCV's Gaussian of that sigma)
  bool only_masked = false;   // inpaint_full_res
  int padding = 0;            // inpaint_full_res_padding, pixels
  MaskedContent content = MaskedContent::Original;
};

struct InpaintFrame {
  Image8 image;   // RGB, width x height: what the model starts from
  Image8 mask;    // gray, width x height: the area to repaint (blurred; the model binarises it)
  Image8 overlay; // RGBA at the input's size: the original, transparent where it is repainted
  std::optional<Box> paste_to;  // only masked: where in the input the result goes back
  bool only_masked = false;     // false also when the mask was blank (AUTOMATIC1111 falls back)
};

// resize_image(mode, image, width, height) without an upscaler: 0 just resize (Lanczos), 1 crop
// and resize, 2 resize and fill (the edges stretched into the gaps). Modes 1 and 2 answer RGB.
Image8 resize_image(int mode, const Image8& image, int64_t width, int64_t height);
// get_crop_region_v2 (false for a blank mask) and expand_crop_region.
bool crop_region(const Image8& mask, int padding, Box& region);
Box expand_crop_region(Box region, int64_t width, int64_t height, int64_t image_width, int64_t image_height);
// create_binary_mask: an RGBA mask with any transparency is its alpha, > 128 made white; else gray.
Image8 binary_mask(const Image8& mask);
// flatten: transparency over AUTOMATIC1111's default background (white); RGB out.
Image8 flatten(const Image8& image);
// masking.fill: the unmasked colours blurred, ever less, over the masked area.
Image8 fill_masked(const Image8& rgb, const Image8& mask);

// The image side of init(): `image` (RGB or RGBA) and `mask` of one size, to `width` x `height`.
InpaintFrame frame_inpainting(const Image8& image, const Image8& mask, int64_t width, int64_t height, const InpaintOptions& options);
// apply_overlay: the generated image (width x height, RGB) back into the input's frame.
Image8 overlay_original(const Image8& generated, const InpaintFrame& frame);

}  // namespace sdxl::imaging
