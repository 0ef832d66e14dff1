// The packed-weight cache in the pipeline: a second load maps the layers the first one packed
// (reading only the checkpoint's small tensors) and makes the same image bit for bit; a changed
// checkpoint, another LoRA set, a damaged entry, an entry of another CPU and bytes this machine
// does not pack that way are never used: the image is the one without a cache, and the entry is
// made again.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>

#include "golden/golden_requests.h"
#include "golden_cases.h"
#include "io/packed_cache.h"
#include "io/safetensors.h"
#include "io/weight_set.h"
#include "pipeline/engine.h"
#include "pipeline/sources/packed_layers.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

struct Generated {
  Tensor images;
  uint64_t tensors_read = 0;  // of the checkpoint, loading and generating
};

Generated generate(const fs::path& cache, const fs::path& model, ops::Precision precision = ops::Precision::F32,
             std::vector<lora::LoraSpec> loras = {}) {
  pipeline::EngineOptions options;
  options.model = model;
  options.precision = precision;
  options.loras = std::move(loras);
  if (!cache.empty()) options.packed_cache = {cache, 64};
  const uint64_t before = io::tensors_read();
  auto engine = pipeline::Engine::load(options);
  pipeline::EngineRequest request;
  request.generate = base_request({{"prompt", "a lighthouse"}, {"num_inference_steps", 2},
                                   {"scheduler", "EulerDiscreteScheduler"}, {"width", 64}, {"height", 64}, {"seed", 11}});
  request.loras = options.loras;
  Generated run{engine->generate(request).final.images, 0};
  run.tensors_read = io::tensors_read() - before;
  return run;
}

bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& item : fs::directory_iterator(dir)) out.push_back(item.path());
  std::sort(out.begin(), out.end());
  return out;
}

fs::path tiny_base() { return test::reference_dir() / "models/tiny-sdxl-base"; }

// A copy of the tiny base whose files may be changed.
fs::path copy_of_tiny_base(const test::TempDir& dir) {
  fs::copy(tiny_base(), dir / "model", fs::copy_options::recursive);
  return dir / "model";
}

// The key and file of `component`'s entry, as the loader computes them.
std::pair<std::string, fs::path> entry_of(const fs::path& model, const fs::path& cache, const std::string& component,
                                          ops::Precision precision = ops::Precision::F32) {
  const auto source = pipeline::open_model_source(model);
  const auto key = pipeline::packed_cache_key(component, source->config(component), source->weights(component), precision);
  return {*key, io::PackedCacheFolder(cache, 1).entry_file(*key)};
}

// The entry at `file` (sound for `key`) written again under `written_key`, each layer's bytes
// passed through `change`: files this machine did not make, put where it looks.
void rewrite_entry(const fs::path& file, const std::string& key, const std::string& written_key,
                   const std::function<void(const std::string&, PackedImage&)>& change) {
  const auto entry = io::PackedCacheEntry::open(file, key);
  ASSERT_NE(entry, nullptr);
  {
    io::PackedCacheWriter writer(file.string() + ".other", written_key);
    for (const auto& [name, image] : entry->images()) {
      PackedImage changed = image;
      change(name, changed);
      writer.add(name, changed);
    }
    writer.commit();
  }
  fs::rename(file.string() + ".other", file);
}

TEST(PackedWeightCache, ASecondLoadMapsTheLayersAndMakesTheSameImage) {
  SDXL_REQUIRE_REFERENCE();
  for (ops::Precision precision : {ops::Precision::F32, ops::Precision::BF16}) {
    test::TempDir dir;
    const Generated plain = generate({}, tiny_base(), precision);
    const Generated filling = generate(dir / "cache", tiny_base(), precision);
    EXPECT_EQ(entries(dir / "cache").size(), 4u);  // two text encoders, the UNet, the VAE
    const Generated mapped = generate(dir / "cache", tiny_base(), precision);
    EXPECT_TRUE(identical(filling.images, plain.images));
    EXPECT_TRUE(identical(mapped.images, plain.images));
    // Only the small tensors (norms, embeddings) are read from the checkpoint now.
    EXPECT_EQ(filling.tensors_read, plain.tensors_read);
    EXPECT_LT(mapped.tensors_read * 2, plain.tensors_read);
    EXPECT_EQ(entries(dir / "cache").size(), 4u);
  }
}

