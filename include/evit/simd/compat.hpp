// SPDX-License-Identifier: MIT
// The only file that knows xsimd versions and works around their defects: horizontal reductions,
// the transposing reduction, the transpose, fused multiply-add and softmax's exp. Read
// simd/arch.hpp next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "evit/simd/namespace.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace simd {

/// Sum of the lanes of `b` (xsimd 8.x `hadd`, 9.0+ `reduce_add`).
template <class T, class A>
inline T reduce_add(const xsimd::batch<T, A>& b) noexcept {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_add(b);
#else
  return xsimd::hadd(b);
#endif
}

/// Largest lane of `b` (9.0+ `reduce_max`; on 8.x a store and a scalar loop: it runs once per
/// row in softmax, never in an inner loop).
template <class T, class A>
inline T reduce_max(const xsimd::batch<T, A>& b) noexcept {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_max(b);
#else
  alignas(64) T lanes[xsimd::batch<T, A>::size];
  b.store_unaligned(lanes);
  T m = lanes[0];
  for (std::size_t i = 1; i < xsimd::batch<T, A>::size; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
#endif
}

/// Smallest lane of `b`.
template <class T, class A>
inline T reduce_min(const xsimd::batch<T, A>& b) noexcept {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_min(b);
#else
  alignas(64) T lanes[xsimd::batch<T, A>::size];
  b.store_unaligned(lanes);
  T m = lanes[0];
  for (std::size_t i = 1; i < xsimd::batch<T, A>::size; ++i) m = lanes[i] < m ? lanes[i] : m;
  return m;
#endif
}

namespace detail {
#if XSIMD_WITH_AVX2
/// The 8-lane mask of maskload / maskstore whose first n lanes are set (sign bits).
inline __m256i avx_lane_mask(int n) noexcept {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif
#if XSIMD_WITH_AVX512F
/// transpose_add for 16 rows of 16 floats. xsimd's haddp for avx512f (8.1.0, the Debian 12
/// package) returns its lanes out of order: inputs 2-5 land in outputs 4, 5, 2, 3 and inputs 10-13
/// in 12, 13, 10, 11, so every GEMM built on it is wrong. Later releases keep the same algorithm
/// and we know of none that fixes it, so evit always uses this one. A tree of pairwise sums:
/// rows 2k and 2k+1 interleaved within 128-bit lanes, then pairs of those, then 128-bit lanes
/// across registers, so output lane i is the sum of row i (tests/simd/test_primitives.cpp checks
/// every lane on every ISA).
inline __m512 transpose_add_16x16(const __m512* r) noexcept {
  __m512 pairs[8];  // pairs[k]: partial sums of rows 2k, 2k+1 interleaved in each 128-bit lane
  for (int k = 0; k < 8; ++k)
    pairs[k] = _mm512_add_ps(_mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]),
                             _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]));
  __m512 quads[4];  // quads[m]: 128-bit lane l holds the lane-l sums of rows 4m .. 4m+3
  for (int m = 0; m < 4; ++m) {
    const __m512d a = _mm512_castps_pd(pairs[2 * m]), b = _mm512_castps_pd(pairs[2 * m + 1]);
    quads[m] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // 128-bit lanes {0, 2} and {1, 3} of two quads side by side, added: half the lanes summed.
  auto fold = [](__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
  };
  return fold(fold(quads[0], quads[1]), fold(quads[2], quads[3]));
}
#endif
}  // namespace detail

/// a * b + c, rounded once where the ISA has fused multiply-add. xsimd 8.1 has no AVX-512 fma: its
/// generic a * b + c rounds twice and takes two instructions unless the compiler happens to fuse
/// them, so on AVX-512 this calls the instruction itself (tests/simd/test_primitives.cpp checks
/// every lane against std::fma).
template <class T, class A>
inline xsimd::batch<T, A> fma(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b,
                              const xsimd::batch<T, A>& c) noexcept {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of<xsimd::avx512f, A>::value && std::is_same<T, float>::value) {
    return _mm512_fmadd_ps(a, b, c);
  } else if constexpr (std::is_base_of<xsimd::avx512f, A>::value &&
                       std::is_same<T, double>::value) {
    return _mm512_fmadd_pd(a, b, c);
  } else
#endif
  {
    return xsimd::fma(a, b, c);
  }
}

/// The lanes [lo, hi) of a vector as bits (bit j: lane j; 0 <= lo, hi <= 32).
constexpr unsigned lane_bits(int lo, int hi) noexcept {
  return hi <= lo ? 0u : (hi >= 32 ? ~0u : (1u << hi) - 1u) & ~((1u << lo) - 1u);
}

