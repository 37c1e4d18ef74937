#!/usr/bin/env bash
# evit's two commands (see README.md):
#   bash tools/dev.sh example   install what is missing, build, run the main example
#   bash tools/dev.sh test      install what is missing, build, run every test configuration
# Works on a fresh Debian 12 machine as root (or with sudo). Build trees go to build/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-example}
jobs=${EVIT_JOBS:-$(nproc)}

packages=(build-essential cmake ninja-build libeigen3-dev libxsimd-dev nlohmann-json3-dev
          catch2 libbenchmark-dev)
if [ "$mode" = example ]; then
  packages+=(python3-matplotlib)  # the example's latency-vs-objective plot
fi
if [ "$mode" = test ]; then
  packages+=(g++-aarch64-linux-gnu qemu-user clang libclang-rt-14-dev clang-format python3-torch)
fi

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

elapsed() { echo "   ($(( $(date +%s) - start )) s so far)"; }

has_cpu_flag() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }

# The optimised configuration: AVX2+FMA where the CPU has them (STYLE.md: never -march=native in
# the main build, and no -Werror with it).
opt_flags=""
if has_cpu_flag avx2 && has_cpu_flag fma; then opt_flags="-mavx2 -mfma"; fi

configure_build() {  # dir, cmake args... [--target T]
  local dir=$1; shift
  local args=() target=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --target ]; then target=(--target "$2"); shift 2; else args+=("$1"); shift; fi
  done
  mkdir -p "$(dirname "$dir")"
  cmake -S "$root" -B "$dir" -G Ninja "${args[@]}" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs" "${target[@]}"
}

run_ctest() {  # dir, extra ctest args...
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@")
}

release() {
  mkdir -p build
  configure_build build/release -DCMAKE_BUILD_TYPE=Release -DEVIT_WERROR=ON \
    -DCMAKE_CXX_FLAGS="$opt_flags"
}

case "$mode" in
  example)
    install_missing
    release
    echo "== main example: the best subnet of one supernet for every device and budget"
    ./build/release/examples/search_subnet --out build/search_subnet_out
    ;;
  test)
    install_missing
    start=$(date +%s)
    echo "== 1/3 optimised build ($opt_flags), all tests"
    release
    run_ctest build/release
    elapsed
    echo "== 2/3 Debug + AddressSanitizer + UndefinedBehaviorSanitizer, all tests"
    san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    configure_build build/asan -DCMAKE_BUILD_TYPE=Debug -DEVIT_WERROR=ON \
      -DEVIT_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS="$san" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      run_ctest build/asan -E "install|fail"
    elapsed
    echo "== ThreadSanitizer: concurrent forwards on one supernet"
    configure_build build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVIT_BUILD_BENCHMARKS=OFF \
      -DEVIT_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" --target evit_test_runtime
    TSAN_OPTIONS=halt_on_error=1 ./build/tsan/tests/evit_test_runtime
    elapsed
    if [ -f tools/kernel_matrix.sh ]; then
      echo "== kernel tests across SIMD targets (SSE2, AVX-512, aarch64 under qemu)"
      bash tools/kernel_matrix.sh
      elapsed
    fi
    echo "== fuzzing the parsers (libFuzzer + ASan + UBSan)"
    bash tools/fuzz.sh
    elapsed
    echo "== 3/3 format check"
    if command -v clang-format >/dev/null; then
      files=$(git ls-files '*.hpp' '*.cpp' 2>/dev/null || find include tests examples benchmarks -name '*.[ch]pp')
      # shellcheck disable=SC2086
      clang-format --dry-run --Werror $files
    fi
    echo "== all test configurations passed in $(( $(date +%s) - start )) s"
    ;;
  *)
    echo "usage: bash tools/dev.sh example|test" >&2
    exit 2
    ;;
esac
