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
#include "pipeline/prompts/textual_inversion.h"
#include "torch_file_writer.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;
using test::floats;
using test::Pickle;
using test::stored_zip;

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
    return write("model.ckpt", test::torch_checkpoint(pkl, storages));
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

// Twenty levels of dicts each holding the next twice would be a million paths: refused at once.
TEST_F(PickleMachine, SharedDictsCannotMultiplyTheWalk) {
  Pickle p;
  p.op("}").put(0).op("0");  // the innermost, reused by each level above it
  for (int level = 1; level <= 14; ++level) {
    p.op("}").op("(").str("a").get(level - 1).str("b").get(level - 1).op("u").put(level);
    if (level < 14) p.op("0");  // POP: only the outermost stays for STOP
  }
  const std::string pkl = p.done();
  try {
    io::open_tensor_file(checkpoint(pkl, {}));
    ADD_FAILURE() << "opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("over and over"), std::string::npos) << e.what();
  }
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

namespace sdxl {
namespace {

// Textual inversions as torch files: {"clip_l", "clip_g"} saved with torch.save reads as the
// safetensors file does; AUTOMATIC1111's SD 1.x layout (one string_to_param tensor) is named.
TEST_F(PickleMachine, EmbeddingsFromTorchFiles) {
  fs::create_directories(dir_ / "emb");
  const std::string l = floats({1, 2, 3, 4, 5, 6, 7, 8}), g = floats({9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2});
  const std::string pkl = Pickle().op("}").op("(").str("clip_l").tensor("0", 8, 0, {2, 4}, {4, 1})
                              .str("clip_g").tensor("1", 12, 0, {2, 6}, {6, 1}).op("u").done();
  write("emb/sdxlword.pt", test::torch_checkpoint(pkl, {{"0", l}, {"1", g}}));
  const std::string sd15 = Pickle().op("}").op("(").str("string_to_token").op("}").str("*").small(265).op("s")
                               .str("string_to_param").op("}").str("*").tensor("0", 8, 0, {1, 8}, {8, 1}).op("s")
                               .str("name").str("oldword").str("step").small(3).op("u").done();
  write("emb/oldword.pt", test::torch_checkpoint(sd15, {{"0", l}}));

  const auto loaded = pipeline::load_textual_inversions(dir_ / "emb", {"a sdxlword"});
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].clip_l.shape(), Shape({2, 4}));
  EXPECT_EQ(loaded[0].clip_g.shape(), Shape({2, 6}));
  EXPECT_EQ(loaded[0].clip_g.data<float>()[11], -2.0f);
  const auto listed = pipeline::list_textual_inversions(dir_ / "emb");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_NE(listed[0].problem.find("SD 1.x"), std::string::npos) << listed[0].problem;  // oldword
  EXPECT_TRUE(listed[1].problem.empty()) << listed[1].problem;
  EXPECT_EQ(listed[1].vectors, 2);
  try {
    pipeline::load_textual_inversions(dir_ / "emb", {"oldword"});
    ADD_FAILURE() << "loaded an SD 1.x embedding";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("string_to_param"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sdxl
