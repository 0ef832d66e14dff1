/* A C program built against the *installed* sdxl (pkg-config): loads a model, generates one
 * small image, writes it as PNG and prints a hash of its pixels (or, with --hash, a PNG's). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sdxl/sdxl.h>

static uint64_t fnv1a(const unsigned char* bytes, size_t count) {
  uint64_t hash = 1469598103934665603ull;
  for (size_t i = 0; i < count; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  return hash;
}

static int fail(const char* what) {
  fprintf(stderr, "%s: %s\n", what, sdxl_last_error());
  return 1;
}

/* --hash FILE: the same hash of a PNG's pixels, read back through the library. */
static int hash_file(const char* path) {
  sdxl_image* image = NULL;
  if (sdxl_read_image(path, &image) != SDXL_STATUS_OK) return fail("read");
  size_t bytes = (size_t)image->width * image->height * image->channels;
  printf("%dx%d pixels %016llx\n", image->width, image->height, (unsigned long long)fnv1a(image->pixels, bytes));
  sdxl_image_free(image);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && argv[1][0] == '-') return hash_file(argv[2]);
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL_DIR OUT.png | --hash IMAGE\n", argv[0]);
    return 2;
  }
  sdxl_engine_params load;
  sdxl_engine_params_init(&load);
  load.model_dir = argv[1];
  sdxl_engine* engine = NULL;
  if (sdxl_engine_load(&load, &engine) != SDXL_STATUS_OK) return fail("load");

  const char* prompts[] = {"a photo of a cat"};
  sdxl_generate_params params;
  sdxl_generate_params_init(&params);
  params.prompts = prompts;
  params.prompt_count = 1;
  params.width = params.height = 64;
  params.steps = 4;
  params.seed = 7;
  sdxl_images* images = NULL;
  if (sdxl_engine_generate(engine, &params, &images) != SDXL_STATUS_OK) return fail("generate");
  if (sdxl_write_png(argv[2], images, 0, "a photo of a cat") != SDXL_STATUS_OK) return fail("write");
  size_t bytes = (size_t)images->width * images->height * images->channels;
  printf("sdxl %s %dx%d pixels %016llx\n", sdxl_version(), images->width, images->height,
         (unsigned long long)fnv1a(images->pixels, bytes));
  sdxl_images_free(images);
  sdxl_engine_free(engine);
  return 0;
}
