// Running a chain of stages whose inputs die as soon as the next output exists, such as the
// VAE's blocks. In one stack arena every stage's output stays until the chain ends: at
// 1024x1024 the VAE decode would hold ten gigabytes of dead activations. Here outputs alternate
// between the caller's arena (rewound to where the chain began) and an arena of the chain's
// own, so only a stage's input, its output and its temporaries are alive at a time.
#pragma once

#include <utility>

#include "core/arena.h"
#include "core/tensor.h"

namespace sdxl::models {

class ArenaChain {
 public:
  // Everything `arena` holds when the chain starts is kept.
  explicit ArenaChain(Arena& arena) : arenas_{&arena, &own_}, marks_{arena.mark(), 0} {}
  // With a second arena of the caller's (kept across calls, so a repeated chain allocates
  // nothing once both arenas have grown; reset() it after the chain to consolidate it).
  ArenaChain(Arena& arena, Arena& second) : arenas_{&arena, &second}, marks_{arena.mark(), second.mark()} {}
  ArenaChain(const ArenaChain&) = delete;
  ArenaChain& operator=(const ArenaChain&) = delete;

  // y = stage(arena, x), with y allocated in `arena`. `x` must be the previous stage's output
  // (or live outside the chain): the arena it is not in is rewound first.
  template <typename Stage>
  Tensor operator()(const Tensor& x, Stage&& stage) {
    const int next = 1 - current_;
    arenas_[next]->rewind(marks_[next]);
    Tensor y = std::forward<Stage>(stage)(*arenas_[next], x);
    current_ = next;
    return y;
  }

  // stage(free_arena, x) updates x in place; the arena x is not in lends it temporaries.
  template <typename Stage>
  void in_place(Tensor& x, Stage&& stage) {
    const int next = 1 - current_;
    arenas_[next]->rewind(marks_[next]);
    std::forward<Stage>(stage)(*arenas_[next], x);
    arenas_[next]->rewind(marks_[next]);
  }

 private:
  Arena own_;
  Arena* arenas_[2];
  size_t marks_[2];
  int current_ = 1;  // the first stage writes to the caller's arena
};

}  // namespace sdxl::models
