// A pickle reader that builds data and calls nothing: the opcodes a torch checkpoint's data.pkl
// uses (protocols 0-4's data opcodes), and of the globals only torch's weights-only allow-list
// (OrderedDict, the tensor rebuild functions, storage classes, dtypes, torch.Size). Any other
// global, and every opcode that would construct an object (INST, OBJ, NEWOBJ, BUILD, ...), is
// refused when it is read, naming it, before anything after it is looked at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sdxl::io::pickle {

enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

// A tensor as _rebuild_tensor_v2 describes it: a view of a storage, sizes and offsets in elements.
struct TensorView {
  size_t storage = 0;  // the Storage value's index
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

// One value of the document. Containers refer to other values by index, so a pickle that puts a
// list inside itself makes a cycle of indices, never of owners.
struct Value {
  Kind kind = Kind::None;
  int64_t integer = 0;       // Bool, Int; Storage: its element count
  double real = 0;           // Float
  std::string text;          // String, Bytes; Global: "module.name"; Storage: its key
  std::string storage_type;  // Storage: its class ("torch.HalfStorage")
  std::vector<size_t> items;  // Tuple, List; Dict: key, value, key, value, ...
  TensorView tensor;          // Tensor
};

struct Document {
  std::vector<Value> values;
  size_t root = 0;
  const Value& at(size_t index) const { return values.at(index); }
};

// Limits applied before the pickle's own numbers size anything.
inline constexpr size_t kMaxStack = 1u << 20, kMaxValues = 1u << 26;

// Runs `data` (where: the file, for messages). Throws sdxl::Error naming `where`: Format for a
// malformed pickle, Unsupported for a refused global or opcode ("refused: the global 'os.system'
// ... nothing was run").
Document read(const uint8_t* data, size_t size, const std::string& where);

}  // namespace sdxl::io::pickle
