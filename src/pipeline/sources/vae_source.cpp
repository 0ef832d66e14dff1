#include "pipeline/sources/vae_source.h"

#include <algorithm>

#include "core/error.h"
#include "io/tensor_file.h"
#include "io/json_file.h"
#include "io/model_configs.h"
#include "io/original_layout.h"
#include "pipeline/sources/single_file_source.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

bool any_key_starts_with(const io::SafetensorsFile& f, const std::string& prefix) {
  return std::any_of(f.records().begin(), f.records().end(), [&](const io::TensorRecord& r) { return r.name.rfind(prefix, 0) == 0; });
}

class VaeSource final : public ModelSource {
 public:
  VaeSource(std::shared_ptr<const ModelSource> base, const fs::path& vae) : base_(std::move(base)), vae_(vae) {
    std::error_code ec;
    if (fs::is_directory(vae, ec)) open_folder();
    else open_file();
    io::parse_vae_config(config_, origin_);  // checked now: a bad config is a load error
    weights("vae");
  }
  const fs::path& location() const override { return base_->location(); }
  const io::PipelineIndex& index() const override { return base_->index(); }
  const nlohmann::json& config(const std::string& c) const override { return c == "vae" ? config_ : base_->config(c); }
  std::string config_origin(const std::string& c) const override { return c == "vae" ? origin_ : base_->config_origin(c); }
  io::WeightSet weights(const std::string& c) const override {
    if (c != "vae") return base_->weights(c);
    if (!folder_files_.empty()) return io::open_weight_set("vae", folder_files_);
    if (!any_key_starts_with(*file_, prefix_ + "encoder.down.") && any_key_starts_with(*file_, "encoder.down_blocks."))
      return io::open_weight_set("vae", {vae_});  // diffusers' own names in one file
    const auto levels = static_cast<int64_t>(io::parse_vae_config(config_, origin_).block_out_channels.size());
    return original_layout_weights("vae", file_, prefix_, [levels](const std::string& k) { return io::map_vae_key(k, levels); },
                                   "not the model's VAE architecture");
  }
  std::shared_ptr<const io::TensorPatch> patch(const std::string& c) const override {
    return c == "vae" ? nullptr : base_->patch(c);
  }
  fs::path tokenizer_dir(const std::string& c) const override { return base_->tokenizer_dir(c); }
  fs::path tokenizer_vocab_dir(const std::string& c) const override { return base_->tokenizer_vocab_dir(c); }

 private:
  void open_folder() {
    const fs::path config = vae_ / "config.json";
    std::error_code ec;
    SDXL_CHECK(fs::exists(config, ec), Io, "[vae] ", vae_.string(), ": no config.json (expected a diffusers AutoencoderKL folder)");
    config_ = io::read_json_object(config, "vae config");
    origin_ = config.string();
    const std::string cls = config_.value("_class_name", std::string());
    SDXL_CHECK(cls == "AutoencoderKL", Format, "[vae] ", origin_, ": _class_name is '", cls, "', expected AutoencoderKL");
    for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                             "diffusion_pytorch_model.bin"})
      if (fs::exists(vae_ / name, ec)) {
        folder_files_.push_back(vae_ / name);
        break;
      }
    SDXL_CHECK(!folder_files_.empty(), Io, "[vae] ", vae_.string(), ": no diffusion_pytorch_model(.fp16).safetensors");
  }
  void open_file() {
    file_ = io::open_tensor_file(vae_);
    prefix_ = any_key_starts_with(*file_, "first_stage_model.") ? "first_stage_model." : "";
    SDXL_CHECK(any_key_starts_with(*file_, prefix_ + "decoder.") && !any_key_starts_with(*file_, "model.diffusion_model."),
               Format, "[vae] ", vae_.string(), ": not a VAE (no decoder.* tensors", prefix_.empty() ? "" : " under first_stage_model.",
               any_key_starts_with(*file_, "model.diffusion_model.") ? "; it is a whole checkpoint" : "", ")");
    config_ = base_->config("vae");  // a single file carries none: the model's VAE architecture
    origin_ = base_->config_origin("vae") + " (the model's, for " + vae_.filename().string() + ")";
  }

  std::shared_ptr<const ModelSource> base_;
  fs::path vae_;
  nlohmann::json config_;
  std::string origin_;
  std::vector<fs::path> folder_files_;
  std::shared_ptr<io::SafetensorsFile> file_;
  std::string prefix_;
};

}  // namespace

std::shared_ptr<const ModelSource> with_vae(std::shared_ptr<const ModelSource> base, const fs::path& vae) {
  if (vae.empty()) return base;
  std::error_code ec;
  SDXL_CHECK(fs::exists(vae, ec), Io, "[vae] ", vae.string(), " does not exist");
  return std::make_shared<VaeSource>(std::move(base), vae);
}

}  // namespace sdxl::pipeline
