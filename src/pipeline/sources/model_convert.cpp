#include "pipeline/sources/model_convert.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "io/model_configs.h"
#include "io/original_layout.h"
#include "io/tensor_file.h"
#include "io/safetensors.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

struct Entry {
  io::TensorLayout layout;
  std::function<Tensor()> produce;
};

Tensor converted(Tensor t, DType dtype) { return t.dtype() == dtype ? t : t.to(dtype); }

// OpenCLIP's fused in_proj: q, k and v stacked along the first axis.
Tensor stacked(const std::vector<Tensor>& parts, DType dtype) {
  Shape shape = parts[0].shape();
  shape[0] *= 3;
  Tensor out = Tensor::empty(shape, dtype);
  size_t at = 0;
  for (const Tensor& p : parts) {
    const Tensor c = converted(p, dtype);
    std::memcpy(static_cast<uint8_t*>(out.raw()) + at, c.raw(), c.nbytes());
    at += c.nbytes();
  }
  return out;
}

void check_absent(const fs::path& out) {
  std::error_code ec;
  SDXL_CHECK(!fs::exists(out, ec), InvalidArgument, "[convert] ", out.string(), " exists already; give a new name");
}

// One component's tensors under their original names.
void add_component(std::vector<Entry>& entries, const ModelSource& source, const std::string& component,
                   const std::string& prefix, std::optional<DType> dtype) {
  auto weights = std::make_shared<io::WeightSet>(source.weights(component));
  std::function<io::MappedKey(const std::string&)> original;
  if (component == "unet") {
    const auto layout = io::unet_layout(io::parse_unet_config(source.config("unet"), source.config_origin("unet")));
    original = [layout](const std::string& n) { return io::MappedKey{io::unet_original_key(n, layout)}; };
  } else if (component == "vae") {
    const auto levels = static_cast<int64_t>(io::parse_vae_config(source.config("vae"), source.config_origin("vae")).block_out_channels.size());
    original = [levels](const std::string& n) { return io::vae_original_key(n, levels); };
  } else if (component == "text_encoder") {
    original = [](const std::string& n) { return io::MappedKey{n}; };
  } else {
    original = io::open_clip_original_key;
  }
  for (const auto& name : weights->names()) {
    const io::MappedKey key = original(name);
    SDXL_CHECK(!key.name.empty(), Unsupported, "[convert] the ", component, "'s tensor '", name,
               "' has no place in the original single-file layout");
    const io::TensorRecord* record = weights->record(name);
    const DType out = dtype.value_or(record->dtype);
    Shape shape = record->shape;
    std::function<Tensor()> produce = [weights, name, out] { return converted(weights->get(name), out); };
    switch (key.transform) {
      case io::KeyTransform::Same: break;
      case io::KeyTransform::SqueezeConv1x1:
        shape = Shape{shape[0], shape[1], 1, 1};
        produce = [weights, name, out, shape] { return converted(weights->get(name), out).reshape(shape); };
        break;
      case io::KeyTransform::Transpose:
        shape = Shape{shape[1], shape[0]};
        produce = [weights, name, out] { return converted(transposed(weights->get(name)), out); };
        break;
      case io::KeyTransform::QkvPart: {
        if (key.part != 0) continue;  // k and v go into q's entry
        shape[0] *= 3;
        const std::string q = name, k = name, v = name;
        auto swap = [&](std::string s, const char* to) { return s.replace(s.find("q_proj"), 6, to); };
        produce = [weights, q, k = swap(k, "k_proj"), v = swap(v, "v_proj"), out] {
          return stacked({weights->get(q), weights->get(k), weights->get(v)}, out);
        };
        break;
      }
    }
    entries.push_back({{prefix + key.name, out, shape}, std::move(produce)});
  }
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  SDXL_CHECK(out.good(), Io, "[convert] cannot write ", path.string());
}

void write_tensors(const ModelSource& source, const std::string& component, const fs::path& file, std::optional<DType> dtype) {
  const io::WeightSet weights = source.weights(component);
  const auto names = weights.names();
  std::vector<io::TensorLayout> layout;
  for (const auto& n : names) layout.push_back({n, dtype.value_or(weights.record(n)->dtype), weights.record(n)->shape});
  io::write_safetensors(file, layout, [&](size_t i) { return converted(weights.get(names[i]), layout[i].dtype); },
                        {{"format", "pt"}});
}

}  // namespace

