// UNet and VAE forwards against diffusers on every golden case (base and refiner).
#include <gtest/gtest.h>

#include "golden_cases.h"
#include "core/error.h"
#include "pipeline/sources/component_loader.h"
#include "pipeline/stages/denoiser.h"

namespace sdxl {
namespace {

TEST(UNetGolden, AllCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("unet");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto unet = pipeline::load_unet(pipeline::FolderSource(test::model_dir(c), ""));
    test::CaseFile file(c);
    Arena arena;
    Tensor out = unet.forward(arena, file["sample"], c["params"]["timestep"].get<float>(), file["encoder_hidden_states"],
                              file["text_embeds"], file["time_ids"]);
    EXPECT_TRUE(test::matches(out, file["noise_pred"], c, "noise_pred"));
  }
}

// LCM-distilled UNets: the guidance-scale embedding (sines first) through time_embedding.cond_proj.
TEST(UNetGolden, TimeCondCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("unet_time_cond");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto unet = pipeline::load_unet(pipeline::FolderSource(test::model_dir(c), ""));
    test::CaseFile file(c);
    const Tensor want_cond = file["timestep_cond"];
    const int64_t dim = want_cond.dim(1);
    const auto w = c["params"]["guidance_w"].get<std::vector<double>>();
    for (size_t row = 0; row < w.size(); ++row) {
      const Tensor mine = pipeline::guidance_scale_embedding(w[row] + 1.0, dim, 1);
      const Tensor want = Tensor::view(want_cond.data<float>() + static_cast<int64_t>(row) * dim, Shape{1, dim}, DType::F32, nullptr);
      EXPECT_TRUE(test::matches(mine, want, c, "timestep_cond[" + std::to_string(row) + "]"));
    }
    Arena arena;
    Tensor out = unet.forward(arena, file["sample"], c["params"]["timestep"].get<float>(), file["encoder_hidden_states"],
                              file["text_embeds"], file["time_ids"], want_cond);
    EXPECT_TRUE(test::matches(out, file["noise_pred"], c, "noise_pred"));
    // Without its embedding this UNet refuses to run, rather than give a wrong image.
    EXPECT_THROW(unet.forward(arena, file["sample"], 999.0f, file["encoder_hidden_states"], file["text_embeds"], file["time_ids"]),
                 Error);
  }
}

// TAESD (AutoencoderTiny): raw decode (3 tanh(z / 3) in, 2y - 1 out, not clamped) and encode.
TEST(TaesdGolden, DecodeAndEncode) {
  SDXL_REQUIRE_REFERENCE();
  const auto dir = test::reference_dir() / "models/tiny-taesdxl";
  const auto taesd = pipeline::load_tiny_autoencoder(dir);
  size_t seen = 0;
  for (const char* kind : {"taesd_decode", "taesd_encode"})
    for (const auto& c : test::cases_of_kind(kind)) {
      SCOPED_TRACE(c["name"].get<std::string>());
      test::CaseFile file(c);
      Arena arena;
      if (std::string(kind) == "taesd_decode")
        EXPECT_TRUE(test::matches(taesd.decode(arena, file["latents"]), file["image"], c, "image"));
      else
        EXPECT_TRUE(test::matches(taesd.encode(arena, file["image"]), file["latents"], c, "latents"));
      ++seen;
    }
  EXPECT_GE(seen, 2u);
  // A folder of another kind of autoencoder is refused by name.
  try {
    pipeline::load_tiny_autoencoder(test::reference_dir() / "models/tiny-sdxl-base/vae");
    FAIL() << "an AutoencoderKL folder was taken for a tiny autoencoder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a tiny autoencoder"), std::string::npos) << e.what();
  }
}

TEST(VaeGolden, DecodeCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("vae_decode");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto vae = pipeline::load_vae(pipeline::FolderSource(test::model_dir(c), ""));
    test::CaseFile file(c);
    Arena arena;
    EXPECT_TRUE(test::matches(vae.decode(arena, file["latents"]), file["image"], c, "image"));
  }
}

::testing::AssertionResult same_image(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shape " << got.shape().to_string() << ", want " << want.shape().to_string();
  return test::all_close(got.data<float>(), want.data<float>(), static_cast<size_t>(got.numel()), 2e-5, 2e-5);
}

// --vae-tiling: band-wise decoding with whole-image statistics gives the image of decode(), on
// every golden case, with bands of 1, 3 and 5 rows (halos crossing several bands, a short last
// band) and the default size, and on a batch of two different latents.
TEST(VaeGolden, DecodeInBandsMatchesTheWholeDecode) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("vae_decode");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto vae = pipeline::load_vae(pipeline::FolderSource(test::model_dir(c), ""));
    test::CaseFile file(c);
    Arena arena;
    const Tensor& latents = file["latents"];
    const Tensor whole = vae.decode(arena, latents);
    for (int64_t band_rows : {1, 3, 5, 0}) {
      SCOPED_TRACE(band_rows);
      const Tensor banded = vae.decode_in_bands(arena, latents, band_rows);
      EXPECT_TRUE(test::matches(banded, file["image"], c, "image"));
      // Well inside 1/255 of the [-1, 1] range: only the statistics' rounding differs.
      EXPECT_TRUE(same_image(banded, whole));
    }
    // Two images in one batch, each with its own statistics.
    Tensor pair = Tensor::empty(Shape{2, latents.dim(1), latents.dim(2), latents.dim(3)}, DType::F32);
    for (int64_t i = 0; i < latents.numel(); ++i) {
      pair.data<float>()[i] = latents.data<float>()[i];
      pair.data<float>()[latents.numel() + i] = 0.5f - 2.0f * latents.data<float>()[latents.numel() - 1 - i];
    }
    EXPECT_TRUE(same_image(vae.decode_in_bands(arena, pair, 2), vae.decode(arena, pair)));
  }
}

TEST(VaeGolden, EncodeCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("vae_encode");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto vae = pipeline::load_vae(pipeline::FolderSource(test::model_dir(c), ""));
    test::CaseFile file(c);
    Arena arena;
    auto posterior = vae.encode(arena, file["image"]);
    EXPECT_TRUE(test::matches(posterior.mean, file["mean"], c, "mean"));
    EXPECT_TRUE(test::matches(posterior.std, file["std"], c, "std"));
    EXPECT_TRUE(test::matches(posterior.logvar, file["logvar"], c, "logvar"));
  }
}

}  // namespace
}  // namespace sdxl
