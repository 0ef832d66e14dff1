// The change one LoRA module makes to the weight it adapts, by the formulas of the format that
// stored it (AUTOMATIC1111's and LyCORIS's, which diffusers' fuse rule agrees with):
//   LoRA / LoCon      alpha/rank * up . down            (conv: up [o,r,1,1], down [r,i,kh,kw])
//     with a mid     alpha/rank * sum mid[n,m,k,l] up[o,n] down[m,i]        (LoCon's CP form)
//   LoHa              alpha/rank * (w1a . w1b) * (w2a . w2b)   (elementwise; Tucker with hada_t1/t2)
//   LoKr              alpha/rank * kron(w1, w2), each factor whole or a . b (Tucker with lokr_t2);
//                     no scale when neither factor is low-rank
//   full              diff (and diff_b for the bias)
//   DoRA (dora_scale) W' = W + s * ((W + d) * m / |W + d| - W), the norm per input channel
//                     (AUTOMATIC1111, dora_scale [1, in, ...]) or per output channel ([out, 1, ...])
// rank = down's (w1b's, w2b's) rows; alpha/rank = 1 without alpha. `s` is the user's weight.
#pragma once

#include "core/tensor.h"
#include "lora/lora_file.h"

namespace sdxl::lora {

// Checks that `m` is a complete module of one format whose update fits a weight of
// `weight_shape` (bias: `bias_size` values, 0 if none); throws Format naming the module.
void check_module(const ModuleTensors& m, const Shape& weight_shape, int64_t bias_size);

// The update (f32, `weight_shape`) before the user's weight and DoRA.
Tensor weight_delta(const ModuleTensors& m, const Shape& weight_shape);

// weight (f32, owned) += multiplier * update, through DoRA's decomposition when `m` has one.
void merge_weight(Tensor& weight, const ModuleTensors& m, double multiplier);
// bias (f32, owned) += multiplier * diff_b (a no-op for modules without one).
void merge_bias(Tensor& bias, const ModuleTensors& m, double multiplier);

}  // namespace sdxl::lora
