// The sampler table through the C API (pipeline/sampler_table.h holds it).
#include <string>
#include <vector>

#include "capi/c_api_guard.h"
#include "pipeline/request/sampler_table.h"
#include "sdxl/sdxl.h"

namespace {

// C views of the table's rows, made once; they live as long as the library.
struct SamplerInfos {
  std::vector<std::string> aliases;
  std::vector<sdxl_sampler_info> infos;
  SamplerInfos() {
    const auto& table = sdxl::pipeline::sampler_table();
    aliases.reserve(table.size());
    for (const auto& e : table) {
      std::string joined;
      for (const auto& a : e.aliases) joined += (joined.empty() ? "" : ",") + a;
      aliases.push_back(joined);
    }
    for (size_t i = 0; i < table.size(); ++i)
      infos.push_back({table[i].name.c_str(), table[i].scheduler.c_str(), table[i].display.c_str(), aliases[i].c_str(),
                       table[i].karras ? 1 : 0});
  }
};

const SamplerInfos& sampler_infos() {
  static const SamplerInfos infos;
  return infos;
}

}  // namespace

extern "C" {

int sdxl_sampler_count(void) { return static_cast<int>(sampler_infos().infos.size()); }

const sdxl_sampler_info* sdxl_sampler_at(int index) {
  const auto& infos = sampler_infos().infos;
  return index >= 0 && index < static_cast<int>(infos.size()) ? &infos[static_cast<size_t>(index)] : nullptr;
}

sdxl_status sdxl_resolve_sampler(const char* name, const char* schedule, int karras, const sdxl_sampler_info** sampler,
                                 int* use_karras) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(name && sampler, InvalidArgument, "[sampler] name and sampler must not be NULL");
    const auto choice = sdxl::pipeline::resolve_sampler(name, schedule ? schedule : "", karras != 0);
    const auto& table = sdxl::pipeline::sampler_table();
    *sampler = &sampler_infos().infos[static_cast<size_t>(choice.entry - table.data())];
    if (use_karras) *use_karras = choice.karras ? 1 : 0;
  });
}

}  // extern "C"
