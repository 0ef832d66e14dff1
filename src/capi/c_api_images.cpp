#include "capi/c_api_images.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "capi/c_api_guard.h"
#include "core/error.h"
#include "imaging/a1111_inpaint.h"
#include "io/image_encode.h"
#include "io/image_resize.h"
#include "io/image_file.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl::capi {

sdxl::io::Image8 image_header(int width, int height, int channels, const char* what) {
  SDXL_CHECK(width > 0 && height > 0 && width <= sdxl::io::kMaxImageSide && height <= sdxl::io::kMaxImageSide &&
                 (channels == 1 || channels == 3 || channels == 4),
             InvalidArgument, "[generate] the ", what, " must have 1, 3 or 4 channels and sides between 1 and ",
             sdxl::io::kMaxImageSide, ", got ", width, "x", height, "x", channels);
  return {width, height, channels, {}};
}

sdxl::io::Image8 image_of(const unsigned char* pixels, int width, int height, int channels, const char* what) {
  sdxl::io::Image8 image = image_header(width, height, channels, what);
  image.pixels.assign(pixels, pixels + static_cast<size_t>(width) * height * channels);
  return image;
}

namespace {

// What sdxl_engine_generate hands out: the public struct first (a pointer to it is a pointer to
// the whole: the struct is standard-layout), then what each image ran with.
struct GeneratedImages {
  sdxl_images images;
  std::vector<sdxl::pipeline::InfotextFields>* ran_with;
};
static_assert(std::is_standard_layout_v<GeneratedImages>, "sdxl_images* must point at a whole GeneratedImages");

GeneratedImages& whole(sdxl_images* images) { return *reinterpret_cast<GeneratedImages*>(images); }
const GeneratedImages& whole(const sdxl_images* images) { return *reinterpret_cast<const GeneratedImages*>(images); }

}  // namespace

void free_images(sdxl_images* images) {
  if (!images) return;
  std::free(images->pixels);
  std::free(images->latents);
  for (int i = 0; i < images->lora_count; ++i) std::free(const_cast<char*>(images->loras[i].path));
  std::free(images->loras);
  delete whole(images).ran_with;
  delete &whole(images);
}

sdxl::pipeline::InfotextFields ran_with(const sdxl_images* images, int index) {
  const auto* fields = whole(images).ran_with;
  SDXL_CHECK(fields && index >= 0 && static_cast<size_t>(index) < fields->size(), InvalidArgument, "[infotext] image ", index,
             " of ", images->count, " (images made by sdxl_engine_generate)");
  return (*fields)[static_cast<size_t>(index)];
}

sdxl_images* to_images(const sdxl::pipeline::EngineResult& engine_result, const sdxl::pipeline::EngineRequest& request,
                       const sdxl::pipeline::EngineOptions& options) {
  const sdxl::pipeline::GenerateResult& result = engine_result.final;
  auto* made = new GeneratedImages{};
  std::unique_ptr<sdxl_images, void (*)(sdxl_images*)> out(&made->images, free_images);
  made->ran_with = new std::vector<sdxl::pipeline::InfotextFields>();
  if (!engine_result.loras.empty()) {
    out->loras = static_cast<sdxl_lora*>(std::calloc(engine_result.loras.size(), sizeof(sdxl_lora)));
    if (!out->loras) throw std::bad_alloc();
    for (const auto& l : engine_result.loras) {
      char* path = strdup(l.path.c_str());
      if (!path) throw std::bad_alloc();
      out->loras[out->lora_count++] = {path, l.weight};
    }
  }
  const sdxl::Tensor& img = result.images;
  std::vector<uint8_t> bytes(1, 0);
  out->count = static_cast<int>(result.latents.dim(0));
  if (img.defined()) {
    out->height = static_cast<int>(img.dim(1));
    out->width = static_cast<int>(img.dim(2));
    out->channels = static_cast<int>(img.dim(3));
    bytes = sdxl::pipeline::to_8bit(img);
    if (request.inpaint_frame && request.inpaint_overlay) {
      // AUTOMATIC1111's apply_overlay: each image back into the init image's frame.
      std::vector<uint8_t> framed;
      const size_t each = static_cast<size_t>(out->width) * out->height * out->channels;
      sdxl::io::Image8 done;
      for (int i = 0; i < out->count; ++i) {
        sdxl::io::Image8 generated{out->width, out->height, out->channels,
                                   std::vector<uint8_t>(bytes.begin() + static_cast<std::ptrdiff_t>(i * each),
                                                        bytes.begin() + static_cast<std::ptrdiff_t>((i + 1) * each))};
        done = sdxl::imaging::overlay_original(generated, *request.inpaint_frame);
        framed.insert(framed.end(), done.pixels.begin(), done.pixels.end());
      }
      out->width = static_cast<int>(done.width);
      out->height = static_cast<int>(done.height);
      bytes = std::move(framed);
    }
  }
  const sdxl::Tensor& lat = result.latents;
  out->latent_channels = static_cast<int>(lat.dim(1));
  out->latent_height = static_cast<int>(lat.dim(2));
  out->latent_width = static_cast<int>(lat.dim(3));
  out->pixels = static_cast<unsigned char*>(std::malloc(bytes.size()));
  out->latents = static_cast<float*>(std::malloc(lat.nbytes()));
  if (!out->pixels || !out->latents) throw std::bad_alloc();
  std::memcpy(out->pixels, bytes.data(), bytes.size());
  std::memcpy(out->latents, lat.raw(), lat.nbytes());
  for (int i = 0; i < out->count; ++i)
    made->ran_with->push_back(
        sdxl::pipeline::infotext_fields(request, options, engine_result.loras, out->width, out->height, i));
  return out.release();
}