/// The lanes of the vector at `p` whose bit is set in `bits` (lane_bits), the other lanes 0;
/// reads only those lanes' elements, so `p` itself may point before or past the buffer they lie
/// in (the edges of an unpadded image row; AVX-512: a masked load; AVX2: maskload; elsewhere a
/// copy through the stack).
template <class A, class T>
inline xsimd::batch<T, A> load_masked(const T* p, unsigned bits) noexcept {
  using B = xsimd::batch<T, A>;
  constexpr int L = static_cast<int>(B::size);
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of<xsimd::avx512f, A>::value && std::is_same<T, float>::value) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>(bits), p);
  } else
#endif
#if XSIMD_WITH_AVX2
      if constexpr (std::is_base_of<xsimd::avx2, A>::value && std::is_same<T, float>::value) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i set = _mm256_and_si256(_mm256_set1_epi32(int(bits)), bit);
    return _mm256_maskload_ps(p, _mm256_cmpeq_epi32(set, bit));
  } else
#endif
  {
    alignas(64) T lanes[L] = {};
    for (int t = 0; t < L; ++t)
      if (bits >> t & 1u) lanes[t] = p[t];
    return B::load_aligned(lanes);
  }
}

/// The first n lanes (0 <= n <= size) at `p`, the other lanes 0; reads nothing past p + n.
template <class A, class T>
inline xsimd::batch<T, A> load_partial(const T* p, int n) noexcept {
  return load_masked<A>(p, lane_bits(0, n));
}

/// Stores the first n lanes (0 <= n <= size) of `b` at `p`; writes nothing past p + n.
template <class A, class T>
inline void store_partial(const xsimd::batch<T, A>& b, T* p, int n) noexcept {
  constexpr int L = static_cast<int>(xsimd::batch<T, A>::size);
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_base_of<xsimd::avx512f, A>::value && std::is_same<T, float>::value) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), b);
  } else
#endif
#if XSIMD_WITH_AVX2
      if constexpr (std::is_base_of<xsimd::avx2, A>::value && std::is_same<T, float>::value) {
    _mm256_maskstore_ps(p, detail::avx_lane_mask(n), b);
  } else
#endif
  {
    alignas(64) T lanes[L];
    b.store_aligned(lanes);
    for (int t = 0; t < n; ++t) p[t] = lanes[t];
  }
}

namespace detail {

/// exp(x) / 2^k for k = round(x / ln 2): the range reduction and Cephes polynomial of xsimd's
/// exp, float (ln 2 in two parts: k * 0.693359375 is exact).
template <class A>
inline xsimd::batch<float, A> exp_reduced(const xsimd::batch<float, A>& x,
                                          const xsimd::batch<float, A>& k) noexcept {
  using B = xsimd::batch<float, A>;
  B r = simd::fma(k, B(-0.693359375f), x);
  r = simd::fma(k, B(2.12194440e-4f), r);
  B p = simd::fma(B(1.3997796e-03f), r, B(8.3955629e-03f));
  p = simd::fma(p, r, B(4.1665401e-02f));
  p = simd::fma(p, r, B(1.6666277e-01f));
  p = simd::fma(p, r, B(5.0000000e-01f));
  return simd::fma(p, r * r, r) + B(1.0f);
}

}  // namespace detail

/// exp(x) for x <= 0 (softmax's logits less their maximum), float: xsimd's range reduction and
/// polynomial (the same Cephes coefficients, fused multiply-adds through simd::fma) without its
/// overflow branch, which x <= 0 never takes, and with 2^k written into the exponent bits
/// directly. Below log(2^-126), where 2^k would leave the normal range, it returns 0 (xsimd
/// returns denormals down to -88.4: a difference under 1.2e-38). NaN stays NaN. Other types:
/// xsimd::exp.
template <class T, class A>
inline xsimd::batch<T, A> exp_nonpositive(const xsimd::batch<T, A>& x) noexcept {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    // The same steps in fewer instructions: k rounded in place (vrndscaleps, to nearest even as
    // nearbyint_as_int) and p * 2^k by vscalefps, exact wherever 2^k is normal, which is all
    // that the select keeps. The same bits as the generic path (test_primitives); softmax rows
    // of 16-256 took 0.86-0.99x the time (bench_kernels softmax, Zen 4).
    using B = xsimd::batch<float, A>;
    const B k(_mm512_roundscale_ps(x * B(1.44269504088896341f), _MM_FROUND_TO_NEAREST_INT));
    const B p = detail::exp_reduced(x, k);
    return xsimd::select(x < B(-87.3365478515625f), B(0.0f), B(_mm512_scalef_ps(p, k)));
  } else
