// The safetensors reader against crafted files: one test per kind of damage, each checking
// that the error names the file and (where there is one) the tensor.
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "io/safetensors.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

using test::TempDir;

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A file with `header` as its JSON and `data_bytes` zero bytes of data.
std::filesystem::path craft(const TempDir& dir, const std::string& header, size_t data_bytes) {
  auto path = dir / "crafted.safetensors";
  test::write_file(path, le64(header.size()) + header + std::string(data_bytes, '\0'));
  return path;
}

// Expects open() to fail with a message containing every fragment.
void expect_rejected(const std::filesystem::path& path, std::vector<std::string> fragments,
                     ErrorCode code = ErrorCode::Format) {
  try {
    SafetensorsFile::open(path);
    FAIL() << "accepted a bad file";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << "message does not name the file: " << message;
    for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << "missing '" << f << "' in: " << message;
  }
}

TEST(Safetensors, WriteThenReadRoundTrip) {
  TempDir dir;
  Tensor a = Tensor::empty(Shape{2, 3}, DType::F32);
  for (int i = 0; i < 6; ++i) a.data<float>()[i] = static_cast<float>(i) - 2.5f;
  Tensor b = a.to(DType::F16);
  Tensor c = Tensor::zeros(Shape{5}, DType::I64);
  c.data<int64_t>()[4] = 49407;
  Tensor empty = Tensor::empty(Shape{0, 4}, DType::BF16);
  auto path = dir / "x.safetensors";
  write_safetensors(path, {{"a", a}, {"b.half", b}, {"ids", c}, {"empty", empty}}, {{"format", "pt"}});
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->records().size(), 4u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  Tensor ra = file->tensor("a");
  EXPECT_EQ(ra.storage(), Storage::View);
  EXPECT_EQ(ra.shape(), (Shape{2, 3}));
  EXPECT_EQ(std::memcmp(ra.raw(), a.raw(), a.nbytes()), 0);
  EXPECT_EQ(file->tensor("b.half").dtype(), DType::F16);
  EXPECT_EQ(file->tensor("ids").data<int64_t>()[4], 49407);
  EXPECT_EQ(file->tensor("empty").numel(), 0);
  EXPECT_EQ(file->find("nope"), nullptr);
  EXPECT_THROW(file->tensor("nope"), Error);
  // The header is padded so the data starts 8-byte aligned.
  std::string bytes = test::read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, TensorOutlivesTheFileObject) {
  TempDir dir;
  Tensor a = Tensor::zeros(Shape{4}, DType::F32);
  a.data<float>()[3] = 9.0f;
  write_safetensors(dir / "x.safetensors", {{"a", a}});
  Tensor view = SafetensorsFile::open(dir / "x.safetensors")->tensor("a");
  EXPECT_EQ(view.data<float>()[3], 9.0f);  // the map stays alive through the view
}

TEST(Safetensors, UnalignedDataIsCopied) {
  TempDir dir;
  // A 2-byte header offset would make F32 data misaligned: the reader copies instead.
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  header += " ";  // odd length on purpose
  float one = 1.0f;
  std::string data(reinterpret_cast<const char*>(&one), 4);
  test::write_file(dir / "u.safetensors", le64(header.size()) + header + data);
  Tensor t = SafetensorsFile::open(dir / "u.safetensors")->tensor("a");
  EXPECT_EQ(t.data<float>()[0], 1.0f);
}

TEST(SafetensorsRejects, FileTooShort) {
  TempDir dir;
  test::write_file(dir / "crafted.safetensors", "abc");
  expect_rejected(dir / "crafted.safetensors", {"too short"});
}

TEST(SafetensorsRejects, HeaderLengthBeyondFile) {
  TempDir dir;
  test::write_file(dir / "crafted.safetensors", le64(1000) + "{}");
  expect_rejected(dir / "crafted.safetensors", {"header length 1000", "beyond the end"});
}

TEST(SafetensorsRejects, HugeHeaderLength) {
  TempDir dir;
  test::write_file(dir / "crafted.safetensors", le64(~0ull) + "{}");
  expect_rejected(dir / "crafted.safetensors", {"header length"});
}

TEST(SafetensorsRejects, InvalidJson) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"a": {"dtype": "F32",)", 0), {"invalid JSON"});
}

TEST(SafetensorsRejects, HeaderNotAnObject) {
  TempDir dir;
  expect_rejected(craft(dir, "[1, 2]", 0), {"not a JSON object"});
}

TEST(SafetensorsRejects, UnknownDtype) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4), {"'w'", "unknown dtype 'Q7'"});
}

