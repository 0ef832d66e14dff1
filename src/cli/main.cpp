// sdxl: the command-line tool. Usage errors exit with 2, failures with 1, each with one
// clear message on stderr.
#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "sdxl/sdxl.hpp"

int main(int argc, char** argv) {
  CLI::App app{"sdxl: Stable Diffusion XL 1.0 image generation (diffusers-exact, CPU)", "sdxl"};
  app.set_version_flag("--version", [] { return std::string(sdxl_build_info()); },
                       "Print the version, the git revision and the backend (ISA, oneDNN, OpenBLAS, threads)");
  app.require_subcommand(1);
  app.fallthrough();  // global options such as --threads may follow the subcommand
  int threads = 0;
  bool verbose = false;
  // More threads than the machine has CPUs only slow it down (and tens of thousands crash the
  // thread pool): the bound is the machine's.
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--threads", threads, "Compute threads (default: all cores, at most " + std::to_string(cpus) + " here)")
      ->check(CLI::Range(0, cpus));
  app.add_flag("-v,--verbose", verbose, "Log progress details to stderr");

  std::vector<sdxl::cli::Command> commands;
  commands.push_back(sdxl::cli::add_generate_command(app));
  commands.push_back(sdxl::cli::add_info_command(app));
  commands.push_back(sdxl::cli::add_tokenize_command(app));
  commands.push_back(sdxl::cli::add_convert_command(app));
  commands.push_back(sdxl::cli::add_serve_command(app));
  commands.push_back(sdxl::cli::add_worker_command(app));
  commands.push_back(sdxl::cli::add_preprocess_command(app));
  commands.push_back(sdxl::cli::add_upscale_command(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // app.exit prints the message (or the help); usage errors all exit with 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  sdxl_set_log_level(verbose ? SDXL_LOG_LEVEL_INFO : SDXL_LOG_LEVEL_WARN);
  if (threads > 0) sdxl_set_num_threads(threads);
  try {
    for (auto& command : commands) {
      int rc = command();
      if (rc >= 0) return rc;
    }
  } catch (const sdxl::api::Failure& e) {
    std::fprintf(stderr, "sdxl: error: %s\n", e.what());
    return 1;
  } catch (const CLI::Error& e) {  // a usage error found after parsing
    std::fprintf(stderr, "sdxl: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sdxl: error: %s\n", e.what());
    return 1;
  }
  return 2;
}