// Image `index` of a set, as an 8-bit image.
namespace {

sdxl::io::Image8 image_at(const sdxl_images* images, int index) {
  SDXL_CHECK(index >= 0 && index < images->count, InvalidArgument, "[png] image ", index, " of ", images->count);
  SDXL_CHECK(images->pixels && images->width > 0, InvalidArgument, "[png] the images were not decoded (latents only)");
  sdxl::io::Image8 image;
  image.width = images->width;
  image.height = images->height;
  image.channels = images->channels;
  const size_t size = static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * static_cast<size_t>(image.channels);
  image.pixels.assign(images->pixels + static_cast<size_t>(index) * size, images->pixels + static_cast<size_t>(index + 1) * size);
  return image;
}

std::vector<std::pair<std::string, std::string>> parameters_text(const char* parameters) {
  if (!parameters) return {};
  return {{"parameters", parameters}};
}

}  // namespace

sdxl_image* to_c_image(const sdxl::io::Image8& read) {
  auto out = std::make_unique<sdxl_image>();
  out->width = static_cast<int>(read.width);
  out->height = static_cast<int>(read.height);
  out->channels = static_cast<int>(read.channels);
  out->pixels = static_cast<unsigned char*>(std::malloc(read.pixels.size()));
  if (!out->pixels) throw std::bad_alloc();
  std::memcpy(out->pixels, read.pixels.data(), read.pixels.size());
  return out.release();
}


}  // namespace sdxl::capi

using sdxl::capi::free_images;
using sdxl::capi::image_at;
using sdxl::capi::image_of;
using sdxl::capi::parameters_text;
using sdxl::capi::to_c_image;

extern "C" {
void sdxl_images_free(sdxl_images* images) { free_images(images); }

sdxl_status sdxl_read_image(const char* path, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && image, InvalidArgument, "[image] path and image must not be NULL");
    *image = nullptr;
    *image = to_c_image(sdxl::io::read_image(path));
  });
}

void sdxl_image_free(sdxl_image* image) {
  if (!image) return;
  std::free(image->pixels);
  delete image;
}

sdxl_status sdxl_write_png(const char* path, const sdxl_images* images, int index, const char* parameters) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && images, InvalidArgument, "[png] path and images must not be NULL");
    sdxl::io::write_png(path, image_at(images, index), parameters_text(parameters));
  });
}

sdxl_status sdxl_write_image_png(const char* path, const unsigned char* pixels, int width, int height, int channels) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && pixels, InvalidArgument, "[png] path and pixels must not be NULL");
    sdxl::io::write_png(path, image_of(pixels, width, height, channels, "image"));
  });
}

sdxl_status sdxl_write_latents(const char* path, const sdxl_images* images) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && images && images->latents, InvalidArgument, "[latents] path and images must not be NULL");
    sdxl::Shape shape{images->count, images->latent_channels, images->latent_height, images->latent_width};
    sdxl::Tensor t = sdxl::Tensor::view(images->latents, shape, sdxl::DType::F32, nullptr);
    sdxl::io::write_safetensors(path, {{"latents", t}});
  });
}

sdxl_status sdxl_decode_image(const unsigned char* bytes, size_t size, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && image, InvalidArgument, "[image] bytes and image must not be NULL");
    *image = nullptr;
    *image = to_c_image(sdxl::io::decode_image(std::vector<uint8_t>(bytes, bytes + size), "the image data"));
  });
}

sdxl_status sdxl_decode_image_bounded(const unsigned char* bytes, size_t size, long long max_pixels, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && image, InvalidArgument, "[image] bytes and image must not be NULL");
    SDXL_CHECK(max_pixels > 0, InvalidArgument, "[image] max_pixels must be positive, got ", max_pixels);
    *image = nullptr;
    *image = to_c_image(sdxl::io::decode_image(std::vector<uint8_t>(bytes, bytes + size), "the image data", max_pixels));
  });
}

sdxl_status sdxl_image_size(const unsigned char* bytes, size_t size, int* width, int* height) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && width && height, InvalidArgument, "[image] bytes, width and height must not be NULL");
    const sdxl::io::Image8 header = sdxl::io::image_header(std::vector<uint8_t>(bytes, bytes + size), "the image data");
    *width = static_cast<int>(header.width);
    *height = static_cast<int>(header.height);
  });
}

