// SPDX-License-Identifier: MIT
// The only file that knows xsimd versions (STYLE.md §2.1, rule 1): horizontal reductions, the
// transposing reduction, and run-time availability of an arch. Read simd/arch.hpp next.
#pragma once

#include <cstddef>

#include <xsimd/xsimd.hpp>

namespace evit::simd {

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

/// Transposing reduction: lane i of the result is the sum of the lanes of `rows[i]`, for the
/// `batch::size` batches at `rows` (xsimd's `haddp`, present from 8.x to 14.x). This is how the
/// dot-product GEMM turns L accumulators into L contiguous outputs with one vector store.
template <class T, class A>
inline xsimd::batch<T, A> transpose_add(const xsimd::batch<T, A>* rows) noexcept {
  return xsimd::haddp(rows);
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

/// Whether the CPU running this program supports `A` (compile-time support is `A::supported()`).
/// 8.x compares version numbers with `available_architectures().best`; 13.0 removed both and
/// added `.has(A{})`.
template <class A>
inline bool is_available() noexcept {
#if XSIMD_VERSION_MAJOR >= 13
  return xsimd::available_architectures().has(A{});
#else
  return A::version() <= xsimd::available_architectures().best;
#endif
}

}  // namespace evit::simd
