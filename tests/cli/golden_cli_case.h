// A pipeline golden case run through the CLI: the sampler name for the case's scheduler class, its
// numbers as the command line writes them, and the run's outputs (-o out.png, --output-latents
// l.safetensors in `dir`) compared with the case's (latents within its tolerance, PNG within 2 levels).
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "golden_cases.h"
#include "io/png.h"
#include "io/safetensors.h"

namespace sdxl::test {

inline std::string sampler_of(const std::string& scheduler) {
  if (scheduler == "EulerDiscreteScheduler") return "euler";
  if (scheduler == "EulerAncestralDiscreteScheduler") return "euler_a";
  if (scheduler == "DPMSolverMultistepScheduler") return "dpmpp_2m";
  ADD_FAILURE() << "no CLI sampler for " << scheduler;
  return "euler";
}

inline std::string number_arg(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

inline void expect_cli_outputs_match(const nlohmann::json& c, const std::filesystem::path& dir) {
  const RawCaseFile file(c);
  EXPECT_TRUE(matches(io::SafetensorsFile::open(dir / "l.safetensors")->tensor("latents"), file["latents"], c, "latents"));
  const int apart = png_levels_apart(io::read_png(dir / "out.png").pixels, c);
  EXPECT_TRUE(apart >= 0 && apart <= 2) << apart << " PNG levels apart (a CLI run: within 2)";
}

}  // namespace sdxl::test
