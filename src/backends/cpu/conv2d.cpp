#include "backends/cpu/conv2d.h"

#include <algorithm>

#include "backends/cpu/dnnl_context.h"
#include "backends/cpu/packed_memory.h"
#include "backends/cpu/scratch.h"
#include "core/convert.h"
#include "core/error.h"

namespace sdxl::cpu {

using dnnl::memory;

struct PackedConv2d::State {
  // Weights in each blocked layout a primitive asked for; the first is made at pack time,
  // others are reordered from it (oneDNN reorders between blocked layouts directly).
  std::vector<std::pair<memory::desc, memory>> weights;
  std::vector<std::shared_ptr<void>> weight_memory;  // what `weights` point into (packed_memory.h)
  memory bias;
  // As in matmul.cpp: memory objects per cached primitive and the shared user scratchpad, so a
  // call at a shape seen before allocates nothing.
  struct Entry {
    int64_t batch, height, width;
    bool accumulate;
    dnnl::convolution_forward primitive;
    size_t weights_index;
    memory src, dst, scratchpad;  // scratchpad: re-pointed at the shared buffer per call
    size_t scratchpad_bytes;
    dnnl_exec_arg_t args[5];  // built once (see matmul.cpp)
  };
  std::vector<Entry> cache;
  MatmulPrecision precision = MatmulPrecision::F32;

  static dnnl::convolution_forward::primitive_desc make_pd(const Conv2dGeometry& g, int64_t batch, int64_t height,
                                                           int64_t width, bool accumulate, MatmulPrecision precision) {
    const auto input_type = precision == MatmulPrecision::BF16 ? memory::data_type::bf16 : memory::data_type::f32;
    memory::desc src({batch, g.in_channels, height, width}, input_type, memory::format_tag::nhwc);
    memory::desc dst({batch, g.out_channels, g.out_height(height), g.out_width(width)}, memory::data_type::f32,
                     memory::format_tag::nhwc);
    memory::desc weights({g.out_channels, g.in_channels, g.kernel, g.kernel}, input_type, memory::format_tag::any);
    memory::desc bias({g.out_channels}, memory::data_type::f32, memory::format_tag::x);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                         src, weights, bias, dst, {g.stride, g.stride}, {g.pad_top, g.pad_left},
                                         {g.pad_bottom, g.pad_right});
    return dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_engine());
  }

  size_t weights_for(const memory::desc& desc) {
    for (size_t i = 0; i < weights.size(); ++i)
      if (weights[i].first == desc) return i;
    memory converted = packed_memory(desc, weight_memory.emplace_back());
    dnnl::reorder(weights.front().second, converted).execute(dnnl_stream(), weights.front().second, converted);
    dnnl_stream().wait();
    weights.emplace_back(desc, converted);
    return weights.size() - 1;
  }
};

PackedConv2d::PackedConv2d() = default;
PackedConv2d::~PackedConv2d() = default;
PackedConv2d::PackedConv2d(PackedConv2d&&) noexcept = default;
PackedConv2d& PackedConv2d::operator=(PackedConv2d&&) noexcept = default;

PackedConv2d PackedConv2d::pack(const float* weight, const float* bias, const Conv2dGeometry& geometry,
                                int64_t typical_height, int64_t typical_width, MatmulPrecision precision) {
  const Conv2dGeometry& g = geometry;
  SDXL_CHECK(g.out_channels > 0 && g.in_channels > 0 && g.kernel > 0 && g.stride > 0, InvalidArgument,
             "[conv2d] invalid geometry");
  PackedConv2d conv;
  conv.geometry_ = geometry;
  conv.has_bias_ = bias != nullptr;
  auto state = std::make_unique<State>();
  state->precision = precision;
  auto pd = State::make_pd(g, 1, typical_height, typical_width, false, precision);
  memory::desc plain({g.out_channels, g.in_channels, g.kernel, g.kernel}, memory::data_type::f32,
                     memory::format_tag::oihw);
  memory source(plain, dnnl_engine(), const_cast<float*>(weight));
  memory packed = packed_memory(pd.weights_desc(), state->weight_memory.emplace_back());
  dnnl::reorder(source, packed).execute(dnnl_stream(), source, packed);
  state->weights.emplace_back(pd.weights_desc(), packed);
  state->bias = memory(memory::desc({g.out_channels}, memory::data_type::f32, memory::format_tag::x), dnnl_engine());
  float* bias_data = static_cast<float*>(state->bias.get_data_handle());
  for (int64_t i = 0; i < g.out_channels; ++i) bias_data[i] = bias ? bias[i] : 0.0f;
  dnnl_stream().wait();
  conv.state_ = std::move(state);
  return conv;
}

namespace {

std::string conv2d_layout(const Conv2dGeometry& g, MatmulPrecision precision, bool has_bias,
                          const memory::desc& blocking) {
  std::string layout = "conv2d ";
  for (int64_t v : {g.out_channels, g.in_channels, g.kernel, g.stride, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right})
    layout += std::to_string(v) + ",";
  layout += precision == MatmulPrecision::BF16 ? " bf16" : " f32";
  layout += has_bias ? " bias " : " no-bias ";
  return layout + describe_layout(blocking);
}

}  // namespace

