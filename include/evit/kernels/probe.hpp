// SPDX-License-Identifier: MIT
// Probes of the machine's limits with the kernels' own ISA, which benchmarks divide the kernels'
// figures by: peak FMA rate (independent chains in registers), vector copy and vector read rates.
// Like every kernel they take the Arch (simd::dispatched in dispatching programs, so that the
// limits are measured with the ISA the kernels run on).
#pragma once

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// Independent FMA chains fma_chains() runs: enough to cover FMA latency x throughput (4 x 2)
/// with slack on every ISA evit targets.
inline constexpr int probe_chains = 12;

/// `iters` rounds of probe_chains independent FMA chains on full vectors of T: 2 * probe_chains *
/// lanes * iters floating-point operations, no memory traffic. Returns a value derived from every
/// chain (keep it, or the work is dead).
template <class Arch = simd::default_arch, class T>
T fma_chains(long iters, T seed) {
  using B = xsimd::batch<T, Arch>;
  B acc[probe_chains];
  for (int c = 0; c < probe_chains; ++c) acc[c] = B(seed + T(0.001) * T(c));
  const B m(T(0.9999)), a(T(0.0001));
  for (long i = 0; i < iters; ++i)
    for (int c = 0; c < probe_chains; ++c) acc[c] = simd::fma(acc[c], m, a);
  B s(T(0));
  for (int c = 0; c < probe_chains; ++c) s = s + acc[c];
  return simd::reduce_add(s);
}

/// dst[0, n) = src[0, n) with full-vector loads and stores: the copy an ideal streaming kernel
/// does (the ceiling of memory-bound ops).
template <class Arch = simd::default_arch, class T>
void vector_copy(const T* src, T* dst, Index n) {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  Index i = 0;
  for (; i < n - n % L; i += L) {
    B v = B::load_unaligned(src + i);
    simd::pin_register(v);  // keeps GCC from turning the loop back into a memcpy call
    v.store_unaligned(dst + i);
  }
  for (; i < n; ++i) dst[i] = src[i];
}

/// Sum of x[0, n) with four vector accumulators: a pure read stream (memory read rate).
template <class Arch = simd::default_arch, class T>
T vector_sum(const T* x, Index n) {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  B s0(T(0)), s1(T(0)), s2(T(0)), s3(T(0));
  Index i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 += B::load_unaligned(x + i);
    s1 += B::load_unaligned(x + i + L);
    s2 += B::load_unaligned(x + i + 2 * L);
    s3 += B::load_unaligned(x + i + 3 * L);
  }
  T sum = simd::reduce_add(s0 + s1 + s2 + s3);
  for (; i < n; ++i) sum += x[i];
  return sum;
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_PROBE_INSTANCES(EXTERN, A)                                    \
  EXTERN template float fma_chains<A, float>(long, float);                 \
  EXTERN template void vector_copy<A, float>(const float*, float*, Index); \
  EXTERN template float vector_sum<A, float>(const float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_PROBE_INSTANCES)
#undef EVIT_PROBE_INSTANCES

template <>
inline float fma_chains<simd::dispatched, float>(long iters, float seed) {
  return simd::dispatch([&](auto arch) { return fma_chains<decltype(arch)>(iters, seed); });
}

template <>
inline void vector_copy<simd::dispatched, float>(const float* src, float* dst, Index n) {
  simd::dispatch([&](auto arch) { vector_copy<decltype(arch)>(src, dst, n); });
}

template <>
inline float vector_sum<simd::dispatched, float>(const float* x, Index n) {
  return simd::dispatch([&](auto arch) { return vector_sum<decltype(arch)>(x, n); });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
