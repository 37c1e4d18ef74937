// SPDX-License-Identifier: MIT
// Which SIMD architecture evit's kernels run on, lane counts, and register-file traits that size
// the kernels' register tiles. Kernels take `Arch` as a template parameter; its default,
// simd::default_arch, is either the widest architecture the compiler flags allow (header-only
// use, "fixed" mode) or simd::dispatched (programs built with EVIT_DISPATCH, which carry the
// kernels for every ISA of their platform and pick one at start-up: simd/isa.hpp, read it next).
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace simd {

/// The widest architecture the compiler flags of this translation unit enable: sse2 at default
/// x86-64 flags, fma3<avx2> with `-mavx2 -mfma`, avx512bw with `-march=native` on an AVX-512
/// machine, neon64 on aarch64.
using native_arch = xsimd::default_arch;

/// The architecture every CPU of the target family has: sse2 on x86-64, neon64 on AArch64.
#if XSIMD_WITH_NEON64
using baseline_arch = xsimd::neon64;
#elif XSIMD_WITH_SSE2
using baseline_arch = xsimd::sse2;
#else
using baseline_arch = native_arch;
#endif

/// The architectures a program built with EVIT_DISPATCH carries, one compiled unit each
/// (cmake/evitDispatch.cmake): SSE2, AVX2 + FMA and AVX-512 (F, CD, DQ, BW, VL) on x86-64; NEON
/// on AArch64. Listed from the narrowest to the widest.
#if defined(__x86_64__) || defined(_M_X64)
using dispatch_archs = std::tuple<xsimd::sse2, xsimd::fma3<xsimd::avx2>, xsimd::avx512bw>;
#elif defined(__aarch64__)
using dispatch_archs = std::tuple<xsimd::neon64>;
#else
using dispatch_archs = std::tuple<native_arch>;
#endif

/// The run-time dispatched "architecture": a kernel called with it runs the variant of the ISA
/// simd::active_isa() chose (simd/isa.hpp). Its lane count and register count, used only to size
/// buffers, are the largest of dispatch_archs.
struct dispatched {
  /// "dispatched: <active ISA>" (defined in simd/isa.hpp).
  static std::string name();
};

template <class Arch>
inline constexpr bool is_dispatched_v = std::is_same<Arch, dispatched>::value;

/// What evit's kernels run on when no Arch is given.
#if defined(EVIT_DISPATCH)
using default_arch = dispatched;
#else
using default_arch = native_arch;
#endif

namespace detail {
// Lanes from the arch's register width, so that any translation unit can name them (xsimd's
// batch<T, Arch> exists only where the flags enable Arch).
template <class T, class Arch>
constexpr Index lanes_of() {
  return static_cast<Index>(Arch::alignment() / sizeof(T));
}
template <class T, class... Archs>
constexpr Index max_lanes(std::tuple<Archs...>*) {
  Index m = 1;
  ((m = lanes_of<T, Archs>() > m ? lanes_of<T, Archs>() : m), ...);
  return m;
}
template <class Arch>
constexpr int registers_of() {
  return std::is_base_of<xsimd::avx512f, Arch>::value || std::is_base_of<xsimd::neon64, Arch>::value
             ? 32
             : 16;
}
template <class... Archs>
constexpr int max_registers(std::tuple<Archs...>*) {
  int m = 1;
  ((m = registers_of<Archs>() > m ? registers_of<Archs>() : m), ...);
  return m;
}
}  // namespace detail

namespace detail {
template <class T, class Arch>
constexpr Index lanes_or_max() {
  if constexpr (std::is_same<Arch, dispatched>::value)
    return max_lanes<T>(static_cast<dispatch_archs*>(nullptr));
  else
    return lanes_of<T, Arch>();
}
template <class Arch>
constexpr int registers_or_max() {
  if constexpr (std::is_same<Arch, dispatched>::value)
    return max_registers(static_cast<dispatch_archs*>(nullptr));
  else
    return registers_of<Arch>();
}
}  // namespace detail

/// Lanes of `xsimd::batch<T, Arch>` (for simd::dispatched: the most of any dispatch arch).
template <class T, class Arch>
inline constexpr Index lanes_v = detail::lanes_or_max<T, Arch>();

/// Number of architectural vector registers of `Arch` (32 for AVX-512 and AArch64 NEON, 16 for
/// SSE/AVX; for simd::dispatched the most of any dispatch arch). The GEMM register tiles are
/// sized from it.
template <class Arch>
inline constexpr int vector_registers_v = detail::registers_or_max<Arch>();

// The prefetches are volatile asm where we know the instruction: GCC 12 deleted
// __builtin_prefetch from nn_tile's prefetch loop once its epilogue had grown (no prefetcht1
// left in the binary; elastic_T2 at batch 1 took 1.06x its time on an AMD Zen 2).

/// Hint to bring the cache line at `p` towards L1 (a no-op where the compiler has no builtin).
inline void prefetch(const void* p) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  asm volatile("prefetcht0 (%0)" : : "r"(p));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  asm volatile("prfm pldl1keep, [%0]" : : "r"(p));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

/// Hint to bring the cache line at `p` into L2 (prefetcht1 on x86): for data wanted a while
/// later, more than L1 would hold meanwhile (linear_packed's next panel of weights).
inline void prefetch_l2(const void* p) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  asm volatile("prefetcht1 (%0)" : : "r"(p));
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  asm volatile("prfm pldl2keep, [%0]" : : "r"(p));
#elif defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 2);
#else
  (void)p;
#endif
}

}  // namespace simd
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
