#include "io/torch_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/pickle_machine.h"
#include "io/zip_archive.h"

namespace sdxl::io {
namespace {

using pickle::Document;
using pickle::Kind;
using pickle::Value;

constexpr int kMaxNesting = 16;

std::optional<DType> storage_dtype(const std::string& storage_class) {
  static const std::map<std::string, DType> types = {{"torch.FloatStorage", DType::F32},
                                                     {"torch.HalfStorage", DType::F16},
                                                     {"torch.BFloat16Storage", DType::BF16},
                                                     {"torch.IntStorage", DType::I32},
                                                     {"torch.LongStorage", DType::I64}};
  auto it = types.find(storage_class);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

class CheckpointReader {
 public:
  explicit CheckpointReader(std::shared_ptr<MappedFile> file) : file_(std::move(file)), where_(file_->path().string()) {}

  std::shared_ptr<SafetensorsFile> read() {
    index_entries(read_zip_directory(*file_));
    const ZipEntry& pkl = entry("data.pkl");
    doc_ = pickle::read(file_->data() + pkl.offset, static_cast<size_t>(pkl.size), where_);
    if (auto order = entries_.find(prefix_ + "byteorder"); order != entries_.end()) {
      const std::string text(reinterpret_cast<const char*>(file_->data() + order->second.offset), order->second.size);
      if (text != "little") bad("its storages are ", text, "-endian");
    }
    const Value& root = doc_.at(doc_.root);
    if (root.kind != Kind::Dict) bad("the pickle holds no dict of tensors");
    size_t tensors = doc_.root;
    for (const char* wrapper : {"state_dict", "params_ema", "params"})
      if (auto found = member(root, wrapper); found && doc_.at(*found).kind == Kind::Dict) {
        tensors = *found;
        break;
      }
    collect(tensors, "", 0);
    return SafetensorsFile::from_records(file_, std::move(records_),
                                         std::make_shared<const std::vector<uint8_t>>(std::move(copies_)), {});
  }

 private:
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(ErrorCode::Format, "[torch] ", where_, ": ", std::forward<Parts>(parts)...);
  }

  // torch names the entries "<prefix>/..." with a prefix of its choosing: take it from data.pkl's.
  void index_entries(std::vector<ZipEntry> entries) {
    for (const ZipEntry& e : entries) {
      const size_t slash = e.name.find('/');
      if (slash != std::string::npos && e.name.compare(slash + 1, std::string::npos, "data.pkl") == 0) {
        if (!prefix_.empty()) bad("two data.pkl entries ('", prefix_, "data.pkl', '", e.name, "')");
        prefix_ = e.name.substr(0, slash + 1);
      }
    }
    if (prefix_.empty()) bad("a zip archive without a <prefix>/data.pkl entry (not a torch.save file)");
    for (ZipEntry& e : entries)
      if (e.name.compare(0, prefix_.size(), prefix_) == 0) entries_[e.name] = std::move(e);
  }
  const ZipEntry& entry(const std::string& name) const {
    auto it = entries_.find(prefix_ + name);
    if (it == entries_.end()) bad("no entry '", prefix_, name, "'");
    if (!it->second.stored) bad("entry '", prefix_, name, "' is compressed (torch stores its entries)");
    return it->second;
  }

  std::optional<size_t> member(const Value& dict, const std::string& key) const {
    for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
      const Value& k = doc_.at(dict.items[i]);
      if (k.kind == Kind::String && k.text == key) return dict.items[i + 1];
    }
    return std::nullopt;
  }

  // Every tensor under `index`, named by its path of string keys; other values are not weights.
  // A dict the pickle puts in several places is walked in each: the walk is bounded by the
  // pickle's own size, so dicts that refer to each other over and over end in an error.
  void collect(size_t index, const std::string& prefix, int depth) {
    if (depth > kMaxNesting) bad("dicts nest deeper than ", kMaxNesting, " levels at '", prefix, "'");
    const Value& dict = doc_.at(index);
    visited_ += dict.items.size() / 2;
    if (visited_ > doc_.values.size() + 1024) bad("its dicts refer to each other over and over (at '", prefix, "')");
    for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
      const Value &key = doc_.at(dict.items[i]), &value = doc_.at(dict.items[i + 1]);
      if (key.kind != Kind::String && key.kind != Kind::Int) continue;
      const std::string name = prefix + (key.kind == Kind::String ? key.text : std::to_string(key.integer));
      if (value.kind == Kind::Dict) collect(dict.items[i + 1], name + ".", depth + 1);
      else if (value.kind == Kind::Tensor) add_tensor(name, value.tensor);
    }
  }

