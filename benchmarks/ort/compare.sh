#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# evit against ONNX Runtime on the same subnets, same machine: exports the released ElasticViT
# subnets of a supernet (default: evit's random official-size supernet) and the released
# AutoFormer-T (default: evit's random autoformer-t supernet; AutoFormer-S and -B of evit's random
# supernets when --subnets names them) to ONNX
# (tools/export_onnx.py, BatchNorm folded, batch fixed), then runs evit (run_subnet) and ORT
# (tools/ort/run.js, onnxruntime-node's CPU provider) in alternating rounds of separate processes,
# the order rotated per round and configuration, and prints per subnet, batch and thread count the
# medians over the rounds of each side's median latency and the median of the within-round ratios.
# See benchmarks/ort/README.md.
#
#   bash benchmarks/ort/compare.sh [--rounds 3] [--repeat 20] [--warmup-ms 300] [--subnets REGEX]
#                                  [--batches "1 8"] [--threads "1 2"] [--weights FILE] [--af-weights FILE]
#                                  [--run-subnet PATH] [--out DIR] [--ort-spin 0|1]
#                                  [--limits PATH|none] [--isa native|avx2]
# --warmup-ms: each process's untimed forwards before its timed ones, evit and ORT alike: one, then
#   more until this many ms have passed (on the shared machines we measured, both runtimes' first
#   20-50 ms of forwards ran up to 1.7x slower than their steady state).
# --weights: the ElasticViT supernet; --af-weights: the AutoFormer-T supernet.
# --limits: evit_bench_model (default: the one built next to run_subnet, if any), which measures
#   one core's FMA peak, dense GEMM rate and memory read rate; the one-thread times are then also
#   printed over the floors these set (2 x MACs at the GEMM rate; the subnet's weights read once).
# --ort-spin: ORT's intra-op threads spin while waiting (1) or not (0); default: ORT's own (1).
# --isa avx2: both sides on AVX2 + FMA kernels on an AVX-512 CPU (the AVX2-only goal measured
#   where no AVX2-only CPU is at hand): evit with EVIT_ISA=avx2, ORT from a copy of
#   onnxruntime-node whose MLAS skips its AVX-512 kernels (tools/ort/mlas_avx2.py, in
#   OUT/ort-avx2); both with glibc's AVX2 memcpy and memset (GLIBC_TUNABLES). Default native:
#   each picks its own kernels from the CPU.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prog=compare.sh

rounds=3
repeat=20
warmup_ms=300
filter='^(elastic_.*|AutoFormer-T)$'  # AutoFormer-S and -B only when named (slow)
batches="1 8"
threads="1 2"
weights=""
af_weights=""
run_subnet="$root/build/release/examples/run_subnet"
out="$root/build/ort-compare"
spin_args=()
limits=auto
python=/usr/bin/python3
isa_choice=native
node=$(command -v node || echo /usr/bin/node)
subnets=(elastic_T1 elastic_T2 elastic_S1 elastic_S2 elastic_M elastic_L1 elastic_L1.5 elastic_L2
         elastic_L3 AutoFormer-T AutoFormer-S AutoFormer-B)

die() { echo "$prog: $1" >&2; exit "${2:-1}"; }
skip() {  # a tool is missing: skipped (77), except under CI where it must be there
  if [ "${CI:-}" = true ]; then die "$1 (under CI)"; fi
  echo "SKIPPED: $1"
  exit 77
}
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1: '$2' is not a positive integer" 2; }

