#include "component_timings.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

#include "bench_support.h"
#include "core/memory.h"
#include "io/model_configs.h"
#include "models/adapters/ip_adapter.h"
#include "models/adapters/t2i_adapter.h"
#include "models/clip/clip_vision_model.h"
#include "models/unet/controlnet.h"
#include "pipeline/sources/model_source.h"
#include "models/common/weights.h"
#include "pipeline/sources/component_loader.h"
#include "pipeline/prompts/prompt_encoder.h"

namespace sdxl::bench {
namespace {

Tensor normal_tensor(const Shape& shape, uint32_t seed, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

struct Run {
  double cold_seconds = 0, seconds = 0, gflop = 0;
  std::array<ops::FamilyProfile, ops::kOpFamilies> profile{};
};

// A cold run (creates the primitives), then a timed and profiled warm one.
template <typename Fn>
Run cold_then_warm(Arena& arena, Fn fn) {
  Run run;
  auto start = std::chrono::steady_clock::now();
  fn();
  run.cold_seconds = seconds_since(start);
  arena.reset();
  ops::reset_flop_count();
  ops::reset_profile();
  ops::set_profiling(true);
  start = std::chrono::steady_clock::now();
  fn();
  run.seconds = seconds_since(start);
  ops::set_profiling(false);
  run.gflop = ops::flop_count() * 1e-9;
  run.profile = ops::profile();
  arena.reset();
  return run;
}

// "<part>_<family>_s=... <part>_<family>_gflop=..." for every op family that ran.
std::string profile_fields(const char* part, const Run& run) {
  std::ostringstream out;
  for (size_t f = 0; f < ops::kOpFamilies; ++f) {
    const auto& entry = run.profile[f];
    if (entry.calls == 0) continue;
    std::string family = ops::op_family_name(static_cast<ops::OpFamily>(f));
    family = family.substr(0, family.find(' '));  // "element-wise and layout" -> "element-wise"
    out << " " << part << "." << family << "_s=" << entry.seconds << " " << part << "." << family
        << "_gflop=" << entry.flops * 1e-9;
  }
  return out.str();
}

template <typename Fn>
auto timed_load(double& total, const char* what, Fn fn) {
  const auto start = std::chrono::steady_clock::now();
  auto model = fn();
  const double seconds = seconds_since(start);
  total += seconds;
  std::fprintf(stderr, "  loaded %s in %.1f s: resident %.2f GiB (peak so far %.2f)\n", what, seconds, resident_gib(),
               peak_resident_gib());
  return model;
}

// A component from the folder's files, or (in memory) from its config and seeded random weights.
template <typename Model, typename Config>
Model random_model(const Config& config, uint64_t seed, ops::Precision precision) {
  models::RandomWeights weights(seed);
  weights.set_precision(precision);
  return Model::load(config, weights);
}

models::UNet2DConditionModel make_unet(const ComponentPlan& plan, const pipeline::FolderSource& folder) {
  if (!plan.in_memory) return pipeline::load_unet(folder, "unet", plan.precision);
  return random_model<models::UNet2DConditionModel>(io::load_unet_config(folder.folder().config_path("unet")), 7, plan.precision);
}

models::AutoencoderKL make_vae(const ComponentPlan& plan, const pipeline::FolderSource& folder) {
  if (!plan.in_memory) return pipeline::load_vae(folder, "vae", plan.precision);
  const auto config = io::load_vae_config(folder.folder().config_path("vae"));
  return random_model<models::AutoencoderKL>(config, 8, pipeline::vae_precision(config, plan.precision));
}

// Text encoding of a prompt pair as the pipeline runs it: through PromptEncoder from files, or
// (in memory) both encoders on 2 x 77 token ids, the first one's last layer skipped.
Run measure_text(const ComponentPlan& plan, const pipeline::FolderSource& folder, Arena& arena, double& load_seconds) {
  if (!plan.in_memory) {
    auto encoder = timed_load(load_seconds, "the text encoders",
                              [&] { return pipeline::PromptEncoder::load(folder, plan.precision); });
    pipeline::PromptRequest request;
    request.prompt = pipeline::PromptArg::text("a photo of an astronaut riding a horse on the moon, highly detailed");
    request.negative_prompt = pipeline::PromptArg::text("blurry, low quality");  // encoded: not the zeroed default
    return cold_then_warm(arena, [&] { encoder.encode(request); });
  }
  const auto config1 = io::load_clip_text_config(folder.folder().config_path("text_encoder"));
  const auto config2 = io::load_clip_text_config(folder.folder().config_path("text_encoder_2"));
  auto te1 = timed_load(load_seconds, "text encoder 1",
                        [&] { return random_model<models::ClipTextModel>(config1, 1, plan.precision); });
  auto te2 = timed_load(load_seconds, "text encoder 2",
                        [&] { return random_model<models::ClipTextModel>(config2, 2, plan.precision); });
  const int64_t batch = 2, length = 77;
  std::vector<int32_t> ids(static_cast<size_t>(batch * length), 49407);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < 12; ++i) ids[static_cast<size_t>(b * length + i)] = i == 0 ? 49406 : 320 + static_cast<int32_t>(i + b);
  return cold_then_warm(arena, [&] {
    te1.forward(arena, ids, batch, config1.num_hidden_layers - 1);
    te2.forward(arena, ids, batch);
  });
}

// A UNet step's inputs for a CFG batch of 2 at the plan's size: random latents and text, the
// pooled embedding and 6 time ids (the base) or 5 (the refiner's aesthetic score).
struct StepInputs {
  Tensor sample, context, text_embeds, time_ids;
};
StepInputs step_inputs(const ComponentPlan& plan, const pipeline::FolderSource& folder, const io::UNetConfig& c) {
  const int64_t batch = 2, latent = plan.size / 8;
  StepInputs in;
  in.sample = normal_tensor(Shape{batch, c.in_channels, latent, latent}, 1, 1.0f);
  in.context = normal_tensor(Shape{batch, 77, c.cross_attention_dim[0]}, 2, 1.0f);
  const int64_t text_embeds_dim = io::load_clip_text_config(folder.folder().config_path("text_encoder_2")).projection_dim;
  const int64_t time_ids_count = (c.projection_class_embeddings_input_dim - text_embeds_dim) / c.addition_time_embed_dim;
  in.text_embeds = normal_tensor(Shape{batch, text_embeds_dim}, 3, 1.0f);
  in.time_ids = Tensor::empty(Shape{batch, time_ids_count}, DType::F32);
  for (int64_t i = 0; i < in.time_ids.numel(); ++i) in.time_ids.data<float>()[i] = static_cast<float>(plan.size);
  return in;
}

// The UNet step (CFG batch) alone, one ControlNet alone, and the step with one and with two nets
// (residuals summed, as the pipeline does), with the peak RSS of two nets kept loaded.
void measure_controlnets(const ComponentPlan& plan, const pipeline::FolderSource& folder, Arena& arena, double& load_seconds,
                         std::ostringstream& out) {
  const int64_t batch = 2;
  auto unet = timed_load(load_seconds, "the UNet", [&] { return make_unet(plan, folder); });
  io::ControlNetConfig config;  // diffusers' ControlNetModel.from_unet: the UNet's layout, the default embedding
  config.unet = unet.config();
  std::vector<models::ControlNetModel> nets;
  for (uint64_t k = 0; k < 2; ++k)
    nets.push_back(timed_load(load_seconds, "a ControlNet",
                              [&] { return random_model<models::ControlNetModel>(config, 20 + k, plan.precision); }));
  const StepInputs in = step_inputs(plan, folder, unet.config());
  const Tensor &sample = in.sample, &context = in.context, &text_embeds = in.text_embeds, &time_ids = in.time_ids;
  Tensor image = normal_tensor(Shape{batch, 3, plan.size, plan.size}, 6, 0.3f);
  const std::vector<float> scales = nets[0].residual_scales(1.0f, false);
  auto step = [&](size_t count) {
    models::ControlResiduals sum;
    for (size_t k = 0; k < count; ++k) {
      models::ControlResiduals r = nets[k].forward(arena, sample, 500.0f, context, text_embeds, time_ids, image, scales);
      if (k == 0) {
        sum = std::move(r);
        continue;
      }
      for (size_t i = 0; i < r.down.size(); ++i) ops::add_inplace(sum.down[i], r.down[i]);
      ops::add_inplace(sum.mid, r.mid);
    }
    unet.forward(arena, sample, 500.0f, context, text_embeds, time_ids, Tensor(), count ? &sum : nullptr);
  };
  const Run alone = cold_then_warm(arena, [&] { step(0); });
  const Run net = cold_then_warm(arena, [&] { nets[0].forward(arena, sample, 500.0f, context, text_embeds, time_ids, image, scales); });
  const Run one = cold_then_warm(arena, [&] { step(1); });
  const Run two = cold_then_warm(arena, [&] { step(2); });
  out << " cn_unet_s=" << alone.seconds << " cn_unet_gflop=" << alone.gflop << " cn_net_s=" << net.seconds
      << " cn_net_gflop=" << net.gflop << " cn_unet1_s=" << one.seconds << " cn_unet1_gflop=" << one.gflop
      << " cn_unet2_s=" << two.seconds << " cn_unet2_gflop=" << two.gflop << " cn_peak_gib=" << peak_resident_gib();
  std::fprintf(stderr, "  UNet step %.2f s; one ControlNet %.2f s; step + 1 net %.2f s, + 2 nets %.2f s; peak RSS %.2f GiB\n",
               alone.seconds, net.seconds, one.seconds, two.seconds, peak_resident_gib());
}

// The image encoders IP-Adapters use (open_clip's ViT-bigG/14 and ViT-H/14 as transformers
// configures them: CLIPVisionModelWithProjection, patch 14, 224 pixels, exact GELU).
io::ClipVisionConfig vit_config(bool big_g) {
  io::ClipVisionConfig c;
  c.hidden_size = big_g ? 1664 : 1280;
  c.intermediate_size = big_g ? 8192 : 5120;
  c.num_hidden_layers = big_g ? 48 : 32;
  c.num_attention_heads = 16;
  c.projection_dim = big_g ? 1280 : 1024;
  c.patch_size = 14;
  c.image_size = 224;
  c.hidden_act = "gelu";
  return c;
}

// Per image of `steps` steps: an IP-Adapter (h94's ip-adapter_sdxl with ViT-bigG: the encoder
// once, then the image tokens' attention in every cross-attention layer of every step), a
// T2I-Adapter (full_adapter_xl of TencentARC's size: once per image, its features added in the
// down path) and one ControlNet, each against the plain UNet step; all real size, random weights.
void measure_adapters(const ComponentPlan& plan, const pipeline::FolderSource& folder, Arena& arena, double& load_seconds,
                      std::ostringstream& out) {
  const int64_t batch = 2;
  auto unet = timed_load(load_seconds, "the UNet", [&] { return make_unet(plan, folder); });
  const auto& c = unet.config();
  const StepInputs in = step_inputs(plan, folder, c);
  const Tensor &sample = in.sample, &context = in.context, &text_embeds = in.text_embeds, &time_ids = in.time_ids;
  auto step = [&](const models::ControlResiduals* extra) {
    unet.forward(arena, sample, 500.0f, context, text_embeds, time_ids, Tensor(), extra);
  };
  const Run alone = cold_then_warm(arena, [&] { step(nullptr); });

  // IP-Adapter: ViT-bigG on one 224x224 image (the negative is zeros), the tokens and their keys
  // and values once, then the step with them.
  const io::ClipVisionConfig vit = vit_config(true);
  Tensor pixels = normal_tensor(Shape{1, 3, 224, 224}, 8, 1.0f);
  std::vector<Tensor> image_kv;
  Run encoder, prepare;
  {
    auto clip = timed_load(load_seconds, "ViT-bigG", [&] { return random_model<models::ClipVisionModel>(vit, 30, plan.precision); });
    encoder = cold_then_warm(arena, [&] { clip.forward(arena, pixels); });
  }
  models::IpAdapterConfig ip;
  ip.embed_dim = vit.projection_dim;
  ip.cross_dim = c.cross_attention_dim[0];
  ip.tokens = 4;
  for (const auto& layer : models::cross_attention_layers(c)) ip.layer_channels.push_back(layer.channels);
  auto adapter = timed_load(load_seconds, "an IP-Adapter", [&] { return random_model<models::IpAdapter>(ip, 31, plan.precision); });
  Tensor embeds = normal_tensor(Shape{batch, vit.projection_dim}, 9, 1.0f);
  prepare = cold_then_warm(arena, [&] { adapter.attention_kv(arena, adapter.project(arena, embeds), 0.6f); });
  {
    Arena kept;
    for (const Tensor& t : adapter.attention_kv(kept, adapter.project(kept, embeds), 0.6f)) image_kv.push_back(t.clone());
    std::vector<Tensor> forward_order(image_kv.size());
    const auto layers = models::cross_attention_layers(c);
    for (size_t k = 0; k < layers.size(); ++k) forward_order[layers[k].forward_index] = image_kv[k];
    image_kv = forward_order;
  }
  models::ControlResiduals with_image;
  with_image.image_prompt = &image_kv;
  const Run ip_step = cold_then_warm(arena, [&] { step(&with_image); });

  // T2I-Adapter: once on the image, then the step with its features.
  io::T2IAdapterConfig t2i;
  t2i.channels = {c.block_out_channels[0], c.block_out_channels[1], c.block_out_channels[2], c.block_out_channels[2]};
  auto t2i_adapter = timed_load(load_seconds, "a T2I-Adapter", [&] { return random_model<models::T2IAdapter>(t2i, 32, plan.precision); });
  Tensor image = normal_tensor(Shape{1, 3, plan.size, plan.size}, 6, 0.3f);
  const Run t2i_run = cold_then_warm(arena, [&] { t2i_adapter.forward(arena, image); });
  models::ControlResiduals with_features;
  {
    Arena kept;
    for (const Tensor& f : t2i_adapter.forward(kept, image)) {
      Shape shape = f.shape();
      shape[0] = batch;
      Tensor both = Tensor::empty(shape, DType::F32);
      for (int64_t b = 0; b < batch; ++b) std::memcpy(static_cast<char*>(both.raw()) + b * f.nbytes(), f.raw(), f.nbytes());
      with_features.intrablock.push_back(both);
    }
  }
  const Run t2i_step = cold_then_warm(arena, [&] { step(&with_features); });

  // One ControlNet, for the comparison.
  io::ControlNetConfig cn;
  cn.unet = c;
  auto net = timed_load(load_seconds, "a ControlNet", [&] { return random_model<models::ControlNetModel>(cn, 20, plan.precision); });
  Tensor cn_image = normal_tensor(Shape{batch, 3, plan.size, plan.size}, 6, 0.3f);
  const std::vector<float> scales = net.residual_scales(1.0f, false);
  const Run cn_step = cold_then_warm(arena, [&] {
    const models::ControlResiduals r = net.forward(arena, sample, 500.0f, context, text_embeds, time_ids, cn_image, scales);
    step(&r);
  });
  out << " ad_unet_s=" << alone.seconds << " ad_encoder_s=" << encoder.seconds << " ad_encoder_gflop=" << encoder.gflop
      << " ad_ip_prepare_s=" << prepare.seconds << " ad_ip_step_s=" << ip_step.seconds << " ad_t2i_s=" << t2i_run.seconds
      << " ad_t2i_step_s=" << t2i_step.seconds << " ad_cn_step_s=" << cn_step.seconds << " ad_peak_gib=" << peak_resident_gib();
  std::fprintf(stderr,
               "  UNet step %.2f s; ViT-bigG %.2f s, IP prepare %.3f s, step + IP %.2f s; T2I-Adapter %.2f s, step + features "
               "%.2f s; step + ControlNet %.2f s\n",
               alone.seconds, encoder.seconds, prepare.seconds, ip_step.seconds, t2i_run.seconds, t2i_step.seconds,
               cn_step.seconds);
}

}  // namespace

std::string measure_components(const ComponentPlan& plan) {
  const pipeline::FolderSource folder(plan.model, "");
  std::ostringstream out;
  out << "RESULT";
  double load_seconds = 0;
  Arena arena;
  const int64_t latent = plan.size / 8;

  if (plan.text) {
    const Run run = measure_text(plan, folder, arena, load_seconds);
    out << " text_s=" << run.seconds << " text_gflop=" << run.gflop;
    std::fprintf(stderr, "  text encoding %.2f s\n", run.seconds);
  }
  if (plan.unet) {
    auto unet = timed_load(load_seconds, "the UNet", [&] { return make_unet(plan, folder); });
    const StepInputs in = step_inputs(plan, folder, unet.config());
    const Run run = cold_then_warm(arena, [&] { unet.forward(arena, in.sample, 500.0f, in.context, in.text_embeds, in.time_ids); });
    const double activations = static_cast<double>(arena.high_water()) / (1 << 30);
    out << " unet_s=" << run.seconds << " unet_cold_s=" << run.cold_seconds << " unet_gflop=" << run.gflop
        << " unet_activations_gib=" << activations << " unet_peak_rss_gib=" << peak_resident_gib()
        << profile_fields("unet", run);
    std::fprintf(stderr, "  UNet step %.2f s (cold %.2f s), activations %.2f GiB, peak RSS %.2f GiB\n", run.seconds,
                 run.cold_seconds, activations, peak_resident_gib());
  }
  if (plan.vae) {
    auto vae = timed_load(load_seconds, "the VAE", [&] { return make_vae(plan, folder); });
    Tensor latents = normal_tensor(Shape{1, 4, latent, latent}, 4, 1.0f);
    const Run decode = cold_then_warm(arena, [&] { vae.decode(arena, latents); });
    out << " vae_decode_s=" << decode.seconds << " vae_decode_gflop=" << decode.gflop << profile_fields("vae_decode", decode);
    const double decode_activations = static_cast<double>(arena.high_water()) / (1 << 30);
    out << " vae_decode_peak_rss_gib=" << peak_resident_gib();
    std::fprintf(stderr, "  VAE decode %.2f s, arena %.2f GiB, peak RSS %.2f GiB\n", decode.seconds, decode_activations,
                 peak_resident_gib());
    Tensor image = normal_tensor(Shape{1, 3, plan.size, plan.size}, 5, 0.5f);
    const Run encode = cold_then_warm(arena, [&] { vae.encode(arena, image); });
    out << " vae_encode_s=" << encode.seconds << " vae_encode_gflop=" << encode.gflop;
    std::fprintf(stderr, "  VAE encode %.2f s\n", encode.seconds);
  }
  for (const bool banded : {false, true}) {
    if (!(banded ? plan.banded_decode : plan.whole_decode)) continue;
    auto vae = timed_load(load_seconds, "the VAE", [&] { return make_vae(plan, folder); });
    const double loaded = resident_gib();
    Tensor latents = normal_tensor(Shape{1, 4, latent, latent}, 4, 1.0f);
    const Run decode = cold_then_warm(arena, [&] {
      if (banded) vae.decode_in_bands(arena, latents);
      else vae.decode(arena, latents);
    });
    const std::string key = banded ? "banded_decode" : "whole_decode";
    out << " " << key << "_s=" << decode.seconds << " " << key << "_gflop=" << decode.gflop << " " << key
        << "_loaded_gib=" << loaded << " " << key << "_peak_gib=" << peak_resident_gib();
    std::fprintf(stderr, "  VAE decode (%s) %.2f s, resident with the VAE %.2f GiB, peak %.2f GiB\n",
                 banded ? "in bands" : "whole", decode.seconds, loaded, peak_resident_gib());
  }
  if (plan.controlnet) measure_controlnets(plan, folder, arena, load_seconds, out);
  if (plan.adapters) measure_adapters(plan, folder, arena, load_seconds, out);
  out << " load_s=" << load_seconds;
  return out.str();
}

}  // namespace sdxl::bench
