// SPDX-License-Identifier: MIT
// EVIT_ISA_NAMESPACE: the inline namespace of evit's SIMD-dependent layers. Read simd/arch.hpp
// next.
#pragma once

#include <xsimd/xsimd.hpp>

// The ISA mode of this translation unit, as a namespace name. evit's SIMD-dependent layers (simd,
// kernels, the models' forward passes, the cost models that run them) live in
// `namespace evit { inline namespace EVIT_ISA_NAMESPACE { ... } }`, so translation units built
// for different ISAs (say one with -mavx2 and one with -mavx512bw, neither dispatching) never
// share one of those functions: the linker would otherwise keep one copy of each inline function
// for the whole program, possibly built for an ISA the CPU lacks. Programs built with
// EVIT_DISPATCH share one mode whatever the flags of each unit.
#if defined(EVIT_DISPATCH)
#define EVIT_ISA_NAMESPACE isa_dispatch
#elif XSIMD_WITH_AVX512BW
#define EVIT_ISA_NAMESPACE isa_avx512bw
#elif XSIMD_WITH_AVX512DQ
#define EVIT_ISA_NAMESPACE isa_avx512dq
#elif XSIMD_WITH_AVX512CD
#define EVIT_ISA_NAMESPACE isa_avx512cd
#elif XSIMD_WITH_AVX512F
#define EVIT_ISA_NAMESPACE isa_avx512f
#elif XSIMD_WITH_FMA3_AVX2
#define EVIT_ISA_NAMESPACE isa_fma3_avx2
#elif XSIMD_WITH_AVX2
#define EVIT_ISA_NAMESPACE isa_avx2
#elif XSIMD_WITH_FMA3_AVX
#define EVIT_ISA_NAMESPACE isa_fma3_avx
#elif XSIMD_WITH_AVX
#define EVIT_ISA_NAMESPACE isa_avx
#elif XSIMD_WITH_SSE4_2
#define EVIT_ISA_NAMESPACE isa_sse4_2
#elif XSIMD_WITH_SSE4_1
#define EVIT_ISA_NAMESPACE isa_sse4_1
#elif XSIMD_WITH_SSSE3
#define EVIT_ISA_NAMESPACE isa_ssse3
#elif XSIMD_WITH_SSE3
#define EVIT_ISA_NAMESPACE isa_sse3
#elif XSIMD_WITH_SSE2
#define EVIT_ISA_NAMESPACE isa_sse2
#elif XSIMD_WITH_NEON64
#define EVIT_ISA_NAMESPACE isa_neon64
#elif XSIMD_WITH_NEON
#define EVIT_ISA_NAMESPACE isa_neon
#else
#define EVIT_ISA_NAMESPACE isa_scalar
#endif
