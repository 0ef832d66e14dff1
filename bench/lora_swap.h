// The cost of changing the LoRA set of a warm engine (a server switching styles between
// requests): a rank-8 LoRA on every attention projection of the real-size UNet, put on a loaded
// engine, switched for another, taken off and put on again, each measured as the extra time of
// the first step after the change against a warm step with the same set.
#pragma once

#include <filesystem>
#include <string>

#include "ops.h"

namespace sdxl::bench {

// Writes (unless present) a LoRA in diffusers' PEFT layout (lora_A [r, in], lora_B [out, r]) on
// every attention projection (to_q, to_k, to_v, to_out.0) of `model`'s UNet, random factors from `seed`.
std::filesystem::path attention_lora(const std::filesystem::path& model, const std::filesystem::path& dir, int rank,
                                     unsigned seed = 8);

// Loads `model` in `precision`, then one 1-step 512x512 generation (no guidance, no decode) per
// phase: plain, plain (warm), with `lora` (the first LoRA this engine takes: its layers' memory
// is new), with it (warm), with `other_lora` (a switch), with it (warm), plain again, with `lora`
// again. Returns "RESULT lora_swap_s=... lora_switch_s=... lora_unswap_s=... lora_reswap_s=...
// lora_step_s=... plain_step_s=...".
std::string measure_lora_swap(const std::filesystem::path& model, const std::filesystem::path& lora,
                              const std::filesystem::path& other_lora, ops::Precision precision);

}  // namespace sdxl::bench
