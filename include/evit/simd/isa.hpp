// SPDX-License-Identifier: MIT
// Run-time ISA dispatch. A program built with EVIT_DISPATCH (CMake: evit_enable_dispatch, see
// cmake/evitDispatch.cmake) carries evit's kernels and forward passes once per ISA of its
// platform, each compiled in its own unit with that ISA's flags: SSE2, AVX2 + FMA and AVX-512 on
// x86-64, NEON on AArch64. At the first kernel call it picks one: the ISA set_isa() forced, else
// the one the environment variable EVIT_ISA names (sse2, avx2, avx512, neon), else the best the
// CPU has. Kernels called with simd::dispatched (the default Arch in such programs) go through
// simd::dispatch(). Without EVIT_DISPATCH (plain header-only use) the compiler flags choose the
// ISA and nothing happens at run time.
#pragma once

#include <atomic>
#include <cstdlib>
#include <string>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "evit/core/error.hpp"
#include "evit/simd/arch.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace simd {

/// The instruction sets evit compiles its kernels for.
enum class isa {
  sse2,    ///< x86-64 baseline: SSE2, 4 float lanes (xsimd::sse2)
  avx2,    ///< AVX2 + FMA, 8 float lanes (xsimd::fma3<xsimd::avx2>)
  avx512,  ///< AVX-512 F, CD, DQ, BW, VL (+ AVX2, FMA), 16 float lanes (xsimd::avx512bw)
  neon,    ///< AArch64 Advanced SIMD, 4 float lanes (xsimd::neon64)
};

/// "sse2", "avx2", "avx512" or "neon": the names EVIT_ISA and the programs' --isa accept.
constexpr const char* isa_name(isa i) noexcept {
  switch (i) {
    case isa::sse2:
      return "sse2";
    case isa::avx2:
      return "avx2";
    case isa::avx512:
      return "avx512";
    case isa::neon:
      return "neon";
  }
  return "?";
}

/// The xsimd architecture of each ISA, and back.
template <isa I>
struct isa_arch;
template <>
struct isa_arch<isa::sse2> {
  using type = xsimd::sse2;
};
template <>
struct isa_arch<isa::avx2> {
  using type = xsimd::fma3<xsimd::avx2>;
};
template <>
struct isa_arch<isa::avx512> {
  using type = xsimd::avx512bw;
};
template <>
struct isa_arch<isa::neon> {
  using type = xsimd::neon64;
};

template <class Arch>
constexpr isa isa_of() {
  if constexpr (std::is_base_of<xsimd::avx512bw, Arch>::value) return isa::avx512;
  if constexpr (std::is_base_of<xsimd::fma3<xsimd::avx2>, Arch>::value) return isa::avx2;
  if constexpr (std::is_base_of<xsimd::neon64, Arch>::value) return isa::neon;
  return isa::sse2;
}

/// A line for logs and reports, e.g. "avx512 (AVX-512 F/CD/DQ/BW/VL, 16 float lanes)".
inline std::string isa_description(isa i) {
  switch (i) {
    case isa::sse2:
      return "sse2 (SSE2, 4 float lanes)";
    case isa::avx2:
      return "avx2 (AVX2 + FMA, 8 float lanes)";
    case isa::avx512:
      return "avx512 (AVX-512 F/CD/DQ/BW/VL, 16 float lanes)";
    case isa::neon:
      return "neon (AArch64 NEON, 4 float lanes)";
  }
  return "?";
}

/// The ISAs a dispatching program of this platform carries, narrowest first.
inline constexpr isa dispatch_isas[] = {
#if defined(__x86_64__) || defined(_M_X64)
    isa::sse2, isa::avx2, isa::avx512
#elif defined(__aarch64__)
    isa::neon
#else
    isa_of<native_arch>()
#endif
};

