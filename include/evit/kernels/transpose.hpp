// SPDX-License-Identifier: MIT
// A matrix transpose in L x L blocks of vectors (simd::transpose): how the forward turns a conv
// stage's NCHW planes into tokens and back. Element by element, each write lands a row of the
// output apart from the last (a cache line per element): a 48-channel 28 x 28 map took 23 us
// that way, 5.1 us in blocks (evit_bench_kernels transpose, AMD Zen 4, AVX-512).
#pragma once

#include <algorithm>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// y[j * ldy + i] = x[i * ldx + j] for i < rows, j < cols: x [rows, cols] -> y [cols, rows].
/// Moves values only (the same bits). Reads exactly those rows * cols elements of x and writes
/// exactly those of y.
/// @pre rows, cols >= 0; ldx >= cols; ldy >= rows; x and y do not overlap.
template <class Arch = simd::default_arch, class T>
void transpose(Index rows, Index cols, const T* x, Index ldx, T* y, Index ldy) {
  EVIT_ASSERT(rows >= 0 && cols >= 0 && ldx >= cols && ldy >= rows);
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = B::size;
  for (Index i0 = 0; i0 < rows; i0 += L) {
    const Index ni = std::min(L, rows - i0);
    for (Index j0 = 0; j0 < cols; j0 += L) {
      const Index nj = std::min(L, cols - j0);
      B v[L];
      for (Index i = 0; i < L; ++i) {
        const T* src = x + (i0 + i) * ldx + j0;
        v[i] = i >= ni   ? B(T(0))
               : nj == L ? B::load_unaligned(src)
                         : simd::load_partial<Arch>(src, int(nj));
      }
      simd::transpose(v);  // v[j] holds column j0 + j of rows i0 .. i0 + L - 1
      for (Index j = 0; j < nj; ++j) {
        T* dst = y + (j0 + j) * ldy + i0;
        if (ni == L)
          v[j].store_unaligned(dst);
        else
          simd::store_partial(v[j], dst, int(ni));
      }
    }
  }
}

/// transpose of contiguous matrices: x [rows, cols] -> y [cols, rows].
template <class Arch = simd::default_arch, class T>
void transpose(Index rows, Index cols, const T* x, T* y) {
  transpose<Arch>(rows, cols, x, cols, y, rows);
}

// The entry point for float: compiled once per ISA in a dispatching program (simd/isa.hpp), and
// run through simd::dispatch() when called with simd::dispatched.
#define EVIT_TRANSPOSE_INSTANCES(EXTERN, A)                                     \
  EXTERN template void transpose<A, float>(Index, Index, const float*, float*); \
  EXTERN template void transpose<A, float>(Index, Index, const float*, Index, float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_TRANSPOSE_INSTANCES)
#undef EVIT_TRANSPOSE_INSTANCES

template <>
inline void transpose<simd::dispatched, float>(Index rows, Index cols, const float* x, float* y) {
  simd::dispatch([&](auto arch) { transpose<decltype(arch)>(rows, cols, x, y); });
}

template <>
inline void transpose<simd::dispatched, float>(Index rows, Index cols, const float* x, Index ldx,
                                               float* y, Index ldy) {
  simd::dispatch([&](auto arch) { transpose<decltype(arch)>(rows, cols, x, ldx, y, ldy); });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
