// Every LoRA format's merge against its formula written as a plain loop (AUTOMATIC1111's and
// LyCORIS's definitions); the key names of each trainer matched to the model's layers; and the
// prompt's <lora:NAME:W> tags.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"
#include "lora/lora_delta.h"
#include "lora/lora_file.h"
#include "lora/lora_names.h"
#include "pipeline/prompts/lora_tags.h"
#include "random_tensor.h"
#include "test_support.h"

namespace sdxl::lora {
namespace {

uint32_t next_seed = 100;

Tensor random(Shape shape) { return test::random_tensor(shape, next_seed++); }

Tensor scalar(float v) {
  Tensor t = Tensor::empty(Shape{}, DType::F32);
  t.data<float>()[0] = v;
  return t;
}

float at(const Tensor& t, std::initializer_list<int64_t> index) {
  int64_t flat = 0, axis = 0;
  for (int64_t i : index) flat = flat * t.dim(static_cast<int>(axis++)) + i;
  return t.data<float>()[flat];
}

// merge_weight's result and the formula's, for a weight of `shape` (the formula gets the indices
// o, i and the kernel position k of the flattened kernel).
void expect_merge(const ModuleTensors& m, const Shape& shape, double multiplier,
                  const std::function<double(int64_t o, int64_t i, int64_t k)>& delta) {
  const Tensor original = random(shape);
  Tensor merged = original.clone();
  merge_weight(merged, m, multiplier);
  const int64_t outs = shape[0], ins = shape[1], kernel = shape.numel() / (outs * ins);
  for (int64_t o = 0; o < outs; ++o)
    for (int64_t i = 0; i < ins; ++i)
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t flat = (o * ins + i) * kernel + k;
        const double want = original.data<float>()[flat] + multiplier * delta(o, i, k);
        ASSERT_NEAR(merged.data<float>()[flat], want, 1e-4 + 1e-4 * std::abs(want)) << m.key << " at " << o << "," << i << "," << k;
      }
}

TEST(LoraFormats, LinearLoraWithAlpha) {
  ModuleTensors m{"linear", {{"down", random({4, 12})}, {"up", random({10, 4})}, {"alpha", scalar(2.0f)}}};
  expect_merge(m, Shape{10, 12}, 0.7, [&](int64_t o, int64_t i, int64_t) {
    double s = 0;
    for (int64_t r = 0; r < 4; ++r) s += at(m.at("up"), {o, r}) * at(m.at("down"), {r, i});
    return s * 2.0 / 4.0;
  });
  ModuleTensors no_alpha{"no alpha", {{"down", random({4, 12})}, {"up", random({10, 4})}}};
  expect_merge(no_alpha, Shape{10, 12}, 1.0, [&](int64_t o, int64_t i, int64_t) {
    double s = 0;
    for (int64_t r = 0; r < 4; ++r) s += at(no_alpha.at("up"), {o, r}) * at(no_alpha.at("down"), {r, i});
    return s;
  });
}

TEST(LoraFormats, LoConConvolutionAndItsCpForm) {
  ModuleTensors conv{"locon", {{"down", random({3, 5, 3, 3})}, {"up", random({6, 3, 1, 1})}, {"alpha", scalar(1.5f)}}};
  expect_merge(conv, Shape{6, 5, 3, 3}, 1.0, [&](int64_t o, int64_t i, int64_t k) {
    double s = 0;
    for (int64_t r = 0; r < 3; ++r) s += at(conv.at("up"), {o, r, 0, 0}) * at(conv.at("down"), {r, i, k / 3, k % 3});
    return s * 1.5 / 3.0;
  });
  ModuleTensors cp{"locon cp",
                   {{"down", random({3, 5, 1, 1})}, {"mid", random({3, 3, 3, 3})}, {"up", random({6, 3, 1, 1})}}};
  expect_merge(cp, Shape{6, 5, 3, 3}, 0.5, [&](int64_t o, int64_t i, int64_t k) {
    double s = 0;
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t q = 0; q < 3; ++q)
        s += at(cp.at("mid"), {n, q, k / 3, k % 3}) * at(cp.at("up"), {o, n, 0, 0}) * at(cp.at("down"), {q, i, 0, 0});
    return s;
  });
}

