#!/usr/bin/env bash
# The ISAs this machine cannot run natively, emulated with qemu-user:
#   aarch64   a cross build (g++-aarch64-linux-gnu, NEON) of the core, kernel, model, sampler and
#             search tests, run under qemu-aarch64: kernels, the forward's parity with the
#             official goldens, and the samplers' and searches' pinned draws ([determinism]: the
#             same seed gives the same subnets on aarch64 as on x86-64).
#   x86-cpus  evit's release programs (build/release, from tools/dev.sh) under qemu-x86_64 with
#             CPU models that lack AVX-512 (Haswell: AVX2 + FMA) and AVX (Nehalem: SSE4.2): the
#             dispatcher must pick avx2 and sse2, and the parity and kernel tests pass there. A
#             single AVX or AVX-512 instruction outside the chosen ISA's unit stops the program.
# Each target writes one line for tools/dev.sh's summary to build/<target>.summary.
# Usage: bash tools/isa_matrix.sh [aarch64] [x86-cpus]    (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${EVIT_JOBS:-$(nproc)}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(aarch64 x86-cpus)
mkdir -p build

need() { command -v "$1" >/dev/null || { echo "isa_matrix: $1 is missing ($2)" >&2; exit 1; }; }

for t in "${targets[@]}"; do
  case "$t" in
    aarch64)
      need aarch64-linux-gnu-g++ "Debian package g++-aarch64-linux-gnu"
      need qemu-aarch64 "Debian package qemu-user"
      dir=build/aarch64
      echo "== aarch64: cross build (NEON) of the core, kernels, models, sample and search tests"
      cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEVIT_WERROR=ON \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" \
        -DEVIT_TEST_MODULES="core;kernels;models;sample;search" -DEVIT_BUILD_BENCHMARKS=OFF \
        -DEVIT_BUILD_EXAMPLES=OFF -DEVIT_INSTALL=OFF -DEVIT_WITH_MPI=OFF \
        > "$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log"; exit 1; }
      cmake --build "$dir" -j "$jobs"
      echo "== aarch64: the tests under qemu-aarch64"
      # AutoFormer's ISA-independent tests (quirks, counts, loading, search: a minute each under
      # qemu) run on x86 only; its logits parity runs here as models[neon]. Its executor, batch
      # split, run_step and intermediate checks (2-3 minutes each under qemu) test the model's
      # control flow, not the kernels: they run on every x86 ISA in the release step.
      af_x86_only="^models:autoformer|models\[neon\]:autoformer(: run_step"
      af_x86_only+="| parity: the same logits bit for bit| parity: every intermediate)"
      # Its logits parity on NEON: reference cases 0-3 (three minutes under qemu); cases 4-9 run
      # the same kernels at other widths, on every x86 ISA.
      af_x86_only+="|models\\[neon\\]:autoformer parity: logits of reference cases 4-9"
      # ISA-independent model checks (BatchNorm recalibration, export, the dispatch comparison,
      # unpacked weights as dispatched: 25-40 s each under qemu) also run on x86 only; the NEON
      # parity of the forward, packed and unpacked, runs here as models[neon].
      af_x86_only+="|^models:(bn recalibration|export|dispatch|parity: without packed)"
      (cd "$dir" && ctest --output-on-failure -j "$jobs" -E "$af_x86_only") 2>&1 |
        tee "$dir.ctest.log"
      [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
      count() { grep -cE "Test +#[0-9]+: $1.*Passed" "$dir.ctest.log" || true; }
      # The pinned draws, run again by tag: the same seed gives the same subnets as on x86-64.
      det=0
      for p in core sample search; do
        out=$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$dir/tests/evit_test_$p" "[determinism]")
        echo "$out" | tail -n 1
        n=$(echo "$out" | sed -n 's/.* in \([0-9]*\) test cases.*/\1/p')
        det=$((det + ${n:-0}))
      done
      [ "$det" -gt 0 ] || { echo "isa_matrix: no [determinism] test ran on aarch64" >&2; exit 1; }
      echo "kernels $(count 'kernels\[neon\]') passed, parity $(count 'models\[neon\]') passed," \
        "xsimd primitives $(count 'simd\[neon\]') passed, $det pinned-draw tests" \
        "(rng, samplers, searches) passed; $(grep -cE 'Test +#[0-9]+: .*Passed' "$dir.ctest.log")" \
        "tests passed in all, $(grep -cE 'Test +#[0-9]+: .*Skipped' "$dir.ctest.log" || true)" \
        "skipped" > build/aarch64.summary
      ;;
    x86-cpus)
      need qemu-x86_64 "Debian package qemu-user"
      rel=build/release
      [ -x $rel/tests/evit_test_models ] || { echo "isa_matrix: build $rel first (tools/dev.sh)" >&2; exit 1; }
      # The two CPU models side by side (one core each), each into its own log, printed after.
      one_cpu() {  # model, ISA the dispatcher must pick
        local cpu=$1 isa=$2 out rc=0
        local q=(qemu-x86_64 -cpu "$cpu")
        echo "== x86 CPU model $cpu (qemu-x86_64): the dispatcher must pick $isa"
        out=$("${q[@]}" $rel/examples/run_subnet --space mini \
              --weights tests/data/elasticvit-mini/supernet.safetensors --repeat 1 2>/dev/null)
        echo "$out" | grep -E "^isa:"
        echo "$out" | grep -qE "^isa: +$isa " ||
          { echo "isa_matrix: on $cpu run_subnet chose: $(echo "$out" | grep '^isa:')"; return 1; }
        # One parity case (every intermediate of the mini space's cases 0 and 1): the full parity
        # suites run natively on every ISA in the release step, and emulated FMA is slow (over 8
        # minutes for ElasticViT's three parity cases on an Emerald Rapids host, 80 s for this one).
        "${q[@]}" $rel/tests/evit_test_models "parity: every intermediate of cases 0 and 1" \
          2>/dev/null | tail -n 2
        [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
        "${q[@]}" $rel/tests/evit_test_kernels "[gemm]" 2>/dev/null | tail -n 2
        [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
        # An ISA this CPU lacks, forced, is refused with the reason (exit 77: skipped).
        "${q[@]}" $rel/tests/evit_test_kernels --isa avx512 "[gemm]" > "build/x86-$cpu.refused" 2>/dev/null || rc=$?
        grep -q "not run: CPU lacks avx512" "build/x86-$cpu.refused" && [ $rc -eq 77 ] ||
          { echo "isa_matrix: --isa avx512 on $cpu was not refused (exit $rc)"; return 1; }
      }
      line="" failed=0 pids=()
      for cpu_isa in Haswell:avx2 Nehalem:sse2; do
        one_cpu "${cpu_isa%%:*}" "${cpu_isa##*:}" > "build/x86-${cpu_isa%%:*}.log" 2>&1 &
        pids+=($!)
      done
      for cpu_isa in Haswell:avx2 Nehalem:sse2; do
        cpu=${cpu_isa%%:*}
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
        cat "build/x86-$cpu.log"
        line+="$cpu picks ${cpu_isa##*:}: run_subnet, a parity case and the gemm tests pass, --isa avx512 refused; "
      done
      [ "$failed" -eq 0 ] || { echo "isa_matrix: x86-cpus failed (above)" >&2; exit 1; }
      echo "${line%; }" > build/x86-cpus.summary
      ;;
    *)
      echo "usage: bash tools/isa_matrix.sh [aarch64] [x86-cpus]" >&2
      exit 2
      ;;
  esac
done