PackedImage PackedConv2d::image() const {
  SDXL_CHECK(state_ != nullptr, Internal, "[conv2d] image of an empty convolution");
  const auto& [desc, packed] = state_->weights.front();
  PackedImage image;
  image.layout = conv2d_layout(geometry_, state_->precision, has_bias_, desc);
  image.parts.push_back({packed.get_data_handle(), desc.get_size()});
  image.parts.push_back({state_->bias.get_data_handle(), static_cast<size_t>(geometry_.out_channels) * sizeof(float)});
  return image;
}

std::optional<PackedConv2d> PackedConv2d::from_image(const PackedImage& image, const Conv2dGeometry& geometry,
                                                     bool has_bias, MatmulPrecision precision, int64_t typical_height,
                                                     int64_t typical_width) {
  const Conv2dGeometry& g = geometry;
  if (g.out_channels <= 0 || g.in_channels <= 0 || g.kernel <= 0 || g.stride <= 0) return std::nullopt;
  const memory::desc desc =
      State::make_pd(g, 1, typical_height, typical_width, false, precision).weights_desc();
  if (image.layout != conv2d_layout(g, precision, has_bias, desc) || image.parts.size() != 2 ||
      image.parts[0].bytes != desc.get_size() ||
      image.parts[1].bytes != static_cast<size_t>(g.out_channels) * sizeof(float))
    return std::nullopt;
  PackedConv2d conv;
  conv.geometry_ = geometry;
  conv.has_bias_ = has_bias;
  auto state = std::make_unique<State>();
  state->precision = precision;
  memory packed = borrowed_memory(desc, image.parts[0].data, image.owner, state->weight_memory.emplace_back());
  state->weights.emplace_back(desc, packed);
  state->bias = memory(memory::desc({g.out_channels}, memory::data_type::f32, memory::format_tag::x), dnnl_engine(),
                       const_cast<void*>(image.parts[1].data));
  conv.state_ = std::move(state);
  return conv;
}

bool PackedConv2d::unpack(float* weight, float* bias) const {
  SDXL_CHECK(state_ != nullptr, Internal, "[conv2d] unpack of an empty convolution");
  const Conv2dGeometry& g = geometry_;
  memory::desc plain({g.out_channels, g.in_channels, g.kernel, g.kernel}, memory::data_type::f32, memory::format_tag::oihw);
  memory target(plain, dnnl_engine(), weight);
  memory& packed = state_->weights.front().second;  // the layout made at pack time
  dnnl::reorder(packed, target).execute(dnnl_stream(), packed, target);
  dnnl_stream().wait();
  if (has_bias_) {
    const float* b = static_cast<const float*>(state_->bias.get_data_handle());
    std::copy(b, b + g.out_channels, bias);
  }
  return has_bias_;
}

void PackedConv2d::forward(const float* in, int64_t batch, int64_t height, int64_t width, float* out,
                           bool accumulate) const {
  SDXL_CHECK(state_ != nullptr, Internal, "[conv2d] forward on an unpacked convolution");
  const Conv2dGeometry& g = geometry_;
  SDXL_CHECK(g.out_height(height) > 0 && g.out_width(width) > 0, InvalidArgument, "[conv2d] input ", height, "x",
             width, " is smaller than the kernel");
  State& state = *state_;
  State::Entry* entry = nullptr;
  for (auto& e : state.cache)
    if (e.batch == batch && e.height == height && e.width == width && e.accumulate == accumulate) entry = &e;
  if (!entry) {
    auto pd = State::make_pd(g, batch, height, width, accumulate, state.precision);
    size_t index = state.weights_for(pd.weights_desc());
    state.cache.push_back({batch, height, width, accumulate, dnnl::convolution_forward(pd), index,
                           memory(pd.src_desc(), dnnl_engine(), nullptr), memory(pd.dst_desc(), dnnl_engine(), nullptr),
                           memory(pd.scratchpad_desc(), dnnl_engine(), nullptr), pd.scratchpad_desc().get_size(), {}});
    entry = &state.cache.back();
    entry->args[0] = {DNNL_ARG_SRC, entry->src.get()};
    entry->args[1] = {DNNL_ARG_WEIGHTS, state.weights[index].second.get()};
    entry->args[2] = {DNNL_ARG_BIAS, state.bias.get()};
    entry->args[3] = {DNNL_ARG_DST, entry->dst.get()};
    entry->args[4] = {DNNL_ARG_SCRATCHPAD, entry->scratchpad.get()};
  }
  set_source(entry->src, in, static_cast<size_t>(batch * height * width * g.in_channels),
             state.precision == MatmulPrecision::BF16);
  entry->dst.set_data_handle(out);
  set_scratchpad(entry->scratchpad, entry->scratchpad_bytes);
  execute_primitive(entry->primitive, entry->args, 5);
}

}  // namespace sdxl::cpu
