// sdxl-bench: speed and memory of SDXL on this machine, on the real-size architecture.
//
//   sdxl-bench [--sizes 512,1024] [--precisions fp32,bf16] [--steps N] [--threads N]
//              [--model DIR | --in-memory] [--refiner] [--vae-tiling] [--no-scaling] [--recipes] [--single-file]
//
// With no arguments: 512x512 in fp32 and bf16, and 1- vs 2-thread scaling of the UNet step.
// Each configuration runs in its own process (peak RSS is its own): the components one by one
// (load, text encoding of a prompt pair, a UNet step with classifier-free guidance, VAE decode
// and encode), then the CLI generating an image end to end. Without --model, a random-weight
// real-size pipeline folder (sdxl-random-pipeline, fp16 files) is written to $SDXL_BENCH_MODELS
// (default: bench-models/ in the build directory) on first use; --in-memory builds the components
// from the real configs with seeded random weights instead (no files, no end-to-end run). Prints a
// markdown table and, last, the SUMMARY line. --vae-tiling measures instead the VAE decode whole
// and in row bands (sdxl generate --vae-tiling), each alone in a process, for time and memory.
// --recipes measures seconds per image instead: the standard recipe and the few-step ones
// (bench/recipes.h), each in its own process on a loaded engine, with the share of each stage.
// --single-file compares loading the base from its diffusers folder and from one single file.
// --controlnet measures one and two ControlNets per denoising step (the real-size SDXL ControlNet
// diffusers' from_unet makes of the base UNet, random weights in memory) against the plain step.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.h"
#include "component_timings.h"
#include "backends/cpu/attention_flash.h"
#include "backends/cpu/throughput.h"
#include "core/threads.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "machine_peak.h"
#include "random_pipeline.h"
#include "pipeline/engine.h"
#include "cold_start.h"
#include "lora_swap.h"
#include "recipes.h"
#include "subprocess.h"

using namespace sdxl;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::vector<int64_t> sizes{512};
  std::vector<std::string> precisions{"fp32", "bf16"};
  int steps = 4, threads = 0;
  fs::path model;
  bool refiner = false, scaling = true, in_memory = false, vae_tiling = false, recipes = false;
  bool single_file = false;
  bool controlnet = false;  // the cost of ControlNets per denoising step
  bool adapters = false;    // the cost per image of an IP-Adapter and a T2I-Adapter, against a ControlNet's
  bool upscale = false;     // an x4 ESRGAN (RRDBNet 23 blocks, 64 features) on a size x size image, whole and tiled
  bool hires = false;       // a hires-fix image size -> 2 size against the plain one
  fs::path load_only;  // internal: a child that loads this model (folder or file) and exits
  fs::path cache_dir;  // internal: that child's packed-weight cache
  fs::path lora_swap;  // internal: a child that measures a LoRA swap with this file
  fs::path other_lora;  // and switches to this one
  int recipe = -1;  // internal: the recipe a child measures, with this TAESD folder
  fs::path taesd_dir;
  // internal: one configuration's component measurements
  bool child = false;
  std::string parts = "text,unet,vae";
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "sdxl-bench: %s\nusage: sdxl-bench [--sizes 512,1024] [--precisions fp32,bf16] [--steps N] [--threads N]\n"
               "                  [--model DIR | --in-memory] [--refiner] [--vae-tiling] [--no-scaling] [--recipes] [--single-file]\n"
               "                  [--controlnet] [--adapters] [--upscale] [--hires]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--sizes") {
        o.sizes.clear();
        for (const auto& s : split(value())) o.sizes.push_back(std::stoll(s));
      } else if (a == "--size") o.sizes = {std::stoll(value())};
      else if (a == "--precisions" || a == "--precision") o.precisions = split(value());
      else if (a == "--steps") o.steps = std::stoi(value());
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--model") o.model = value();
      else if (a == "--refiner") o.refiner = true;
      else if (a == "--no-scaling") o.scaling = false;
      else if (a == "--vae-tiling") o.vae_tiling = true;
      else if (a == "--recipes") o.recipes = true;
      else if (a == "--single-file") o.single_file = true;
      else if (a == "--controlnet") o.controlnet = true;
      else if (a == "--adapters") o.adapters = true;
      else if (a == "--upscale") o.upscale = true;
      else if (a == "--hires") o.hires = true;
      else if (a == "--load-only") o.load_only = value();
      else if (a == "--lora-swap-child") o.lora_swap = value();
      else if (a == "--other-lora") o.other_lora = value();
      else if (a == "--cache-dir") o.cache_dir = value();
      else if (a == "--taesd-dir") o.taesd_dir = value();
      else if (a == "--recipe") o.recipe = std::stoi(value());
      else if (a == "--in-memory") o.in_memory = true;
      else if (a == "--child") o.child = true;
      else if (a == "--parts") o.parts = value();
      else usage("unknown argument " + a);
    } catch (const std::logic_error&) {
      usage("bad value for " + a);
    }
  }
  for (auto s : o.sizes)
    if (s < 64 || s % 8 != 0) usage("sizes must be multiples of 8, at least 64");
  for (const auto& p : o.precisions)
    if (p != "fp32" && p != "bf16") usage("precisions are fp32 and bf16");
  if (o.steps < 1) usage("--steps must be at least 1");
  if (o.in_memory && !o.child && (o.refiner || !o.model.empty()))
    usage("--in-memory builds random components from the real configs: it takes neither --model nor --refiner");
  return o;
}