sdxl_status sdxl_encode_png(const sdxl_images* images, int index, const char* parameters, unsigned char** bytes,
                            size_t* size) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(images && bytes && size, InvalidArgument, "[png] images, bytes and size must not be NULL");
    *bytes = nullptr;
    *size = 0;
    sdxl::capi::copy_bytes(sdxl::io::encode_png(image_at(images, index), parameters_text(parameters)), bytes, size);
  });
}

sdxl_status sdxl_png_parameters(const unsigned char* bytes, size_t size, char** parameters) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && parameters, InvalidArgument, "[png] bytes and parameters must not be NULL");
    *parameters = nullptr;
    std::string found;
    for (const auto& [key, value] : sdxl::io::png_text_of(std::vector<uint8_t>(bytes, bytes + size), "the PNG data"))
      if (key == "parameters") found = value;
    *parameters = sdxl::capi::copy_string(found);
  });
}

sdxl_status sdxl_encode_image_as(const sdxl_images* images, int index, const char* format, int quality, int lossless,
                                 const char* parameters, unsigned char** bytes, size_t* size) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(images && format && bytes && size, InvalidArgument, "[image] images, format, bytes and size must not be NULL");
    *bytes = nullptr;
    *size = 0;
    const auto named = sdxl::io::image_format_named(format);
    SDXL_CHECK_PARAM(named, InvalidArgument, "output_format", "[image] output format '", format, "' is not png, jpeg or webp");
    SDXL_CHECK_PARAM(quality >= 0 && quality <= 100, InvalidArgument, "output_quality", "[image] quality must be in [1, 100] (0: 80), got ",
                     quality);
    const sdxl::io::ImageEncoding encoding{*named, quality == 0 ? 80 : quality, lossless != 0};
    sdxl::capi::copy_bytes(sdxl::io::encode_image(image_at(images, index), encoding, parameters ? parameters : ""), bytes, size);
  });
}

sdxl_status sdxl_image_parameters(const unsigned char* bytes, size_t size, char** parameters) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && parameters, InvalidArgument, "[image] bytes and parameters must not be NULL");
    *parameters = nullptr;
    *parameters = sdxl::capi::copy_string(sdxl::io::image_parameters(std::vector<uint8_t>(bytes, bytes + size), "the image data"));
  });
}

void sdxl_free_bytes(unsigned char* bytes) { std::free(bytes); }

sdxl_status sdxl_encode_image_png(const unsigned char* pixels, int width, int height, int channels, unsigned char** bytes,
                                  size_t* size) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(pixels && bytes && size, InvalidArgument, "[png] pixels, bytes and size must not be NULL");
    *bytes = nullptr;
    *size = 0;
    sdxl::capi::copy_bytes(sdxl::io::encode_png(image_of(pixels, width, height, channels, "image")), bytes, size);
  });
}

sdxl_status sdxl_encode_image_png_text(const unsigned char* pixels, int width, int height, int channels,
                                       const char* const* keys, const char* const* values, int count, unsigned char** bytes,
                                       size_t* size) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(pixels && bytes && size && count >= 0 && (count == 0 || (keys && values)), InvalidArgument,
               "[png] pixels, bytes and size must not be NULL, and count keys and values given");
    *bytes = nullptr;
    *size = 0;
    std::vector<std::pair<std::string, std::string>> text;
    for (int i = 0; i < count; ++i) {
      SDXL_CHECK(keys[i] && values[i] && *keys[i], InvalidArgument, "[png] text entry ", i, " needs a key and a value");
      text.emplace_back(keys[i], values[i]);
    }
    sdxl::capi::copy_bytes(sdxl::io::encode_png(image_of(pixels, width, height, channels, "image"), text), bytes, size);
  });
}

sdxl_status sdxl_resize_image(const sdxl_image* image, int width, int height, const char* filter, sdxl_image** resized) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(image && resized, InvalidArgument, "[resize] image and resized must not be NULL");
    *resized = nullptr;
    const std::string kind = filter ? filter : "lanczos";
    SDXL_CHECK_PARAM(kind == "lanczos" || kind == "nearest", InvalidArgument, "filter", "[resize] filter '", kind,
                     "' is not lanczos or nearest");
    SDXL_CHECK_PARAM(width > 0 && height > 0 && width <= sdxl::io::kMaxImageSide && height <= sdxl::io::kMaxImageSide,
                     InvalidArgument, "width", "[resize] ", width, "x", height, ": each side must be 1 to ",
                     sdxl::io::kMaxImageSide);
    const sdxl::io::Image8 in = image_of(image->pixels, image->width, image->height, image->channels, "image");
    *resized = sdxl::capi::to_c_image(kind == "nearest" ? sdxl::io::resize_nearest_pil(in, width, height)
                                                        : sdxl::io::resize_lanczos(in, width, height));
  });
}

}  // extern "C"