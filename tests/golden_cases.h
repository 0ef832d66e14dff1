// Access to the golden cases of $SDXL_REF/cases.json: the case list, and each case's tensors.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "io/image_file.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace sdxl::test {

inline nlohmann::json load_cases() {
  std::ifstream in(reference_dir() / "cases.json");
  return nlohmann::json::parse(in);
}

inline std::vector<nlohmann::json> cases_of_kind(const std::string& kind) {
  std::vector<nlohmann::json> out;
  if (!std::filesystem::exists(reference_dir() / "cases.json")) return out;
  const nlohmann::json all = load_cases();  // a named local: the loop must not outlive it
  for (const auto& c : all["cases"])
    if (c["kind"] == kind) out.push_back(c);
  return out;
}

inline std::filesystem::path model_dir(const nlohmann::json& c) {
  const nlohmann::json cases = load_cases();
  return reference_dir() / cases["model_dirs"][c["model"].get<std::string>()].get<std::string>();
}

// A model of cases.json's model_dirs by its key.
inline std::filesystem::path model_path(const std::string& key) {
  return reference_dir() / load_cases()["model_dirs"][key].get<std::string>();
}

// A case's models: "tiny-sdxl-base+tiny-sdxl-controlnet+..." -> the base, then the others.
inline std::vector<std::string> model_keys(const nlohmann::json& c) {
  std::vector<std::string> keys;
  const std::string all = c["model"];
  for (size_t start = 0, plus; start <= all.size(); start = plus + 1) {
    plus = all.find('+', start);
    if (plus == std::string::npos) plus = all.size();
    keys.push_back(all.substr(start, plus - start));
  }
  return keys;
}

class CaseFile {
 public:
  explicit CaseFile(const nlohmann::json& c)
      : file_(io::SafetensorsFile::open(reference_dir() / c["file"].get<std::string>())) {}
  Tensor operator[](const std::string& name) const { return file_->tensor(name); }
  bool has(const std::string& name) const { return file_->find(name) != nullptr; }

 private:
  std::shared_ptr<io::SafetensorsFile> file_;
};

// A case file holding U8 tensors (8-bit image inputs, listed in its u8_inputs), which sdxl's
// safetensors reader refuses: read here directly. U8 values k come back as the floats k / 255 the
// pipeline received; F32 tensors as they are.
class RawCaseFile {
 public:
  explicit RawCaseFile(const nlohmann::json& c) : path_(reference_dir() / c["file"].get<std::string>()) {
    std::ifstream in(path_, std::ios::binary);
    in.read(reinterpret_cast<char*>(&header_size_), 8);
    std::string header(header_size_, '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_size_));
    header_ = nlohmann::json::parse(header);
  }
  Tensor operator[](const std::string& name) const {
    const auto& entry = header_.at(name);
    const std::string dtype = entry.at("dtype");
    if (dtype != "U8" && dtype != "F32") throw std::runtime_error(name + ": " + dtype + " is not U8 or F32");
    Shape shape;
    for (int64_t d : entry.at("shape")) shape.push_back(d);
    const uint64_t begin = entry.at("data_offsets")[0], end = entry.at("data_offsets")[1];
    std::vector<char> bytes(end - begin);
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(8 + header_size_ + begin));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    Tensor t = Tensor::empty(shape, DType::F32);
    if (dtype == "F32") {
      std::memcpy(t.raw(), bytes.data(), bytes.size());
    } else {
      for (size_t i = 0; i < bytes.size(); ++i)
        t.data<float>()[i] = static_cast<float>(static_cast<unsigned char>(bytes[i])) / 255.0f;
    }
    return t;
  }

 private:
  std::filesystem::path path_;
  uint64_t header_size_ = 0;
  nlohmann::json header_;
};

// Compares with the case's own tolerance; reports the tensor name and the worst element.
inline ::testing::AssertionResult matches(const Tensor& got, const Tensor& want, const nlohmann::json& c,
                                          const std::string& what) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << what << ": shape " << got.shape().to_string() << ", want "
                                         << want.shape().to_string();
  Tensor g = got.dtype() == DType::F32 ? got : got.to(DType::F32);
  Tensor w = want.dtype() == DType::F32 ? want : want.to(DType::F32);
  auto r = all_close(g.data<float>(), w.data<float>(), static_cast<size_t>(g.numel()),
                     c["tolerance"]["atol"].get<double>(), c["tolerance"]["rtol"].get<double>());
  if (!r) return ::testing::AssertionFailure() << what << ": " << r.message();
  return r;
}

// How many 8-bit levels the worst pixel of `got` (interleaved RGB) is from the case's PNG
// (files.image): within 1 for the library, 2 for a CLI run. -1 when the sizes differ.
inline int png_levels_apart(const std::vector<uint8_t>& got, const nlohmann::json& c) {
  const io::Image8 want = io::read_image(reference_dir() / c["files"]["image"].get<std::string>());
  if (got.size() != want.pixels.size()) return -1;
  int worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(int(got[i]) - int(want.pixels[i])));
  return worst;
}

// The same for two images (-1 when their sizes differ).
inline int png_levels_apart(const io::Image8& got, const io::Image8& want) {
  if (got.width != want.width || got.height != want.height || got.pixels.size() != want.pixels.size()) return -1;
  int worst = 0;
  for (size_t i = 0; i < got.pixels.size(); ++i) worst = std::max(worst, std::abs(int(got.pixels[i]) - int(want.pixels[i])));
  return worst;
}

}  // namespace sdxl::test
