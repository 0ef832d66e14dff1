// AutoencoderKL::decode_in_bands: the decoder with its full-resolution activations never whole.
//
// A group norm needs its whole input's statistics before it can normalise any row, so tiles
// that each normalise by themselves (diffusers' tiled decode) change the image. Here the up
// blocks run step by step (a resnet, an upsampler), each reading a whole input held in an
// arena, but inside a step only a band of rows exists at a time: ResnetBlock2D::forward_in_bands
// gathers the statistics of its hidden activation in a first sweep, an upsampler never holds
// the 4x larger nearest upsample (and the last one is not held at all), and norm_out +
// conv_out write the image band by band.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "models/vae/autoencoder_kl.h"

namespace sdxl::models {
namespace {

constexpr int64_t kBandBytes = int64_t{32} << 20;

int64_t band_height(int64_t band_rows, int64_t width, int64_t channels) {
  if (band_rows > 0) return band_rows;
  return band_rows_for(kBandBytes, width * channels * static_cast<int64_t>(sizeof(float)));
}

// conv(upsample_nearest2x(x)) computed for the rows asked for: the upsampler's output, the
// decoder's largest activation at full resolution, is never whole.
class UpsampledRows final : public RowSource {
 public:
  UpsampledRows(const Conv2d& conv, const Tensor& x) : conv_(conv), x_(x) {}
  Shape shape() const override { return Shape{1, 2 * x_.dim(1), 2 * x_.dim(2), conv_.out_channels()}; }
  Tensor rows(Arena& arena, RowRange range) const override {
    const int64_t height = 2 * x_.dim(1);
    const RowRange needed = range.grown(1, height);
    const RowRange source{needed.first / 2, (needed.last + 1) / 2};
    return conv_.rows(arena, ops::upsample_nearest2x(arena, rows_of(x_, source)),
                      RowRange{2 * source.first, 2 * source.last}, height, range);
  }

 private:
  const Conv2d& conv_;
  const Tensor& x_;
};

// conv(upsample_nearest2x(x)) held whole, written a band at a time.
Tensor upsample_in_bands(Arena& arena, Arena& bands, const Conv2d& conv, const Tensor& x, int64_t band_rows) {
  const UpsampledRows upsampled(conv, x);
  Tensor out = Tensor::in_arena(arena, upsampled.shape(), DType::F32);
  for (const RowRange band : split_rows(out.dim(1), band_height(band_rows, out.dim(2), out.dim(3)))) {
    ArenaScope band_temporaries(bands);
    const Tensor y = upsampled.rows(bands, band);
    Tensor target = rows_of(out, band);
    ops::copy_into(y, target);
  }
  return out;
}

// One step of the up blocks, planned from the shapes before any runs (see decode_in_bands).
struct Step {
  enum class Kind { Resnet, ResnetAfterUpsample, Upsample };
  Kind kind = Kind::Resnet;
  const ResnetBlock2D* resnet = nullptr;
  const Conv2d* upsample = nullptr;  // Upsample and ResnetAfterUpsample: the upsampler's conv
  int64_t height = 0, width = 0, in_channels = 0, out_channels = 0;  // at the output's resolution
  int64_t band_rows = 0;
  bool in_place = false, keep_hidden = false;

