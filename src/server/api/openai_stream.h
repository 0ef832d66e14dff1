// The OpenAI Images API's streaming answer (stream: true): Server-Sent Events
// `image_generation.partial_image` (or `image_edit.partial_image`) with up to `partial_images`
// previews spread over the denoising steps, then one `...completed` event per image; a failed
// job is an event with an `error` object, as the clients read it. Closing the stream cancels
// the job.
#pragma once

#include <memory>
#include <string>

#include "server/api/request_parsers.h"
#include "server/http/http_common.h"

namespace sdxl::server {

std::shared_ptr<http::Pending> openai_image_stream(const ServerContext& ctx, std::string job_id, const OpenAiAnswer& answer,
                                                   const std::string& output_format, bool edit);

}  // namespace sdxl::server
