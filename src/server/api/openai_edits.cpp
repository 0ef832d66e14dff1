// POST /v1/images/edits as the OpenAI clients send it (multipart/form-data): the image and its
// mask become the generation's init image and inpainting mask. OpenAI's mask marks the pixels to
// repaint by their transparency (alpha 0); the library's by white: the mask is turned into that
// form here. Without a mask, an image's own transparent pixels are the mask (as DALL-E 2 reads
// it); an opaque image without one is img2img.
#include <cstdlib>
#include <memory>
#include <set>

#include "server/api/request_parsers.h"
#include "server/http/multipart.h"
#include "server/http/request_fields.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

using PixelsHandle = std::unique_ptr<sdxl_image, void (*)(sdxl_image*)>;

PixelsHandle decode(const std::string& bytes, const std::string& field, long long max_pixels) {
  sdxl_image* image = nullptr;
  if (sdxl_decode_image_bounded(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), max_pixels, &image) !=
      SDXL_STATUS_OK)
    throw RequestError(400, field, field + ": " + sdxl_last_error());
  return PixelsHandle(image, sdxl_image_free);
}

// A gray PNG, white where `alpha` is 0 (the pixels to repaint); nullptr when no pixel is.
api::Image mask_of_transparency(const sdxl_image& image) {
  const size_t n = static_cast<size_t>(image.width) * static_cast<size_t>(image.height);
  std::string gray(n, '\0');
  bool any = false;
  for (size_t i = 0; i < n; ++i)
    if (image.pixels[i * 4 + 3] == 0) {
      gray[i] = static_cast<char>(255);
      any = true;
    }
  if (!any) return nullptr;
  unsigned char* png = nullptr;
  size_t size = 0;
  api::check(sdxl_encode_image_png(reinterpret_cast<const unsigned char*>(gray.data()), image.width, image.height, 1, &png, &size));
  std::string bytes(reinterpret_cast<char*>(png), size);
  sdxl_free_bytes(png);
  return api::InputImage::from_encoded(std::move(bytes));
}

// The plain fields as JSON with OpenAI's types (a form sends every value as text).
json fields_of(const std::vector<FormPart>& parts) {
  static const std::set<std::string> integers = {"n", "output_compression", "partial_images"};
  json body = json::object();
  for (const auto& p : parts) {
    if (!p.filename.empty() || p.name == "image" || p.name == "image[]" || p.name == "mask") {
      body[p.name] = "(file)";  // known to the field check; read below
      continue;
    }
    if (integers.count(p.name)) {
      char* end = nullptr;
      const long long v = std::strtoll(p.data.c_str(), &end, 10);
      if (p.data.empty() || *end != '\0') throw RequestError(400, p.name, p.name + ": '" + p.data + "' is not an integer");
      body[p.name] = v;
    } else if (p.name == "stream") {
      if (p.data != "true" && p.data != "false") throw RequestError(400, p.name, "stream: must be true or false");
      body[p.name] = p.data == "true";
    } else {
      body[p.name] = p.data;
    }
  }
  return body;
}

}  // namespace

JobRequest parse_openai_edit(const std::string& body, const std::string& content_type, const NameLookup& names,
                             OpenAiAnswer& answer) {
  if (!is_multipart_form(content_type))
    throw RequestError(400, "", "POST /v1/images/edits takes multipart/form-data (image, mask and the fields as form parts)");
  const std::vector<FormPart> parts = parse_multipart_form(body, content_type);
  const FormPart *image = nullptr, *mask = nullptr;
  for (const auto& p : parts) {
    if (p.name == "image" || p.name == "image[]") {
      if (image) throw RequestError(400, p.name, p.name + ": sdxl edits one image at a time");
      image = &p;
    } else if (p.name == "mask") {
      if (mask) throw RequestError(400, "mask", "mask: more than one");
      mask = &p;
    }
  }
  if (!image) throw RequestError(400, "image", "image: is required (a PNG, JPEG or WebP file)");
  JobRequest job = parse_openai_request(fields_of(parts), names, answer, /*edit=*/true);
  api::Generation& g = job.generation;
  if (answer.size == "auto") g.fit_to_size = false;  // the image's own size

  const long long max_pixels = api::max_input_pixels(g);
  const PixelsHandle pixels = decode(image->data, image->name, max_pixels);
  g.image = api::InputImage::from_encoded(image->data);
  if (mask) {
    const PixelsHandle m = decode(mask->data, "mask", max_pixels);
    if (m->width != pixels->width || m->height != pixels->height)
      throw RequestError(400, "mask", "mask: " + std::to_string(m->width) + "x" + std::to_string(m->height) +
                                          " is not the image's size, " + std::to_string(pixels->width) + "x" +
                                          std::to_string(pixels->height));
    if (m->channels != 4) throw RequestError(400, "mask", "mask: must have an alpha channel (its transparent pixels are the ones to edit)");
    g.mask_image = mask_of_transparency(*m);
    if (!g.mask_image) throw RequestError(400, "mask", "mask: no pixel is transparent, so there is nothing to edit");
  } else if (pixels->channels == 4) {
    g.mask_image = mask_of_transparency(*pixels);
  }
  // diffusers' defaults: inpainting repaints the masked pixels from noise (strength 0.9999); an
  // edit without a mask is img2img at its pipeline's strength.
  g.strength = g.mask_image ? 0.9999 : 0.3;
  return job;
}

}  // namespace sdxl::server
