# `cmake --install build --prefix P`: the sdxl command, the shared libsdxl.so (versioned SONAME),
# the public headers, a pkg-config file and a CMake package (find_package(sdxl) -> sdxl::sdxl).
# Every installed path is relative to the prefix, so the tree can be moved as a whole.
include(CMakePackageConfigHelpers)

set_target_properties(sdxl_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
install(TARGETS sdxl_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS sdxl EXPORT sdxlTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Unspecified
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sdxl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(SDXL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sdxl)
install(EXPORT sdxlTargets NAMESPACE sdxl:: DESTINATION ${SDXL_CMAKE_DIR})
configure_package_config_file(cmake/templates/sdxl-config.cmake.in ${PROJECT_BINARY_DIR}/sdxl-config.cmake
  INSTALL_DESTINATION ${SDXL_CMAKE_DIR})
# 0.x: a minor version may change the ABI (the SONAME carries it), so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sdxl-config-version.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sdxl-config.cmake ${PROJECT_BINARY_DIR}/sdxl-config-version.cmake
  DESTINATION ${SDXL_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place (${pcfiledir}).
file(RELATIVE_PATH SDXL_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(cmake/templates/sdxl.pc.in ${PROJECT_BINARY_DIR}/sdxl.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sdxl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# sdxl's data: the CLIP vocabulary (with OpenAI's notice) and SDXL 1.0's configs, which
# pipeline/sources/data_dir.cpp finds at <prefix>/share/sdxl.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/data/ DESTINATION ${CMAKE_INSTALL_DATADIR}/sdxl)
