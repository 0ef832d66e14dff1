// The weights-only pickle reader on pickles made here: what it refuses (and that the refused
// payload never runs), what it reads (torch zip archives with nested dicts, wrappers and strided
// views), and that malformed input is an error at every truncation, never a crash or a hang.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/pickle_machine.h"
#include "io/tensor_file.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

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
  Pickle& small(int v) { bytes += 'K'; bytes += static_cast<char>(v); return *this; }
  Pickle& ints(std::initializer_list<int> values) {
    op("(");
    for (int v : values) small(v);
    return op("t");
  }
  // _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
  Pickle& tensor(const std::string& key, int numel, int offset, std::initializer_list<int> size,
                 std::initializer_list<int> stride) {
    global("torch._utils", "_rebuild_tensor_v2").op("(").op("(").str("storage").global("torch", "FloatStorage");
    str(key).str("cpu").small(numel).op("t").op("Q").small(offset).ints(size).ints(stride).op("\x89");
    global("collections", "OrderedDict").op(")").op("R");
    return op("t").op("R");
  }
  std::string done() const { return bytes + "."; }
};

// A zip archive of stored entries, as torch.save writes one.
std::string stored_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
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

std::string floats(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

class PickleMachine : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sdxl-pickle-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
  fs::path checkpoint(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& storages) {
    std::vector<std::pair<std::string, std::string>> entries = {{"archive/data.pkl", pkl}};
    for (const auto& [key, data] : storages) entries.push_back({"archive/data/" + key, data});
    entries.push_back({"archive/version", "3\n"});
    return write("model.ckpt", stored_zip(entries));
  }
  std::string refusal(const fs::path& path) {
    try {
      io::open_tensor_file(path);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Unsupported) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "not refused";
    return "";
  }
  fs::path dir_;
};

// os.system("touch MARKER") as GLOBAL + REDUCE, STACK_GLOBAL + REDUCE and INST: had any run, the
// marker would exist.
TEST_F(PickleMachine, RefusedCallsNeverRun) {
  const std::string marker = (dir_ / "ran").string();
  const std::string global = Pickle().op("}").str("state_dict").global("os", "system").str("touch " + marker).op("\x85R").op("s").done();
  const std::string stack_global = Pickle().op("}").str("state_dict").str("posix").str("system").op("\x93").str("touch " + marker).op("\x85R").op("s").done();
  const std::string inst = "(S'touch " + marker + "'\nios\nsystem\n.";
  EXPECT_NE(refusal(checkpoint(global, {})).find("'os.system'"), std::string::npos);
  EXPECT_NE(refusal(checkpoint(stack_global, {})).find("'posix.system'"), std::string::npos);
  EXPECT_NE(refusal(checkpoint(inst, {})).find("INST"), std::string::npos);
  EXPECT_NE(refusal(write("bare.pkl", global)).find("'os.system'"), std::string::npos);
  EXPECT_FALSE(fs::exists(marker));
  // A storage class or dtype is data: calling one is refused too.
  const std::string call_storage = Pickle().op("}").str("w").global("torch", "FloatStorage").op(")R").op("s").done();
  EXPECT_NE(refusal(checkpoint(call_storage, {})).find("not a function"), std::string::npos);
}

TEST_F(PickleMachine, ReadsNestedWrappedAndStridedTensors) {
  // {"params_ema": {"a": {"b": T}, "t": T'}, "step": 5}; T' is T's storage seen transposed.
  const std::string pkl = Pickle()
                              .op("}").op("(").str("params_ema").op("}").op("(")
                              .str("a").op("}").str("b").tensor("0", 6, 0, {2, 3}, {3, 1}).op("s")
                              .str("t").tensor("0", 6, 0, {3, 2}, {1, 3})
                              .str("off").tensor("1", 4, 2, {2}, {1})
                              .op("u").str("step").small(5).op("u")
                              .done();
  const auto file = io::open_tensor_file(checkpoint(pkl, {{"0", floats({0, 1, 2, 3, 4, 5})}, {"1", floats({7, 8, 9, 10})}}));
  ASSERT_EQ(file->records().size(), 3u);
  const Tensor b = file->tensor("a.b"), t = file->tensor("t"), off = file->tensor("off");
  EXPECT_EQ(b.shape(), Shape({2, 3}));
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  const float want_t[] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(b.data<float>()[i], static_cast<float>(i));
    EXPECT_EQ(t.data<float>()[i], want_t[i]);
  }
  EXPECT_EQ(off.data<float>()[0], 9.0f);
  EXPECT_EQ(off.data<float>()[1], 10.0f);
}

TEST_F(PickleMachine, ViewsOutsideTheirStorageAreErrors) {
  const std::string past_end = Pickle().op("}").str("w").tensor("0", 6, 4, {2, 2}, {2, 1}).op("s").done();
  EXPECT_THROW(io::open_tensor_file(checkpoint(past_end, {{"0", floats({0, 1, 2, 3, 4, 5})}})), Error);
  const std::string short_storage = Pickle().op("}").str("w").tensor("0", 6, 0, {6}, {1}).op("s").done();
  EXPECT_THROW(io::open_tensor_file(checkpoint(short_storage, {{"0", floats({0, 1})}})), Error);
  const std::string missing = Pickle().op("}").str("w").tensor("9", 2, 0, {2}, {1}).op("s").done();
  EXPECT_THROW(io::open_tensor_file(checkpoint(missing, {})), Error);
}

// A list that holds itself is a cycle of indices: read, then refused as no dict of tensors.
TEST_F(PickleMachine, SelfReferenceIsNoHang) {
  const std::string cycle = Pickle().op("]").put(0).get(0).op("a").done();
  const auto doc = io::pickle::read(reinterpret_cast<const uint8_t*>(cycle.data()), cycle.size(), "cycle");
  EXPECT_EQ(doc.at(doc.root).items.at(0), doc.root);
  EXPECT_THROW(io::open_tensor_file(checkpoint(cycle, {})), Error);
  const std::string nested = Pickle().op("}").put(0).str("x").get(0).op("s").done();  // {"x": itself}
  EXPECT_THROW(io::open_tensor_file(checkpoint(nested, {})), Error);
}

TEST_F(PickleMachine, EveryTruncationIsAnError) {
  const std::string pkl = Pickle().op("}").str("w").tensor("0", 2, 0, {2}, {1}).op("s").done();
  for (size_t n = 0; n < pkl.size(); ++n)
    EXPECT_THROW(io::pickle::read(reinterpret_cast<const uint8_t*>(pkl.data()), n, "cut"), Error) << n;
  const std::string zip = stored_zip({{"archive/data.pkl", pkl}, {"archive/data/0", floats({1, 2})}});
  for (size_t n = 4; n < zip.size(); n += 7) {
    try {
      io::open_tensor_file(write("cut.pth", zip.substr(0, n)));
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace sdxl