TEST(LoraFormats, LoHaPlainAndTucker) {
  ModuleTensors h{"loha",
                  {{"hada_w1_a", random({6, 2})}, {"hada_w1_b", random({2, 7})}, {"hada_w2_a", random({6, 2})},
                   {"hada_w2_b", random({2, 7})}, {"alpha", scalar(1.0f)}}};
  expect_merge(h, Shape{6, 7}, 0.8, [&](int64_t o, int64_t i, int64_t) {
    double a = 0, b = 0;
    for (int64_t r = 0; r < 2; ++r) {
      a += at(h.at("hada_w1_a"), {o, r}) * at(h.at("hada_w1_b"), {r, i});
      b += at(h.at("hada_w2_a"), {o, r}) * at(h.at("hada_w2_b"), {r, i});
    }
    return a * b * 1.0 / 2.0;
  });
  ModuleTensors t{"loha tucker",
                  {{"hada_w1_a", random({2, 6})}, {"hada_w1_b", random({2, 5})}, {"hada_t1", random({2, 2, 3, 3})},
                   {"hada_w2_a", random({2, 6})}, {"hada_w2_b", random({2, 5})}, {"hada_t2", random({2, 2, 3, 3})}}};
  auto factor = [&](const char* ta, const char* a, const char* b, int64_t o, int64_t i, int64_t k) {
    double s = 0;
    for (int64_t x = 0; x < 2; ++x)
      for (int64_t y = 0; y < 2; ++y) s += at(t.at(ta), {x, y, k / 3, k % 3}) * at(t.at(b), {y, i}) * at(t.at(a), {x, o});
    return s;
  };
  expect_merge(t, Shape{6, 5, 3, 3}, 1.0, [&](int64_t o, int64_t i, int64_t k) {
    return factor("hada_t1", "hada_w1_a", "hada_w1_b", o, i, k) * factor("hada_t2", "hada_w2_a", "hada_w2_b", o, i, k);
  });
}

TEST(LoraFormats, LoKrWholeLowRankAndTucker) {
  // w1 whole [2, 3], w2 low-rank [4, r] . [r, 5] -> kron [8, 15]; scale alpha / w2_b's rank.
  ModuleTensors k{"lokr",
                  {{"lokr_w1", random({2, 3})}, {"lokr_w2_a", random({4, 2})}, {"lokr_w2_b", random({2, 5})}, {"alpha", scalar(1.0f)}}};
  expect_merge(k, Shape{8, 15}, 1.0, [&](int64_t o, int64_t i, int64_t) {
    double w2 = 0;
    for (int64_t r = 0; r < 2; ++r) w2 += at(k.at("lokr_w2_a"), {o % 4, r}) * at(k.at("lokr_w2_b"), {r, i % 5});
    return at(k.at("lokr_w1"), {o / 4, i / 5}) * w2 * 0.5;
  });
  // Both whole: no scale, whatever alpha says.
  ModuleTensors whole{"lokr whole", {{"lokr_w1", random({2, 2})}, {"lokr_w2", random({3, 2})}, {"alpha", scalar(8.0f)}}};
  expect_merge(whole, Shape{6, 4}, 1.0, [&](int64_t o, int64_t i, int64_t) {
    return at(whole.at("lokr_w1"), {o / 3, i / 2}) * at(whole.at("lokr_w2"), {o % 3, i % 2});
  });
  // Convolution with a Tucker w2: [2, 2] kron [3, 4, 3, 3] -> [6, 8, 3, 3].
  ModuleTensors t{"lokr tucker",
                  {{"lokr_w1", random({2, 2})}, {"lokr_w2_a", random({2, 3})}, {"lokr_w2_b", random({2, 4})},
                   {"lokr_t2", random({2, 2, 3, 3})}}};
  expect_merge(t, Shape{6, 8, 3, 3}, 1.0, [&](int64_t o, int64_t i, int64_t kk) {
    double w2 = 0;
    for (int64_t x = 0; x < 2; ++x)
      for (int64_t y = 0; y < 2; ++y)
        w2 += at(t.at("lokr_t2"), {x, y, kk / 3, kk % 3}) * at(t.at("lokr_w2_b"), {y, i % 4}) * at(t.at("lokr_w2_a"), {x, o % 3});
    return at(t.at("lokr_w1"), {o / 3, i / 4}) * w2;  // no alpha: scale 1
  });
}

TEST(LoraFormats, FullDiffAndBias) {
  ModuleTensors d{"full", {{"diff", random({4, 3})}, {"diff_b", random({4})}}};
  expect_merge(d, Shape{4, 3}, 0.5, [&](int64_t o, int64_t i, int64_t) { return at(d.at("diff"), {o, i}); });
  Tensor bias = random({4});
  const Tensor original = bias.clone();
  merge_bias(bias, d, 0.5);
  for (int64_t o = 0; o < 4; ++o)
    EXPECT_NEAR(bias.data<float>()[o], original.data<float>()[o] + 0.5 * d.at("diff_b").data<float>()[o], 1e-6);
}

