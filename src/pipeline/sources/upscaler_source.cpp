#include "pipeline/sources/upscaler_source.h"

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "io/tensor_file.h"
#include "models/common/weights.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

// The old ESRGAN names (AUTOMATIC1111's resrgan2normal table, as spandrel reads them too).
std::vector<io::RenamedTensor> old_layout_names(const io::SafetensorsFile& file) {
  std::set<int> blocks;
  const std::regex body(R"(model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias))");
  std::smatch m;
  for (const auto& r : file.records())
    if (std::regex_match(r.name, m, body)) blocks.insert(std::stoi(m[1]));
  const int n = static_cast<int>(blocks.size());
  SDXL_CHECK(n > 0 && *blocks.rbegin() == n - 1, Format, "[upscaler] ", file.path().string(),
             ": an old-layout ESRGAN without its model.1.sub.N.RDB blocks numbered from 0");
  SDXL_CHECK(file.find("model.10.weight"), Unsupported, "[upscaler] ", file.path().string(),
             ": an old-layout ESRGAN without model.10 (the x4 layout's last convolution): other old scales are not read");
  std::vector<std::pair<std::string, std::string>> map = {{"model.0", "conv_first"},
                                                          {"model.1.sub." + std::to_string(n), "conv_body"},
                                                          {"model.3", "conv_up1"},
                                                          {"model.6", "conv_up2"},
                                                          {"model.8", "conv_hr"},
                                                          {"model.10", "conv_last"}};
  for (int i = 0; i < n; ++i)
    for (int r = 1; r <= 3; ++r)
      for (int k = 1; k <= 5; ++k)
        map.push_back({"model.1.sub." + std::to_string(i) + ".RDB" + std::to_string(r) + ".conv" + std::to_string(k) + ".0",
                       "body." + std::to_string(i) + ".rdb" + std::to_string(r) + ".conv" + std::to_string(k)});
  std::vector<io::RenamedTensor> renamed;
  for (const auto& [stored, name] : map)
    for (const char* part : {".weight", ".bias"}) {
      SDXL_CHECK(file.find(stored + part), Format, "[upscaler] ", file.path().string(), ": no ", stored, part,
                 " (an old-layout ESRGAN has it)");
      renamed.push_back({name + part, stored + part});
    }
  SDXL_CHECK(renamed.size() == file.records().size(), Format, "[upscaler] ", file.path().string(), ": ",
             file.records().size() - renamed.size(), " tensors are not part of an old-layout ESRGAN x4");
  return renamed;
}

}  // namespace

io::WeightSet open_upscaler_weights(const fs::path& file) {
  std::error_code ec;
  SDXL_CHECK(fs::is_regular_file(file, ec), Io, "[upscaler] ", file.string(), ": no such file");
  const auto tensors = io::open_tensor_file(file);
  if (tensors->find("model.0.weight")) return io::renamed_weight_set("upscaler", tensors, old_layout_names(*tensors));
  return io::open_weight_set("upscaler", {file});
}

models::RrdbNetConfig rrdbnet_config_from_tensors(const io::WeightSet& w) {
  const io::TensorRecord *first = w.record("conv_first.weight"), *last = w.record("conv_last.weight"),
                         *grow = w.record("body.0.rdb1.conv1.weight");
  if (!first || !last || !grow) {
    const char* other = w.has("body.0.weight") && w.has("body.1.weight") ? " (an SRVGGNetCompact, as realesr-general-x4v3?)"
                        : w.has("layers.0.residual_group.blocks.0.attn.qkv.weight") ? " (a SwinIR?)"
                                                                                     : "";
    fail(ErrorCode::Unsupported, "[upscaler] ", w.component(), ": not an ESRGAN-family RRDBNet", other,
         ": sdxl reads RRDBNet in BasicSR's or the old ESRGAN key layout");
  }
  SDXL_CHECK(first->shape.rank() == 4 && last->shape.rank() == 4 && grow->shape.rank() == 4, Format, "[upscaler] ",
             w.component(), ": convolution weights must be 4-D");
  models::RrdbNetConfig c;
  c.channels = last->shape[0];
  c.num_feat = first->shape[0];
  c.num_grow_ch = grow->shape[0];
  c.num_block = 0;
  while (w.has("body." + std::to_string(c.num_block) + ".rdb1.conv1.weight")) ++c.num_block;
  const int64_t in = first->shape[1];
  SDXL_CHECK(in == c.channels || in == 4 * c.channels || in == 16 * c.channels, Format, "[upscaler] ", w.component(),
             ": conv_first takes ", in, " channels: not 1, 4 or 16 times the ", c.channels, " the net gives (x4, x2, x1)");
  c.scale = in == c.channels ? 4 : in == 4 * c.channels ? 2 : 1;
  return c;
}

std::shared_ptr<const models::RrdbNet> load_upscaler(const fs::path& file, ops::Precision precision) {
  const io::WeightSet weights = open_upscaler_weights(file);
  const models::RrdbNetConfig config = rrdbnet_config_from_tensors(weights);
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  auto net = std::make_shared<const models::RrdbNet>(models::RrdbNet::load(config, binder));
  binder.finish();
  log_info("[upscaler] loaded ", file.string(), " (RRDBNet x", config.scale, ", ", config.num_block, " blocks, ",
           config.num_feat, " features)");
  return net;
}

}  // namespace sdxl::pipeline
