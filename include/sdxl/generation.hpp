// What to generate, as one owned C++ value: every front end (the CLI, the server's three API
// families, the job queue) fills a Generation, and GenerateParams turns it into the C API's
// sdxl_generate_params: the one conversion between the two. A parameter added here and there
// reaches every front end that reads or writes a Generation whole (the server's JSON form).
// Names are diffusers' (StableDiffusionXLPipeline.__call__) where sdxl.h has them too.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdxl.hpp"

namespace sdxl::api {

using ImageHandle = std::shared_ptr<const sdxl_image>;

// An input image (img2img's init image, an inpainting mask): decoded pixels (read from a file
// now), or a PNG's or JPEG's bytes (an upload) kept compressed until the generation runs.
struct InputImage {
  ImageHandle decoded;
  std::string encoded;
  int width = 0, height = 0;  // from the header: known before anything is decoded

  static std::shared_ptr<const InputImage> read_file(const std::string& path) {
    sdxl_image* image = nullptr;
    check(sdxl_read_image(path.c_str(), &image));
    auto out = std::make_shared<InputImage>();
    out->decoded = ImageHandle(image, sdxl_image_free);
    out->width = image->width;
    out->height = image->height;
    return out;
  }
  // Reads only the header; Failure when the bytes are not a PNG or JPEG.
  static std::shared_ptr<const InputImage> from_encoded(std::string bytes) {
    auto out = std::make_shared<InputImage>();
    check(sdxl_image_size(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &out->width, &out->height));
    out->encoded = std::move(bytes);
    return out;
  }
  // The pixels: decoded now when they came encoded, refusing more than `max_pixels`.
  ImageHandle pixels(long long max_pixels) const {
    if (decoded) return decoded;
    sdxl_image* image = nullptr;
    check(sdxl_decode_image_bounded(reinterpret_cast<const unsigned char*>(encoded.data()), encoded.size(), max_pixels, &image));
    return ImageHandle(image, sdxl_image_free);
  }
};
using Image = std::shared_ptr<const InputImage>;

struct Lora {
  std::string path;
  double weight = 1.0;
};

// A ControlNet or T2I-Adapter unit (sdxl_controlnet_unit), its image kept as an InputImage.
struct ControlNet {
  std::string model, config_dir, name;  // config_dir, name: "" for none
  Image image;
  std::string preprocessor = "none";    // "none" or "canny"
  double threshold_a = 100, threshold_b = 200;
  int resolution = 0;  // 0: pixel perfect
  std::string resize_mode = "Crop and Resize";
  double scale = 1.0, start = 0.0, end = 1.0;
  std::string control_mode = "Balanced";
  bool a1111_window = false;
  std::string kind = "auto";  // or "controlnet", "t2i_adapter": what the model must be
};

// An IP-Adapter (sdxl_ip_adapter), its image kept as an InputImage.
struct IpAdapter {
  std::string model, image_encoder, name;  // name: "" for none
  Image image;
  double scale = 1.0, start = 0.0, end = 1.0;
};

// AUTOMATIC1111's hires fix (sdxl_hires).
struct Hires {
  double scale = 2.0;
  int resize_width = 0, resize_height = 0;  // instead of scale when set
  std::string upscaler = "Latent";           // a latent mode, "Lanczos", "Nearest", or upscaler_model's name
  std::string upscaler_model;                // an ESRGAN-family file
  int steps = 0;                             // 0: the first pass's
  double denoising_strength = 0.7;
  std::string sampler, scheduler;            // "": the first pass's
  std::optional<std::string> prompt, negative_prompt;
  std::optional<double> guidance_scale;
};

struct SizeWH {
  int width = 0, height = 0;  // 0 x 0: unset (the default of its parameter)
};
struct TopLeft {
  int top = 0, left = 0;
};

// The defaults are SDXL's and diffusers' (sdxl_generate_params_init's).
struct Generation {
  std::vector<std::string> prompts{""};
  std::vector<std::string> negative_prompts;  // none, one for all prompts, or one per prompt
  std::optional<std::string> prompt_2, negative_prompt_2;
  std::string prompt_syntax = "plain";  // or "a1111"
  int width = 1024, height = 1024;
  int steps = 30;
  double guidance_scale = 5.0, guidance_rescale = 0.0;
  int clip_skip = -1;  // -1: none
  std::string sampler = "euler";
  std::string scheduler;         // "", "automatic" or "karras"
  std::string timestep_spacing;  // "": the model's; "leading", "linspace", "trailing"
  uint64_t seed = 0;  // image i takes seed + i (its own generator), unless shared_generator
  bool shared_generator = false;  // diffusers' one generator for the whole batch
  uint64_t subseed = 0;           // AUTOMATIC1111's variation seed, at subseed_strength (0: none)
  double subseed_strength = 0.0;
  SizeWH seed_resize_from;  // AUTOMATIC1111's: the noise drawn at this size, centred (0 x 0: none)
  int images_per_prompt = 1;
  SizeWH original_size, target_size, negative_original_size, negative_target_size;
  TopLeft crops_coords_top_left, negative_crops_coords_top_left;
  Image image, mask_image;  // img2img, inpainting
  bool fit_to_size = true;  // the image resized to width x height; false: the output takes its size
  double strength = 0.3;
  // AUTOMATIC1111's inpainting options (sdxl_generate_params): its image operations around the
  // repainting; inpaint_fill "" is "original".
  bool mask_invert = false;
  int mask_blur_x = 0, mask_blur_y = 0;
  bool inpaint_only_masked = false;
  int inpaint_padding = 0;
  std::string inpaint_fill;
  double initial_noise_multiplier = 1.0;
  bool inpaint_overlay = false;
  std::string refiner_mode;  // "": the engine's default; "ensemble", "img2img", "none"
  double high_noise_frac = 0.8, refiner_strength = 0.3;
  std::optional<uint64_t> refiner_seed;
  double aesthetic_score = 6.0, negative_aesthetic_score = 2.5;
  bool vae_tiling = false;
  int preview_every = 0;
  std::vector<Lora> loras, refiner_loras;
  double eta = 0.0;  // DDIM's eta
  double ancestral_eta = 1.0;  // Euler a's (k-diffusion's eta)
  std::vector<ControlNet> controlnets;
  bool guess_mode = false;
  std::optional<IpAdapter> ip_adapter;
  std::optional<Hires> hires;
  // Paths a front end sets from its own configuration, never from a request.
  std::string embedding_dir;
};

// The most pixels an input image may have for `g`: 16 megapixels, or four times the size asked
// for when that is more (an image is resized to the size asked for).
inline long long max_input_pixels(const Generation& g) {
  return std::max(4096LL * 4096LL, 4LL * g.width * g.height);
}

// The C API's view of a Generation: pointers into `g` (which must outlive it) and into the
// pixels it decoded. With StandIns, the input images are blank images of their own size (all
// sdxl_engine_check looks at), so that a request can be checked before anything is decoded.
class GenerateParams {
 public:
  enum class Images { Decode, StandIns };