TEST(LoraFormats, DoraPerInputAndPerOutput) {
  for (const bool per_input : {true, false}) {
    SCOPED_TRACE(per_input ? "per input (AUTOMATIC1111)" : "per output");
    ModuleTensors m{"dora",
                    {{"down", random({2, 5})}, {"up", random({4, 2})}, {"alpha", scalar(1.0f)},
                     {"dora_scale", per_input ? random({1, 5}) : random({4, 1})}}};
    const Tensor w = random({4, 5});
    Tensor merged = w.clone();
    const double multiplier = 0.6;
    merge_weight(merged, m, multiplier);
    // M = W + alpha/rank up.down; D = M * g / |M| (norm over the other axis); W' = W + s (D - W)
    double M[4][5];
    for (int o = 0; o < 4; ++o)
      for (int i = 0; i < 5; ++i) {
        double s = 0;
        for (int r = 0; r < 2; ++r) s += at(m.at("up"), {o, r}) * at(m.at("down"), {r, i});
        M[o][i] = at(w, {o, i}) + s * 0.5;
      }
    for (int o = 0; o < 4; ++o)
      for (int i = 0; i < 5; ++i) {
        double norm = 0;
        if (per_input) for (int x = 0; x < 4; ++x) norm += M[x][i] * M[x][i];
        else for (int x = 0; x < 5; ++x) norm += M[o][x] * M[o][x];
        const double g = per_input ? at(m.at("dora_scale"), {0, i}) : at(m.at("dora_scale"), {o, 0});
        const double want = at(w, {o, i}) + multiplier * (M[o][i] * g / std::sqrt(norm) - at(w, {o, i}));
        EXPECT_NEAR(at(merged, {o, i}), want, 1e-5) << o << "," << i;
      }
  }
}

TEST(LoraFormats, ShapeAndRankMismatchesAreErrors) {
  ModuleTensors ranks{"ranks", {{"down", random({4, 12})}, {"up", random({10, 3})}}};
  EXPECT_THROW(check_module(ranks, Shape{10, 12}, 0), Error);
  ModuleTensors wide{"wide", {{"down", random({4, 13})}, {"up", random({10, 4})}}};
  EXPECT_THROW(check_module(wide, Shape{10, 12}, 0), Error);
  ModuleTensors mixed{"mixed", {{"down", random({4, 12})}, {"up", random({10, 4})}, {"diff", random({10, 12})}}};
  EXPECT_THROW(check_module(mixed, Shape{10, 12}, 0), Error);
  ModuleTensors alone{"alpha only", {{"alpha", scalar(1.0f)}}};
  EXPECT_THROW(check_module(alone, Shape{10, 12}, 0), Error);
  ModuleTensors dora{"dora", {{"down", random({4, 12})}, {"up", random({10, 4})}, {"dora_scale", random({1, 7})}}};
  EXPECT_THROW(check_module(dora, Shape{10, 12}, 0), Error);
  ModuleTensors bias{"bias", {{"diff", random({10, 12})}, {"diff_b", random({9})}}};
  EXPECT_THROW(check_module(bias, Shape{10, 12}, 10), Error);
}

// ---- names --------------------------------------------------------------------------------

ModelLayers tiny_layers() {
  ModelLayers l;
  auto& unet = l.components["unet"];
  unet["down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight"] = Shape{8, 8};
  unet["down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0.weight"] = Shape{8, 8};
  unet["down_blocks.1.resnets.0.conv1.weight"] = Shape{8, 8, 3, 3};
  unet["up_blocks.3.resnets.2.conv1.weight"] = Shape{8, 8, 3, 3};
  l.components["text_encoder_2"]["text_model.encoder.layers.0.self_attn.q_proj.weight"] = Shape{8, 8};
  l.unet_layout.levels = 4;
  l.unet_layout.down_has_attention = {false, true, true, false};
  l.unet_layout.up_has_attention = {false, true, true, false};
  return l;
}

