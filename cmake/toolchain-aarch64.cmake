# Cross build for aarch64 (NEON) with Debian's g++-aarch64-linux-gnu; tests run under qemu-user.
# Used by tools/kernel_matrix.sh:  cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake ...
# xsimd, nlohmann_json, Catch2 (and the benchmarks' Eigen) are header-only, so the host's (x86-64) packages serve:
# their configs are found on the host, and their headers come after the cross toolchain's own
# libc headers (-idirafter), never before them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# xsimd's config lives under the host's multiarch directory.
list(APPEND CMAKE_PREFIX_PATH /usr/lib/x86_64-linux-gnu/cmake)

# The imported targets carry -isystem /usr/include (xsimd, nlohmann_json, Catch2), which would put
# the host's x86-64 libc headers ahead of the cross ones. Declaring /usr/include implicit makes
# CMake drop that flag; -idirafter adds it back behind the toolchain's own directories.
list(APPEND CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES /usr/include)
set(CMAKE_CXX_FLAGS_INIT "-idirafter /usr/include")