/// The first CPU feature that `i` needs and this CPU (with its operating system's support) lacks,
/// e.g. "avx512bw", or "" when the CPU runs `i`.
inline std::string cpu_lacks(isa i) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();  // needed when called before the program's constructors have run
  auto first_missing = [](std::initializer_list<std::pair<const char*, bool>> features) {
    for (const auto& f : features)
      if (!f.second) return std::string(f.first);
    return std::string();
  };
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
  switch (i) {
    case isa::sse2:
      return first_missing({{"sse2", __builtin_cpu_supports("sse2")}});
    case isa::avx2:
      return first_missing(
          {{"avx2", __builtin_cpu_supports("avx2")}, {"fma", __builtin_cpu_supports("fma")}});
    case isa::avx512:
      return first_missing({{"avx512f", __builtin_cpu_supports("avx512f")},
                            {"avx512cd", __builtin_cpu_supports("avx512cd")},
                            {"avx512dq", __builtin_cpu_supports("avx512dq")},
                            {"avx512bw", __builtin_cpu_supports("avx512bw")},
                            {"avx512vl", __builtin_cpu_supports("avx512vl")},
                            {"avx2", __builtin_cpu_supports("avx2")},
                            {"fma", __builtin_cpu_supports("fma")}});
    case isa::neon:
      return "neon (an x86 CPU)";
  }
  return "?";
#elif defined(__aarch64__)
  return i == isa::neon ? std::string() : std::string(isa_name(i)) + " (an AArch64 CPU)";
#else
  return i == isa_of<native_arch>() ? std::string() : std::string(isa_name(i));
#endif
}

inline bool cpu_supports(isa i) { return cpu_lacks(i).empty(); }

/// Whether a program built like this translation unit carries the kernels of `i`: every ISA of
/// dispatch_isas with EVIT_DISPATCH, otherwise only the one of the compiler flags.
inline bool carries(isa i) noexcept {
#if defined(EVIT_DISPATCH)
  for (isa c : dispatch_isas)
    if (c == i) return true;
  return false;
#else
  return i == isa_of<native_arch>();
#endif
}

/// Parses "sse2", "avx2", "avx512" or "neon" (as EVIT_ISA and --isa spell them).
inline isa parse_isa(const std::string& s) {
  for (isa i : {isa::sse2, isa::avx2, isa::avx512, isa::neon})
    if (s == isa_name(i)) return i;
  throw invalid_argument("isa \"" + s + "\": not one of sse2, avx2, avx512, neon");
}

/// The widest ISA this program carries and the CPU runs.
inline isa best_isa() {
  isa best = dispatch_isas[0];
  for (isa i : dispatch_isas)
    if (carries(i) && cpu_supports(i)) best = i;
  return best;
}

namespace detail {
inline std::atomic<int>& chosen_isa() {
  static std::atomic<int> chosen{-1};
  return chosen;
}
/// Throws unless this program carries `i` and the CPU runs it; `what` names the request.
inline void check_runnable(isa i, const std::string& what) {
  if (!carries(i)) {
#if defined(EVIT_DISPATCH)
    std::string has;
    for (isa c : dispatch_isas) has += std::string(has.empty() ? "" : ", ") + isa_name(c);
    throw invalid_argument(what + ": this program carries the kernels of " + has + " only");
#else
    throw invalid_argument(what + ": this program was built without run-time dispatch; its " +
                           "compiler flags fixed its kernels to " + native_arch::name());
#endif
  }
  const std::string lacks = cpu_lacks(i);
  if (!lacks.empty()) throw invalid_argument(what + ": this CPU lacks " + lacks);
}
}  // namespace detail

/// The ISA evit's kernels run on in this process. Chosen at the first call: set_isa() if called,
/// else EVIT_ISA from the environment (throws evit::invalid_argument when it names an ISA the CPU
/// lacks or that the program does not carry), else best_isa(). Without EVIT_DISPATCH: the ISA of
/// the compiler flags.
inline isa active_isa() {
#if defined(EVIT_DISPATCH)
  std::atomic<int>& chosen = detail::chosen_isa();
  const int c = chosen.load(std::memory_order_acquire);
  if (c >= 0) return static_cast<isa>(c);
  isa i = best_isa();
  if (const char* env = std::getenv("EVIT_ISA"); env != nullptr && *env != '\0') {
    i = parse_isa(env);
    detail::check_runnable(i, std::string("EVIT_ISA=") + env);
  }
  chosen.store(static_cast<int>(i), std::memory_order_release);
  return i;
#else
  return isa_of<native_arch>();
#endif
}