  explicit GenerateParams(const Generation& g, Images images = Images::Decode) {
    sdxl_generate_params& p = params_;
    sdxl_generate_params_init(&p);
    for (const auto& text : g.prompts) prompts_.push_back(text.c_str());
    for (const auto& text : g.negative_prompts) negatives_.push_back(text.c_str());
    for (const auto& l : g.loras) loras_.push_back({l.path.c_str(), l.weight});
    for (const auto& l : g.refiner_loras) refiner_loras_.push_back({l.path.c_str(), l.weight});
    p.prompts = prompts_.data();
    p.prompt_count = static_cast<int>(prompts_.size());
    p.negative_prompts = negatives_.data();
    p.negative_prompt_count = static_cast<int>(negatives_.size());
    p.prompt_2 = g.prompt_2 ? g.prompt_2->c_str() : nullptr;
    p.negative_prompt_2 = g.negative_prompt_2 ? g.negative_prompt_2->c_str() : nullptr;
    p.prompt_syntax = g.prompt_syntax.c_str();
    p.embedding_dir = g.embedding_dir.empty() ? nullptr : g.embedding_dir.c_str();
    p.width = g.width;
    p.height = g.height;
    p.steps = g.steps;
    p.guidance_scale = g.guidance_scale;
    p.guidance_rescale = g.guidance_rescale;
    p.clip_skip = g.clip_skip;
    p.sampler = g.sampler.c_str();
    p.scheduler = g.scheduler.empty() ? nullptr : g.scheduler.c_str();
    p.timestep_spacing = g.timestep_spacing.empty() ? nullptr : g.timestep_spacing.c_str();
    p.seed = g.seed;
    p.shared_generator = g.shared_generator ? 1 : 0;
    p.subseed = g.subseed;
    p.subseed_strength = g.subseed_strength;
    p.seed_resize_from_width = g.seed_resize_from.width;
    p.seed_resize_from_height = g.seed_resize_from.height;
    p.images_per_prompt = g.images_per_prompt;
    p.original_width = g.original_size.width;
    p.original_height = g.original_size.height;
    p.target_width = g.target_size.width;
    p.target_height = g.target_size.height;
    p.negative_original_width = g.negative_original_size.width;
    p.negative_original_height = g.negative_original_size.height;
    p.negative_target_width = g.negative_target_size.width;
    p.negative_target_height = g.negative_target_size.height;
    p.crop_top = g.crops_coords_top_left.top;
    p.crop_left = g.crops_coords_top_left.left;
    p.negative_crop_top = g.negative_crops_coords_top_left.top;
    p.negative_crop_left = g.negative_crops_coords_top_left.left;
    p.fit_to_size = g.fit_to_size ? 1 : 0;
    p.strength = g.strength;
    p.mask_invert = g.mask_invert ? 1 : 0;
    p.mask_blur_x = g.mask_blur_x;
    p.mask_blur_y = g.mask_blur_y;
    p.inpaint_only_masked = g.inpaint_only_masked ? 1 : 0;
    p.inpaint_padding = g.inpaint_padding;
    p.inpaint_fill = g.inpaint_fill.empty() ? nullptr : g.inpaint_fill.c_str();
    p.initial_noise_multiplier = g.initial_noise_multiplier;
    p.inpaint_overlay = g.inpaint_overlay ? 1 : 0;
    if (g.image)
      set_image(*g.image, "init_image", images == Images::StandIns, 3, g, image_, stand_in_image_, p.init_image, p.init_width,
                p.init_height, p.init_channels);
    if (g.mask_image)
      set_image(*g.mask_image, "mask", images == Images::StandIns, 1, g, mask_, stand_in_mask_, p.mask, p.mask_width,
                p.mask_height, p.mask_channels);
    p.refiner_mode = g.refiner_mode.empty() ? nullptr : g.refiner_mode.c_str();
    p.high_noise_frac = g.high_noise_frac;
    p.refiner_strength = g.refiner_strength;
    p.has_refiner_seed = g.refiner_seed ? 1 : 0;
    p.refiner_seed = g.refiner_seed.value_or(0);
    p.aesthetic_score = g.aesthetic_score;
    p.negative_aesthetic_score = g.negative_aesthetic_score;
    p.vae_tiling = g.vae_tiling ? 1 : 0;
    p.preview_every = g.preview_every;
    p.loras = loras_.data();
    p.lora_count = static_cast<int>(loras_.size());
    p.refiner_loras = refiner_loras_.data();
    p.refiner_lora_count = static_cast<int>(refiner_loras_.size());
    p.eta = g.eta;
    p.ancestral_eta = g.ancestral_eta;
    control_images_.resize(g.controlnets.size());
    control_stand_ins_.clear();
    for (size_t i = 0; i < g.controlnets.size(); ++i) {
      const ControlNet& c = g.controlnets[i];
      sdxl_controlnet_unit u;
      sdxl_controlnet_unit_init(&u);
      u.model = c.model.c_str();
      u.config_dir = c.config_dir.empty() ? nullptr : c.config_dir.c_str();
      u.name = c.name.empty() ? nullptr : c.name.c_str();
      if (c.image) {
        control_stand_ins_.emplace_back(nullptr, std::free);
        const std::string parameter = "controlnets[" + std::to_string(i) + "].image";
        set_image(*c.image, parameter.c_str(), images == Images::StandIns, 3, g, control_images_[i], control_stand_ins_.back(),
                  u.image, u.image_width, u.image_height, u.image_channels);
      }
      u.preprocessor = c.preprocessor.c_str();
      u.threshold_a = c.threshold_a;
      u.threshold_b = c.threshold_b;
      u.resolution = c.resolution;
      u.resize_mode = c.resize_mode.c_str();
      u.scale = c.scale;
      u.start = c.start;
      u.end = c.end;
      u.control_mode = c.control_mode.c_str();
      u.a1111_window = c.a1111_window ? 1 : 0;
      u.kind = c.kind.c_str();
      controlnets_.push_back(u);
    }
    p.controlnets = controlnets_.data();
    p.controlnet_count = static_cast<int>(controlnets_.size());
    p.guess_mode = g.guess_mode ? 1 : 0;
    if (g.ip_adapter) {
      const IpAdapter& a = *g.ip_adapter;
      sdxl_ip_adapter_init(&ip_adapter_);
      ip_adapter_.model = a.model.c_str();
      ip_adapter_.image_encoder = a.image_encoder.c_str();
      ip_adapter_.name = a.name.empty() ? nullptr : a.name.c_str();
      if (a.image)
        set_image(*a.image, "ip_adapter.image", images == Images::StandIns, 3, g, ip_image_, ip_stand_in_, ip_adapter_.image,
                  ip_adapter_.image_width, ip_adapter_.image_height, ip_adapter_.image_channels);
      ip_adapter_.scale = a.scale;
      ip_adapter_.start = a.start;
      ip_adapter_.end = a.end;
      p.ip_adapter = &ip_adapter_;
    }
    if (g.hires) {
      const Hires& h = *g.hires;
      sdxl_hires_init(&hires_);
      hires_.scale = h.scale;
      hires_.resize_width = h.resize_width;
      hires_.resize_height = h.resize_height;
      hires_.upscaler = h.upscaler.c_str();
      hires_.upscaler_model = h.upscaler_model.empty() ? nullptr : h.upscaler_model.c_str();
      hires_.steps = h.steps;
      hires_.denoising_strength = h.denoising_strength;
      hires_.sampler = h.sampler.empty() ? nullptr : h.sampler.c_str();
      hires_.scheduler = h.scheduler.empty() ? nullptr : h.scheduler.c_str();
      hires_.prompt = h.prompt ? h.prompt->c_str() : nullptr;
      hires_.negative_prompt = h.negative_prompt ? h.negative_prompt->c_str() : nullptr;
      hires_.has_guidance_scale = h.guidance_scale ? 1 : 0;
      hires_.guidance_scale = h.guidance_scale.value_or(0.0);
      p.hires = &hires_;
    }
  }
  GenerateParams(const GenerateParams&) = delete;
  GenerateParams& operator=(const GenerateParams&) = delete;

