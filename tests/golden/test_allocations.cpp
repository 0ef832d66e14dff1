// The denoising loop's promise: after the first UNet forward at a shape, the next one takes
// nothing from the system allocator (activations come from the arena, kernels reuse their
// scratch, oneDNN primitives are cached with their memory, argument lists and scratchpad).
// The one exception is inside oneDNN: dnnl_primitive_execute() builds a small hash map of
// its arguments on every call (under 200 bytes a node, freed on return). The test requires
// zero allocations anywhere else and none above 4 KiB anywhere.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "allocation_counter.h"
#include "golden_cases.h"
#include "pipeline/sources/component_loader.h"

namespace sdxl {
namespace {

TEST(Allocations, CountingHookSeesAllocations) {
  // Through a volatile function pointer: the compiler may elide a plain malloc/free pair.
  void* (*volatile allocate)(size_t) = std::malloc;
  test::start_counting_allocations();
  void* p = allocate(12345);
  std::free(p);
  auto stats = test::stop_counting_allocations();
  EXPECT_GE(stats.count, 1u);
  EXPECT_EQ(stats.in_onednn, 0u);
  EXPECT_GE(stats.largest, 12345u);
}

// What makes the count immune to a loaded machine: a thread of some other pool allocating while
// we count is reported apart, not counted; the OpenMP team working for us is counted.
TEST(Allocations, OnlyTheCallerAndItsOpenMpTeamCount) {
  void* (*volatile allocate)(size_t) = std::malloc;
  std::atomic<int> phase{0};
  std::thread other([&] {
    while (phase.load() != 1) std::this_thread::yield();
    std::free(allocate(777));
    phase = 2;
  });
  std::atomic<int> team_allocations{0};
  const auto team_allocates = [&] {
#pragma omp parallel num_threads(2)
    {
      std::free(allocate(555));
      team_allocations.fetch_add(1);
    }
  };
  team_allocates();  // libgomp builds the team (and allocates for it) the first time
  team_allocations = 0;
  test::start_counting_allocations();
  phase = 1;
  while (phase.load() != 2) std::this_thread::yield();
  team_allocates();
  auto stats = test::stop_counting_allocations();
  other.join();
  EXPECT_GE(stats.other_threads, 1u);
  EXPECT_GE(stats.count, static_cast<uint64_t>(team_allocations.load()));
  EXPECT_LT(stats.largest, 777u) << "the other thread's allocation was counted";
}

TEST(Allocations, SecondUNetForwardAllocatesNothing) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("unet");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases[0];
  auto unet = pipeline::load_unet(pipeline::FolderSource(test::model_dir(c), ""));
  test::CaseFile file(c);
  Tensor sample = file["sample"], context = file["encoder_hidden_states"];
  Tensor text_embeds = file["text_embeds"], time_ids = file["time_ids"];
  Arena arena;
  unet.forward(arena, sample, 999.0f, context, text_embeds, time_ids);
  arena.reset();  // grows to the high-water mark once
  unet.forward(arena, sample, 999.0f, context, text_embeds, time_ids);
  arena.reset();

  test::start_counting_allocations();
  Tensor out = unet.forward(arena, sample, 500.0f, context, text_embeds, time_ids);
  auto stats = test::stop_counting_allocations();
  EXPECT_EQ(stats.count - stats.in_onednn, 0u)
      << stats.count << " allocations (" << stats.in_onednn << " inside oneDNN's execute), " << stats.bytes
      << " bytes, largest " << stats.largest << " (set SDXL_ALLOC_TRACE=1 to see where)";
  EXPECT_LE(stats.largest, 4096u) << "an activation-sized allocation in a repeated forward";
  EXPECT_EQ(out.shape(), sample.shape());
}

}  // namespace
}  // namespace sdxl
