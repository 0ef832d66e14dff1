// Torch checkpoints made in tests: pickle bytes written opcode by opcode, and the stored zip
// archive torch.save puts them in, so the reader meets shapes no reference file has.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"

namespace sdxl::test {

// Pickle bytes, opcode by opcode.
struct Pickle {
  std::string bytes = "\x80\x02";
  Pickle& op(const std::string& code) { bytes += code; return *this; }
  Pickle& str(const std::string& s) {
    bytes += 'X';
    for (int i = 0; i < 4; ++i) bytes += static_cast<char>((s.size() >> (8 * i)) & 0xff);
    bytes += s;
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) { bytes += "c" + module + "\n" + name + "\n"; return *this; }
  Pickle& put(int slot) { bytes += 'q'; bytes += static_cast<char>(slot); return *this; }
  Pickle& get(int slot) { bytes += 'h'; bytes += static_cast<char>(slot); return *this; }
  Pickle& small(int v) {  // BININT1, or BININT beyond a byte
    if (v >= 0 && v < 256) {
      bytes += 'K';
      bytes += static_cast<char>(v);
      return *this;
    }
    bytes += 'J';
    for (int i = 0; i < 4; ++i) bytes += static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff);
    return *this;
  }
  // _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
  Pickle& tensor(const std::string& key, int numel, int offset, std::initializer_list<int> size,
                 std::initializer_list<int> stride, const std::string& storage = "FloatStorage") {
    return tensor(key, numel, offset, std::vector<int>(size), std::vector<int>(stride), storage);
  }
  Pickle& tensor(const std::string& key, int numel, int offset, const std::vector<int>& size, const std::vector<int>& stride,
                 const std::string& storage) {
    global("torch._utils", "_rebuild_tensor_v2").op("(").op("(").str("storage").global("torch", storage);
    str(key).str("cpu").small(numel).op("t").op("Q").small(offset);
    op("(");
    for (int v : size) small(v);
    op("t").op("(");
    for (int v : stride) small(v);
    op("t").op("\x89");
    global("collections", "OrderedDict").op(")").op("R");
    return op("t").op("R");
  }
  std::string done() const { return bytes + "."; }
};

// A zip archive of stored entries, as torch.save writes one.
inline std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out, directory;
  auto le = [](std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  for (const auto& [name, data] : entries) {
    const uint64_t local = out.size();
    le(out, 0x04034b50, 4); le(out, 20, 2); le(out, 0, 2); le(out, 0, 2); le(out, 0, 4); le(out, 0, 4);
    le(out, data.size(), 4); le(out, data.size(), 4); le(out, name.size(), 2); le(out, 0, 2);
    out += name + data;
    le(directory, 0x02014b50, 4); le(directory, 20, 2); le(directory, 20, 2); le(directory, 0, 2); le(directory, 0, 2);
    le(directory, 0, 4); le(directory, 0, 4); le(directory, data.size(), 4); le(directory, data.size(), 4);
    le(directory, name.size(), 2); le(directory, 0, 2); le(directory, 0, 2); le(directory, 0, 2); le(directory, 0, 2);
    le(directory, 0, 4); le(directory, local, 4);
    directory += name;
  }
  const uint64_t at = out.size();
  out += directory;
  le(out, 0x06054b50, 4); le(out, 0, 4); le(out, entries.size(), 2); le(out, entries.size(), 2);
  le(out, directory.size(), 4); le(out, at, 4); le(out, 0, 2);
  return out;
}

inline std::string floats(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

// A torch.save zip archive: `pkl` and one entry per storage key.
inline std::string torch_checkpoint(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& storages) {
  std::vector<std::pair<std::string, std::string>> entries = {{"archive/data.pkl", pkl}};
  for (const auto& [key, data] : storages) entries.push_back({"archive/data/" + key, data});
  entries.push_back({"archive/version", "3\n"});
  return stored_zip(entries);
}

// Every tensor of `file` in a torch.save archive, contiguous, one storage each, under `wrapper`
// ({"state_dict": {...}}) or bare when it is empty: a .ckpt made from a safetensors file.
inline std::string torch_checkpoint_of(const io::SafetensorsFile& file, const std::string& wrapper) {
  Pickle p;
  p.op("}");
  if (!wrapper.empty()) p.str(wrapper).op("}");
  p.op("(");
  std::vector<std::pair<std::string, std::string>> storages;
  for (const auto& r : file.records()) {
    const std::string key = std::to_string(storages.size());
    std::vector<int> size, stride(r.shape.rank(), 1);
    for (int64_t d : r.shape) size.push_back(static_cast<int>(d));
    for (int d = static_cast<int>(size.size()) - 2; d >= 0; --d) stride[d] = stride[d + 1] * size[d + 1];
    const char* storage = r.dtype == DType::F16 ? "HalfStorage" : r.dtype == DType::BF16 ? "BFloat16Storage"
                        : r.dtype == DType::I64 ? "LongStorage" : r.dtype == DType::I32 ? "IntStorage" : "FloatStorage";
    p.str(r.name).tensor(key, static_cast<int>(r.shape.numel()), 0, size, stride, storage);
    const Tensor t = file.tensor(r);
    storages.push_back({key, std::string(static_cast<const char*>(t.raw()), t.nbytes())});
  }
  p.op("u");
  if (!wrapper.empty()) p.op("s");
  return torch_checkpoint(p.done(), storages);
}

}  // namespace sdxl::test
