// AUTOMATIC1111's variation seeds: each image's starting noise moved toward the noise of its
// variation seed (subseed) by spherical interpolation, as its rng.slerp computes it.
#pragma once

#include "core/tensor.h"

namespace sdxl::pipeline {

// noise, subnoise [N, C, H, W]: for each image, slerp(strength, noise, subnoise) over each
// (channel, column)'s values along the rows (torch.norm(dim=1) of a [C, H, W] tensor), or, where
// the two are nearly parallel on average, AUTOMATIC1111's linear fallback
// noise * strength + subnoise * (1 - strength).
void blend_variation(Tensor& noise, const Tensor& subnoise, double strength);

// AUTOMATIC1111's seed resize: `from` [N, C, h, w] put at the centre of `noise` [N, C, H, W]
// (offsets (H - h) // 2 and (W - w) // 2, Python's floor division), its middle cropped where it
// is the larger, as its ImageRNG does.
void place_centered(Tensor& noise, const Tensor& from);

}  // namespace sdxl::pipeline
