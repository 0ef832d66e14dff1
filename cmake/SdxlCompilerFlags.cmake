# Warnings for our own targets, and the optimisation target.
add_library(sdxl_flags INTERFACE)
target_compile_options(sdxl_flags INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12's own avx512fintrin.h trips -W(maybe-)uninitialized on _mm512_undefined_* (GCC bug 105593).
  # Its libstdc++ also trips -Wrestrict inside std::string's operator+ (GCC bug 105329).
  target_compile_options(sdxl_flags INTERFACE -Wno-maybe-uninitialized -Wno-uninitialized -Wno-restrict)
endif()
if(SDXL_NATIVE)
  # The machine's own ISA (AVX-512 here). Kernels test for __AVX512F__ / __F16C__ and keep a
  # scalar path, so a portable build (SDXL_NATIVE=OFF) computes the same results, slower.
  target_compile_options(sdxl_flags INTERFACE -march=native)
endif()
