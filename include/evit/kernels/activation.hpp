// SPDX-License-Identifier: MIT
// Element-wise activations (ReLU, Hardswish, Hardsigmoid, GELU erf/tanh) on vectors, in place
// on strided rows. The GEMM and convolution epilogues (kernels/epilogue.hpp)
// reuse the same per-element functions, so a fused activation is bit-identical to this one.
#pragma once

#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// The activations ElasticViT and AutoFormer use. `none` is the identity.
enum class activation { none, relu, hardswish, hardsigmoid, gelu_erf, gelu_tanh };

/// Printable name ("hardswish", ...).
inline const char* activation_name(activation a) noexcept {
  switch (a) {
    case activation::none:
      return "none";
    case activation::relu:
      return "relu";
    case activation::hardswish:
      return "hardswish";
    case activation::hardsigmoid:
      return "hardsigmoid";
    case activation::gelu_erf:
      return "gelu_erf";
    case activation::gelu_tanh:
      return "gelu_tanh";
  }
  return "?";
}

namespace detail {

template <activation A>
using act_tag = std::integral_constant<activation, A>;

/// Calls `f(act_tag<a>{})`: one switch per call turns the run-time activation into a
/// compile-time one, so inner loops carry no branch.
template <class F>
inline decltype(auto) dispatch_activation(activation a, F&& f) {
  switch (a) {
    case activation::relu:
      return f(act_tag<activation::relu>{});
    case activation::hardswish:
      return f(act_tag<activation::hardswish>{});
    case activation::hardsigmoid:
      return f(act_tag<activation::hardsigmoid>{});
    case activation::gelu_erf:
      return f(act_tag<activation::gelu_erf>{});
    case activation::gelu_tanh:
      return f(act_tag<activation::gelu_tanh>{});
    case activation::none:
      break;
  }
  return f(act_tag<activation::none>{});
}

// Hardswish = x * relu6(x + 3) / 6 and Hardsigmoid = relu6(x + 3) / 6, as PyTorch defines them.
// GELU(erf) = x/2 (1 + erf(x / sqrt 2)); GELU(tanh) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715
// x^3))). Vector forms only: a row's tail runs as a partial vector, so that every element of
// every kernel gets the same bits, wherever a row ends (see activate_span).

// The GELUs' erf and tanh are long polynomials: inlined into every tile that applies them they
// were a quarter of each ISA unit's code, for an epilogue that runs once per output vector.
template <activation A, class T, class Arch>
[[gnu::noinline]] xsimd::batch<T, Arch> apply_gelu(xsimd::batch<T, Arch> x) noexcept {
  using B = xsimd::batch<T, Arch>;
  if constexpr (A == activation::gelu_erf) {
    return B(T(0.5)) * x * (B(T(1)) + xsimd::erf(x * B(T(0.70710678118654752440))));
  } else {
    const B u = B(T(0.79788456080286535588)) * (x + B(T(0.044715)) * x * x * x);
    return B(T(0.5)) * x * (B(T(1)) + xsimd::tanh(u));
  }
}

template <activation A, class T, class Arch>
inline xsimd::batch<T, Arch> apply_vector(const xsimd::batch<T, Arch>& x) noexcept {
  using B = xsimd::batch<T, Arch>;
  if constexpr (A == activation::relu) {
    return xsimd::max(x, B(T(0)));
  } else if constexpr (A == activation::hardswish) {
    const B r = xsimd::min(xsimd::max(x + B(T(3)), B(T(0))), B(T(6)));
    return x * r * B(T(1.0 / 6.0));
  } else if constexpr (A == activation::hardsigmoid) {
    return xsimd::min(xsimd::max(x + B(T(3)), B(T(0))), B(T(6))) * B(T(1.0 / 6.0));
  } else if constexpr (A == activation::gelu_erf || A == activation::gelu_tanh) {
    return apply_gelu<A>(x);
  } else {
    static_assert(A == activation::none, "run_time_activation: call apply_vector<A>(x, a)");
    return x;
  }
}

/// The activation that the GEMM and convolution tiles read at run time (apply_vector<A>(x, a)):
/// their tiles are compiled for none and hardswish (ElasticViT's epilogues, on its hot paths)
/// and once for this, which switches per vector over ReLU, Hardsigmoid and the GELUs. Six copies
/// of every tile were most of each ISA unit's compile time; the switch is one predictable branch
/// per output vector, and each case is the same per-element function: the same bits.
inline constexpr activation run_time_activation = static_cast<activation>(-1);

/// dispatch_activation for the tile kernels: f(act_tag<none>), f(act_tag<hardswish>) or
/// f(act_tag<run_time_activation>).
template <class F>
inline decltype(auto) dispatch_epilogue_activation(activation a, F&& f) {
  if (a == activation::none) return f(act_tag<activation::none>{});
  if (a == activation::hardswish) return f(act_tag<activation::hardswish>{});
  return f(act_tag<run_time_activation>{});
}

/// apply_vector<A>(x), or with A == run_time_activation, apply_vector<a>(x).
template <activation A, class T, class Arch>
inline xsimd::batch<T, Arch> apply_vector(const xsimd::batch<T, Arch>& x, activation a) noexcept {
  if constexpr (A != run_time_activation)
    return apply_vector<A>(x);
  else
    return dispatch_activation(a, [&](auto tag) { return apply_vector<decltype(tag)::value>(x); });
}

// A row's tail (fewer than a vector) goes through the vector form as one partial vector: a
// scalar GELU (std::erf, std::tanh) differed from xsimd's polynomials in the last bits, and a
// value's bits must not depend on where a row ends.
template <activation A, class Arch, class T>
inline void activate_span(T* x, Index n) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index nv = n - n % L;
  for (Index i = 0; i < nv; i += L)
    apply_vector<A>(B::load_unaligned(x + i)).store_unaligned(x + i);
  if (const int tail = static_cast<int>(n - nv); tail > 0)
    simd::store_partial<Arch>(apply_vector<A>(simd::load_partial<Arch>(x + nv, tail)), x + nv,
                              tail);
}

}  // namespace detail

