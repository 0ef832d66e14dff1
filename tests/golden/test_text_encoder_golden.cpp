// Both text encoders against transformers: every hidden state, the final-norm output, and
// the pooled output / projected text_embeds, within each case's tolerance.
#include <gtest/gtest.h>

#include "core/error.h"
#include "golden_cases.h"
#include "pipeline/sources/component_loader.h"

namespace sdxl {
namespace {

void check_case(const nlohmann::json& c) {
  SCOPED_TRACE(c["name"].get<std::string>());
  const std::string component = c["params"]["component"];
  auto folder = pipeline::FolderSource(test::model_dir(c), "");
  auto model = pipeline::load_text_encoder(folder, component);
  test::CaseFile file(c);
  Tensor input_ids = file["input_ids"];  // [B, 77] I64
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < input_ids.numel(); ++i) ids.push_back(static_cast<int32_t>(input_ids.data<int64_t>()[i]));
  const int64_t batch = input_ids.dim(0);
  Arena arena;
  auto out = model.forward(arena, ids, batch);

  Tensor hidden = file["hidden_states"];  // [L+1, B, 77, H]
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), hidden.dim(0));
  const int64_t per_state = hidden.numel() / hidden.dim(0);
  for (int64_t i = 0; i < hidden.dim(0); ++i) {
    Tensor want = Tensor::view(hidden.data<float>() + i * per_state, out.hidden_states[static_cast<size_t>(i)].shape(),
                               DType::F32, nullptr);
    EXPECT_TRUE(test::matches(out.hidden_states[static_cast<size_t>(i)], want, c, "hidden_states[" + std::to_string(i) + "]"));
  }
  EXPECT_TRUE(test::matches(out.last_hidden_state, file["last_hidden_state"], c, "last_hidden_state"));
  if (file.has("pooler_output")) {
    EXPECT_TRUE(test::matches(out.pooled, file["pooler_output"], c, "pooler_output"));
  }
  if (file.has("text_embeds")) {
    EXPECT_TRUE(test::matches(out.text_embeds, file["text_embeds"], c, "text_embeds"));
  }
}

TEST(TextEncoderGolden, TextEncoder) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("text_encoder");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) check_case(c);
}

TEST(TextEncoderGolden, TextEncoder2) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("text_encoder_2");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) check_case(c);
}

TEST(TextEncoderGolden, PartialForwardMatchesTheFullOne) {
  SDXL_REQUIRE_REFERENCE();
  auto folder = pipeline::FolderSource(test::reference_dir() / "models/tiny-sdxl-base", "");
  auto model = pipeline::load_text_encoder(folder, "text_encoder");
  std::vector<int32_t> ids(77, 49407);
  ids[0] = 49406;
  ids[1] = 320;
  Arena arena;
  auto full = model.forward(arena, ids, 1);
  auto partial = model.forward(arena, ids, 1, 2);
  ASSERT_EQ(partial.hidden_states.size(), 3u);
  EXPECT_FALSE(partial.last_hidden_state.defined());
  EXPECT_TRUE(test::all_close(partial.hidden_states[2].data<float>(), full.hidden_states[2].data<float>(), 77 * 32, 0, 0));
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

namespace fs = std::filesystem;

// A text encoder whose config.json disagrees with its weights: a clear error naming the tensor.
class MismatchedEncoder : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    fs::copy(test::reference_dir() / "models/tiny-sdxl-base", dir_ / "model", fs::copy_options::recursive);
    config_ = nlohmann::json::parse(test::read_file(dir_ / "model/text_encoder/config.json"));
  }
  std::string load_error() {
    test::write_file(dir_ / "model/text_encoder/config.json", config_.dump());
    try {
      pipeline::load_text_encoder(pipeline::FolderSource(dir_ / "model", ""), "text_encoder");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  test::TempDir dir_;
  nlohmann::json config_;
};

TEST_F(MismatchedEncoder, WrongHiddenSize) {
  config_["hidden_size"] = 64;
  std::string message = load_error();
  EXPECT_NE(message.find("text_model.embeddings.token_embedding.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("config implies [49408, 64]"), std::string::npos) << message;
}

TEST_F(MismatchedEncoder, FewerLayersLeavesUnexpectedTensors) {
  config_["num_hidden_layers"] = 2;
  std::string message = load_error();
  EXPECT_NE(message.find("unexpected tensors"), std::string::npos) << message;
  EXPECT_NE(message.find("encoder.layers.2."), std::string::npos) << message;
}

TEST_F(MismatchedEncoder, MoreLayersMissesTensors) {
  config_["num_hidden_layers"] = 4;
  std::string message = load_error();
  EXPECT_NE(message.find("missing tensor 'text_model.encoder.layers.3."), std::string::npos) << message;
}

TEST_F(MismatchedEncoder, ProjectionClaimedButAbsent) {
  config_["architectures"] = {"CLIPTextModelWithProjection"};
  std::string message = load_error();
  EXPECT_NE(message.find("text_projection.weight"), std::string::npos) << message;
}

}  // namespace
}  // namespace sdxl