  sdxl_generate_params& get() { return params_; }
  const sdxl_generate_params& get() const { return params_; }

 private:
  // A stand-in has the image's own size (from its header) and no contents: sdxl_engine_check
  // reads no pixel, and calloc's fresh pages are never touched.
  static void set_image(const InputImage& in, const std::string& parameter, bool stand_in, int channels, const Generation& g,
                        ImageHandle& held, std::unique_ptr<unsigned char, void (*)(void*)>& blank, const unsigned char*& pixels,
                        int& width, int& height, int& out_channels) {
    if (stand_in) {
      width = in.width;
      height = in.height;
      blank.reset(static_cast<unsigned char*>(
          std::calloc(static_cast<size_t>(std::max(width, 1)) * static_cast<size_t>(std::max(height, 1)), channels)));
      if (!blank) throw Failure(SDXL_STATUS_OUT_OF_MEMORY, "out of memory", parameter);
      pixels = blank.get();
      out_channels = channels;
      return;
    }
    try {
      held = in.pixels(max_input_pixels(g));
    } catch (const Failure& e) {
      throw Failure(e.status(), e.what(), parameter);
    }
    pixels = held->pixels;
    width = held->width;
    height = held->height;
    out_channels = held->channels;
  }

  sdxl_generate_params params_;
  std::vector<const char*> prompts_, negatives_;
  std::vector<sdxl_lora> loras_, refiner_loras_;
  ImageHandle image_, mask_;
  std::unique_ptr<unsigned char, void (*)(void*)> stand_in_image_{nullptr, std::free}, stand_in_mask_{nullptr, std::free};
  std::vector<sdxl_controlnet_unit> controlnets_;
  std::vector<ImageHandle> control_images_;
  std::vector<std::unique_ptr<unsigned char, void (*)(void*)>> control_stand_ins_;
  sdxl_ip_adapter ip_adapter_{};
  sdxl_hires hires_{};
  ImageHandle ip_image_;
  std::unique_ptr<unsigned char, void (*)(void*)> ip_stand_in_{nullptr, std::free};
};

}  // namespace sdxl::api
