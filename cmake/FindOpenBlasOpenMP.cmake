# Debian ships OpenBLAS in several threading flavours behind the alternatives system. We link
# the OpenMP build explicitly (libopenblas-openmp-dev): OpenBLAS advises it for programs that
# use OpenMP themselves, and its pthreads build must never be mixed with OpenMP.
find_path(OPENBLAS_OPENMP_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/openblas-openmp
  NO_DEFAULT_PATH)
find_library(OPENBLAS_OPENMP_LIBRARY NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
if(NOT OPENBLAS_OPENMP_INCLUDE_DIR OR NOT OPENBLAS_OPENMP_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: install libopenblas-openmp-dev")
endif()
add_library(openblas_openmp INTERFACE)
target_include_directories(openblas_openmp SYSTEM INTERFACE ${OPENBLAS_OPENMP_INCLUDE_DIR})
target_link_libraries(openblas_openmp INTERFACE ${OPENBLAS_OPENMP_LIBRARY})
message(STATUS "OpenBLAS (OpenMP): ${OPENBLAS_OPENMP_LIBRARY}")
# Installed binaries look here first (RUNPATH), so the OpenMP build is the one loaded even where
# the alternatives system points libopenblas.so.0 at another flavour.
get_filename_component(OPENBLAS_OPENMP_LIBRARY_DIR ${OPENBLAS_OPENMP_LIBRARY} DIRECTORY)
