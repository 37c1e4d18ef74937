#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.cpp with clang's libFuzzer + AddressSanitizer +
# UndefinedBehaviorSanitizer and runs each for EVIT_FUZZ_SECONDS (default 30; a target may ask for
# more with a line "// fuzz-seconds: N"), starting from tests/fuzz/corpus. Any finding fails.
# The targets build and run side by side (one core each), each into its own log, printed after.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fuzz
mkdir -p "$out"
default_seconds=${EVIT_FUZZ_SECONDS:-30}
# -g1: line tables for the reports, a fraction of -g's compile time.
flags="-std=c++17 -O1 -g1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Iinclude"

fuzz_one() {  # source file
  local src=$1 name seconds corpus
  name=$(basename "$src" .cpp)
  seconds=$(sed -n 's|^// fuzz-seconds: \([0-9]*\)|\1|p' "$src" | head -1)
  seconds=${seconds:-$default_seconds}
  echo "== $name: build"
  # shellcheck disable=SC2086
  clang++ $flags "$src" -o "$out/$name"
  corpus="$out/$name-corpus"
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/* "$corpus/" 2>/dev/null || true
  echo "== $name: fuzzing for $seconds s"
  "$out/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$corpus" > "$out/$name.log" 2>&1 ||
    { tail -n 40 "$out/$name.log"; return 1; }
  tail -n 12 "$out/$name.log"
}

pids=() names=()
for src in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$src" .cpp)
  fuzz_one "$src" > "$out/$name.out" 2>&1 &
  pids+=($!) names+=("$name")
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { failed=1; echo "== ${names[$i]}: FAILED"; }
  cat "$out/${names[$i]}.out"
done
exit "$failed"