  // Bytes of the whole tensors the step holds at once.
  int64_t bytes() const {
    const int64_t plane = height * width * static_cast<int64_t>(sizeof(float));
    const int64_t input = kind == Kind::Resnet ? plane * in_channels : plane / 4 * in_channels;
    if (in_place) return input * (keep_hidden ? 2 : 1);
    return input + plane * out_channels;
  }
};

}  // namespace

Tensor AutoencoderKL::decode_in_bands(Arena& arena, const Tensor& latents, int64_t band_rows,
                                      const BetweenBlocks& between_blocks) const {
  check_latents(latents);
  const int64_t s = scale(), batch = latents.dim(0);
  const int64_t h = latents.dim(2), w = latents.dim(3), height = h * s, width = w * s;
  const int64_t channels = config_.out_channels;

  // The plan. Block inputs and outputs are whole; within a step only a band of rows exists.
  // The upsampler into full resolution is never whole: the first resnet after it recomputes it
  // for each reading (three) rather than hold the decoder's largest activation. Resnets that keep
  // their channel count write over their input, and keep their hidden activation whole (conv1
  // runs once instead of twice) wherever that stays within the bytes the plan needs anyway.
  std::vector<Step> steps;
  int64_t rows_now = h, cols_now = w, channels_now = config_.block_out_channels.back();
  for (size_t i = 0; i < dec_levels_.size(); ++i) {
    const Level& level = dec_levels_[i];
    const bool last = i + 1 == dec_levels_.size();
    const bool recomputed_upsample = i > 0 && dec_levels_[i - 1].has_resample && last;
    for (size_t j = 0; j < level.resnets.size(); ++j) {
      Step step;
      step.resnet = &level.resnets[j];
      step.height = rows_now;
      step.width = cols_now;
      step.in_channels = channels_now;
      step.out_channels = level.resnets[j].out_channels();
      if (recomputed_upsample && j == 0) {
        step.kind = Step::Kind::ResnetAfterUpsample;
        step.upsample = &dec_levels_[i - 1].resample;
      }
      step.band_rows = band_height(band_rows, cols_now, std::max(step.in_channels, step.out_channels));
      step.in_place = step.kind == Step::Kind::Resnet && step.resnet->can_run_in_place(step.band_rows);
      steps.push_back(step);
      channels_now = step.out_channels;
    }
    if (level.has_resample) {
      rows_now *= 2;
      cols_now *= 2;
      if (i + 2 == dec_levels_.size()) continue;  // recomputed by the last level's first resnet
      Step step;
      step.kind = Step::Kind::Upsample;
      step.upsample = &level.resample;
      step.height = rows_now;
      step.width = cols_now;
      step.in_channels = step.out_channels = channels_now;
      step.band_rows = band_height(band_rows, cols_now, channels_now);
      steps.push_back(step);
    }
  }
  int64_t needed = 0;
  for (const Step& step : steps) needed = std::max(needed, step.bytes());
  for (Step& step : steps) {
    Step keeping = step;
    keeping.keep_hidden = true;
    step.keep_hidden = step.in_place && keeping.bytes() <= needed;
  }

  Tensor image = Tensor::in_arena(arena, Shape{batch, channels, height, width}, DType::F32);
  // Bands' temporaries have an arena of their own: made one block at each step, the bands
  // reuse it instead of going back to the system allocator (whose heap would keep the freed
  // bands resident).
  Arena bands;
  const int64_t blocks = batch * static_cast<int64_t>(steps.size());
  int64_t done = 0;
  for (int64_t n = 0; n < batch; ++n) {
    ArenaScope temporaries(arena);
    ArenaChain chain(arena);
    const Tensor one = latents.slice_rows(n, 1);
    // At latent resolution (the mid block's attention sees all pixels) everything is small.
    Tensor x = decoder_input(chain, one);
    for (const Step& step : steps) {
      if (between_blocks) between_blocks(done++, blocks);
      bands.reset();
      switch (step.kind) {
        case Step::Kind::Upsample:
          x = chain(x, [&](Arena& a, const Tensor& in) {
            return upsample_in_bands(a, bands, *step.upsample, in, step.band_rows);
          });
          break;
        case Step::Kind::ResnetAfterUpsample:
          x = chain(x, [&](Arena& a, const Tensor& in) {
            return step.resnet->forward_in_bands(a, bands, UpsampledRows(*step.upsample, in), step.band_rows);
          });
          break;
        case Step::Kind::Resnet:
          if (!step.in_place) {
            x = chain(x, [&](Arena& a, const Tensor& in) {
              return step.resnet->forward_in_bands(a, bands, WholeImage(in), step.band_rows);
            });
          } else {
            chain.in_place(x, [&](Arena& free, Tensor& in) {
              Tensor hidden = step.keep_hidden ? Tensor::in_arena(free, in.shape(), DType::F32) : Tensor();
              step.resnet->forward_in_bands_in_place(bands, in, step.band_rows, step.keep_hidden ? &hidden : nullptr);
            });
          }
          break;
      }
    }
    // norm_out, SiLU and conv_out, written into the NCHW image a band at a time.
    const ops::GroupStatistics statistics = dec_norm_out_.statistics(x);
    bands.reset();
    for (const RowRange band : split_rows(height, band_height(band_rows, width, x.dim(3)))) {
      ArenaScope band_temporaries(bands);
      const RowRange input = band.grown(1, height);
      const Tensor y = dec_conv_out_.rows(bands, dec_norm_out_.apply(bands, rows_of(x, input), statistics, true),
                                          input, height, band);
      const Tensor planes = ops::nhwc_to_nchw(bands, y);  // [1, C, rows, W]
      ops::write_band(image, n, band.first, planes.reshape(Shape{channels, band.size(), width}));
    }
  }
  return image;
}

}  // namespace sdxl::models