fs::path self_path() { return fs::read_symlink("/proc/self/exe"); }

fs::path models_dir() {
  const char* env = std::getenv("SDXL_BENCH_MODELS");
  return env && *env ? fs::path(env) : self_path().parent_path().parent_path() / "bench-models";
}

fs::path random_folder(bool refiner) {
  const fs::path dir = models_dir() / (refiner ? "sdxl-refiner-random-fp16" : "sdxl-base-random-fp16");
  if (!fs::exists(dir / ".complete")) {
    std::fprintf(stderr, "writing a random real-size %s pipeline to %s (once)\n", refiner ? "refiner" : "base",
                 dir.string().c_str());
    bench::write_random_pipeline(bench::reference_dir(), dir, {refiner, DType::F16, refiner ? 2u : 1u});
    std::ofstream(dir / ".complete") << "written by sdxl-bench\n";
  }
  return dir;
}

std::vector<std::string> thread_args(int threads) {
  return threads > 0 ? std::vector<std::string>{"--threads", std::to_string(threads)} : std::vector<std::string>{};
}

struct Row {
  int64_t size;
  std::string precision;
  std::map<std::string, double> v;  // the child's RESULT fields, plus e2e_s and rss_gib
  double get(const std::string& key) const {
    auto it = v.find(key);
    return it == v.end() ? std::nan("") : it->second;
  }
};

void absorb(Row& row, const std::string& out) {
  const size_t at = out.rfind("RESULT");
  if (at == std::string::npos) throw std::runtime_error("a measurement printed no RESULT line");
  std::istringstream fields(out.substr(at));
  for (std::string field; fields >> field;) {
    const auto eq = field.find('=');
    if (eq != std::string::npos) row.v[field.substr(0, eq)] = std::stod(field.substr(eq + 1));
  }
}

bench::ProcessResult must_run(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += a + " ";
  std::fprintf(stderr, "$ %s\n", line.c_str());
  auto r = bench::run_process(argv);
  if (r.exit_code != 0) {
    std::fprintf(stderr, "sdxl-bench: the command failed with status %d\n", r.exit_code);
    std::exit(1);
  }
  return r;
}

bench::ProcessResult run_components(const fs::path& model, bool in_memory, int64_t size, const std::string& precision,
                                    const std::string& parts, int threads) {
  std::vector<std::string> argv{self_path().string(), "--child",    "--model", model.string(), "--size",
                                std::to_string(size),  "--precision", precision, "--parts",      parts};
  if (in_memory) argv.push_back("--in-memory");
  for (const auto& a : thread_args(threads)) argv.push_back(a);
  return must_run(argv);
}

bench::ProcessResult run_cli(const Options& o, const fs::path& model, int64_t size, const std::string& precision,
                             const std::vector<std::string>& extra) {
  const fs::path output = fs::temp_directory_path() / ("sdxl-bench-" + std::to_string(::getpid()) + ".png");
  std::vector<std::string> argv{SDXL_CLI_PATH, "generate", "-m", model.string(), "-p",
                                "a photo of an astronaut riding a horse on the moon", "-W", std::to_string(size), "-H",
                                std::to_string(size), "--steps", std::to_string(o.steps), "--seed", "0", "--precision",
                                precision, "-o", output.string(), "--no-cache"};
  for (const auto& a : extra) argv.push_back(a);
  for (const auto& a : thread_args(o.threads)) argv.push_back(a);
  auto r = must_run(argv);
  fs::remove(output);
  return r;
}

std::string fmt(double v, int decimals = 2) {
  if (std::isnan(v)) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

// Where the time of a UNet step and a VAE decode goes, per op family (the warm runs, profiled).
void print_profiles(const std::vector<Row>& rows, double peak) {
  const char* families[] = {"linear", "convolution", "attention", "normalisation", "activation", "element-wise"};
  for (const char* part : {"unet", "vae_decode"}) {
    std::printf("\nWhere the time goes, %s (seconds; GFLOP/s and fraction of peak where the family computes):\n\n",
                std::string(part) == "unet" ? "UNet step" : "VAE decode");
    std::printf("| op family |");
    for (const auto& r : rows) std::printf(" %lldx%lld %s |", static_cast<long long>(r.size), static_cast<long long>(r.size), r.precision.c_str());
    std::printf("\n|---|");
    for (size_t i = 0; i < rows.size(); ++i) std::printf("---|");
    std::printf("\n");
    for (const char* family : families) {
      std::printf("| %s |", family);
      for (const auto& r : rows) {
        const double s = r.get(std::string(part) + "." + family + "_s");
        const double gflop = r.get(std::string(part) + "." + family + "_gflop");
        if (std::isnan(s)) std::printf(" - |");
        else if (gflop > 0) std::printf(" %.2f (%.0f GFLOP/s, %.2f) |", s, gflop / s, gflop * 1e9 / s / peak);
        else std::printf(" %.2f |", s);
      }
      std::printf("\n");
    }
    std::printf("| outside ops |");
    for (const auto& r : rows) {
      double inside = 0;
      for (const char* family : families) {
        const double s = r.get(std::string(part) + "." + family + "_s");
        if (!std::isnan(s)) inside += s;
      }
      std::printf(" %.2f |", r.get(std::string(part) + "_s") - inside);
    }
    std::printf("\n");
  }
}

int child_main(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  bench::ComponentPlan plan;
  plan.model = o.model;
  plan.in_memory = o.in_memory;
  plan.precision = o.precisions.at(0) == "bf16" ? ops::Precision::BF16 : ops::Precision::F32;
  plan.size = o.sizes.at(0);
  const auto parts = split(o.parts);
  auto wants = [&](const char* p) { return std::find(parts.begin(), parts.end(), p) != parts.end(); };
  plan.text = wants("text");
  plan.unet = wants("unet");
  plan.vae = wants("vae");
  plan.whole_decode = wants("whole_decode");
  plan.banded_decode = wants("banded_decode");
  plan.controlnet = wants("controlnet");
  plan.adapters = wants("adapters");
  // Whether this configuration's attention ran in bf16 (the backend's per-CPU choice).
  const bool bf16_attention = plan.precision == ops::Precision::BF16 && cpu::attention_flash_bf16_built() &&
                              cpu::bf16_attention_pays();
  std::printf("%s bf16_attention=%d\n", bench::measure_components(plan).c_str(), bf16_attention ? 1 : 0);
  return 0;
}

}  // namespace

