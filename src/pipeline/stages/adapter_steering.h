// diffusers' StableDiffusionXLAdapterPipeline's part of the denoising: each T2I-Adapter runs once
// on its image, its features (x adapter_conditioning_scale, repeated for the batch and for both
// halves of classifier-free guidance) go to the UNet's down path at the steps the unit acts on.
// Several adapters sum their features (MultiAdapter, each with its own scale).
#pragma once

#include <memory>
#include <vector>

#include "models/adapters/t2i_adapter.h"
#include "models/unet/unet.h"
#include "pipeline/stages/control_steering.h"

namespace sdxl::pipeline {

struct AdapterUnit {
  std::shared_ptr<const models::T2IAdapter> model;
  Tensor image;  // [1, C, H, W] in [0, 1], the size of the output image
  double scale = 1.0;  // adapter_conditioning_scale
  // Diffusers window: step i acts while start <= i/n and i < int(n * end) (end is
  // adapter_conditioning_factor); Automatic1111: the extension's start <= i/n <= end.
  double start = 0.0, end = 1.0;
  ControlWindow window = ControlWindow::Diffusers;
  std::vector<float> feature_weights;  // multipliers of `scale` per feature (the extension's soft injection)
  bool conditional_only = false;       // the negatives get none ("ControlNet is more important")
};

// Per step, whether each unit acts.
std::vector<std::vector<bool>> adapter_steps(const std::vector<AdapterUnit>& units, size_t steps);

// The extension's soft-injection weights for a T2I-Adapter's four features.
std::vector<float> adapter_soft_injection_weights();

class AdapterSteering {
 public:
  // `images`: the latents' batch; under CFG the UNet's batch is twice that, negatives first.
  AdapterSteering(const std::vector<AdapterUnit>& units, bool cfg, int64_t images, size_t steps);
  // The summed features for `step` (intrablock residuals), or null when no unit acts.
  const std::vector<Tensor>* operator()(size_t step);

 private:
  std::vector<std::vector<Tensor>> features_;  // per unit, batched, owned
  std::vector<std::vector<bool>> active_;
  std::vector<Tensor> sum_;
  int last_sum_key_ = -1;  // which set of units sum_ holds (bit mask)
};

}  // namespace sdxl::pipeline
