// multipart/form-data bodies (RFC 7578), as the OpenAI clients send image uploads: the parts of
// a body already read whole (the listener capped its size), each with its field name, file name
// and content type. Strict: a body that is not well formed is a RequestError (400), never a guess.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sdxl::server {

struct FormPart {
  std::string name;          // the field ("image", "image[]", "prompt", ...)
  std::string filename;      // empty for a plain field
  std::string content_type;  // the part's own Content-Type, if it gave one
  std::string data;
};

// Whether `content_type` is multipart/form-data (any case, with parameters).
bool is_multipart_form(const std::string& content_type);

// The parts of `body`, in order, given the request's Content-Type (its boundary). At most
// `max_parts` parts (a flood of tiny parts is refused).
std::vector<FormPart> parse_multipart_form(std::string_view body, const std::string& content_type, size_t max_parts = 64);

}  // namespace sdxl::server