usage() { sed -n '3,29p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --rounds|--repeat|--warmup-ms|--subnets|--batches|--threads|--weights|--af-weights|--run-subnet|--out|--ort-spin|--limits|--isa)
      [ $# -ge 2 ] || die "$1 needs a value (see --help)" 2
      case "$1" in
        --rounds) positive "$1" "$2"; rounds=$2 ;;
        --repeat) positive "$1" "$2"; repeat=$2 ;;
        --warmup-ms) [[ "$2" =~ ^[0-9]+$ ]] || die "$1: '$2' is not a whole number of ms" 2
                     warmup_ms=$2 ;;
        --subnets) filter=$2 ;;
        --batches) batches=$2; for b in $2; do positive "$1" "$b"; done ;;
        --threads) threads=$2; for t in $2; do positive "$1" "$t"; done ;;
        --weights) weights=$2 ;;
        --af-weights) af_weights=$2 ;;
        --run-subnet) run_subnet=$2 ;;
        --out) out=$2 ;;
        --limits) limits=$2 ;;
        --isa) [[ "$2" =~ ^(native|avx2)$ ]] || die "--isa: '$2' is not native or avx2" 2
               isa_choice=$2 ;;
        --ort-spin) [[ "$2" =~ ^[01]$ ]] || die "--ort-spin: '$2' is not 0 or 1" 2
                    spin_args=(--spin "$2") ;;
      esac
      shift 2 ;;
    *) die "unknown argument '$1' (see --help)" 2 ;;
  esac
done
[ -n "$batches" ] || die "--batches: empty" 2
[ -n "$threads" ] || die "--threads: empty" 2

chosen=()
for s in "${subnets[@]}"; do
  if [[ "$s" =~ $filter ]]; then chosen+=("$s"); fi
done
[ ${#chosen[@]} -gt 0 ] || die "--subnets: '$filter' matches none of ${subnets[*]}" 2
[ -x "$run_subnet" ] || die "run_subnet not found at $run_subnet (build it: cmake --build build/release --target run_subnet, or pass --run-subnet)"
[ -z "$weights" ] || [ -f "$weights" ] || die "--weights: $weights: no such file"
[ -z "$af_weights" ] || [ -f "$af_weights" ] || die "--af-weights: $af_weights: no such file"
if [ "$limits" = auto ]; then
  limits=$(dirname "$run_subnet")/../benchmarks/evit_bench_model
  [ -x "$limits" ] || limits=none
fi
[ "$limits" = none ] || [ -x "$limits" ] || die "--limits: $limits is not an executable (evit_bench_model)"
"$python" -c "import onnx, numpy" 2>/dev/null || skip "python3-onnx or python3-numpy is missing (apt-get install python3-onnx python3-numpy)"
[ -x "$node" ] || skip "node is missing (apt-get install nodejs npm)"
ort_version=$("$node" "$root/tools/ort/run.js" --version 2>&1) || skip "$ort_version"

mkdir -p "$out"
ort_kernels="MLAS picks its kernels from the CPU"
if [ "$isa_choice" = avx2 ]; then
  grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo || die "--isa avx2: this CPU has no AVX2 + FMA"
  export EVIT_ISA=avx2  # run_subnet and the limits probe
  "$python" "$root/tools/ort/mlas_avx2.py" "${EVIT_ORT_MODULES:-$root/build/ort/node_modules}" \
    "$out/ort-avx2/node_modules" > /dev/null || die "--isa avx2: tools/ort/mlas_avx2.py failed"
  export EVIT_ORT_MODULES="$out/ort-avx2/node_modules"
  # glibc's memcpy and memset too, in both processes (else its AVX-512 forms).
  export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD"
  ort_kernels="MLAS's AVX-512 kernels switched off: AVX2 + FMA (tools/ort/mlas_avx2.py); glibc's AVX2 string functions"
fi
weights_args=()
[ -z "$weights" ] || weights_args=(--weights "$weights")
af_weights_args=()
[ -z "$af_weights" ] || af_weights_args=(--weights "$af_weights")
# run_subnet's arguments for subnet $1: its model, supernet and arch.
subnet_args() {
  case "$1" in
    AutoFormer-T) args=(--model autoformer-t "${af_weights_args[@]}" --arch "$1") ;;
    AutoFormer-S) args=(--model autoformer-s --arch "$1") ;;  # evit's random S supernet
    AutoFormer-B) args=(--model autoformer-b --arch "$1") ;;  # evit's random B supernet
    *) args=("${weights_args[@]}" --arch "$1") ;;
  esac
}

