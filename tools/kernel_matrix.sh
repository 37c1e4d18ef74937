#!/usr/bin/env bash
# The kernel tests (tests/kernels) across SIMD targets, each in its own kernel-tests-only tree:
#   sse2     x86-64 default flags (xsimd's sse2, 4 lanes), -Werror
#   avx512   -march=native where /proc/cpuinfo has avx512f (no -Werror: GCC 12's AVX-512 headers
#            warn, STYLE.md §1); elsewhere the AVX-512 code is compiled (not run) with explicit
#            -mavx512* flags so that it cannot rot unseen
#   aarch64  g++-aarch64-linux-gnu + NEON, run under qemu-aarch64 (cmake/toolchain-aarch64.cmake)
# AVX2 + FMA is covered by build/release (tools/dev.sh test). Trees: build/k-matrix-<target>.
# Usage: bash tools/kernel_matrix.sh [sse2] [avx512] [aarch64]    (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${EVIT_JOBS:-$(nproc)}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(sse2 avx512 aarch64)

has_cpu_flag() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }
# GCC 12's own avx512fintrin.h trips these inside xsimd's math (STYLE.md §1); they say nothing
# about evit's code and would bury real diagnostics.
avx512_quiet="-Wno-maybe-uninitialized -Wno-uninitialized"

configure_build() {  # name, cmake args...
  local dir=build/k-matrix-$1; shift
  mkdir -p build
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEVIT_KERNEL_TESTS_ONLY=ON \
    -DEVIT_BUILD_BENCHMARKS=OFF -DEVIT_BUILD_EXAMPLES=OFF -DEVIT_INSTALL=OFF "$@" \
    > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs"
}

run_ctest() { (cd "build/k-matrix-$1" && ctest --output-on-failure -j "$jobs"); }

for t in "${targets[@]}"; do
  case "$t" in
    sse2)
      echo "== kernels: x86-64 default flags (SSE2)"
      configure_build sse2 -DEVIT_WERROR=ON -DCMAKE_CXX_FLAGS=""
      run_ctest sse2
      ;;
    avx512)
      if has_cpu_flag avx512f; then
        echo "== kernels: -march=native (AVX-512)"
        configure_build avx512 -DEVIT_WERROR=OFF -DCMAKE_CXX_FLAGS="-march=native $avx512_quiet"
        run_ctest avx512
      else
        echo "== kernels: this CPU has no AVX-512: compiling the AVX-512 kernels without running them"
        dir=build/k-matrix-avx512
        mkdir -p build
        cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEVIT_KERNEL_TESTS_ONLY=ON \
          -DEVIT_WERROR=OFF \
          -DCMAKE_CXX_FLAGS="-mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx2 -mfma $avx512_quiet" \
          > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
        # Object files only: linking would run test discovery, i.e. AVX-512 code on this CPU.
        objs=$(cd "$dir" && ninja -t targets all | grep -E -o '^(tests/CMakeFiles/evit_test_kernels\.dir/|CMakeFiles/evit_kernels_compiled\.dir/tests/support/kernels_default_arch)[^:]*\.(o|gch)')
        # shellcheck disable=SC2086
        (cd "$dir" && ninja -j "$jobs" $objs)
      fi
      ;;
    aarch64)
      if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
        echo "kernel_matrix: aarch64 needs g++-aarch64-linux-gnu and qemu-user" >&2
        exit 1
      fi
      echo "== kernels: aarch64 NEON under qemu-aarch64"
      configure_build aarch64 -DEVIT_WERROR=ON \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake"
      run_ctest aarch64
      ;;
    *)
      echo "usage: bash tools/kernel_matrix.sh [sse2] [avx512] [aarch64]" >&2
      exit 2
      ;;
  esac
done
echo "== kernel matrix passed: ${targets[*]}"
