// diffusers' StableDiffusionXLControlNet(Img2Img|Inpaint)Pipeline's part of each denoising step:
// every ControlNet unit run on the step's model input, its residuals scaled by the unit's scale
// while the step is inside its [start, end] window (diffusers' controlnet_keep), summed over the
// units (MultiControlNetModel) and handed to the UNet.
#pragma once

#include <memory>
#include <vector>

#include "models/unet/controlnet.h"
#include "pipeline/stages/denoiser.h"

namespace sdxl::pipeline {

// Which steps a unit acts on, step i of the n run.
enum class ControlWindow {
  Diffusers,   // controlnet_keep: start <= i/n and (i+1)/n <= end
  Automatic1111,  // the ControlNet extension's guidance_stopped: start <= i/n <= end
};

// One ControlNet with its control image, as a request carries it.
struct ControlUnit {
  std::shared_ptr<const models::ControlNetModel> model;
  Tensor image;  // [1, 3, H, W] in [0, 1], the size of the output image
  double scale = 1.0;  // controlnet_conditioning_scale
  double start = 0.0, end = 1.0;  // control_guidance_start / _end: fractions of the steps run
  ControlWindow window = ControlWindow::Diffusers;
  // Multipliers of `scale` per residual and for the mid block (the AUTOMATIC1111 extension's soft
  // injection); empty: 1 (or the request's guess mode ramp).
  std::vector<float> residual_weights;
  // The negatives get no residuals (the extension's "ControlNet is more important").
  bool conditional_only = false;
};

// Per step, each unit's 1 (acts) or 0: diffusers' controlnet_keep for its window rule.
std::vector<std::vector<double>> controlnet_keep(const std::vector<ControlUnit>& units, size_t steps);

// The extension's control_mode weights for an SDXL ControlNet of `outputs` residuals + mid:
// "My prompt is more important" / "ControlNet is more important" scale output i by 0.825^(12 - i).
std::vector<float> soft_injection_weights(size_t outputs);

class ControlSteering {
 public:
  // `cond`: what the UNet gets (negatives first under CFG); `images`: the latents' batch.
  // guess_mode: the nets see the positive half only and the negatives get no residuals.
  ControlSteering(const std::vector<ControlUnit>& units, bool guess_mode, const Conditioning& cond, bool cfg,
                  int64_t images, size_t steps);
  // The summed residuals for step `step` (in `arena`), or null when no unit acts at that step.
  const models::ControlResiduals* operator()(Arena& arena, size_t step, const Tensor& model_input, float timestep);

 private:
  const std::vector<ControlUnit>& units_;
  bool guess_mode_, cfg_;
  int64_t images_;
  Conditioning cond_, positive_;  // the nets' conditioning: all of it, and the positive half
  std::vector<bool> positive_only_;     // per unit: run on the positive half, the negatives get zeros
  std::vector<Tensor> batched_images_;  // each unit's image repeated to its batch
  std::vector<std::vector<double>> keep_;
  models::ControlResiduals sum_;
};

}  // namespace sdxl::pipeline