void write_tensor_file(const fs::path& in, const fs::path& out, std::optional<DType> dtype) {
  check_absent(out);
  const auto file = io::open_tensor_file(in);
  std::vector<io::TensorLayout> layout;
  for (const auto& r : file->records()) layout.push_back({r.name, dtype.value_or(r.dtype), r.shape});
  SDXL_CHECK(!layout.empty(), Format, "[convert] ", in.string(), ": holds no tensors");
  io::write_safetensors(out, layout, [&](size_t i) { return converted(file->tensor(file->records()[i]), layout[i].dtype); },
                        {{"format", "pt"}});
  log_info("[convert] wrote ", out.string(), " (", layout.size(), " tensors)");
}

void write_single_file(const ModelSource& source, const fs::path& out, std::optional<DType> dtype) {
  check_absent(out);
  std::vector<Entry> entries;
  add_component(entries, source, "unet", "model.diffusion_model.", dtype);
  add_component(entries, source, "vae", "first_stage_model.", dtype);
  if (source.has("text_encoder")) {
    add_component(entries, source, "text_encoder", "conditioner.embedders.0.transformer.", dtype);
    add_component(entries, source, "text_encoder_2", "conditioner.embedders.1.model.", dtype);
  } else {
    add_component(entries, source, "text_encoder_2", "conditioner.embedders.0.model.", dtype);  // the refiner's only one
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.layout.name < b.layout.name; });
  std::vector<io::TensorLayout> layout;
  for (const auto& e : entries) layout.push_back(e.layout);
  io::write_safetensors(out, layout, [&](size_t i) { return entries[i].produce(); }, {{"format", "pt"}});
  log_info("[convert] wrote ", out.string(), " (", entries.size(), " tensors)");
}

void write_diffusers_folder(const ModelSource& source, const fs::path& out, std::optional<DType> dtype) {
  check_absent(out);
  const fs::path temporary = out.string() + ".partial";
  std::error_code ec;
  fs::remove_all(temporary, ec);
  fs::create_directories(temporary);
  try {
    const io::PipelineIndex& index = source.index();
    nlohmann::ordered_json model_index;
    model_index["_class_name"] = index.class_name;
    model_index["_diffusers_version"] = "0.25.1";
    model_index["force_zeros_for_empty_prompt"] = index.force_zeros_for_empty_prompt;
    if (index.requires_aesthetics_score) model_index["requires_aesthetics_score"] = true;
    for (const auto& c : index.components) model_index[c.name] = {c.library, c.class_name};
    {
      std::ofstream f(temporary / "model_index.json");
      f << model_index.dump(2) << "\n";
    }
    for (const auto& c : index.components) {
      const fs::path dir = temporary / c.name;
      fs::create_directories(dir);
      if (c.name == "unet" || c.name == "vae" || c.name == "text_encoder" || c.name == "text_encoder_2") {
        write_json(dir / "config.json", source.config(c.name));
        const bool transformers = c.name.rfind("text_encoder", 0) == 0;
        write_tensors(source, c.name, dir / (transformers ? "model.safetensors" : "diffusion_pytorch_model.safetensors"), dtype);
      } else if (c.name == "scheduler") {
        write_json(dir / "scheduler_config.json", source.config(c.name));
      } else if (c.name.rfind("tokenizer", 0) == 0) {
        const fs::path own = source.tokenizer_dir(c.name), vocab = source.tokenizer_vocab_dir(c.name);
        for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"})
          if (fs::exists(own / name, ec)) fs::copy_file(own / name, dir / name);
        for (const char* name : {"vocab.json", "merges.txt"}) fs::copy_file((vocab.empty() ? own : vocab) / name, dir / name);
      }
    }
    fs::rename(temporary, out);
  } catch (...) {
    fs::remove_all(temporary, ec);
    throw;
  }
  log_info("[convert] wrote ", out.string());
}

}  // namespace sdxl::pipeline
