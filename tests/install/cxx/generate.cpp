// A C++ program built against the *installed* sdxl (find_package(sdxl) -> sdxl::sdxl): the same
// image as generate.c through the C++ layer (sdxl::api::Generation, its GenerateParams and the
// RAII types of sdxl.hpp); prints the same hash of its pixels.
#include <sdxl/generation.hpp>

#include <cstdint>
#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR OUT.png\n";
    return 2;
  }
  try {
    sdxl::api::EngineOptions options;
    options.model_dir = argv[1];
    sdxl::api::Engine engine(options);
    sdxl::api::Generation g;
    g.prompts = {"a photo of a cat"};
    g.width = g.height = 64;
    g.steps = 4;
    g.seed = 7;
    sdxl::api::GenerateParams params(g);
    sdxl::api::Images images(engine, params.get());
    images.write_png(argv[2], 0, "a photo of a cat");
    uint64_t hash = 1469598103934665603ull;
    const sdxl_images& out = *images;
    for (long i = 0; i < static_cast<long>(out.width) * out.height * out.channels; ++i)
      hash = (hash ^ out.pixels[i]) * 1099511628211ull;
    std::printf("sdxl %s %dx%d pixels %016llx\n", sdxl_version(), out.width, out.height,
                static_cast<unsigned long long>(hash));
  } catch (const sdxl::api::Failure& e) {
    std::cerr << "sdxl: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