fs::path random_taesd() {
  const fs::path dir = models_dir() / "taesdxl-random";
  if (!fs::exists(dir / ".complete")) {
    bench::write_random_taesd(dir);
    std::ofstream(dir / ".complete") << "written by sdxl-bench\n";
  }
  return dir;
}

// Seconds per image, recipe by recipe, each in its own process.
int recipes_main(const Options& o, double fma_n) {
  const fs::path model = !o.model.empty() ? o.model : random_folder(false);
  const fs::path taesd = random_taesd();
  const auto all = bench::recipes();
  std::printf("\n| recipe | precision | load s | text s | UNet s | UNet of peak | decode s | image s (warm engine) | peak RSS GiB |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  double turbo_step_gflop = 0;
  std::vector<Row> rows(all.size());
  for (size_t i = all.size(); i-- > 0;) {  // last first: the 4-step Turbo run gives the 1-step one its FLOPs
    std::vector<std::string> argv{self_path().string(), "--recipe", std::to_string(i), "--model", model.string(),
                                  "--taesd-dir", taesd.string()};
    for (const auto& a : thread_args(o.threads)) argv.push_back(a);
    const auto r = must_run(argv);
    absorb(rows[i], r.out);
    rows[i].v["rss_gib"] = r.peak_rss_gib;
    if (all[i].size == 512 && rows[i].get("step_gflop") > 0) turbo_step_gflop = rows[i].get("step_gflop");
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& rec = all[i];
    const Row& r = rows[i];
    double step_gflop = r.get("step_gflop");
    if (!(step_gflop > 0) && rec.size == 512) step_gflop = turbo_step_gflop;
    const double frac = step_gflop * rec.steps * 1e9 / r.get("unet_s") / fma_n;
    std::printf("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rec.name.c_str(),
                rec.measured_steps > 0 ? " (UNet from 2 steps, x15)" : "", rec.precision.c_str(),
                fmt(r.get("load_s"), 1).c_str(), fmt(r.get("text_s")).c_str(), fmt(r.get("unet_s")).c_str(),
                fmt(frac).c_str(), fmt(r.get("decode_s")).c_str(), fmt(r.get("total_s")).c_str(), fmt(r.get("rss_gib")).c_str());
    std::fflush(stdout);
  }
  std::printf("\nUNet of peak: its FLOPs per step (counted from the shapes) over its time, against the f32 FMA peak "
              "(%.1f GFLOP/s): bf16 can exceed 1. Image s: one request on an engine whose models are loaded (text, UNet, "
              "decode); the Turbo recipes after one warm-up request.\n", fma_n * 1e-9);
  return 0;
}

// Loading the real-size base from a diffusers folder and from the same architecture as one
// single file (fp16 both), each in its own process: load time and peak memory.
int single_file_main(const Options& o) {
  const fs::path folder = random_folder(false);
  const fs::path file = models_dir() / "sdxl-base-random.fp16.safetensors";
  bench::write_random_single_file(bench::reference_dir(), file);
  std::printf("\n| load the real-size base (fp16 weights), engine kept loaded | precision | seconds | peak RSS GiB |\n"
              "|---|---|---|---|\n");
  for (const auto& precision : o.precisions)
    for (const fs::path& model : {folder, file}) {
      std::vector<std::string> argv{self_path().string(), "--load-only", model.string(), "--precision", precision};
      for (const auto& a : thread_args(o.threads)) argv.push_back(a);
      const auto r = must_run(argv);
      std::printf("| %s | %s | %s | %.2f |\n", model == folder ? "diffusers folder" : "single file", precision.c_str(),
                  fmt(bench::result_field(r.out, "RESULT", "load_s")).c_str(), r.peak_rss_gib);
      std::fflush(stdout);
    }
  return 0;
}

int load_child(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  pipeline::EngineOptions options;
  options.model = o.load_only;
  options.precision = o.precisions.at(0) == "bf16" ? ops::Precision::BF16 : ops::Precision::F32;
  if (!o.cache_dir.empty()) options.packed_cache = {o.cache_dir, 256};
  const auto start = std::chrono::steady_clock::now();
  auto engine = pipeline::Engine::load(options);
  std::printf("RESULT load_s=%.2f\n", bench::seconds_since(start));
  return 0;
}

int lora_swap_child(const Options& o) {
  if (o.threads > 0) set_num_threads(o.threads);
  const auto precision = o.precisions.at(0) == "bf16" ? ops::Precision::BF16 : ops::Precision::F32;
  // Alone (`sdxl-bench --lora-swap-child LORA --model DIR`): the other LoRA is made beside the first.
  const fs::path other = !o.other_lora.empty() ? o.other_lora : bench::attention_lora(o.model, o.lora_swap.parent_path(), 8, 9);
  std::printf("%s\n", bench::measure_lora_swap(o.model, o.lora_swap, other, precision).c_str());
  return 0;
}

int recipe_child(const Options& o, const fs::path& taesd) {
  if (o.threads > 0) set_num_threads(o.threads);
  const auto all = bench::recipes();
  std::printf("%s\n", bench::measure_recipe(all.at(static_cast<size_t>(o.recipe)), o.model, taesd).c_str());
  return 0;
}

// One and two ControlNets per denoising step against the plain UNet step, per size and precision.
int controlnet_main(const Options& o, double fma_n, int threads) {
  const fs::path configs = bench::reference_dir() / "real/stable-diffusion-xl-base-1.0";
  std::printf("\n## sdxl-bench --controlnet\n\nMachine: %d threads, FMA loop %.1f GFLOP/s (the peak below).\n\n"
              "| image | precision | UNet step s | ControlNet s | step + 1 net s | ratio | step + 2 nets s | ratio "
              "| ControlNet GFLOP/s | of peak | step + 1 net of peak | peak RSS GiB (UNet + 2 nets) |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
              threads, fma_n * 1e-9);
  for (const auto& precision : o.precisions)
    for (int64_t size : o.sizes) {
      std::fprintf(stderr, "%lldx%lld %s: ControlNets\n", static_cast<long long>(size), static_cast<long long>(size),
                   precision.c_str());
      Row r{size, precision, {}};
      absorb(r, run_components(configs, true, size, precision, "controlnet", o.threads).out);
      const double unet = r.get("cn_unet_s");
      std::printf("| %lldx%lld | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", static_cast<long long>(size),
                  static_cast<long long>(size), precision.c_str(), fmt(unet).c_str(), fmt(r.get("cn_net_s")).c_str(),
                  fmt(r.get("cn_unet1_s")).c_str(), fmt(r.get("cn_unet1_s") / unet).c_str(), fmt(r.get("cn_unet2_s")).c_str(),
                  fmt(r.get("cn_unet2_s") / unet).c_str(), fmt(r.get("cn_net_gflop") / r.get("cn_net_s"), 1).c_str(),
                  fmt(r.get("cn_net_gflop") / r.get("cn_net_s") * 1e9 / fma_n).c_str(),
                  fmt(r.get("cn_unet1_gflop") / r.get("cn_unet1_s") * 1e9 / fma_n).c_str(), fmt(r.get("cn_peak_gib")).c_str());
      std::fflush(stdout);
    }
  std::printf("\nCFG batch of 2, timestep 500; ratio = the step with the nets over the plain step. bf16 rates are against "
              "the f32 FMA peak.\n");
  return 0;
}

// The added cost per image of an IP-Adapter and a T2I-Adapter against one ControlNet's.
int adapters_main(const Options& o, double fma_n, int threads) {
  const fs::path configs = bench::reference_dir() / "real/stable-diffusion-xl-base-1.0";
  const int steps = 30;
  std::printf("\n## sdxl-bench --adapters\n\nMachine: %d threads, FMA loop %.1f GFLOP/s (the peak below). Added cost per "
              "image of %d steps (CFG), real-size models with random weights.\n\n"
              "| image | precision | UNet step s | ViT-bigG s (of peak) | step + IP-Adapter s | IP-Adapter per image s (x step) "
              "| T2I-Adapter s | step + features s | T2I-Adapter per image s (x step) | step + ControlNet s | ControlNet per image s "
              "(x step) | peak RSS GiB |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
              threads, fma_n * 1e-9, steps);
  for (const auto& precision : o.precisions)
    for (int64_t size : o.sizes) {
      std::fprintf(stderr, "%lldx%lld %s: adapters\n", static_cast<long long>(size), static_cast<long long>(size),
                   precision.c_str());
      Row r{size, precision, {}};
      absorb(r, run_components(configs, true, size, precision, "adapters", o.threads).out);
      const double unet = r.get("ad_unet_s");
      const double ip = r.get("ad_encoder_s") + r.get("ad_ip_prepare_s") + steps * (r.get("ad_ip_step_s") - unet);
      const double t2i = r.get("ad_t2i_s") + steps * (r.get("ad_t2i_step_s") - unet);
      const double cn = steps * (r.get("ad_cn_step_s") - unet);
      std::printf("| %lldx%lld | %s | %s | %s (%s) | %s | %s (%s) | %s | %s | %s (%s) | %s | %s (%s) | %s |\n",
                  static_cast<long long>(size), static_cast<long long>(size), precision.c_str(), fmt(unet).c_str(),
                  fmt(r.get("ad_encoder_s")).c_str(),
                  fmt(r.get("ad_encoder_gflop") / r.get("ad_encoder_s") * 1e9 / fma_n).c_str(), fmt(r.get("ad_ip_step_s")).c_str(),
                  fmt(ip).c_str(), fmt(ip / unet).c_str(), fmt(r.get("ad_t2i_s")).c_str(), fmt(r.get("ad_t2i_step_s")).c_str(),
                  fmt(t2i).c_str(), fmt(t2i / unet).c_str(), fmt(r.get("ad_cn_step_s")).c_str(), fmt(cn).c_str(),
                  fmt(cn / unet).c_str(), fmt(r.get("ad_peak_gib")).c_str());
      std::fflush(stdout);
    }
  std::printf("\nPer image = (encoder + token keys/values) + %d x (step with it - plain step) for the IP-Adapter; the adapter "
              "once + %d x the difference for the T2I-Adapter (its features act on every step at factor 1); %d x the "
              "difference for the ControlNet. A difference inside the timing noise can come out negative.\n",
              steps, steps, steps);
  return 0;
}

// A random real-size RRDBNet x4 (Real-ESRGAN x4plus's shape: 23 blocks, 64 features, 32 growth).
fs::path random_esrgan() {
  const fs::path file = models_dir() / "esrgan-x4-random.safetensors";
  if (fs::exists(file)) return file;
  fs::create_directories(models_dir());
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint64_t state = 1;
  auto conv = [&](const std::string& name, int64_t in, int64_t out) {
    Tensor w = Tensor::empty(Shape{out, in, 3, 3}, DType::F32), b = Tensor::zeros(Shape{out}, DType::F32);
    const float bound = 1.0f / std::sqrt(static_cast<float>(in * 9));  // keeps the activations bounded
    for (int64_t i = 0; i < w.numel(); ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      w.data<float>()[i] = (static_cast<float>(state >> 40) / 16777216.0f * 2 - 1) * bound;
    }
    tensors.emplace_back(name + ".weight", w);
    tensors.emplace_back(name + ".bias", b);
  };
  conv("conv_first", 3, 64);
  for (int i = 0; i < 23; ++i)
    for (int r = 1; r <= 3; ++r)
      for (int k = 1; k <= 5; ++k)
        conv("body." + std::to_string(i) + ".rdb" + std::to_string(r) + ".conv" + std::to_string(k), 64 + (k - 1) * 32, k < 5 ? 32 : 64);
  for (const char* name : {"conv_body", "conv_up1", "conv_up2", "conv_hr"}) conv(name, 64, 64);
  conv("conv_last", 64, 3);
  io::write_safetensors(file, tensors);
  return file;
}

// The FLOPs of an x4 RRDBNet (23 blocks, 64 features, growth 32) per input pixel: 3x3 convolutions
// at the input's size, then two at 4x and three at 16x its pixels.
double esrgan_flops_per_pixel() {
  const double body = 3 * 64 + 69 * (64 * 32 + 96 * 32 + 128 * 32 + 160 * 32 + 192 * 64) + 64 * 64;
  const double tail = 4 * 64 * 64 + 16 * 64 * 64 + 16 * 64 * 64 + 16 * 64 * 3;
  return 2 * 9 * (body + tail);
}

// An x4 ESRGAN upscale of a size x size image through `sdxl upscale`: whole, and in AUTOMATIC1111's
// 192-pixel tiles (overlap 8); time, rate against the FMA peak, peak RSS, and how far the tiled
// image is from the whole one.
int upscale_main(const Options& o, double fma_n, int threads) {
  const fs::path model = random_esrgan();
  std::printf("\n## sdxl-bench --upscale\n\nMachine: %d threads, FMA loop %.1f GFLOP/s (the peak below). `sdxl upscale` with "
              "a random real-size RRDBNet x4 (23 blocks, 64 features: Real-ESRGAN x4plus), process start to PNG.\n\n"
              "| input | precision | tiles | seconds | of peak | peak RSS GiB | tiled vs whole (8-bit levels) |\n"
              "|---|---|---|---|---|---|---|\n",
              threads, fma_n * 1e-9);
  for (const auto& precision : o.precisions)
    for (int64_t size : o.sizes) {
      const fs::path input = fs::temp_directory_path() / ("sdxl-bench-in-" + std::to_string(::getpid()) + ".png");
      io::Image8 image{size, size, 3, std::vector<uint8_t>(static_cast<size_t>(size * size * 3))};
      for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
      io::write_png(input, image);
      std::vector<io::Image8> outputs;
      for (const char* tile : {"0", "192"}) {
        const fs::path out = fs::temp_directory_path() / ("sdxl-bench-up-" + std::to_string(::getpid()) + "-" + tile + ".png");
        std::vector<std::string> argv{SDXL_CLI_PATH, "upscale", "-m", model.string(), input.string(), "-o", out.string(),
                                      "--tile", tile, "--precision", precision};
        const auto r = must_run(argv);
        outputs.push_back(io::read_png(out));
        fs::remove(out);
        const double flops = esrgan_flops_per_pixel() * static_cast<double>(size * size);
        std::string apart = "-";
        if (outputs.size() == 2) {
          int worst = 0;
          for (size_t i = 0; i < outputs[0].pixels.size(); ++i)
            worst = std::max(worst, std::abs(int(outputs[0].pixels[i]) - int(outputs[1].pixels[i])));
          apart = std::to_string(worst);
        }
        std::printf("| %lldx%lld | %s | %s | %s | %s | %s | %s |\n", static_cast<long long>(size), static_cast<long long>(size),
                    precision.c_str(), std::string(tile) == "0" ? "whole" : "192 / 8", fmt(r.seconds, 1).c_str(),
                    fmt(flops / r.seconds / fma_n).c_str(), fmt(r.peak_rss_gib).c_str(), apart.c_str());
        std::fflush(stdout);
      }
      fs::remove(input);
    }
  std::printf("\nRate: the net's 3x3 convolution FLOPs (%.1f MFLOP per input pixel) over the whole run's seconds, model load "
              "and PNG I/O included; bf16 against the f32 FMA peak.\n", esrgan_flops_per_pixel() * 1e-6);
  return 0;
}

// A hires-fix image (size -> 2 size, latent upscale, --steps of each pass at denoise 0.5) against
// the plain image at size, through `sdxl generate`, on the random real-size base.
int hires_main(const Options& o, int threads) {
  const fs::path model = o.model.empty() ? random_folder(false) : o.model;
  std::printf("\n## sdxl-bench --hires\n\nMachine: %d threads. `sdxl generate` process start to PNG, %d steps per pass "
              "(the second runs int(%d x 0.5)), random real-size base.\n\n"
              "| first pass | precision | plain s | plain RSS GiB | hires (Latent) s | hires RSS GiB |\n|---|---|---|---|---|---|\n",
              threads, o.steps, o.steps);
  for (const auto& precision : o.precisions)
    for (int64_t size : o.sizes) {
      const auto plain = run_cli(o, model, size, precision, {});
      const auto hires = run_cli(o, model, size, precision,
                                 {"--hires-scale", "2", "--hires-denoise", "0.5", "--hires-steps", std::to_string(o.steps)});
      std::printf("| %lldx%lld -> %lldx%lld | %s | %s | %s | %s | %s |\n", static_cast<long long>(size), static_cast<long long>(size),
                  static_cast<long long>(2 * size), static_cast<long long>(2 * size), precision.c_str(), fmt(plain.seconds, 1).c_str(),
                  fmt(plain.peak_rss_gib).c_str(), fmt(hires.seconds, 1).c_str(), fmt(hires.peak_rss_gib).c_str());
      std::fflush(stdout);
    }
  return 0;
}

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.child) return child_main(o);
    if (o.recipe >= 0) return recipe_child(o, o.taesd_dir);
    if (!o.load_only.empty()) return load_child(o);
    if (!o.lora_swap.empty()) return lora_swap_child(o);
    if (o.single_file) return single_file_main(o);

    if (o.threads > 0) set_num_threads(o.threads);
    const int threads = num_threads();
    std::fprintf(stderr, "measuring the machine\n");
    const double fma_1 = bench::fma_peak_flops(1), fma_n = bench::fma_peak_flops(threads);
    const double bf16_n = bench::bf16_dot_peak_flops(threads), triad_n = bench::triad_bytes_per_second(threads);
    const double sgemm_onednn = bench::square_gemm_flops(cpu::GemmLibrary::OneDnn, 4096, 3);
    const double sgemm_openblas = bench::square_gemm_flops(cpu::GemmLibrary::OpenBlas, 4096, 3);
    if (o.recipes) return recipes_main(o, fma_n);
    if (o.controlnet) return controlnet_main(o, fma_n, threads);
    if (o.adapters) return adapters_main(o, fma_n, threads);
    if (o.upscale) return upscale_main(o, fma_n, threads);
    if (o.hires) return hires_main(o, threads);
    // In memory: the real configs of sdxl-ref and random weights, no files (and no end to end).
    const fs::path model = !o.model.empty() ? o.model
                           : o.in_memory    ? bench::reference_dir() / "real/stable-diffusion-xl-base-1.0"
                                            : random_folder(false);

    std::vector<Row> rows;
    for (const auto& precision : o.precisions)
      for (int64_t size : o.sizes) {
        if (o.vae_tiling) break;
        Row row{size, precision, {}};
        std::fprintf(stderr, "%lldx%lld %s: components\n", static_cast<long long>(size), static_cast<long long>(size),
                     precision.c_str());
        absorb(row, run_components(model, o.in_memory, size, precision, "text,unet,vae", o.threads).out);
        if (!o.in_memory) {
          std::fprintf(stderr, "%lldx%lld %s: end to end, %d steps\n", static_cast<long long>(size),
                       static_cast<long long>(size), precision.c_str(), o.steps);
          const auto e2e = run_cli(o, model, size, precision, {});
          row.v["e2e_s"] = e2e.seconds;
          row.v["rss_gib"] = e2e.peak_rss_gib;
        }
        rows.push_back(row);
      }

    std::printf("\n## sdxl-bench\n\nMachine: %d threads; FMA loop %.1f GFLOP/s on 1 thread, %.1f on %d (the peak below); "
                "bf16 dot-product loop %.1f GFLOP/s (%.2fx the FMA peak; 0: no AVX512-BF16); triad %.1f GB/s; "
                "4096^3 SGEMM: oneDNN %.1f, OpenBLAS %.1f GFLOP/s (%.2f / %.2f of peak).\n\n",
                threads, fma_1 * 1e-9, fma_n * 1e-9, threads, bf16_n * 1e-9, bf16_n / fma_n, triad_n * 1e-9,
                sgemm_onednn * 1e-9, sgemm_openblas * 1e-9, sgemm_onednn / fma_n, sgemm_openblas / fma_n);
    if (!rows.empty()) {
      std::printf("| image | precision | load s | text pair s | UNet step (CFG) s | UNet GFLOP/s | of peak | VAE decode s "
                  "| of peak | VAE encode s | of peak | %d steps end to end s | peak RSS GiB |\n",
                  o.steps);
      std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
      for (const auto& r : rows) {
        auto rate = [&](const char* s, const char* gflop) { return r.get(gflop) / r.get(s); };
        std::printf("| %lldx%lld | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                    static_cast<long long>(r.size), static_cast<long long>(r.size), r.precision.c_str(),
                    fmt(r.get("load_s"), 1).c_str(), fmt(r.get("text_s")).c_str(), fmt(r.get("unet_s")).c_str(),
                    fmt(rate("unet_s", "unet_gflop"), 1).c_str(), fmt(rate("unet_s", "unet_gflop") * 1e9 / fma_n).c_str(),
                    fmt(r.get("vae_decode_s")).c_str(), fmt(rate("vae_decode_s", "vae_decode_gflop") * 1e9 / fma_n).c_str(),
                    fmt(r.get("vae_encode_s")).c_str(), fmt(rate("vae_encode_s", "vae_encode_gflop") * 1e9 / fma_n).c_str(),
                    fmt(r.get("e2e_s"), 1).c_str(), fmt(r.get("rss_gib")).c_str());
      }
      std::printf("\nFLOPs: every linear, convolution and attention product executed, counted from its shapes "
                  "(UNet step %s GFLOP at %lld). bf16 rates are against the f32 FMA peak. End to end = the CLI "
                  "process (load, text, steps, VAE decode, PNG); its peak RSS is the column.\n",
                  fmt(rows[0].get("unet_gflop"), 0).c_str(), static_cast<long long>(rows[0].size));
      print_profiles(rows, fma_n);
    }
    std::fflush(stdout);

    double scaling = std::nan("");  // UNet step, 1 thread over all
    if (o.scaling && threads > 1 && !o.vae_tiling) {
      const int64_t size = o.sizes.front();
      std::fprintf(stderr, "thread scaling: UNet step on 1 thread\n");
      Row single{size, o.precisions.front(), {}};
      absorb(single, run_components(model, o.in_memory, size, o.precisions.front(), "unet", 1).out);
      const double multi = rows.front().get("unet_s");
      scaling = single.get("unet_s") / multi;
      std::printf("\nThread scaling (UNet step, %lldx%lld %s): 1 thread %s s, %d threads %s s: %.2fx (FMA loop %.2fx).\n",
                  static_cast<long long>(size), static_cast<long long>(size), o.precisions.front().c_str(),
                  fmt(single.get("unet_s")).c_str(), threads, fmt(multi).c_str(), single.get("unet_s") / multi,
                  fma_n / fma_1);
      std::fflush(stdout);
    }

    // A LoRA swap in a warm engine, bf16 (the server's usual precision), on the model's files.
    double lora_swap = std::nan(""), lora_switch = std::nan("");
    if (!o.in_memory && !o.vae_tiling) {
      const int rank = 8;
      const fs::path lora = bench::attention_lora(model, models_dir(), rank);
      const fs::path other_lora = bench::attention_lora(model, models_dir(), rank, 9);
      std::fprintf(stderr, "LoRA swap: rank %d on every attention projection, bf16\n", rank);
      std::vector<std::string> argv{self_path().string(), "--lora-swap-child", lora.string(), "--other-lora",
                                    other_lora.string(), "--model", model.string(), "--precision", "bf16"};
      for (const auto& a : thread_args(o.threads)) argv.push_back(a);
      Row swap{512, "bf16", {}};
      absorb(swap, must_run(argv).out);
      lora_swap = swap.get("lora_swap_s");
      lora_switch = swap.get("lora_switch_s");
      std::printf("\nLoRA swap in a warm bf16 engine (rank %d on every attention projection of the UNet): the first "
                  "on %s s, switched for another %s s, off %s s, on again %s s (the extra time of the first 1-step "
                  "512x512 generation after the change; a warm one: %s s).\n",
                  rank, fmt(lora_swap).c_str(), fmt(lora_switch).c_str(), fmt(swap.get("lora_unswap_s")).c_str(),
                  fmt(swap.get("lora_reswap_s")).c_str(), fmt(swap.get("plain_step_s")).c_str());
      std::fflush(stdout);
    }

    // Cold starts through the packed-weight cache (a folder of the benchmark's own, removed after).
    bench::ColdStart cold{std::nan(""), std::nan(""), std::nan(""), std::nan(""), std::nan("")};
    if (!o.in_memory && !o.vae_tiling) {
      std::fprintf(stderr, "cold starts with the packed-weight cache\n");
      cold = bench::measure_cold_start(self_path(), SDXL_CLI_PATH, model, random_taesd(), models_dir() / "packed-cache",
                                       thread_args(o.threads));
      std::printf("\nPacked-weight cache (real-size base, page cache warm, each load its own process): bf16 engine "
                  "loaded in %s s writing the cache, %s s mapping it; fp32 %s s mapped; `sdxl generate` 512x512, "
                  "1 step, no guidance, TAESD decode, process start to PNG: bf16 %s s, fp32 %s s.\n",
                  fmt(cold.load_bf16_fill_s).c_str(), fmt(cold.load_bf16_cached_s).c_str(),
                  fmt(cold.load_fp32_cached_s).c_str(), fmt(cold.turbo_cli_bf16_s).c_str(),
                  fmt(cold.turbo_cli_fp32_s).c_str());
      std::fflush(stdout);
    }

    if (o.refiner) {
      const fs::path refiner = random_folder(true);
      const int64_t size = o.sizes.front();
      std::printf("\n| base + refiner, %lldx%lld, %d steps | precision | seconds | peak RSS GiB |\n|---|---|---|---|\n",
                  static_cast<long long>(size), static_cast<long long>(size), o.steps);
      for (const auto& precision : o.precisions)
        for (const char* mode : {"ensemble", "img2img"}) {
          const auto r = run_cli(o, model, size, precision, {"--refiner", refiner.string(), "--refiner-mode", mode});
          std::printf("| %s | %s | %.1f | %.2f |\n", mode, precision.c_str(), r.seconds, r.peak_rss_gib);
          std::fflush(stdout);
        }
    }

    if (o.vae_tiling) {
      // Each decode alone in a process: its memory is the peak less what the loaded VAE holds.
      std::printf("\n| VAE decode | image | seconds | of peak | resident with the VAE GiB | peak RSS GiB | decode's own GiB |\n"
                  "|---|---|---|---|---|---|---|\n");
      for (int64_t size : o.sizes)
        for (const char* mode : {"whole_decode", "banded_decode"}) {
          Row r{size, "fp32", {}};
          absorb(r, run_components(model, o.in_memory, size, "fp32", mode, o.threads).out);
          const std::string k = mode;
          std::printf("| %s | %lldx%lld | %s | %s | %s | %s | %s |\n",
                      k == "whole_decode" ? "whole" : "in row bands (--vae-tiling)", static_cast<long long>(size),
                      static_cast<long long>(size), fmt(r.get(k + "_s")).c_str(),
                      fmt(r.get(k + "_gflop") * 1e9 / r.get(k + "_s") / fma_n).c_str(),
                      fmt(r.get(k + "_loaded_gib")).c_str(), fmt(r.get(k + "_peak_gib")).c_str(),
                      fmt(r.get(k + "_peak_gib") - r.get(k + "_loaded_gib")).c_str());
          std::fflush(stdout);
        }
    }

    auto find = [&](int64_t size, const char* precision) -> const Row* {
      for (const auto& r : rows)
        if (r.size == size && r.precision == precision) return &r;
      return nullptr;
    };
    const Row* f32 = find(512, "fp32");
    const Row* b16 = find(512, "bf16");
    auto field = [](const Row* r, const char* key) { return r ? r->get(key) : std::nan(""); };
    if (rows.empty()) return 0;  // --vae-tiling measured only the decodes
    // Each rate against the peak of the arithmetic it ran in: bf16 attention against the bf16
    // dot-product peak where it ran in bf16, the bf16 UNet step against the bf16 peak (the issue's
    // measure; linears and convolutions run bf16 through oneDNN), everything f32 against the FMA peak.
    auto rate = [&](const Row* r, const std::string& part) {
      return field(r, (part + "_gflop").c_str()) * 1e9 / field(r, (part + "_s").c_str());
    };
    const double attention_bf16_peak = field(b16, "bf16_attention") == 1 ? bf16_n : fma_n;
    std::printf("\nSUMMARY unet512_s=%s unet512_peak_frac=%s vae512_s=%s rss512_gib=%s bf16_unet512_s=%s "
                "fma_peak_gflops=%s bf16_peak_gflops=%s triad_gbs=%s attn_fp32_frac=%s attn_bf16_frac=%s "
                "bf16_unet512_frac=%s vae512_frac=%s scaling_2t=%s load_bf16_s=%s load_bf16_cached_s=%s "
                "load_fp32_cached_s=%s turbo_cli_cached_s=%s lora_swap_s=%s lora_switch_s=%s\n",
                fmt(field(f32, "unet_s")).c_str(), fmt(rate(f32, "unet") / fma_n, 3).c_str(),
                fmt(field(f32, "vae_decode_s")).c_str(), fmt(field(f32, "rss_gib")).c_str(),
                fmt(field(b16, "unet_s")).c_str(), fmt(fma_n * 1e-9, 1).c_str(), fmt(bf16_n * 1e-9, 1).c_str(),
                fmt(triad_n * 1e-9, 1).c_str(), fmt(rate(f32, "unet.attention") / fma_n, 3).c_str(),
                fmt(rate(b16, "unet.attention") / attention_bf16_peak, 3).c_str(),
                fmt(rate(b16, "unet") / bf16_n, 3).c_str(), fmt(rate(f32, "vae_decode") / fma_n, 3).c_str(),
                fmt(scaling, 2).c_str(), fmt(field(b16, "load_s"), 2).c_str(), fmt(cold.load_bf16_cached_s).c_str(),
                fmt(cold.load_fp32_cached_s).c_str(),
                fmt(std::min(cold.turbo_cli_bf16_s, cold.turbo_cli_fp32_s)).c_str(), fmt(lora_swap).c_str(),
                fmt(lora_switch).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sdxl-bench: %s\n", e.what());
    return 1;
  }
}
