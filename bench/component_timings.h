// One configuration of sdxl-bench, measured in its own process: each component of a pipeline
// folder loaded, then run on the shapes of one image size (warm-up run first: it creates the
// oneDNN primitives for these shapes), with the FLOPs of every linear, convolution and
// attention it executed counted from their shapes.
#pragma once

#include <filesystem>
#include <string>

#include "ops.h"

namespace sdxl::bench {

struct ComponentPlan {
  std::filesystem::path model;  // a pipeline folder (real or sdxl-random-pipeline)
  // Build each component from the folder's configs with seeded random weights in memory (no
  // weight files needed: the real-config folder of sdxl-ref will do); load_s is then build time.
  bool in_memory = false;
  ops::Precision precision = ops::Precision::F32;
  int64_t size = 512;  // image side in pixels
  bool text = true, unet = true, vae = true;
  // A VAE decode alone, whole or in row bands (--vae-tiling), for its memory: the process's
  // resident size with the VAE loaded and its peak.
  bool whole_decode = false, banded_decode = false;
  // The UNet step alone and with one and two ControlNets (each the real size SDXL ControlNet
  // diffusers' from_unet makes of the UNet, random weights in memory), and one net alone.
  bool controlnet = false;
  // The cost per image of an IP-Adapter (ViT-bigG once, its attention per step), a T2I-Adapter
  // (once, its features per step) and one ControlNet, each against the plain step (ad_* keys).
  bool adapters = false;
};

// Runs the plan and returns one line "RESULT key=value ..." with load_s, text_s, text_gflop,
// unet_s, unet_cold_s, unet_gflop, vae_decode_s, vae_decode_gflop, vae_encode_s,
// vae_encode_gflop, <whole|banded>_decode_{s,gflop,loaded_gib,peak_gib}, and cn_{unet,net,unet1,unet2}_{s,gflop}
// with cn_peak_gib (those measured).
// Components are loaded one at a time and freed after use.
std::string measure_components(const ComponentPlan& plan);

}  // namespace sdxl::bench