#endif
      if constexpr (std::is_same<T, float>::value) {
    using B = xsimd::batch<float, A>;
    using I = xsimd::batch<std::int32_t, A>;
    const I ki = xsimd::nearbyint_as_int(x * B(1.44269504088896341f));  // x / ln 2
    const B p = detail::exp_reduced(x, xsimd::to_float(ki));
    const B two_k = xsimd::bitwise_cast<B>((ki + I(127)) << 23);
    return xsimd::select(x < B(-87.3365478515625f), B(0.0f), p * two_k);
  } else {
    return xsimd::exp(x);
  }
}

/// Transposing reduction: lane i of the result is the sum of the lanes of `rows[i]`, for the
/// `batch::size` batches at `rows` (xsimd's `haddp`, present from 8.x to 14.x, except on AVX-512
/// where it is wrong: detail::transpose_add_16x16). This is how the dot-product GEMM turns L
/// accumulators into L contiguous outputs with one vector store.
template <class T, class A>
inline xsimd::batch<T, A> transpose_add(const xsimd::batch<T, A>* rows) noexcept {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = rows[i];
    return detail::transpose_add_16x16(r);
  } else
#endif
  {
    return xsimd::haddp(rows);
  }
}

/// Transposes, in place, the L x L matrix whose row i is rows[i] (L = batch::size): afterwards
/// lane j of rows[i] holds what lane i of rows[j] held. Moves values only (the same bits).
/// Shuffle intrinsics for floats on AVX-512, AVX, SSE2 and NEON64, where xsimd 8.1 has no
/// transpose and its zip_lo/zip_hi interleave within 128-bit lanes on AVX and AVX-512 only;
/// elsewhere through memory (tests/simd/test_primitives.cpp checks every lane on every ISA).
template <class T, class A>
inline void transpose(xsimd::batch<T, A>* rows) noexcept {
  constexpr int L = static_cast<int>(xsimd::batch<T, A>::size);
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; ++i) r[i] = rows[i];
    // Within each 128-bit lane l: t[2k], t[2k+1] interleave rows 2k and 2k+1 (columns 4l..4l+3).
    for (int k = 0; k < 8; ++k) {
      t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    // r[4k + e], lane l: column 4l + e of rows 4k .. 4k+3.
    for (int k = 0; k < 4; ++k) {
      r[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
      r[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
      r[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
      r[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
    }
    // Column 4l + e gathers lane l of r[e], r[4 + e], r[8 + e], r[12 + e].
    for (int e = 0; e < 4; ++e) {
      const __m512 a = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88);  // lanes 0, 2
      const __m512 b = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xDD);  // lanes 1, 3
      const __m512 c = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88);
      const __m512 d = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xDD);
      rows[e] = _mm512_shuffle_f32x4(a, c, 0x88);
      rows[8 + e] = _mm512_shuffle_f32x4(a, c, 0xDD);
      rows[4 + e] = _mm512_shuffle_f32x4(b, d, 0x88);
      rows[12 + e] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
    return;
  } else
#endif
#if XSIMD_WITH_AVX
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx, A>::value &&
                    L == 8) {
    __m256 t[8], r[8];
    for (int k = 0; k < 4; ++k) {
      t[2 * k] = _mm256_unpacklo_ps(rows[2 * k], rows[2 * k + 1]);
      t[2 * k + 1] = _mm256_unpackhi_ps(rows[2 * k], rows[2 * k + 1]);
    }
    for (int k = 0; k < 2; ++k) {
      r[4 * k] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
      r[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
      r[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
      r[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
    }
    for (int e = 0; e < 4; ++e) {
      rows[e] = _mm256_permute2f128_ps(r[e], r[4 + e], 0x20);
      rows[4 + e] = _mm256_permute2f128_ps(r[e], r[4 + e], 0x31);
    }
    return;
  } else
#endif
#if XSIMD_WITH_SSE2
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::sse2, A>::value &&
                    L == 4) {
    __m128 r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    rows[0] = r0;
    rows[1] = r1;
    rows[2] = r2;
    rows[3] = r3;
    return;
  } else
#endif
#if XSIMD_WITH_NEON64
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::neon64, A>::value &&
                    L == 4) {
    const float32x4_t a = vtrn1q_f32(rows[0], rows[1]), b = vtrn2q_f32(rows[0], rows[1]);
    const float32x4_t c = vtrn1q_f32(rows[2], rows[3]), d = vtrn2q_f32(rows[2], rows[3]);
    auto lo = [](float32x4_t x, float32x4_t y) {
      return vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(x), vreinterpretq_f64_f32(y)));
    };
    auto hi = [](float32x4_t x, float32x4_t y) {
      return vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(x), vreinterpretq_f64_f32(y)));
    };
    rows[0] = lo(a, c);
    rows[1] = lo(b, d);
    rows[2] = hi(a, c);
    rows[3] = hi(b, d);
    return;
  } else
