#include "io/safetensors.h"

#include "io/output_file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sdxl::io {
namespace {

using nlohmann::json;

// Types the safetensors format defines but sdxl does not compute with.
bool is_known_unsupported_dtype(const std::string& name) {
  static const std::set<std::string> known = {"F64", "I8", "U8", "I16", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2"};
  return known.count(name) > 0;
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct Context {
  std::string file;
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(ErrorCode::Format, "[safetensors] ", file, ": ", std::forward<Parts>(parts)...);
  }
};

uint64_t as_offset(const Context& ctx, const std::string& name, const json& value) {
  if (!value.is_number_unsigned()) ctx.bad("tensor '", name, "': data_offsets must be non-negative integers");
  return value.get<uint64_t>();
}

TensorRecord parse_record(const Context& ctx, const std::string& name, const json& entry, uint64_t data_size) {
  if (!entry.is_object()) ctx.bad("tensor '", name, "': entry is not an object");
  TensorRecord r;
  r.name = name;
  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) ctx.bad("tensor '", name, "': missing dtype");
  const std::string dtype = dtype_it->get<std::string>();
  auto parsed = dtype_from_name(dtype);
  if (!parsed) {
    if (is_known_unsupported_dtype(dtype))
      fail(ErrorCode::Unsupported, "[safetensors] ", ctx.file, ": tensor '", name, "': dtype ", dtype,
           " is not supported (F32, F16, BF16, I32, I64 are)");
    ctx.bad("tensor '", name, "': unknown dtype '", dtype, "'");
  }
  r.dtype = *parsed;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) ctx.bad("tensor '", name, "': missing shape");
  if (shape_it->size() > static_cast<size_t>(kMaxRank))
    ctx.bad("tensor '", name, "': rank ", shape_it->size(), " exceeds the limit of ", kMaxRank);
  uint64_t numel = 1;
  for (const json& d : *shape_it) {
    if (!d.is_number_unsigned()) ctx.bad("tensor '", name, "': shape must hold non-negative integers");
    uint64_t dim = d.get<uint64_t>();
    if (dim > (1ull << 40) || (dim != 0 && numel > (1ull << 46) / dim))
      ctx.bad("tensor '", name, "': shape ", shape_it->dump(), " is too large");
    numel *= dim;
    r.shape.push_back(static_cast<int64_t>(dim));
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    ctx.bad("tensor '", name, "': data_offsets must be [begin, end]");
  r.begin = as_offset(ctx, name, (*offsets_it)[0]);
  r.end = as_offset(ctx, name, (*offsets_it)[1]);
  if (r.begin > r.end) ctx.bad("tensor '", name, "': data_offsets [", r.begin, ", ", r.end, "] are reversed");
  if (r.end > data_size)
    ctx.bad("tensor '", name, "': data_offsets [", r.begin, ", ", r.end, "] lie outside the data area of ", data_size,
            " bytes (file truncated?)");
  const uint64_t expected = numel * dtype_size(r.dtype);
  if (r.end - r.begin != expected)
    ctx.bad("tensor '", name, "': ", r.end - r.begin, " bytes of data, but shape ", r.shape.to_string(), " x ", dtype,
            " needs ", expected);
  return r;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  auto result = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  result->file_ = MappedFile::open(path);
  const MappedFile& file = *result->file_;
  Context ctx{path.string()};

  if (file.size() < 8) ctx.bad("file is ", file.size(), " bytes, too short for the 8-byte header length");
  const uint64_t header_len = read_le64(file.data());
  if (header_len > file.size() - 8)
    ctx.bad("header length ", header_len, " goes beyond the end of the file (", file.size(), " bytes)");
  if (header_len > kMaxHeaderBytes) ctx.bad("header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes);
  result->data_offset_ = 8 + header_len;
  const uint64_t data_size = file.size() - result->data_offset_;

  // nlohmann keeps the last of duplicate keys silently; the callback sees every key first.
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > 8) ctx.bad("the header nests deeper than a safetensors header does");
    if (event == json::parse_event_t::key && depth == 1) {
      std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
      if (seen.size() > kMaxTensors) ctx.bad("more than ", kMaxTensors, " tensors in the header");
    }
    return true;
  };
  const char* header = reinterpret_cast<const char*>(file.data() + 8);
  json root;
  try {
    root = json::parse(header, header + header_len, on_event);
  } catch (const json::exception& e) {
    ctx.bad("invalid JSON header: ", e.what());
  }
  if (!duplicate.empty()) ctx.bad("tensor '", duplicate, "' appears more than once in the header");
  if (!root.is_object()) ctx.bad("header is not a JSON object");

  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) ctx.bad("__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) ctx.bad("__metadata__ value '", m.key(), "' is not a string");
        result->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    result->records_.push_back(parse_record(ctx, it.key(), *it, data_size));
  }

  // No two tensors may share bytes (empty tensors occupy none).
  std::vector<const TensorRecord*> by_offset;
  for (const auto& r : result->records_)
    if (r.end > r.begin) by_offset.push_back(&r);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorRecord* a, const TensorRecord* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      ctx.bad("tensors '", by_offset[i - 1]->name, "' and '", by_offset[i]->name, "' overlap in the data area");

  std::sort(result->records_.begin(), result->records_.end(),
            [](const TensorRecord& a, const TensorRecord& b) { return a.name < b.name; });
  return result;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::from_records(std::shared_ptr<MappedFile> file,
                                                              std::vector<TensorRecord> records,
                                                              std::shared_ptr<const std::vector<uint8_t>> copies,
                                                              std::map<std::string, std::string> metadata) {
  auto result = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
  result->file_ = std::move(file);
  result->copies_ = std::move(copies);
  result->records_ = std::move(records);
  result->metadata_ = std::move(metadata);
  std::sort(result->records_.begin(), result->records_.end(),
            [](const TensorRecord& a, const TensorRecord& b) { return a.name < b.name; });
  return result;
}