# Setup: one subnet file and one ONNX model per subnet and batch (fixed batch: a static graph).
isa=""
declare -A mmacs params  # run_subnet's counts: MACs as computed by the forward, parameters (M)
for s in "${chosen[@]}"; do
  subnet_args "$s"
  log=$("$run_subnet" "${args[@]}" --repeat 1 --export-subnet "$out/$s.safetensors") ||
    die "run_subnet --arch $s failed"
  [ -n "$isa" ] || isa=$(sed -n 's/^isa: *//p' <<< "$log")
  mmacs[$s]=$(sed -n 's/^MMACs: *[0-9.]* ([^)]*), \([0-9.]*\).*/\1/p' <<< "$log")
  params[$s]=$(grep -o 'params:\{0,1\} *[0-9.]* M' <<< "$log" | grep -o '[0-9.][0-9.]*' | head -1)
  [ -n "${mmacs[$s]}" ] && [ -n "${params[$s]}" ] || die "no MMACs or params line from run_subnet --arch $s"
  for b in $batches; do
    "$python" "$root/tools/export_onnx.py" "$out/$s.safetensors" --batch "$b" -o "$out/$s-b$b.onnx" > /dev/null ||
      die "export_onnx.py failed on $s"
  done
done

# One measurement: the median latency (ms) a program prints ("latency:  median X ms, ...").
median_of() { sed -n 's/^latency: *median \([0-9.]*\) ms.*/\1/p' <<< "$1"; }
measure_evit() {  # subnet batch threads
  local log args
  subnet_args "$1"
  log=$("$run_subnet" "${args[@]}" --batch "$2" --threads "$3" --repeat "$repeat" --warmup-ms "$warmup_ms") ||
    die "run_subnet --arch $1 --batch $2 --threads $3 failed"
  median_of "$log"
}
measure_ort() {  # subnet batch threads
  local log
  log=$("$node" "$root/tools/ort/run.js" "$out/$1-b$2.onnx" --batch "$2" --threads "$3" --repeat "$repeat" --warmup-ms "$warmup_ms" "${spin_args[@]}") ||
    die "run.js on $1 batch $2 threads $3 failed"
  median_of "$log"
}

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
family=$(grep -m1 'cpu family' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
simd=$(for f in avx512f avx2 fma; do grep -qw "$f" <<< "$flags" && printf '%s ' "$f"; done)
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  ${cpu:-unknown CPU} (family ${family:-?}), $(nproc) cores; CPU flags: ${simd:-none of avx512f avx2 fma}"
echo "evit:     isa $isa; run_subnet, ${weights:-random official-size supernet (seed 1)}; AutoFormer-T: ${af_weights:-random autoformer-t supernet (seed 1)}"
spin="ORT's default (on)"
[ ${#spin_args[@]} -eq 0 ] || spin=$([ "${spin_args[1]}" = 1 ] && echo on || echo off)
echo "ort:      $ort_version, CPU provider, intra_op threads as below (spinning: $spin), inter_op 1, sequential, all graph optimisations; BN folded (ElasticViT), batch fixed; $ort_kernels"
# The machine's limits, with evit's probes (one core, the ISA evit runs): measured before and after
# the rounds, the higher of the two kept (a busy phase of a shared machine lowers a probe too).
peak=""; gemm=""; gbps=""
probe_limits() {
  "$limits" --benchmark_filter='^BM_(peak_fma|dense_gemm|memory_read)' \
    --benchmark_out="$out/limits.json" --benchmark_out_format=json > /dev/null 2>&1 ||
    die "$limits (the limits probe) failed"
  read -r peak gemm gbps < <("$python" - "$out/limits.json" "$peak" "$gemm" "$gbps" <<'PY'
import json, sys
rows = {b["name"].split("/")[0]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
now = [rows["BM_peak_fma"]["GFLOPs"], rows["BM_dense_gemm"]["GFLOPs"], rows["BM_memory_read"]["GBps"]]
before = [float(v) if v else 0.0 for v in sys.argv[2:5]]
print(*[max(a, b) for a, b in zip(now, before)])
PY
  ) || die "could not read the limits from $out/limits.json"
}
[ "$limits" = none ] || probe_limits
echo "method:   $rounds round(s) of separate processes, order rotated; each process: untimed forwards for ${warmup_ms} ms (at least 1), then the median of $repeat timed ones"
echo

# Rounds: every configuration once per round, evit and ORT each in its own process, which one
# goes first alternating with the round and the configuration.
declare -A evit_ms ort_ms ratios
configs=()
for s in "${chosen[@]}"; do
  for b in $batches; do
    for t in $threads; do configs+=("$s $b $t"); done
  done
done
for ((r = 0; r < rounds; ++r)); do
  echo "round $((r + 1))/$rounds ..." >&2
  i=0
  for c in "${configs[@]}"; do
    read -r s b t <<< "$c"
    if (( (r + i) % 2 == 0 )); then
      e=$(measure_evit "$s" "$b" "$t"); o=$(measure_ort "$s" "$b" "$t")
    else
      o=$(measure_ort "$s" "$b" "$t"); e=$(measure_evit "$s" "$b" "$t")
    fi
    [ -n "$e" ] && [ -n "$o" ] || die "no latency line from run_subnet or run.js ($c)"
    evit_ms[$c]+="$e "
    ort_ms[$c]+="$o "
    ratios[$c]+="$(awk -v e="$e" -v o="$o" 'BEGIN { printf "%.6f", e / o }') "
    i=$((i + 1))
  done
done

if [ "$limits" != none ]; then
  probe_limits
  printf 'limits:   one core, evit'"'"'s probes (best of before and after the rounds): FMA peak %.1f GFLOP/s, dense GEMM %.1f GFLOP/s, memory read %.1f GB/s\n' \
    "$peak" "$gemm" "$gbps"
fi
median() { tr ' ' '\n' <<< "$1" | grep -v '^$' | sort -g |
           awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# The one-thread times over the machine's floors: 2 x MACs x batch at the dense GEMM rate, and
# the subnet's weights (float32) read once from memory.
if [ -n "$peak" ]; then
  printf '%-13s %5s %7s %9s %9s %9s %9s %9s %9s %9s %9s\n' subnet batch MMACs evit_ms ort_ms \
    evit/ort gemm_ms evit/gemm ort/gemm mem_ms evit/mem
  for c in "${configs[@]}"; do
    read -r s b t <<< "$c"
    [ "$t" = 1 ] || continue
    awk -v s="$s" -v b="$b" -v m="${mmacs[$s]}" -v p="${params[$s]}" -v e="$(median "${evit_ms[$c]}")" \
        -v o="$(median "${ort_ms[$c]}")" -v q="$(median "${ratios[$c]}")" -v g="$gemm" -v r="$gbps" \
      'BEGIN { gm = 2 * m * 1e6 * b / (g * 1e9) * 1e3; mm = p * 1e6 * 4 / (r * 1e9) * 1e3
               printf "%-13s %5s %7.1f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n",
                      s, b, m, e, o, q, gm, e / gm, o / gm, mm, e / mm }'
  done
  echo
fi
printf '%-13s %5s %7s %9s %9s %9s\n' subnet batch threads evit_ms ort_ms evit/ort
worst=0
for c in "${configs[@]}"; do
  read -r s b t <<< "$c"
  q=$(median "${ratios[$c]}")
  printf '%-13s %5s %7s %9.2f %9.2f %9.2f\n' "$s" "$b" "$t" "$(median "${evit_ms[$c]}")" \
    "$(median "${ort_ms[$c]}")" "$q"
  worst=$(awk -v a="$worst" -v b="$q" 'BEGIN { print (b > a) ? b : a }')
done
printf 'worst evit/ort: %.2f\n' "$worst"
