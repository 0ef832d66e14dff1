#include "pipeline/request/sampler_table.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"

namespace sdxl::pipeline {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool names_entry(const SamplerEntry& e, const std::string& wanted) {
  const std::string w = lower(wanted);
  if (w == e.name || w == lower(e.display)) return true;
  return std::any_of(e.aliases.begin(), e.aliases.end(), [&](const std::string& a) { return w == lower(a); });
}

std::string known_names() {
  std::string out;
  for (const auto& e : sampler_table()) out += (out.empty() ? "" : ", ") + e.name + " (" + e.display + ")";
  return out;
}

}  // namespace

const std::vector<SamplerEntry>& sampler_table() {
  using nlohmann::json;
  static const std::vector<SamplerEntry> table = {
      {"euler", "EulerDiscreteScheduler", json::object(), "Euler", {"k_euler"}, true},
      {"euler_a", "EulerAncestralDiscreteScheduler", json::object(), "Euler a", {"k_euler_a", "k_euler_ancestral"}, false},
      {"dpmpp_2m", "DPMSolverMultistepScheduler", json::object(), "DPM++ 2M", {"k_dpmpp_2m"}, true},
      {"dpmpp_2m_sde", "DPMSolverMultistepScheduler", json{{"algorithm_type", "sde-dpmsolver++"}}, "DPM++ 2M SDE",
       {"k_dpmpp_2m_sde", "k_dpmpp_2m_sde_ka"}, true},
      {"ddim", "DDIMScheduler", json::object(), "DDIM", {}, false},
      {"heun", "HeunDiscreteScheduler", json::object(), "Heun", {"k_heun"}, true},
      {"lms", "LMSDiscreteScheduler", json::object(), "LMS", {"k_lms"}, true},
      {"unipc", "UniPCMultistepScheduler", json::object(), "UniPC", {"uni_pc"}, true},
      {"kdpm2", "KDPM2DiscreteScheduler", json::object(), "DPM2", {"k_dpm_2"}, true},
      {"kdpm2_a", "KDPM2AncestralDiscreteScheduler", json::object(), "DPM2 a", {"k_dpm_2_a"}, true},
      {"lcm", "LCMScheduler", json::object(), "LCM", {}, false},
      // diffusers' samplers without an AUTOMATIC1111 twin carry names of their own: its "DPM++ 3M SDE"
      // (k-diffusion) and "DPM++ 2S a" are other algorithms, so no client gets one for the other.
      {"dpmpp_3m_sde", "DPMSolverMultistepScheduler", json{{"solver_order", 3}, {"algorithm_type", "sde-dpmsolver++"}},
       "DPM++ 3M SDE (diffusers)", {}, true},
      {"dpmpp_2s", "DPMSolverSinglestepScheduler", json::object(), "DPM++ 2S (diffusers)", {}, true},
      {"deis", "DEISMultistepScheduler", json::object(), "DEIS", {}, true},
      {"plms", "PNDMScheduler", json{{"skip_prk_steps", true}}, "PLMS", {}, false},
      {"ddpm", "DDPMScheduler", json::object(), "DDPM", {}, false},
  };
  return table;
}

const std::vector<std::string>& sampler_schedule_names() {
  static const std::vector<std::string> names = {"Automatic", "Karras"};
  return names;
}

nlohmann::json SamplerChoice::overrides() const {
  nlohmann::json o = entry->overrides;
  if (karras) o["use_karras_sigmas"] = true;
  return o;
}

std::string SamplerChoice::display() const { return entry->display + (karras ? " Karras" : ""); }

SamplerChoice resolve_sampler(const std::string& name, const std::string& schedule, bool karras) {
  SamplerChoice choice;
  std::string base = name;
  const std::string suffix = " karras";
  if (lower(base).size() > suffix.size() && lower(base).compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base = base.substr(0, base.size() - suffix.size());  // AUTOMATIC1111's legacy "DPM++ 2M Karras"
    karras = true;
  }
  for (const auto& e : sampler_table())
    if (names_entry(e, base)) choice.entry = &e;
  SDXL_CHECK_PARAM(choice.entry, InvalidArgument, "sampler", "[sampler] unknown sampler '", name, "' (known: ", known_names(), ")");
  const std::string s = lower(schedule);
  SDXL_CHECK_PARAM(s.empty() || s == "automatic" || s == "karras", InvalidArgument, "scheduler", "[sampler] unknown schedule '", schedule,
             "' (known: Automatic, Karras)");
  choice.karras = karras || s == "karras";
  SDXL_CHECK_PARAM(!choice.karras || choice.entry->karras, Unsupported, "sampler", "[sampler] ", choice.entry->display,
             " does not take Karras sigmas");
  return choice;
}

}  // namespace sdxl::pipeline
