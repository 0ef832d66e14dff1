#include "io/tensor_file.h"
#include "io/weight_set.h"

#include <atomic>
#include <cstring>

#include "core/error.h"
#include "io/json_file.h"

namespace sdxl::io {

namespace fs = std::filesystem;
using json = nlohmann::json;

void TensorPatch::apply_in_place(const std::string& name, Tensor& values) const {
  SDXL_CHECK(values.dtype() == DType::F32, InvalidArgument, "[patch] ", name, ": in-place change of a non-f32 tensor");
  const Tensor changed = apply(name, values).to(DType::F32);
  SDXL_CHECK(changed.numel() == values.numel(), Internal, "[patch] ", name, ": the change altered the tensor's size");
  std::memcpy(values.raw(), changed.raw(), changed.nbytes());
}

WeightSet WeightSet::patched(std::shared_ptr<const TensorPatch> patch) const {
  WeightSet set = *this;
  set.patch_ = std::move(patch);
  return set;
}

namespace {
std::atomic<uint64_t> g_tensors_read{0};
}  // namespace

uint64_t tensors_read() { return g_tensors_read.load(); }

Tensor WeightSet::get(const std::string& name) const {
  ++g_tensors_read;
  Tensor t = transposed(name);
  if (!t.defined()) {
    auto it = index_.find(name);
    if (it == index_.end()) fail(ErrorCode::Format, "[weights] ", component_, ": missing tensor '", name, "'");
    t = files_[it->second.first]->tensor(*it->second.second);
  }
  return patch_ && patch_->touches(name) ? patch_->apply(name, t) : t;
}

Tensor WeightSet::get_transient(const std::string& name) const {
  ++g_tensors_read;
  Tensor t = transposed(name);
  if (!t.defined()) {
    auto it = index_.find(name);
    if (it == index_.end()) fail(ErrorCode::Format, "[weights] ", component_, ": missing tensor '", name, "'");
    t = files_[it->second.first]->transient_tensor(*it->second.second);
  }
  return patch_ && patch_->touches(name) ? patch_->apply(name, t) : t;
}

const TensorRecord* WeightSet::record(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.second;
}

std::vector<std::string> WeightSet::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, where] : index_) out.push_back(name);
  return out;
}

WeightSet open_weight_set(const std::string& component, const std::vector<fs::path>& files,
                          const fs::path& shard_index) {
  WeightSet set;
  set.component_ = component;
  for (const auto& file : files) {
    set.files_.push_back(open_tensor_file(file));
    const size_t i = set.files_.size() - 1;
    for (const auto& record : set.files_.back()->records()) {
      auto [it, inserted] = set.index_.emplace(record.name, std::make_pair(i, &record));
      if (!inserted)
        fail(ErrorCode::Format, "[weights] ", component, ": tensor '", record.name, "' is in both ",
             set.files_[it->second.first]->path().string(), " and ", file.string());
    }
  }
  if (!shard_index.empty()) {
    json root = read_json_object(shard_index, "weights");
    auto map = root.find("weight_map");
    if (map == root.end() || !map->is_object())
      fail(ErrorCode::Format, "[weights] ", shard_index.string(), ": no weight_map object");
    for (auto it = map->begin(); it != map->end(); ++it) {
      auto found = set.index_.find(it.key());
      if (found == set.index_.end())
        fail(ErrorCode::Format, "[weights] ", shard_index.string(), ": tensor '", it.key(), "' is listed in ",
             it->dump(), " but no shard holds it");
    }
  }
  return set;
}

WeightSet renamed_weight_set(const std::string& component, std::shared_ptr<SafetensorsFile> file,
                             const std::vector<RenamedTensor>& renamed) {
  WeightSet set;
  set.component_ = component;
  set.files_.push_back(std::move(file));
  const SafetensorsFile& f = *set.files_.back();
  for (const auto& r : renamed) {
    const TensorRecord* stored = f.find(r.stored);
    if (!stored) fail(ErrorCode::Format, "[weights] ", component, ": ", f.path().string(), " has no tensor '", r.stored, "'");
    const TensorRecord* record = stored;
    if (r.transform != KeyTransform::Same) {
      auto made = std::make_shared<TensorRecord>(*stored);
      made->name = r.name;
      const Shape& s = stored->shape;
      switch (r.transform) {
        case KeyTransform::SqueezeConv1x1:
          SDXL_CHECK(s.rank() == 4 && s[2] == 1 && s[3] == 1, Format, "[weights] ", component, ": '", r.stored,
                     "' is ", s.to_string(), ", not a 1x1 convolution");
          made->shape = Shape{s[0], s[1]};
          break;
        case KeyTransform::QkvPart: {
          SDXL_CHECK(s.rank() >= 1 && s[0] % 3 == 0 && r.part >= 0 && r.part < 3, Format, "[weights] ", component, ": '",
                     r.stored, "' is ", s.to_string(), ", not a fused q, k, v projection");
          Shape part = s;
          part[0] = s[0] / 3;
          const uint64_t bytes = (stored->end - stored->begin) / 3;
          made->shape = part;
          made->begin = stored->begin + bytes * static_cast<uint64_t>(r.part);
          made->end = made->begin + bytes;
          break;
        }
        case KeyTransform::Transpose:
          SDXL_CHECK(s.rank() == 2, Format, "[weights] ", component, ": '", r.stored, "' is ", s.to_string(),
                     ", not a matrix");
          made->shape = Shape{s[1], s[0]};
          set.stored_transposed_[r.name] = stored;
          break;
        case KeyTransform::Same: break;
      }
      set.made_records_.push_back(made);
      record = made.get();
    }
    if (!set.index_.emplace(r.name, std::make_pair(size_t{0}, record)).second)
      fail(ErrorCode::Format, "[weights] ", component, ": two tensors are mapped to '", r.name, "'");
  }
  return set;
}

Tensor WeightSet::transposed(const std::string& name) const {
  auto it = stored_transposed_.find(name);
  if (it == stored_transposed_.end()) return Tensor();
  return sdxl::transposed(files_[0]->tensor(*it->second));
}

}  // namespace sdxl::io
