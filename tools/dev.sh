#!/usr/bin/env bash
# evit's two commands (see README.md):
#   bash tools/dev.sh example   install what is missing, build, run the main example
#   bash tools/dev.sh test      install what is missing, build, run every test configuration
# Works on a fresh Debian 12 machine as root (or with sudo). Build trees go to build/. Every
# program is built for the x86-64 (or AArch64) baseline and carries the kernels of every ISA
# (include/evit/simd/isa.hpp), so nothing here depends on this machine's CPU; the test command
# runs the kernel, parity and forward tests once per ISA this CPU has and reports the others as
# not run, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-example}
jobs=${EVIT_JOBS:-$(nproc)}

# libeigen3-dev: only for a benchmark's comparison with Eigen's product (evit does not use Eigen).
packages=(build-essential cmake ninja-build libxsimd-dev nlohmann-json3-dev
          catch2 libbenchmark-dev libeigen3-dev libcli11-dev libstb-dev)
# The Python module evit (python/): pybind11 for Debian's python3, NumPy for its arrays.
packages+=(pybind11-dev python3-dev python3-numpy)
if [ "$mode" = example ]; then
  packages+=(python3-matplotlib)  # the example's latency-vs-objective plot
fi
if [ "$mode" = test ]; then
  packages+=(g++-aarch64-linux-gnu qemu-user clang libclang-rt-14-dev clang-format python3-torch)
  packages+=(python3-pytest)  # the Python module's tests
  # Supernet training (examples/python/train_supernet.py, its smoke test): the data, and OpenBLAS
  # for PyTorch (Debian's python3-torch otherwise links the slow reference BLAS).
  packages+=(dataset-fashion-mnist libopenblas0-pthread)
  # tools/export_onnx.py and its test against ONNX Runtime (onnxruntime-node, run by Node.js).
  packages+=(python3-onnx python3-numpy)
  # The MPI backend's tests (include/evit/mpi/, tests/mpi: mpirun -np 1, 2, 3), in step 1.
  packages+=(libopenmpi-dev openmpi-bin)
  # oneDNN, for benchmarks/onednn (evit's kernels against oneDNN's on the same shapes).
  packages+=(libdnnl-dev)
  # Node.js and npm from Debian, unless the machine has them already (another Node.js package,
  # such as NodeSource's, would conflict with Debian's npm).
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then packages+=(nodejs npm); fi
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

# ONNX Runtime for Node.js (tools/ort/run.js), CPU binary bundled in the npm package, into the
# ignored build/ort (once; --ignore-scripts: its install script would fetch a GPU provider).
ort_version=1.30.0
install_ort() {
  local have
  have=$(node -p "require('./build/ort/node_modules/onnxruntime-node/package.json').version" \
    2>/dev/null || true)
  [ "$have" = "$ort_version" ] && return 0
  echo "== installing onnxruntime-node $ort_version (npm) into build/ort"
  mkdir -p build/ort
  (cd build/ort && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
    "onnxruntime-node@$ort_version")
}

configure_build() {  # dir, cmake args... [--target T]
  local dir=$1; shift
  local args=() target=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --target ]; then target+=(--target "$2"); shift 2; else args+=("$1"); shift; fi
  done
  mkdir -p "$(dirname "$dir")"
  cmake -S "$root" -B "$dir" -G Ninja "${args[@]}" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs" "${target[@]}"
}

run_ctest() {  # dir, extra ctest args...: output also kept in <dir>.ctest.log for the summary
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@") 2>&1 | tee "$dir.ctest.log"
  return "${PIPESTATUS[0]}"
}

# The optimised configuration: Release, the baseline ISA for everything but the per-ISA units
# (never -march=native: the programs must run on any CPU of the platform).
release() {
  mkdir -p build
  configure_build build/release -DCMAKE_BUILD_TYPE=Release -DEVIT_WERROR=ON -DEVIT_BUILD_PYTHON=ON
}