const uint8_t* SafetensorsFile::data(const TensorRecord& r) const {
  return r.copied ? copies_->data() + r.begin : file_->data() + data_offset_ + r.begin;
}

const TensorRecord* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(records_.begin(), records_.end(), name,
                             [](const TensorRecord& r, std::string_view n) { return r.name < n; });
  return it != records_.end() && it->name == name ? &*it : nullptr;
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const TensorRecord* r = find(name);
  if (!r) fail(ErrorCode::Format, "[safetensors] ", path().string(), ": no tensor '", name, "'");
  return tensor(*r);
}

Tensor SafetensorsFile::tensor(const TensorRecord& r) const {
  const uint8_t* p = data(r);
  if (r.copied) return Tensor::view(p, r.shape, r.dtype, std::shared_ptr<const void>(copies_, p));
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(r.dtype) == 0)
    return Tensor::view(p, r.shape, r.dtype, std::shared_ptr<const void>(file_, p));
  // An odd header length leaves the data unaligned: copy rather than read misaligned floats.
  Tensor copy = Tensor::empty(r.shape, r.dtype);
  std::memcpy(copy.raw(), p, copy.nbytes());
  return copy;
}

Tensor SafetensorsFile::transient_tensor(const TensorRecord& r) const {
  const uint8_t* p = data(r);
  if (r.copied || reinterpret_cast<uintptr_t>(p) % dtype_size(r.dtype) != 0) return tensor(r);  // not the file's pages
  const size_t offset = static_cast<size_t>(data_offset_ + r.begin), length = static_cast<size_t>(r.end - r.begin);
  std::shared_ptr<const void> release_on_drop(p, [file = file_, offset, length](const void*) { file->release(offset, length); });
  return Tensor::view(p, r.shape, r.dtype, std::move(release_on_drop));
}

void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorLayout> layout;
  for (const auto& [name, t] : tensors) {
    SDXL_CHECK(t.defined(), InvalidArgument, "[safetensors] ", path.string(), ": tensor '", name, "' is undefined");
    layout.push_back({name, t.dtype(), t.shape()});
  }
  write_safetensors(path, layout, [&](size_t i) { return tensors[i].second; }, metadata);
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorLayout>& layout,
                       const std::function<Tensor(size_t index)>& produce,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& entry : layout) {
    SDXL_CHECK(!header.contains(entry.name), InvalidArgument, "[safetensors] ", path.string(), ": tensor '",
               entry.name, "' given twice");
    const uint64_t bytes = static_cast<uint64_t>(entry.shape.numel()) * dtype_size(entry.dtype);
    header[entry.name] = {{"dtype", std::string(dtype_name(entry.dtype))},
                          {"shape", std::vector<int64_t>(entry.shape.begin(), entry.shape.end())},
                          {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned

  OutputFile out(path, "[safetensors]");
  uint8_t len[8];
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  out.write(len, 8);
  out.write(text.data(), text.size());
  for (size_t i = 0; i < layout.size(); ++i) {
    const Tensor t = produce(i);  // a throw leaves no file (the temporary goes with `out`)
    if (!t.defined() || t.dtype() != layout[i].dtype || t.shape() != layout[i].shape)
      fail(ErrorCode::Io, "[safetensors] ", path.string(), ": tensor '", layout[i].name, "' does not match its declared dtype and shape");
    out.write(t.raw(), t.nbytes());
  }
  out.commit();
}

}  // namespace sdxl::io
