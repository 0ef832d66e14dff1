// Element types of tensors, with their storage sizes and names as safetensors spells them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sdxl {

enum class DType : uint8_t { F32, F16, BF16, I32, I64 };

constexpr size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  return 0;
}

// "F32", "F16", "BF16", "I32", "I64": the safetensors names.
std::string_view dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);

constexpr bool dtype_is_float(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

}  // namespace sdxl