# The Python module into Debian python3's path (/usr/local/lib/python3.X/dist-packages), so that
# `python3 -c "import evit"` works from anywhere.
install_python_module() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo cmake --install build/release --component python > build/python-install.log ||
    { cat build/python-install.log; return 1; }
  local package
  package=$(grep -m1 -o '/[^ ]*/evit/__init__.py' build/python-install.log | sed 's|/__init__.py||')
  echo "== Python module installed: $package (for /usr/bin/python3)"
  # Another python3 first in PATH (pyenv, a virtual environment) of the same version gets a copy
  # too, so that the README's `python3 -c "import evit"` works with the python3 the shell finds.
  local other version site
  other=$(command -v python3 || true)
  version='import sys; print(sys.version_info[:2])'
  if [ -n "$other" ] && [ "$(readlink -f "$other")" != "$(readlink -f /usr/bin/python3)" ] &&
     [ "$("$other" -c "$version" 2>/dev/null)" = "$(/usr/bin/python3 -c "$version")" ]; then
    site=$("$other" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
    if mkdir -p "$site" 2>/dev/null && rm -rf "$site/evit" && cp -r "$package" "$site/evit"; then
      echo "== and copied to $site/evit (for $other)"
    fi
  fi
}

summary=()
note() { summary+=("$1"); }
elapsed() { echo "   ($(( $(date +%s) - start )) s so far)"; }

# "N passed" / "N passed, M skipped" for the tests of a ctest log whose names match a regex.
count_tests() {  # log, name regex
  local passed skipped
  passed=$(grep -cE "Test +#[0-9]+: ${2}.*Passed" "$1" || true)
  skipped=$(grep -cE "Test +#[0-9]+: ${2}.*Skipped" "$1" || true)
  if [ "$skipped" -gt 0 ]; then echo "$passed passed, $skipped skipped"; else echo "$passed passed"; fi
}

# One summary line per ISA: what the kernel, parity, forward and xsimd-primitive tests did; an ISA
# this CPU lacks is compiled, its tests reported as skipped, and the line says what is missing.
isa_report() {  # config name, ctest log
  local isa line guard
  for isa in sse2 avx2 avx512; do
    guard=$(./build/release/tests/evit_isa_guard "$isa" /bin/true || true)
    line="kernels $(count_tests "$2" "kernels\[$isa\]")"
    line+="; parity $(count_tests "$2" "models\[$isa\]")"
    line+="; forward $(count_tests "$2" "runtime\[$isa\]")"
    line+="; xsimd primitives $(count_tests "$2" "simd\[$isa\]")"
    if [ -n "$guard" ]; then
      note "  $1 $isa: ${guard#SKIPPED: } (compiled; $line)"
    else
      note "  $1 $isa: ran: $line"
    fi
  done
}

skipped_report() {  # config name, ctest log: every skipped test outside the per-ISA ones
  local n
  n=$(grep -E "Test +#[0-9]+: .*Skipped" "$2" | grep -cvE "(kernels|models|runtime|simd)\[" || true)
  note "  $1: $(grep -cE "Test +#[0-9]+: .*Passed" "$2") tests passed, $n other tests skipped"
  grep -E "Test +#[0-9]+: .*Skipped" "$2" | grep -vE "(kernels|models|runtime|simd)\[" |
    sed -E 's/.*Test +#[0-9]+: ([^.]*) \.+.*/skipped: \1/' > "$2.skipped" || true
  while read -r l; do note "      $l"; done < "$2.skipped"
}