TEST(PackedWeightCache, AChangedCheckpointIsPackedAgain) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path model = copy_of_tiny_base(dir);
  const Generated before = generate(dir / "cache", model);
  // Another UNet in the same file: conv_in's weights doubled.
  const fs::path weights = model / "unet/diffusion_pytorch_model.safetensors";
  std::vector<std::pair<std::string, Tensor>> tensors;
  {
    const auto file = io::SafetensorsFile::open(weights);
    for (const auto& r : file->records()) {
      Tensor t = file->tensor(r).to(DType::F32);
      if (r.name == "conv_in.weight")
        for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] *= 2;
      tensors.emplace_back(r.name, t.to(file->tensor(r).dtype()));
    }
  }
  io::write_safetensors(weights, tensors);
  const Generated changed = generate(dir / "cache", model);
  EXPECT_FALSE(identical(changed.images, before.images));
  EXPECT_TRUE(identical(changed.images, generate({}, model).images));
  // A new UNet entry; the old one, whose file changed, is removed when the new one is written.
  EXPECT_EQ(entries(dir / "cache").size(), 4u);
}

TEST(PackedWeightCache, LorasMergedAtLoadAreOfTheKey) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const std::vector<lora::LoraSpec> lora{{test::reference_dir() / "models/loras/tiny-sdxl-base-diffusers.safetensors", 0.8}};
  const Generated with_lora = generate({}, tiny_base(), ops::Precision::F32, lora);
  const Generated plain = generate({}, tiny_base());
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base(), ops::Precision::F32, lora).images, with_lora.images));
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base(), ops::Precision::F32, lora).images, with_lora.images));
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base()).images, plain.images));
  const std::vector<lora::LoraSpec> weaker{{lora[0].path, 0.5}};
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base(), ops::Precision::F32, weaker).images,
                        generate({}, tiny_base(), ops::Precision::F32, weaker).images));
}

TEST(PackedWeightCache, ADamagedEntryIsMadeAgain) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const Generated plain = generate({}, tiny_base());
  generate(dir / "cache", tiny_base());
  const uint64_t all_mapped = generate(dir / "cache", tiny_base()).tensors_read;
  const auto [key, unet] = entry_of(tiny_base(), dir / "cache", "unet");
  ASSERT_TRUE(fs::exists(unet));
  fs::resize_file(unet, fs::file_size(unet) / 2);  // truncated
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base()).images, plain.images));
  ASSERT_NE(io::PackedCacheEntry::open(unet, key), nullptr);  // made again, whole
  {
    std::fstream f(unet, std::ios::in | std::ios::out | std::ios::binary);  // one byte of a layer altered
    f.seekp(3 * 4096 + 5);
    f.put('\x7f');
  }
  const Generated again = generate(dir / "cache", tiny_base());
  EXPECT_TRUE(identical(again.images, plain.images));
  EXPECT_GT(again.tensors_read, all_mapped);  // the UNet packed from the checkpoint, not mapped
  EXPECT_NE(io::PackedCacheEntry::open(unet, key), nullptr);
}

TEST(PackedWeightCache, AnEntryOfAnotherCpuIsNotUsed) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const Generated plain = generate({}, tiny_base());
  generate(dir / "cache", tiny_base());
  const uint64_t all_mapped = generate(dir / "cache", tiny_base()).tensors_read;
  const auto [key, unet] = entry_of(tiny_base(), dir / "cache", "unet");
  // The same layers under this machine's entry name, but made on another CPU (as a cache folder
  // shared between machines, or copied, could hold): its key says so.
  std::string other_key = key;
  const size_t cpu = other_key.find("cpu: ");
  ASSERT_NE(cpu, std::string::npos);
  other_key.insert(cpu + 5, "Another ");
  rewrite_entry(unet, key, other_key, [](const std::string&, PackedImage&) {});
  const Generated run = generate(dir / "cache", tiny_base());
  EXPECT_TRUE(identical(run.images, plain.images));
  EXPECT_GT(run.tensors_read, all_mapped);  // nothing of it used: the UNet packed from the checkpoint
  EXPECT_NE(io::PackedCacheEntry::open(unet, key), nullptr);  // this machine's entry instead
}

TEST(PackedWeightCache, BytesThisMachineDoesNotPackThatWayAreRefused) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const Generated plain = generate({}, tiny_base());
  generate(dir / "cache", tiny_base());
  const auto [key, unet] = entry_of(tiny_base(), dir / "cache", "unet");
  // A sound file of the right key whose one layer has another blocking (as a library that
  // changed its layouts without changing its version would make).
  rewrite_entry(unet, key, key, [](const std::string& name, PackedImage& image) {
    if (name == "conv_in.weight") image.layout.back() ^= 1;
  });
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base()).images, plain.images));
  EXPECT_FALSE(fs::exists(unet));  // removed: the next load makes it again
  EXPECT_TRUE(identical(generate(dir / "cache", tiny_base()).images, plain.images));
  EXPECT_NE(io::PackedCacheEntry::open(unet, key), nullptr);
}

TEST(PackedWeightCache, AFolderThatCannotBeWrittenOnlyCostsSpeed) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  test::write_file(dir / "not-a-folder", "x");
  EXPECT_TRUE(identical(generate(dir / "not-a-folder", tiny_base()).images, generate({}, tiny_base()).images));
}

}  // namespace
}  // namespace sdxl
