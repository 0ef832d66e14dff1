// The cost of changing the LoRA set of a warm engine (a server switching styles between
// requests): a rank-8 LoRA on every attention projection of the real-size UNet, put on and taken
// off a loaded engine, each measured as the extra time of the first step after the change
// against a warm step with the same set.
#pragma once

#include <filesystem>
#include <string>

#include "ops.h"

namespace sdxl::bench {

// Writes (unless present) a LoRA in diffusers' PEFT layout (lora_A [r, in], lora_B [out, r]) on
// every attention projection (to_q, to_k, to_v, to_out.0) of `model`'s UNet, seeded random factors.
std::filesystem::path attention_lora(const std::filesystem::path& model, const std::filesystem::path& dir, int rank);

// Loads `model` in `precision`, then one 1-step 512x512 generation (no guidance, no decode) per
// phase: plain, plain (warm), with the LoRA, with it (warm), plain again. Returns
// "RESULT lora_swap_s=... lora_unswap_s=... lora_step_s=... lora_modules=N".
std::string measure_lora_swap(const std::filesystem::path& model, const std::filesystem::path& lora,
                              ops::Precision precision);

}  // namespace sdxl::bench