  void add_tensor(const std::string& name, const pickle::TensorView& view) {
    if (!names_.insert(name).second) bad("tensor '", name, "' appears twice");
    const Value& storage = doc_.at(view.storage);
    const auto dtype = storage_dtype(storage.storage_type);
    if (!dtype)
      fail(ErrorCode::Unsupported, "[torch] ", where_, ": tensor '", name, "' is stored as ", storage.storage_type,
           " (F32, F16, BF16, I32 and I64 are read)");
    const uint64_t element = dtype_size(*dtype);
    const ZipEntry& data = entry("data/" + storage.text);
    if (static_cast<uint64_t>(storage.integer) > data.size / element)
      bad("storage '", storage.text, "' claims ", storage.integer, " elements but holds ", data.size, " bytes");

    TensorRecord r;
    r.name = name;
    r.dtype = *dtype;
    uint64_t numel = 1, last = view.offset, contiguous_stride = 1;
    bool contiguous = true;
    for (size_t d = view.size.size(); d-- > 0;) {
      const uint64_t size = static_cast<uint64_t>(view.size[d]), stride = static_cast<uint64_t>(view.stride[d]);
      if (size > (1ull << 40) || (size && numel > (1ull << 46) / size)) bad("tensor '", name, "' is too large");
      numel *= size;
      if (size > 1 && stride != contiguous_stride) contiguous = false;
      contiguous_stride *= size;
      if (size == 0) continue;
      if (stride > (1ull << 46)) bad("tensor '", name, "' has a stride too large");
      last += (size - 1) * stride;
    }
    for (int64_t dim : view.size) r.shape.push_back(dim);
    if (numel > 0 && last >= static_cast<uint64_t>(storage.integer))
      bad("tensor '", name, "' reaches element ", last, " of storage '", storage.text, "' of ", storage.integer);
    const uint8_t* base = file_->data() + data.offset;
    if (contiguous || numel == 0) {
      r.begin = data.offset + static_cast<uint64_t>(view.offset) * element;
      r.end = r.begin + numel * element;
    } else {  // a view with gaps (a transposed or sliced tensor): gathered into a copy
      r.copied = true;
      r.begin = (copies_.size() + 63) / 64 * 64;
      r.end = r.begin + numel * element;
      copies_.resize(static_cast<size_t>(r.end));
      gather(base, view, element, copies_.data() + r.begin);
    }
    records_.push_back(std::move(r));
  }

  static void gather(const uint8_t* base, const pickle::TensorView& view, uint64_t element, uint8_t* out) {
    const size_t rank = view.size.size();
    std::vector<int64_t> index(rank, 0);
    uint64_t numel = 1;
    for (int64_t s : view.size) numel *= static_cast<uint64_t>(s);
    for (uint64_t n = 0; n < numel; ++n) {
      uint64_t at = static_cast<uint64_t>(view.offset);
      for (size_t d = 0; d < rank; ++d) at += static_cast<uint64_t>(index[d] * view.stride[d]);
      std::memcpy(out + n * element, base + at * element, element);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < view.size[d]) break;
        index[d] = 0;
      }
    }
  }

  std::shared_ptr<MappedFile> file_;
  std::string where_;
  std::string prefix_;
  std::map<std::string, ZipEntry> entries_;
  Document doc_;
  std::set<std::string> names_;
  size_t visited_ = 0;
  std::vector<TensorRecord> records_;
  std::vector<uint8_t> copies_;
};

}  // namespace

bool is_torch_file(const MappedFile& file) {
  return looks_like_zip(file) || (file.size() >= 2 && file.data()[0] == 0x80 && file.data()[1] <= 5);
}

std::shared_ptr<SafetensorsFile> open_torch_checkpoint(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  if (!looks_like_zip(*file)) {
    // A bare pickle: torch's legacy format starts with one (a magic number), and so does a plain
    // pickle.dump. Read it so that a refused global is named, then say what is not supported.
    const std::string where = path.string();
    pickle::read(file->data(), file->size(), where);
    fail(ErrorCode::Unsupported, "[torch] ", where,
         ": torch's legacy (pre-1.6) format or a bare pickle, not a torch.save zip archive: load and save it with a "
         "current torch, or convert it to .safetensors");
  }
  return CheckpointReader(std::move(file)).read();
}

}  // namespace sdxl::io
