// SPDX-License-Identifier: MIT
// Opt-in separate compilation of the kernels' entry points for float. evit stays header-only:
// without either macro below nothing changes. A program with many translation units that all
// call the kernels (evit's own tests, benchmarks and examples) can compile them once instead:
//   EVIT_KERNELS_SEPARATE         in every translation unit: the entry points for float on the
//                                 build's archs are `extern template` (declared, not compiled);
//   EVIT_KERNELS_IMPLEMENTATION=1 in one translation unit: compiles them for simd::default_arch;
//   EVIT_KERNELS_IMPLEMENTATION=2 in another: for simd::baseline_arch, where it differs.
// Each kernel header ends with its list of entry points, expanded by EVIT_KERNELS_FOR_ARCHS.
#pragma once

#include <xsimd/xsimd.hpp>

#include "evit/simd/arch.hpp"

// On x86-64, any flag above SSE2 makes default_arch differ from baseline_arch (sse2); elsewhere
// the two coincide (simd/arch.hpp).
#if defined(EVIT_KERNELS_IMPLEMENTATION)
#define EVIT_KERNELS_EXTERN
#if EVIT_KERNELS_IMPLEMENTATION == 2
#if XSIMD_WITH_SSE3
#define EVIT_KERNELS_FOR_ARCHS(X) X(::evit::simd::baseline_arch)
#else
#define EVIT_KERNELS_FOR_ARCHS(X)
#endif
#else
#define EVIT_KERNELS_FOR_ARCHS(X) X(::evit::simd::default_arch)
#endif
#elif defined(EVIT_KERNELS_SEPARATE)
#define EVIT_KERNELS_EXTERN extern
#if XSIMD_WITH_SSE3
#define EVIT_KERNELS_FOR_ARCHS(X) X(::evit::simd::default_arch) X(::evit::simd::baseline_arch)
#else
#define EVIT_KERNELS_FOR_ARCHS(X) X(::evit::simd::default_arch)
#endif
#else
#define EVIT_KERNELS_FOR_ARCHS(X)
#endif
