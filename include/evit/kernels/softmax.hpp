// SPDX-License-Identifier: MIT
// Numerically stable softmax over rows, vectorised, in place (attention probabilities).
#pragma once

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

/// Elements of a row of `n` stored in whole vectors of Arch (softmax_row_unnormalised's rows).
template <class Arch, class T>
constexpr Index whole_vectors(Index n) noexcept {
  constexpr Index L = simd::lanes_v<T, Arch>;
  return (n + L - 1) / L * L;
}

/// exp(x + bias - max) over a row of n >= 1 logits (`bias` may be null), in place; returns
/// 1 / sum. The last vector, partly past n, takes the same path with its extra lanes as -inf
/// (exp: 0): no element takes a scalar path. With `whole`, the row (and `bias`) is stored in
/// whole_vectors<Arch, T>(n) elements and its lanes past n are set to 0; without, nothing past
/// n is read or written (masked loads and stores).
template <class Arch, class T>
inline T softmax_exp_row(T* x, const T* bias, Index n, bool whole) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index last = whole_vectors<Arch, T>(n) - L;  // the last vector, partly padding
  const int tail = int(n - last);
  auto load = [&](const T* p, Index i) {
    return whole || i < last ? B::load_unaligned(p + i) : simd::load_partial<Arch>(p + i, tail);
  };
  auto store = [&](const B& v, Index i) {
    if (whole || i < last)
      v.store_unaligned(x + i);
    else
      simd::store_partial(v, x + i, tail);
  };
  alignas(64) T lane[L];
  for (Index t = 0; t < L; ++t) lane[t] = T(t);
  const auto valid = B::load_aligned(lane) < B(T(tail));
  const B minus_inf(-std::numeric_limits<T>::infinity());
  B vm = minus_inf;
  for (Index i = 0; i <= last; i += L) {
    B v = load(x, i);
    if (bias) v = v + load(bias, i);
    if (i == last) v = xsimd::select(valid, v, minus_inf);
    if (bias || whole) store(v, i);
    vm = xsimd::max(vm, v);
  }
  T m = simd::reduce_max(vm);
  // A row of -inf (everything masked) stays finite: exp(-inf - 0) = 0, and the sum guard below.
  if (!(m > -std::numeric_limits<T>::infinity())) m = T(0);
  const B vmax(m);
  B vs(T(0));
  for (Index i = 0; i <= last; i += L) {
    B v = load(x, i);
    if (i == last && !whole) v = xsimd::select(valid, v, minus_inf);  // loaded as 0
    const B e = simd::exp_nonpositive(v - vmax);
    store(e, i);
    vs = vs + e;
  }
  const T s = simd::reduce_add(vs);
  return s > T(0) ? T(1) / s : T(0);
}

/// The unnormalised softmax of one row of n >= 1 logits (plus `bias`, when not null), in place:
/// x <- exp(x + bias - max), and returns 1 / sum (the caller scales, e.g. in the epilogue of the
/// product that reads the row). The row is stored in whole_vectors<Arch, T>(n) elements: the
/// lanes past n are scratch (set to 0 here); `bias` is read up to the same length (its values
/// past n are ignored).
template <class Arch, class T>
inline T softmax_row_unnormalised(T* x, const T* bias, Index n) noexcept {
  return softmax_exp_row<Arch>(x, bias, n, true);
}

/// Softmax of one row of n >= 1 elements, in place: x <- exp(x - max) / sum.
template <class Arch, class T>
inline void softmax_row(T* x, Index n) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const T inv = softmax_exp_row<Arch>(x, static_cast<const T*>(nullptr), n, false);
  const Index nv = n - n % L;
  const B vinv(inv);
  Index i = 0;
  for (; i < nv; i += L) (B::load_unaligned(x + i) * vinv).store_unaligned(x + i);
  for (; i < n; ++i) x[i] *= inv;
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
