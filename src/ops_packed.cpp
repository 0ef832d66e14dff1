// ops.h's packed layers as bytes (the packed-weight cache), routed to the CPU backend. Apart
// from ops.cpp, which routes everything else, only for its length.
#include "ops.h"

#include "backends/cpu/backend_facts.h"
#include "backends/cpu/conv2d.h"
#include "backends/cpu/matmul.h"
#include "core/error.h"

namespace sdxl::ops {

PackedImage packed_image(const LinearWeights& w) {
  SDXL_CHECK(!w.empty(), InvalidArgument, "[linear] image of an empty layer");
  return w.cpu_->image();
}

PackedImage packed_image(const Conv2dWeights& w) {
  SDXL_CHECK(!w.empty(), InvalidArgument, "[conv2d] image of an empty convolution");
  return w.cpu_->image();
}

LinearWeights linear_from_image(const PackedImage& image, int64_t out_features, int64_t in_features, bool has_bias,
                                Precision precision) {
  LinearWeights out;
  if (auto layer = cpu::PackedLinear::from_image(image, out_features, in_features, has_bias, precision))
    out.cpu_ = std::make_unique<cpu::PackedLinear>(std::move(*layer));
  return out;
}

Conv2dWeights conv2d_from_image(const PackedImage& image, const Conv2dGeometry& geometry, bool has_bias,
                                Precision precision) {
  Conv2dWeights out;
  if (auto conv = cpu::PackedConv2d::from_image(image, geometry, has_bias, precision))
    out.cpu_ = std::make_unique<cpu::PackedConv2d>(std::move(*conv));
  return out;
}

std::string packing_identity() { return cpu::packing_identity(); }

}  // namespace sdxl::ops