/// Forces the ISA of this process (e.g. from a --isa option), before any kernel runs; later
/// calls switch it for the kernel calls that follow. Throws evit::invalid_argument naming what is
/// missing when the CPU lacks `i` or the program does not carry it.
inline void set_isa(isa i) {
  detail::check_runnable(i, std::string("isa ") + isa_name(i));
  detail::chosen_isa().store(static_cast<int>(i), std::memory_order_release);
}

/// Calls f(Arch{}) with the xsimd architecture of active_isa() and returns its result. The
/// variants f instantiates must be compiled in the program's ISA units (the kernels' and forward
/// passes' entry points are); without EVIT_DISPATCH, f(native_arch{}).
template <class F>
decltype(auto) dispatch(F&& f) {
#if defined(EVIT_DISPATCH) && (defined(__x86_64__) || defined(_M_X64))
  switch (active_isa()) {
    case isa::avx512:
      return f(xsimd::avx512bw{});
    case isa::avx2:
      return f(xsimd::fma3<xsimd::avx2>{});
    default:
      return f(xsimd::sse2{});
  }
#elif defined(EVIT_DISPATCH) && defined(__aarch64__)
  return f(xsimd::neon64{});
#else
  return f(native_arch{});
#endif
}

/// Lanes of T that the kernels of Arch use at run time (for simd::dispatched, those of the ISA
/// active now).
template <class T, class Arch>
Index lanes() {
  if constexpr (is_dispatched_v<Arch>)
    return dispatch([](auto arch) { return lanes_v<T, decltype(arch)>; });
  else
    return lanes_v<T, Arch>;
}

/// Name of the ISA active now, for logs: "avx512", ..., or xsimd's name of the flags' arch in a
/// program without dispatch (e.g. "fma3+avx2").
inline std::string active_isa_name() {
#if defined(EVIT_DISPATCH)
  return isa_name(active_isa());
#else
  return native_arch::name();
#endif
}

inline std::string dispatched::name() { return "dispatched: " + active_isa_name(); }

}  // namespace simd
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit

// The explicit instantiations of a dispatching program (cmake/evitDispatch.cmake). Each kernel
// header ends with the list of its entry points for float, expanded once per dispatch arch by
// EVIT_FOR_EACH_DISPATCH_ARCH(X): X(extern, Arch) declares the instantiation (it lives in another
// unit), X(, Arch) defines it (in the unit built for Arch, EVIT_ISA_UNIT = 1 sse2, 2 avx2,
// 3 avx512, 4 neon). Without EVIT_DISPATCH nothing is declared: templates instantiate on use.
#if defined(EVIT_DISPATCH)
#if defined(EVIT_ISA_UNIT) && EVIT_ISA_UNIT == 1
#define EVIT_DETAIL_EXTERN_1
#else
#define EVIT_DETAIL_EXTERN_1 extern
#endif
#if defined(EVIT_ISA_UNIT) && EVIT_ISA_UNIT == 2
#define EVIT_DETAIL_EXTERN_2
#else
#define EVIT_DETAIL_EXTERN_2 extern
#endif
#if defined(EVIT_ISA_UNIT) && EVIT_ISA_UNIT == 3
#define EVIT_DETAIL_EXTERN_3
#else
#define EVIT_DETAIL_EXTERN_3 extern
#endif
#if defined(EVIT_ISA_UNIT) && EVIT_ISA_UNIT == 4
#define EVIT_DETAIL_EXTERN_4
#else
#define EVIT_DETAIL_EXTERN_4 extern
#endif
#if defined(__x86_64__) || defined(_M_X64)
#define EVIT_FOR_EACH_DISPATCH_ARCH(X)   \
  X(EVIT_DETAIL_EXTERN_1, ::xsimd::sse2) \
  X(EVIT_DETAIL_EXTERN_2, ::xsimd::fma3<::xsimd::avx2>) X(EVIT_DETAIL_EXTERN_3, ::xsimd::avx512bw)
#elif defined(__aarch64__)
#define EVIT_FOR_EACH_DISPATCH_ARCH(X) X(EVIT_DETAIL_EXTERN_4, ::xsimd::neon64)
#else
#error "EVIT_DISPATCH: no dispatch ISAs are defined for this platform"
#endif
#else
#define EVIT_FOR_EACH_DISPATCH_ARCH(X)
#endif