TEST(SafetensorsRejects, UnsupportedDtype) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8), {"'w'", "F64"},
                  ErrorCode::Unsupported);
}

TEST(SafetensorsRejects, OffsetsOutsideDataArea) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), {"'w'", "outside the data area"});
}

TEST(SafetensorsRejects, TruncatedFile) {
  TempDir dir;
  Tensor a = Tensor::zeros(Shape{64}, DType::F32);
  write_safetensors(dir / "t.safetensors", {{"layer.weight", a}});
  std::string bytes = test::read_file(dir / "t.safetensors");
  test::write_file(dir / "t.safetensors", bytes.substr(0, bytes.size() - 10));
  expect_rejected(dir / "t.safetensors", {"'layer.weight'", "truncated"});
}

TEST(SafetensorsRejects, ReversedOffsets) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 8), {"'w'", "reversed"});
}

TEST(SafetensorsRejects, OverlappingTensors) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                 "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                  {"'a'", "'b'", "overlap"});
}

TEST(SafetensorsRejects, ByteLengthMismatch) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", 8), {"'w'", "needs 6"});
}

TEST(SafetensorsRejects, DuplicateNames) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                                 "w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                  {"'w'", "more than once"});
}

TEST(SafetensorsRejects, BadShapes) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), {"'w'", "non-negative"});
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4),
                  {"'w'", "rank 9"});
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4),
                  {"'w'", "too large"});
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4), {"'w'", "missing shape"});
  expect_rejected(craft(dir, R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4), {"'w'", "missing dtype"});
  expect_rejected(craft(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4), {"'w'", "data_offsets"});
}

TEST(SafetensorsRejects, BadMetadata) {
  TempDir dir;
  expect_rejected(craft(dir, R"({"__metadata__":{"format":1}})", 0), {"__metadata__"});
}

TEST(SafetensorsRejects, MissingFile) {
  try {
    SafetensorsFile::open("/nonexistent/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.safetensors"), std::string::npos);
  }
}

TEST(SafetensorsWriter, LeavesNoPartialFileOnFailure) {
  TempDir dir;
  Tensor a = Tensor::zeros(Shape{2}, DType::F32);
  EXPECT_THROW(write_safetensors(dir / "missing-dir" / "x.safetensors", {{"a", a}}), Error);
  EXPECT_THROW(write_safetensors(dir / "y.safetensors", {{"a", a}, {"a", a}}), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "y.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "y.safetensors.tmp"));
}

TEST(SafetensorsWriter, StreamsTensorsOneAtATime) {
  TempDir dir;
  const std::vector<TensorLayout> layout{{"w", DType::F16, Shape{3, 2}}, {"b", DType::F32, Shape{3}}};
  std::vector<size_t> produced;
  write_safetensors(dir / "s.safetensors", layout, [&](size_t i) {
    produced.push_back(i);
    Tensor t = Tensor::zeros(layout[i].shape, layout[i].dtype);
    if (i == 1) t.data<float>()[2] = 7.5f;
    return t;
  });
  EXPECT_EQ(produced, (std::vector<size_t>{0, 1}));
  auto file = SafetensorsFile::open(dir / "s.safetensors");
  EXPECT_EQ(file->find("w")->dtype, DType::F16);
  EXPECT_EQ(file->tensor("b").data<float>()[2], 7.5f);

  // A produced tensor that contradicts its declared layout, or a producer that throws, leaves nothing.
  EXPECT_THROW(write_safetensors(dir / "bad.safetensors", layout,
                                 [&](size_t i) { return Tensor::zeros(Shape{4}, layout[i].dtype); }),
               Error);
  EXPECT_THROW(write_safetensors(dir / "bad.safetensors", layout,
                                 [&](size_t) -> Tensor { throw Error(ErrorCode::Internal, "producer failed"); }),
               Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.safetensors.tmp"));
}

TEST(SafetensorsFile, TransientViewsReadTheSameBytes) {
  TempDir dir;
  Tensor a = Tensor::empty(Shape{3000}, DType::F32);  // spans pages: part of it is released on drop
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = static_cast<float>(i);
  write_safetensors(dir / "t.safetensors", {{"a", a}});
  auto file = SafetensorsFile::open(dir / "t.safetensors");
  for (int round = 0; round < 2; ++round) {  // the second read comes back from the file after the release
    Tensor view = file->transient_tensor(*file->find("a"));
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(view.data<float>()[i], static_cast<float>(i));
  }
}

}  // namespace
}  // namespace sdxl::io
