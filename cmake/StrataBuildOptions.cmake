# Compiler settings shared by every target of this build: language level, warnings,
# ccache, sanitizers, CUDA detection.

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

find_program(STRATA_CCACHE ccache)
if(STRATA_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER "${STRATA_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${STRATA_CCACHE}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${STRATA_CCACHE}")
endif()

# No build machine paths in the binaries: __FILE__ (STRATA_CHECK's "where") and debug info
# name the project's files relative to the source or build directory. The build directory,
# often inside the source directory, comes last: GCC applies the last matching map, clang the
# longest.
# tests/sdk/out_of_tree_test.sh greps the installed library and plugins for both directories.
set(_strata_prefix_maps "-ffile-prefix-map=${PROJECT_SOURCE_DIR}/=" "-ffile-prefix-map=${PROJECT_BINARY_DIR}/=")
add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${_strata_prefix_maps}>")
list(TRANSFORM _strata_prefix_maps PREPEND "-Xcompiler=")
add_compile_options("$<$<COMPILE_LANGUAGE:CUDA>:${_strata_prefix_maps}>")
unset(_strata_prefix_maps)

add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-Wall;-Wextra>")
if(STRATA_WERROR)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-Werror>")
endif()

if(STRATA_SANITIZE)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=undefined>")
  add_link_options(-fsanitize=address,undefined)
  # A C program (examples/embed_c) linking the C++ runtime needs UBSan's C++ part too, which
  # clang's C driver leaves out.
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    add_link_options("$<$<LINK_LANGUAGE:C>:-fsanitize-link-c++-runtime;-lstdc++>")
  endif()
  # -O1: the sanitized build is for finding bugs; it compiles about twice as fast as -O3.
  set(CMAKE_C_FLAGS_RELEASE "-O1 -DNDEBUG")
  set(CMAKE_CXX_FLAGS_RELEASE "-O1 -DNDEBUG")
endif()

# ThreadSanitizer (scripts/tsan.sh, label concurrency): the runtime, the plugins and the
# concurrency tests. Not with the ASan build (the two sanitizers cannot share a process).
if(STRATA_TSAN)
  if(STRATA_SANITIZE)
    message(FATAL_ERROR "STRATA_TSAN and STRATA_SANITIZE exclude each other: use two build directories")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=thread;-fno-omit-frame-pointer>")
  add_link_options(-fsanitize=thread)
  set(CMAKE_C_FLAGS_RELEASE "-O1 -DNDEBUG")
  set(CMAKE_CXX_FLAGS_RELEASE "-O1 -DNDEBUG")
endif()

# CUDA: built whenever nvcc is present (STRATA_WITH_CUDA=AUTO), required with ON.
set(STRATA_HAVE_CUDA OFF)
if(NOT STRATA_WITH_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    set(STRATA_HAVE_CUDA ON)
  elseif(STRATA_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "STRATA_WITH_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "Strata: CUDA backend ${STRATA_HAVE_CUDA}, sanitizers ${STRATA_SANITIZE}")
