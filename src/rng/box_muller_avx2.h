// The float math of torch's AVX2 normal_fill: Box-Muller over 8 pairs with the Cephes-derived
// log and sincos of avx_mathfun (Julien Pommier's public algorithm), so that seeds give the
// very numbers torch gives. Written in portable scalar code, lane by lane.
#pragma once

namespace sdxl::rng {

// data[0..16): uniforms in [0, 1) on input, normals on output (mean 0, std 1).
void normal_fill_16(float* data);

}  // namespace sdxl::rng