TEST(LoraNames, EveryTrainersNamesFindTheirLayer) {
  const ModelLayers layers = tiny_layers();
  const LayerIndex index(layers);
  auto expect = [&](const std::string& key, const std::string& component, const std::string& module) {
    const auto found = index.find(key);
    ASSERT_TRUE(found.has_value()) << key;
    EXPECT_EQ(found->component, component) << key;
    EXPECT_EQ(found->module, module) << key;
  };
  const std::string q = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q";
  expect("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", "unet", q);      // kohya, SGM blocks
  expect("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q", "unet", q);  // kohya, diffusers
  expect("lora_unet_input_blocks_4_0_in_layers_2", "unet", "down_blocks.1.resnets.0.conv1");  // LoCon
  expect("lora_unet_output_blocks_11_0_in_layers_2", "unet", "up_blocks.3.resnets.2.conv1");  // index >= 10
  expect("unet." + q, "unet", q);                                                             // diffusers / PEFT
  expect("base_model.model.unet." + q, "unet", q);
  expect("lora_te2_text_model_encoder_layers_0_self_attn_q_proj", "text_encoder_2", "text_model.encoder.layers.0.self_attn.q_proj");
  expect("text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj", "text_encoder_2",
         "text_model.encoder.layers.0.self_attn.q_proj");
  EXPECT_FALSE(index.find("lora_te1_text_model_encoder_layers_0_self_attn_q_proj").has_value());  // no CLIP-L here
  EXPECT_FALSE(index.find("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q").has_value());
  EXPECT_THROW(index.find("lora_te_text_model_encoder_layers_0_self_attn_q_proj"), Error);  // SD 1.x
}

TEST(LoraNames, FileGroupingReadsEachFormatsSuffixes) {
  test::TempDir dir;
  const auto path = dir.path() / "l.safetensors";
  const std::string q = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1";
  io::write_safetensors(path, {{q + ".to_q.lora_A.weight", random({2, 8})},
                               {q + ".to_q.lora_B.weight", random({8, 2})},
                               {q + ".processor.to_out_lora.down.weight", random({2, 8})},
                               {q + ".processor.to_out_lora.up.weight", random({8, 2})},
                               {"lora_unet_x.hada_w1_a", random({8, 2})},
                               {"lora_unet_x.lokr_w1", random({2, 2})},
                               {"lora_unet_x.dora_scale", random({1, 8})}});
  const LoraFile file = read_lora_file(path);
  ASSERT_EQ(file.modules.size(), 3u);
  EXPECT_EQ(file.modules[0].key, "lora_unet_x");
  EXPECT_TRUE(file.modules[0].has("hada_w1_a") && file.modules[0].has("lokr_w1") && file.modules[0].has("dora_scale"));
  EXPECT_EQ(file.modules[1].key, q + ".to_out.0");
  EXPECT_TRUE(file.modules[1].has("down") && file.modules[1].has("up"));
  EXPECT_EQ(file.modules[2].key, q + ".to_q");

  io::write_safetensors(path, {{"lora_unet_x.lora_down.weight", random({2, 8})}, {"lora_unet_x.oft_blocks", random({2})}});
  try {
    read_lora_file(path);
    ADD_FAILURE() << "an unknown part was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lora_unet_x.oft_blocks"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_lora_file(dir.path() / "model.ckpt"), Error);
}

TEST(LoraTags, TakenFromThePrompt) {
  std::string prompt = "a cat <lora:film grain:0.6>, <lora:style> in <b>bold</b> <lyco:old:-1.5>";
  const auto tags = pipeline::take_lora_tags(prompt);
  EXPECT_EQ(prompt, "a cat ,  in <b>bold</b> ");
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0].name, "film grain");
  EXPECT_DOUBLE_EQ(tags[0].weight, 0.6);
  EXPECT_EQ(tags[1].name, "style");
  EXPECT_DOUBLE_EQ(tags[1].weight, 1.0);
  EXPECT_DOUBLE_EQ(tags[2].weight, -1.5);
  std::string same = "<lora:x:0.5:0.5>";
  EXPECT_EQ(pipeline::take_lora_tags(same).size(), 1u);
  for (std::string bad : {"<lora:x:heavy>", "<lora::1>", "<lora:x:0.5:1>"}) EXPECT_THROW(pipeline::take_lora_tags(bad), Error) << bad;
  std::string unclosed = "a <lora:x";
  EXPECT_TRUE(pipeline::take_lora_tags(unclosed).empty());
  EXPECT_EQ(unclosed, "a <lora:x");
}

TEST(LoraTags, NamesResolveOnlyInsideTheLoraFolder) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "styles");
  io::write_safetensors(dir.path() / "styles/ink.safetensors", {{"lora_unet_x.diff", random({2})}});
  EXPECT_EQ(pipeline::find_lora_file(dir.path(), "ink"), dir.path() / "styles/ink.safetensors");
  EXPECT_THROW(pipeline::find_lora_file(dir.path(), "../ink"), Error);
  EXPECT_THROW(pipeline::find_lora_file(dir.path(), "missing"), Error);
  EXPECT_THROW(pipeline::find_lora_file({}, "ink"), Error);
}

}  // namespace
}  // namespace sdxl::lora
