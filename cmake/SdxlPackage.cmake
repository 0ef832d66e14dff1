# `cpack -G DEB` in the build folder: a Debian package of what `cmake --install` installs, under
# /usr. dpkg-shlibdeps computes its dependencies from the binaries (oneDNN, OpenBLAS, libpng,
# libjpeg, ICU, libgomp, libstdc++), so they are the runtime packages the build really links.
# An SDXL_NATIVE build packages this machine's ISA (AVX-512 here): configure with
# -DSDXL_NATIVE=OFF for a package that runs on any x86-64.
set(CPACK_PACKAGE_NAME sdxl)
set(CPACK_PACKAGE_VENDOR "sdxl")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Stable Diffusion XL 1.0 image generation on the CPU (diffusers-exact)")
set(CPACK_PACKAGE_DESCRIPTION "sdxl generates images with Stable Diffusion XL 1.0 weights, giving the images \
Hugging Face diffusers gives for the same settings: a command-line tool (sdxl), a C library (libsdxl.so, \
include/sdxl/sdxl.h) with pkg-config and CMake packages.")
set(CPACK_PACKAGE_CONTACT "sdxl developers <sdxl@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION graphics)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# shlibdeps names the virtual libopenblas0, which any threading flavour provides: we need the
# OpenMP one (libsdxl.so's RUNPATH picks it before the alternatives' choice).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_GENERATOR DEB)
include(CPack)
