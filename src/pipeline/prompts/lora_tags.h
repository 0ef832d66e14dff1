// AUTOMATIC1111's (and stable-diffusion.cpp's) way of asking for a LoRA inside the prompt:
// `<lora:NAME:WEIGHT>` (WEIGHT defaults to 1; `lyco` is an old alias). The tags are removed from
// the text before it is encoded, and NAME is a file in the LoRA folder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sdxl::pipeline {

struct LoraTag {
  std::string name;
  double weight = 1.0;
};

// Removes the tags from `prompt` and returns them in order; throws InvalidArgument for a tag
// whose weight is not a number.
std::vector<LoraTag> take_lora_tags(std::string& prompt);

// NAME's file in `dir`: NAME.safetensors, in `dir` or any folder below it (A1111 shows
// subfolders' files by their bare names). Never outside `dir`; a missing name is an error that
// says where it looked.
std::filesystem::path find_lora_file(const std::filesystem::path& dir, const std::string& name);

}  // namespace sdxl::pipeline
