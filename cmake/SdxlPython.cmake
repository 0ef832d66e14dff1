# The Python package (python/sdxl, pure Python over libsdxl.so with ctypes): installed into the
# prefix's Python path, where the system's python3 looks: for /usr (the .deb) Debian's
# lib/python3/dist-packages, for another prefix lib/python3.X/dist-packages (/usr/local's is on
# Debian's path; elsewhere PYTHONPATH names it). The folder is chosen at install time, when the
# prefix is known (cpack installs to /usr). Its tests run on Debian's python3.
find_program(SDXL_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(SDXL_PYTHON3 python3)
set(SDXL_PYTHON_VERSION 3)
if(SDXL_PYTHON3)
  execute_process(COMMAND ${SDXL_PYTHON3} -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"
                  OUTPUT_VARIABLE SDXL_PYTHON_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(sdxl_python_dir \"\${CMAKE_INSTALL_PREFIX}/lib/python3/dist-packages\")
  else()
    set(sdxl_python_dir \"\${CMAKE_INSTALL_PREFIX}/lib/python${SDXL_PYTHON_VERSION}/dist-packages\")
  endif()
  file(INSTALL \"${PROJECT_SOURCE_DIR}/python/sdxl\" DESTINATION \"\${sdxl_python_dir}\"
       PATTERN \"__pycache__\" EXCLUDE PATTERN \"*.pyc\" EXCLUDE)
")