case "$mode" in
  example)
    install_missing
    release
    install_python_module
    echo "== main example: the best subnet of one supernet for every device and budget"
    ./build/release/examples/search_subnet --out build/search_subnet_out
    ;;
  test)
    install_missing
    install_ort
    start=$(date +%s)
    cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo unknown)
    note "CPU: ${cpu:-unknown} ($(uname -m)); $(nproc) cores"

    echo "== 1/7 optimised build (Release, dispatching: every ISA compiled), all tests"
    release
    run_ctest build/release
    note "1 release, all tests:"
    skipped_report release build/release.ctest.log
    isa_report release build/release.ctest.log
    note "  release mpi (mpirun -np 1/2/3, bit-identical to one process): $(count_tests build/release.ctest.log "mpi: ")"
    ./build/release/examples/run_subnet --help > /dev/null
    elapsed

    echo "== 2/7 Debug + AddressSanitizer + UndefinedBehaviorSanitizer, all tests, every ISA"
    san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    # Minutes each in a Debug ASan build, and run in the optimised step above: AutoFormer's search
    # under a measured budget (test and example), its allocation count, its executor identity and
    # intermediates (its logits parity, every ISA, runs here).
    asan_skip="autoformer: evolutionary search|search_autoformer|autoformer forward: repeated"
    asan_skip+="|autoformer parity: the same logits|autoformer parity: every intermediate"
    # AutoFormer's quirks (3 minutes here): its forward's semantics on altered weights, the same
    # code that its parity and random-supernet tests run here.
    asan_skip+="|autoformer quirk:"
    # AutoFormer's tests per forced ISA (minutes each in this build): its model code is checked
    # here as dispatched, the kernels it calls at every width (kernels[*], ElasticViT's models[*]).
    asan_skip+="|models\[[a-z0-9]+\]:autoformer"
    # AutoFormer's random T/S/B supernets and its run_step walk (4 and 1.5 minutes here): the
    # forward's control flow on more shapes, run in the optimised step; its parity cases keep
    # the model's code under the sanitizers here.
    asan_skip+="|autoformer: random supernets|autoformer: run_step"
    # Without MPI: Open MPI's own allocations would read as leaks; the batch hook the MPI
    # backend uses is tested here by the search tests.
    # -g1: line tables, all the reports need; a fifth less compile time than -g.
    configure_build build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DEVIT_WERROR=ON \
      -DEVIT_BUILD_BENCHMARKS=OFF -DEVIT_WITH_MPI=OFF -DCMAKE_CXX_FLAGS="$san" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      run_ctest build/asan -E "install|fail|$asan_skip" -LE onnx
    note "2 ASan + UBSan (Debug), all tests but install/fail/onnx/mpi and AutoFormer's timing-heavy ones:"
    skipped_report asan build/asan.ctest.log
    isa_report asan build/asan.ctest.log
    elapsed

    echo "== 3/7 ThreadSanitizer: the executor, concurrent and split forwards, the searches' pools"
    # -g1 (line tables, enough for the reports): a third of -g's compile time here.
    configure_build build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVIT_BUILD_BENCHMARKS=OFF \
      -DEVIT_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
      --target evit_test_runtime --target evit_test_search --target evit_test_cost
    export TSAN_OPTIONS=halt_on_error=1
    ./build/tsan/tests/evit_test_runtime
    ./build/tsan/tests/evit_test_search "*thread count*"
    ./build/tsan/tests/evit_test_cost "cost::cached*"
    unset TSAN_OPTIONS
    note "3 TSan: runtime (executor, forwards over pools), searches' thread pools, cost::cached: ran"
    note "  (the samplers have no thread pool: they draw on the caller's thread)"
    elapsed

    echo "== 4/7 aarch64 (NEON) under qemu: kernels, parity, samplers' and searches' determinism"
    bash tools/isa_matrix.sh aarch64
    note "4 aarch64 NEON under qemu-aarch64: $(cat build/aarch64.summary)"
    elapsed

    echo "== 5/7 x86 CPUs without AVX-512 or AVX2, emulated (qemu-x86_64): dispatch picks what runs"
    bash tools/isa_matrix.sh x86-cpus
    note "5 x86 CPU models under qemu-x86_64: $(cat build/x86-cpus.summary)"
    elapsed

    echo "== 6/7 fuzzing the parsers (libFuzzer + ASan + UBSan)"
    bash tools/fuzz.sh
    note "6 fuzzing (libFuzzer): ran"
    elapsed

    echo "== 7/7 format check"
    files=$(git ls-files '*.hpp' '*.cpp' 2>/dev/null || find include tests examples benchmarks cmake -name '*.[ch]pp')
    # shellcheck disable=SC2086
    clang-format --dry-run --Werror $files
    note "7 clang-format: $(echo "$files" | wc -w) files checked"

    echo
    echo "== summary: every test configuration passed in $(( $(date +%s) - start )) s"
    printf '%s\n' "${summary[@]}"
    ;;
  *)
    echo "usage: bash tools/dev.sh example|test" >&2
    exit 2
    ;;
esac
