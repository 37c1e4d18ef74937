// SPDX-License-Identifier: MIT
// Which SIMD architectures a build can instantiate, lane counts, and register-file traits that
// size the kernels' register tiles. Kernels take `Arch` as a template parameter (default: the
// widest the compiler flags allow); evit does no run-time dispatch (STYLE.md §6, decision 3).
#pragma once

#include <tuple>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/simd/compat.hpp"

namespace evit::simd {

/// The widest architecture the compiler flags enable: sse2 at default x86-64 flags, fma3<avx2>
/// with `-mavx2 -mfma`, avx512bw with `-march=native` on an AVX-512 machine, neon64 on aarch64.
using default_arch = xsimd::default_arch;

/// Lanes of `xsimd::batch<T, Arch>`.
template <class T, class Arch>
inline constexpr Index lanes_v = static_cast<Index>(xsimd::batch<T, Arch>::size);

/// Number of architectural vector registers of `Arch` (32 for AVX-512 and AArch64 NEON, 16 for
/// SSE/AVX). The GEMM register tiles are sized from it.
template <class Arch>
inline constexpr int vector_registers_v =
#if XSIMD_WITH_AVX512F
    std::is_base_of<xsimd::avx512f, Arch>::value ? 32 :
#endif
#if XSIMD_WITH_NEON64
    std::is_base_of<xsimd::neon64, Arch>::value ? 32
                                                :
#endif
                                                16;

/// Hint to bring the cache line at `p` towards L1 (a no-op where the compiler has no builtin).
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

/// The architecture every CPU of the target family has: sse2 on x86-64, neon64 on AArch64.
#if XSIMD_WITH_NEON64
using baseline_arch = xsimd::neon64;
#elif XSIMD_WITH_SSE2
using baseline_arch = xsimd::sse2;
#else
using baseline_arch = default_arch;
#endif

/// The architectures a translation unit built with the current flags can instantiate side by
/// side and the tests run: the widest and the baseline (one entry when they coincide). A
/// std::tuple, so it plugs into Catch2's TEMPLATE_LIST_TEST_CASE.
using build_archs =
    std::conditional_t<std::is_same<default_arch, baseline_arch>::value, std::tuple<default_arch>,
                       std::tuple<default_arch, baseline_arch>>;

}  // namespace evit::simd
