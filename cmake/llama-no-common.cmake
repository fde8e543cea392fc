# Included into llama.cpp's own project (CMAKE_PROJECT_llama.cpp_INCLUDE, set in the Makefile): skip its
# `common` library and cpp-httplib, which only llama.cpp's tools use. llama-cpp-python forces
# LLAMA_BUILD_COMMON on, so -DLLAMA_BUILD_COMMON=OFF alone does nothing. (bench/setup_time.py measures it.)
set(LLAMA_BUILD_COMMON OFF)