#endif
  {
    alignas(64) T m[L * L];
    for (int i = 0; i < L; ++i) rows[i].store_aligned(m + i * L);
    for (int i = 0; i < L; ++i)
      for (int j = i + 1; j < L; ++j) std::swap(m[i * L + j], m[j * L + i]);
    for (int i = 0; i < L; ++i) rows[i] = xsimd::batch<T, A>::load_aligned(m + i * L);
  }
}

#if XSIMD_WITH_AVX512F
namespace detail {
struct even_odd_512 {
  __m512 even, odd;
};
/// The even and the odd elements of the 32 floats a | b, in order (two-source permutes).
inline even_odd_512 split_even_odd_512(__m512 a, __m512 b) noexcept {
  const __m512i evens = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odds = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return {_mm512_permutex2var_ps(a, evens, b), _mm512_permutex2var_ps(a, odds, b)};
}
}  // namespace detail
#endif

/// The even and the odd elements of the 2L values a | b (a's lanes, then b's), in order: the
/// taps of a stride-2 row from two loaded vectors (AVX-512: two-source permutes; elsewhere
/// through the stack).
template <class T, class A>
inline std::pair<xsimd::batch<T, A>, xsimd::batch<T, A>> even_odd_lanes(
    const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b) noexcept {
  using B = xsimd::batch<T, A>;
  constexpr int L = static_cast<int>(B::size);
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    const auto eo = detail::split_even_odd_512(a, b);
    return {B(eo.even), B(eo.odd)};
  } else
#endif
  {
    alignas(64) T ab[2 * L], e[L], o[L];
    a.store_aligned(ab);
    b.store_aligned(ab + L);
    for (int j = 0; j < L; ++j) e[j] = ab[2 * j], o[j] = ab[2 * j + 1];
    return {B::load_aligned(e), B::load_aligned(o)};
  }
}

/// Lanes N .. N + L - 1 of the 2L values a | b (0 <= N < L): a shifted down by N lanes, b's
/// first N lanes after it (AVX-512: valignd; elsewhere through the stack).
template <int N, class T, class A>
inline xsimd::batch<T, A> lanes_from(const xsimd::batch<T, A>& a,
                                     const xsimd::batch<T, A>& b) noexcept {
  using B = xsimd::batch<T, A>;
  constexpr int L = static_cast<int>(B::size);
  static_assert(N >= 0 && N < L, "lanes_from: 0 <= N < lanes");
  if constexpr (N == 0) {
    return a;
  } else
#if XSIMD_WITH_AVX512F
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    return _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), N));
  } else
#endif
  {
    alignas(64) T ab[2 * L];
    a.store_aligned(ab);
    b.store_aligned(ab + L);
    return B::load_unaligned(ab + N);
  }
}

/// Splits the 2L values at `x` into their even elements (x[0], x[2], ...: L of them, to `even`)
/// and odd ones (to `odd`), unaligned (L = the lanes of xsimd::batch<T, A>). Moves values only
/// (the same bits). A strided-2 depthwise convolution splits its input rows so; as a plain loop
/// GCC made it lane-crossing permutes (vpermd), and on a Zen 2 the split took as long as the
/// convolution (perf). On AVX the halves are loaded crosswise so that one in-lane shuffle per
/// output does it; AVX-512 has a two-source permute; SSE2 a shuffle; NEON loads de-interleaved.
template <class T, class A>
inline void split_even_odd(const T* x, T* even, T* odd) noexcept {
  constexpr int L = static_cast<int>(xsimd::batch<T, A>::size);
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    const auto [e, o] = detail::split_even_odd_512(_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16));
    _mm512_storeu_ps(even, e);
    _mm512_storeu_ps(odd, o);
    return;
  } else
#endif
#if XSIMD_WITH_AVX
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx, A>::value &&
                    L == 8) {
    // t0 = x0..x3 | x8..x11 and t1 = x4..x7 | x12..x15: within each 128-bit lane, elements 0
    // and 2 of t0 then of t1 are the even ones in order, elements 1 and 3 the odd ones.
    const __m256 t0 =
        _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(x)), _mm_loadu_ps(x + 8), 1);
    const __m256 t1 =
        _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(x + 4)), _mm_loadu_ps(x + 12), 1);
    _mm256_storeu_ps(even, _mm256_shuffle_ps(t0, t1, 0x88));
    _mm256_storeu_ps(odd, _mm256_shuffle_ps(t0, t1, 0xDD));
    return;
  } else
