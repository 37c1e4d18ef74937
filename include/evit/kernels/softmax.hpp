// SPDX-License-Identifier: MIT
// Numerically stable softmax over rows, vectorised, in place (attention probabilities).
#pragma once

#include <cmath>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

namespace detail {

/// Softmax of one row of n >= 1 elements, in place: x <- exp(x - max) / sum.
template <class Arch, class T>
inline void softmax_row(T* x, Index n) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  T m = -std::numeric_limits<T>::infinity();
  const Index nv = n - n % L;
  Index i = 0;
  if (n >= L) {
    B vm = B::load_unaligned(x);
    for (i = L; i < nv; i += L) vm = xsimd::max(vm, B::load_unaligned(x + i));
    m = simd::reduce_max(vm);
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  // A row of -inf (everything masked) stays finite: exp(-inf - 0) = 0, and the sum guard below.
  if (!(m > -std::numeric_limits<T>::infinity())) m = T(0);
  B vs(T(0));
  const B vmax(m);
  for (i = 0; i < nv; i += L) {
    const B e = simd::exp_nonpositive(B::load_unaligned(x + i) - vmax);
    e.store_unaligned(x + i);
    vs = vs + e;
  }
  T s = simd::reduce_add(vs);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  const T inv = s > T(0) ? T(1) / s : T(0);
  const B vinv(inv);
  for (i = 0; i < nv; i += L) (B::load_unaligned(x + i) * vinv).store_unaligned(x + i);
  for (; i < n; ++i) x[i] *= inv;
}

/// Elements of a row of `n` stored in whole vectors of Arch (softmax_row_unnormalised's rows).
template <class Arch, class T>
constexpr Index whole_vectors(Index n) noexcept {
  constexpr Index L = simd::lanes_v<T, Arch>;
  return (n + L - 1) / L * L;
}

/// The unnormalised softmax of one row of n >= 1 logits (plus `bias`, when not null), in place:
/// x <- exp(x + bias - max), and returns 1 / sum (the caller scales, e.g. in the epilogue of the
/// product that reads the row). The row is stored in whole_vectors<Arch, T>(n) elements: the
/// lanes past n are scratch (set to 0 here), so that no element takes a scalar path; `bias` is
/// read up to the same length (its values past n are ignored).
template <class Arch, class T>
inline T softmax_row_unnormalised(T* x, const T* bias, Index n) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index last = whole_vectors<Arch, T>(n) - L;  // the last vector, partly padding
  alignas(64) T lane[L];
  for (Index t = 0; t < L; ++t) lane[t] = T(t);
  const auto valid = B::load_aligned(lane) < B(T(n - last));
  const B minus_inf(-std::numeric_limits<T>::infinity());
  B vm = minus_inf;
  for (Index i = 0; i <= last; i += L) {
    B v = B::load_unaligned(x + i);
    if (bias) v = v + B::load_unaligned(bias + i);
    if (i == last) v = xsimd::select(valid, v, minus_inf);
    v.store_unaligned(x + i);
    vm = xsimd::max(vm, v);
  }
  T m = simd::reduce_max(vm);
  // A row of -inf (everything masked) stays finite: exp(-inf - 0) = 0, and the sum guard below.
  if (!(m > -std::numeric_limits<T>::infinity())) m = T(0);
  const B vmax(m);
  B vs(T(0));
  for (Index i = 0; i <= last; i += L) {
    const B e = simd::exp_nonpositive(B::load_unaligned(x + i) - vmax);
    e.store_unaligned(x + i);
    vs = vs + e;
  }
  const T s = simd::reduce_add(vs);
  return s > T(0) ? T(1) / s : T(0);
}

}  // namespace detail

/// Row-wise softmax, in place, of `rows` rows of `cols` elements `ld` apart: each row becomes
/// exp(x - max(x)) / sum(exp(x - max(x))). Reads and writes exactly [0, rows) x [0, cols).
/// @pre rows, cols >= 0; ld >= cols.
template <class Arch = simd::default_arch, class T>
void softmax_rows(Index rows, Index cols, T* x, Index ld) {
  EVIT_ASSERT(rows >= 0 && cols >= 0 && ld >= cols);
  if (cols == 0) return;
  for (Index r = 0; r < rows; ++r) detail::softmax_row<Arch>(x + r * ld, cols);
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_SOFTMAX_INSTANCES(EXTERN, A) \
  EXTERN template void softmax_rows<A, float>(Index, Index, float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_SOFTMAX_INSTANCES)
#undef EVIT_SOFTMAX_INSTANCES

template <>
inline void softmax_rows<simd::dispatched, float>(Index rows, Index cols, float* x, Index ld) {
  simd::dispatch([&](auto arch) { softmax_rows<decltype(arch)>(rows, cols, x, ld); });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