/// Applies `a` in place to `x[0, n)`.
/// @pre n >= 0; x != nullptr when n > 0.
template <class Arch = simd::default_arch, class T>
void activate(activation a, T* x, Index n) {
  EVIT_ASSERT(n >= 0 && (n == 0 || x != nullptr));
  detail::dispatch_activation(
      a, [&](auto tag) { detail::activate_span<decltype(tag)::value, Arch>(x, n); });
}

/// Applies `a` in place to rows x rows of `cols` elements, `ld` apart (reads and writes exactly
/// `[0, rows) x [0, cols)`).
/// @pre rows, cols >= 0; ld >= cols.
template <class Arch = simd::default_arch, class T>
void activate_rows(activation a, T* x, Index rows, Index cols, Index ld) {
  EVIT_ASSERT(rows >= 0 && cols >= 0 && ld >= cols);
  if (a == activation::none) return;
  detail::dispatch_activation(a, [&](auto tag) {
    for (Index r = 0; r < rows; ++r)
      detail::activate_span<decltype(tag)::value, Arch>(x + r * ld, cols);
  });
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_ACTIVATION_INSTANCES(EXTERN, A)                          \
  EXTERN template void activate<A, float>(activation, float*, Index); \
  EXTERN template void activate_rows<A, float>(activation, float*, Index, Index, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_ACTIVATION_INSTANCES)
#undef EVIT_ACTIVATION_INSTANCES

template <>
inline void activate<simd::dispatched, float>(activation a, float* x, Index n) {
  simd::dispatch([&](auto arch) { activate<decltype(arch)>(a, x, n); });
}

template <>
inline void activate_rows<simd::dispatched, float>(activation a, float* x, Index rows, Index cols,
                                                   Index ld) {
  simd::dispatch([&](auto arch) { activate_rows<decltype(arch)>(a, x, rows, cols, ld); });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