#endif
#if XSIMD_WITH_SSE2
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::sse2, A>::value &&
                    L == 4) {
    const __m128 a = _mm_loadu_ps(x), b = _mm_loadu_ps(x + 4);
    _mm_storeu_ps(even, _mm_shuffle_ps(a, b, 0x88));
    _mm_storeu_ps(odd, _mm_shuffle_ps(a, b, 0xDD));
    return;
  } else
#endif
#if XSIMD_WITH_NEON64
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::neon64, A>::value &&
                    L == 4) {
    const float32x4x2_t v = vld2q_f32(x);
    vst1q_f32(even, v.val[0]);
    vst1q_f32(odd, v.val[1]);
    return;
  } else
#endif
  {
    for (int j = 0; j < L; ++j) {
      even[j] = x[2 * j];
      odd[j] = x[2 * j + 1];
    }
  }
}

/// split_even_odd for the first 2n values at `x` only (0 <= n <= L), in whole vectors: even[j] =
/// x[2j] and odd[j] = x[2j + 1] for j < n, and 0 for n <= j < L. Reads nothing past x + 2n;
/// writes L values at `even` and at `odd` (the ragged end of a zero-padded row, whose padding
/// and slack take the zeros: depthwise_plane_pitch). Masked loads around the same permutes as
/// split_even_odd, then plain stores; other ISAs element by element. The ragged ends of rows
/// whose half is not a multiple of L (28 or 56 pixels) took a tenth of a stride-2 depthwise
/// element by element (AVX-512), and on AVX2 their masked stores (vmaskmovps, slow on AMD
/// cores) took 17% of an MBConv of 32 -> 48 channels at 56 x 56 (perf): plain stores, below.
template <class T, class A>
inline void split_even_odd_padded(const T* x, int n, T* even, T* odd) noexcept {
  using B = xsimd::batch<T, A>;
  constexpr int L = static_cast<int>(B::size);
  [[maybe_unused]] auto halves = [&] {  // x[0, 2n) as two vectors, zero past 2n
    const B a = load_partial<A>(x, 2 * n < L ? 2 * n : L);
    const B b = 2 * n > L ? load_partial<A>(x + L, 2 * n - L) : B(T(0));
    return std::pair<B, B>(a, b);
  };
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, A>::value) {
    const auto [a, b] = halves();
    const auto [e, o] = detail::split_even_odd_512(a, b);
    B(e).store_unaligned(even);
    B(o).store_unaligned(odd);
    return;
  } else
#endif
#if XSIMD_WITH_AVX2
      if constexpr (std::is_same<T, float>::value && std::is_base_of<xsimd::avx2, A>::value &&
                    L == 8) {
    const auto [a, b] = halves();
    // As in split_even_odd: a.lo | b.lo and a.hi | b.hi, then one in-lane shuffle per output.
    const __m256 t0 = _mm256_permute2f128_ps(a, b, 0x20), t1 = _mm256_permute2f128_ps(a, b, 0x31);
    B(_mm256_shuffle_ps(t0, t1, 0x88)).store_unaligned(even);
    B(_mm256_shuffle_ps(t0, t1, 0xDD)).store_unaligned(odd);
    return;
  } else
#endif
  {
    for (int j = 0; j < L; ++j) {
      even[j] = j < n ? x[2 * j] : T(0);
      odd[j] = j < n ? x[2 * j + 1] : T(0);
    }
  }
}

/// Pins `b` to a register at this point of the program: an empty asm statement that the
/// compiler must assume reads and rewrites it. GCC otherwise folds one load into several FMA
/// instructions as memory operands and issues it once per FMA, which makes a register-tiled
/// loop load-bound on CPUs with two vector loads per cycle (Zen 3: 25% slower gemm_nt).
template <class T, class A>
inline void pin_register(xsimd::batch<T, A>& b) noexcept {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  using reg = typename xsimd::batch<T, A>::register_type;
  reg r = static_cast<reg>(b);
#if defined(__AVX512F__)
  __asm__("" : "+v"(r));  // any of the 32 EVEX registers
#else
  __asm__("" : "+x"(r));
#endif
  b = xsimd::batch<T, A>(r);
#elif defined(__GNUC__) && defined(__aarch64__)
  using reg = typename xsimd::batch<T, A>::register_type;
  reg r = static_cast<reg>(b);
  __asm__("" : "+w"(r));
  b = xsimd::batch<T, A>(r);
#else
  (void)b;
#endif
}

}  // namespace simd
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
