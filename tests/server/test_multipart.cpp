// multipart/form-data as clients write it (the openai npm client, curl -F), and bodies that are
// not well formed: each a 400, never a guess or a read outside the body.
#include <gtest/gtest.h>

#include "server/http/multipart.h"
#include "server/http/request_fields.h"

namespace sdxl::server {
namespace {

const std::string kType = "multipart/form-data; boundary=----formdata-undici-0123";

std::string part(const std::string& headers, const std::string& data) {
  return "------formdata-undici-0123\r\n" + headers + "\r\n\r\n" + data + "\r\n";
}

TEST(Multipart, ReadsFieldsAndFilesAsClientsSendThem) {
  const std::string png("\x89PNG\r\n\x1a\n\r\n------formdata-undici-01", 32);  // binary, CRLFs, a near-boundary inside
  const std::string body = part("Content-Disposition: form-data; name=\"prompt\"", "a cat; \"quoted\"") +
                           part("Content-Disposition: form-data; name=\"image\"; filename=\"c\\\"at.png\"\r\nContent-Type: image/png", png) +
                           part("content-disposition: form-data; name=n", "2") + "------formdata-undici-0123--\r\n";
  const auto parts = parse_multipart_form(body, kType);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].name, "prompt");
  EXPECT_EQ(parts[0].data, "a cat; \"quoted\"");
  EXPECT_EQ(parts[1].name, "image");
  EXPECT_EQ(parts[1].filename, "c\"at.png");
  EXPECT_EQ(parts[1].content_type, "image/png");
  EXPECT_EQ(parts[1].data, png);
  EXPECT_EQ(parts[2].name, "n");
  EXPECT_EQ(parts[2].data, "2");
  EXPECT_TRUE(is_multipart_form("Multipart/Form-Data; boundary=x"));
  EXPECT_FALSE(is_multipart_form("application/json"));
  EXPECT_EQ(parse_multipart_form("--b--\r\n", "multipart/form-data; boundary=\"b\"").size(), 0u);
}

TEST(Multipart, MalformedBodiesAre400s) {
  const std::string good = part("Content-Disposition: form-data; name=\"prompt\"", "x");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {good + "------formdata-undici-0123--", "application/json"},                   // not multipart
      {good + "------formdata-undici-0123--", "multipart/form-data"},                // no boundary
      {"no boundary here", kType},                                                   // no delimiter
      {good, kType},                                                                 // never closed
      {part("Content-Disposition: form-data", "x") + "------formdata-undici-0123--", kType},  // no name
      {part("Content-Type: text/plain", "x") + "------formdata-undici-0123--", kType},        // no disposition
      {part("Content-Disposition: form-data; name=\"unterminated", "x") + "------formdata-undici-0123--", kType},
      {"------formdata-undici-0123\r\nContent-Disposition: form-data; name=\"a\"\r\n", kType},  // headers never end
  };
  for (const auto& [body, type] : bad) {
    try {
      parse_multipart_form(body, type);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const RequestError& e) {
      EXPECT_EQ(e.status(), 400) << body;
    }
  }
  std::string many;
  for (int i = 0; i < 65; ++i) many += part("Content-Disposition: form-data; name=\"f\"", "x");
  EXPECT_THROW(parse_multipart_form(many + "------formdata-undici-0123--", kType), RequestError);
  // Every prefix of a good body: an answer or a 400, nothing else.
  const std::string whole = good + part("Content-Disposition: form-data; name=\"image\"; filename=\"a.png\"", "PNGDATA") +
                            "------formdata-undici-0123--";
  for (size_t n = 0; n < whole.size(); ++n) {
    try {
      parse_multipart_form(std::string(whole, 0, n), kType);
    } catch (const RequestError&) {
    }
  }
}

}  // namespace
}  // namespace sdxl::server
