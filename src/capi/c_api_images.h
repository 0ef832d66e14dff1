// The C API's images: results handed out (sdxl_images) and 8-bit images in and out of files
// and memory (PNG, JPEG).
#pragma once

#include "io/image_file.h"
#include "pipeline/engine.h"
#include "pipeline/request/infotext.h"
#include "sdxl/sdxl.h"

namespace sdxl::capi {

// An image's size and channels from the caller, checked, without its pixels; `what` names it in errors.
io::Image8 image_header(int width, int height, int channels, const char* what);
// Pixels from the caller as an 8-bit image (image_header's checks, then a copy).
// An 8-bit image handed out (sdxl_image_free frees it).
sdxl_image* to_c_image(const io::Image8& image);
io::Image8 image_of(const unsigned char* pixels, int width, int height, int channels, const char* what);
// The images of `result`, with what each ran with (from `request`, the request the engine ran)
// kept behind them for its PNG text.
sdxl_images* to_images(const pipeline::EngineResult& result, const pipeline::EngineRequest& request,
                       const pipeline::EngineOptions& options);
void free_images(sdxl_images* images);
// What image `index` of a set from to_images ran with.
pipeline::InfotextFields ran_with(const sdxl_images* images, int index);

}  // namespace sdxl::capi
