// Element-wise activations on contiguous f32 arrays. `out` may alias `in`.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

void silu(const float* in, float* out, int64_t n);
void gelu_erf(const float* in, float* out, int64_t n);   // 0.5 x (1 + erf(x / sqrt 2)), torch's default
void gelu_tanh(const float* in, float* out, int64_t n);  // the tanh approximation
void quick_gelu(const float* in, float* out, int64_t n); // x * sigmoid(1.702 x), OpenAI CLIP
void relu(const float* in, float* out, int64_t n);       // max(x, 0) (the tiny autoencoder)
void leaky_relu(const float* in, float* out, int64_t n); // x > 0 ? x : 0.2 x, torch's LeakyReLU(0.2)
// GEGLU as diffusers computes it: in [rows, 2F] = [value | gate] -> out [rows, F] = value * gelu(gate).
// Here `out` must not alias `in`.
void geglu(const float* in, float* out, int64_t rows, int64_t features);

}  // namespace sdxl::cpu
