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

option(SDXL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(SDXL_SANITIZE)
  # Our code is instrumented; oneDNN and OpenBLAS (Debian builds) are not, which ASan tolerates.
  set(SDXL_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(sdxl_flags INTERFACE ${SDXL_SANITIZER_FLAGS})
  target_link_options(sdxl_flags INTERFACE ${SDXL_SANITIZER_FLAGS})
endif()

option(SDXL_FUZZ "Build the libFuzzer targets in fuzz/ (needs clang); implies the sanitizers" OFF)
if(SDXL_FUZZ)
  # Undefined behaviour must stop the fuzzer, not just print: no recovery.
  target_compile_options(sdxl_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                                              -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(sdxl_flags INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined)
endif()
