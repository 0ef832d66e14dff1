// The `sdxl` subcommands. Each registers its options on the app and returns the function
// that runs it; the CLI only sees the public API in include/sdxl.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sdxl::cli {

using Command = std::function<int()>;

Command add_info_command(CLI::App& app);
Command add_tokenize_command(CLI::App& app);
Command add_generate_command(CLI::App& app);
Command add_convert_command(CLI::App& app);
Command add_serve_command(CLI::App& app);
Command add_worker_command(CLI::App& app);
Command add_preprocess_command(CLI::App& app);
Command add_upscale_command(CLI::App& app);

}  // namespace sdxl::cli
