# sdxl_git_revision.h: the commit the build is made from, regenerated at every build (a
# configure-time value would go stale) and rewritten only when it changes.
set(SDXL_GIT_REVISION_HEADER ${PROJECT_BINARY_DIR}/generated/sdxl_git_revision.h)
add_custom_target(sdxl_git_revision
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUTPUT=${SDXL_GIT_REVISION_HEADER}
          -P ${PROJECT_SOURCE_DIR}/cmake/write_git_revision.cmake
  BYPRODUCTS ${SDXL_GIT_REVISION_HEADER}
  COMMENT "" VERBATIM)
