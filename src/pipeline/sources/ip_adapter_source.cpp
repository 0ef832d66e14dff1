#include "pipeline/sources/ip_adapter_source.h"

#include <string>
#include <vector>

#include "core/error.h"
#include "io/tensor_file.h"
#include "core/log.h"
#include "core/memory.h"
#include "models/common/weights.h"
#include "pipeline/sources/component_loader.h"
#include "models/unet/unet.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

const io::TensorRecord& record_of(const io::WeightSet& w, const std::string& name) {
  const io::TensorRecord* r = w.record(name);
  SDXL_CHECK(r, Format, "[ip-adapter] ", w.component(), ": no tensor ", name, " (is this an IP-Adapter file?)");
  return *r;
}

io::WeightSet open_ip_adapter(const fs::path& file) {
  std::error_code ec;
  SDXL_CHECK(fs::is_regular_file(file, ec), Io, "[ip-adapter] ", file.string(), ": no such file");
  SDXL_CHECK(io::is_weights_file_name(file), Format, "[ip-adapter] ", file.string(),
             ": not a weights file (.safetensors, or h94's .bin)");
  return io::open_weight_set("ip-adapter", {file});
}

}  // namespace

models::IpAdapterConfig ip_adapter_config_from_tensors(const io::WeightSet& w) {
  models::IpAdapterConfig c;
  const io::TensorRecord& k1 = record_of(w, "ip_adapter.1.to_k_ip.weight");
  c.cross_dim = k1.shape[1];
  for (size_t k = 1; w.has("ip_adapter." + std::to_string(k) + ".to_k_ip.weight"); k += 2)
    c.layer_channels.push_back(record_of(w, "ip_adapter." + std::to_string(k) + ".to_k_ip.weight").shape[0]);
  if (w.has("image_proj.proj.weight")) {
    const io::TensorRecord& proj = record_of(w, "image_proj.proj.weight");
    SDXL_CHECK(proj.shape.rank() == 2, Format, "[ip-adapter] ", w.component(), ": image_proj.proj.weight is ",
               proj.shape.to_string(), ", expected [tokens x width, embedding]");
    c.embed_dim = proj.shape[1];
    SDXL_CHECK(proj.shape[0] % c.cross_dim == 0, Format, "[ip-adapter] ", w.component(), ": image_proj.proj gives ",
               proj.shape[0], " values, not a whole number of ", c.cross_dim, "-wide tokens");
    c.tokens = proj.shape[0] / c.cross_dim;
    return c;
  }
  SDXL_CHECK(w.has("image_proj.latents"), Format, "[ip-adapter] ", w.component(),
             ": neither image_proj.proj (plain) nor image_proj.latents (plus): an IP-Adapter kind sdxl does not run "
             "(FaceID and full-face adapters have other projections)");
  c.plus = true;
  const io::TensorRecord& latents = record_of(w, "image_proj.latents");
  SDXL_CHECK(latents.shape.rank() == 3 && latents.shape[0] == 1, Format, "[ip-adapter] ", w.component(),
             ": image_proj.latents is ", latents.shape.to_string(), ", expected [1, queries, width]");
  c.tokens = latents.shape[1];
  c.hidden = latents.shape[2];
  c.embed_dim = record_of(w, "image_proj.proj_in.weight").shape[1];
  const int64_t inner = record_of(w, "image_proj.layers.0.0.to_q.weight").shape[0];
  SDXL_CHECK(inner % 64 == 0, Format, "[ip-adapter] ", w.component(), ": the Resampler's to_q has ", inner,
             " rows, not heads of 64");
  c.heads = inner / 64;
  c.depth = 0;
  while (w.has("image_proj.layers." + std::to_string(c.depth) + ".0.to_q.weight")) ++c.depth;
  return c;
}

std::shared_ptr<const models::IpAdapter> load_ip_adapter(const fs::path& file, const io::UNetConfig& unet,
                                                         ops::Precision precision) {
  io::WeightSet weights = open_ip_adapter(file);
  const models::IpAdapterConfig config = ip_adapter_config_from_tensors(weights);
  const std::vector<models::CrossAttentionLayer> layers = models::cross_attention_layers(unet);
  const size_t have = config.layer_channels.size();
  if (have != layers.size()) {
    const char* which = have == 16 ? " (16 layers: an IP-Adapter for SD 1.5; SDXL's are the *_sdxl files)" : "";
    fail(ErrorCode::InvalidArgument, "[ip-adapter] ", file.string(), ": ", have, " cross-attention layers, but this UNet has ",
         layers.size(), which);
  }
  for (size_t k = 0; k < have; ++k)
    SDXL_CHECK(config.layer_channels[k] == layers[k].channels, InvalidArgument, "[ip-adapter] ", file.string(), ": layer ",
               k, " has ", config.layer_channels[k], " channels, this UNet's ", layers[k].channels,
               " (an IP-Adapter for another model)");
  SDXL_CHECK(config.cross_dim == unet.cross_attention_dim[0], InvalidArgument, "[ip-adapter] ", file.string(),
             ": its tokens are ", config.cross_dim, " wide, this UNet's text ", unet.cross_attention_dim[0],
             " (an IP-Adapter for another model)");
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  auto adapter = std::make_shared<models::IpAdapter>(models::IpAdapter::load(config, binder));
  binder.finish({});
  return_free_memory_to_system();
  log_info("[ip-adapter] loaded ", file.string(), " (", config.plus ? "plus" : "plain", ", ", config.tokens, " tokens)");
  return adapter;
}

double ip_adapter_weights_gib(const fs::path& file, ops::Precision precision) {
  return packed_weights_gib(open_ip_adapter(file), precision);
}

}  // namespace sdxl::pipeline
