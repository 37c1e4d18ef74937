// SPDX-License-Identifier: MIT
// Normalisations on sliced parameters (the first C entries of every supernet vector):
//   layer_norm_rows   per-token LayerNorm (AutoFormer, standard ViTs);
//   sample_norm       ElasticViT's "LayerNorm": one mean and variance over all N*C elements of a
//                     sample, then a per-channel affine (docs/elasticvit.md#normalisation);
//   batch_norm_*      BatchNorm in inference form on NCHW images or on channels-last rows;
//   fold_batch_norm   BatchNorm folded into the preceding convolution or linear layer.
// The GEMM and convolution epilogues take BatchNorm as row_scale/row_bias, computed by
// batch_norm_coefficients, which folds without copying any weight.
#pragma once

#include <cmath>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// BatchNorm statistics and affine parameters of a supernet layer; a layer with C active
/// channels reads entries [0, C) of each. Null gamma/beta mean 1/0 (affine = False).
template <class T>
struct batch_norm_params {
  const T* mean = nullptr;
  const T* var = nullptr;
  const T* gamma = nullptr;
  const T* beta = nullptr;
  T eps = T(1e-5);
};

namespace detail {

/// Sum and sum of squared deviations from `shift` of x[0, n), vector accumulators.
template <class Arch, class T>
inline void sums(const T* x, Index n, T shift, double& s1, double& s2) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  B a1(T(0)), a2(T(0)), b1(T(0)), b2(T(0));  // two chains each: add latency, not throughput
  const B vs(shift);
  Index i = 0;
  for (; i < n - n % (2 * L); i += 2 * L) {
    const B d = B::load_unaligned(x + i) - vs, e = B::load_unaligned(x + i + L) - vs;
    a1 = a1 + d;
    a2 = simd::fma(d, d, a2);
    b1 = b1 + e;
    b2 = simd::fma(e, e, b2);
  }
  if (i < n - n % L) {
    const B d = B::load_unaligned(x + i) - vs;
    a1 = a1 + d;
    a2 = simd::fma(d, d, a2);
    i += L;
  }
  double t1 = simd::reduce_add(a1 + b1), t2 = simd::reduce_add(a2 + b2);
  for (; i < n; ++i) {
    const double d = double(x[i]) - double(shift);
    t1 += d;
    t2 += d * d;
  }
  s1 += t1;
  s2 += t2;
}

/// y[0, n) = (x - mean) * rstd * gamma + beta (gamma/beta may be null).
template <class Arch, class T>
inline void normalize_row(const T* x, Index n, T mean, T rstd, const T* gamma, const T* beta,
                          T* y) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const B vm(mean), vr(rstd);
  Index i = 0;
  for (; i < n - n % L; i += L) {
    B v = (B::load_unaligned(x + i) - vm) * vr;
    if (gamma) v = v * B::load_unaligned(gamma + i);
    if (beta) v = v + B::load_unaligned(beta + i);
    v.store_unaligned(y + i);
  }
  for (; i < n; ++i) {
    T v = (x[i] - mean) * rstd;
    if (gamma) v *= gamma[i];
    if (beta) v += beta[i];
    y[i] = v;
  }
}

}  // namespace detail

/// Per-token LayerNorm: for each row, y = (x - mean) / sqrt(var + eps) * gamma[:C] + beta[:C],
/// mean and (biased) variance over the row's C elements. Statistics take one pass of float
/// vector accumulators (shifted by the row's first element), reduced in double.
/// @pre rows, C >= 0; ldx, ldy >= C; y may equal x (in place) but not overlap it otherwise.
template <class Arch = simd::default_arch, class T>
void layer_norm_rows(Index rows, Index C, const T* x, Index ldx, const T* gamma, const T* beta,
                     T eps, T* y, Index ldy) {
  EVIT_ASSERT(rows >= 0 && C >= 0 && ldx >= C && ldy >= C);
  if (C == 0) return;
  for (Index r = 0; r < rows; ++r) {
    const T* xr = x + r * ldx;
    // One pass: sums of d = x - x[0] and d²; shifting by a sample of the data keeps the
    // variance formula free of catastrophic cancellation when |mean| >> std.
    double d1 = 0, d2 = 0;
    detail::sums<Arch>(xr, C, xr[0], d1, d2);
    const double dm = d1 / double(C);
    const T mean = T(double(xr[0]) + dm);
    const double var = d2 / double(C) - dm * dm;
    const T rstd = T(1.0 / std::sqrt((var > 0 ? var : 0.0) + double(eps)));
    detail::normalize_row<Arch>(xr, C, mean, rstd, gamma, beta, y + r * ldy);
  }
}

/// ElasticViT's LNSuper on one sample of N tokens x C channels: one mean and one (biased)
/// variance over all N*C elements, then y[n, c] = (x[n, c] - mean) / sqrt(var + eps) * gamma[c]
/// + beta[c]. Equivalent to GroupNorm with one group followed by a per-channel affine.
/// @pre N, C >= 0; ldx, ldy >= C; y may equal x.
template <class Arch = simd::default_arch, class T>
void sample_norm(Index N, Index C, const T* x, Index ldx, const T* gamma, const T* beta, T eps,
                 T* y, Index ldy) {
  EVIT_ASSERT(N >= 0 && C >= 0 && ldx >= C && ldy >= C);
  if (N == 0 || C == 0) return;
  double d1 = 0, d2 = 0;  // one pass, shifted by x[0] (see layer_norm_rows)
  for (Index r = 0; r < N; ++r) detail::sums<Arch>(x + r * ldx, C, x[0], d1, d2);
  const double count = double(N) * double(C);
  const double dm = d1 / count;
  const T mean = T(double(x[0]) + dm);
  const double var = d2 / count - dm * dm;
  const T rstd = T(1.0 / std::sqrt((var > 0 ? var : 0.0) + double(eps)));
  for (Index r = 0; r < N; ++r)
    detail::normalize_row<Arch>(x + r * ldx, C, mean, rstd, gamma, beta, y + r * ldy);
}

/// Inference-form BatchNorm as a per-channel affine: scale[c] = gamma[c] / sqrt(var[c] + eps),
/// shift[c] = beta[c] - mean[c] * scale[c], for c in [0, C). Feed them to an epilogue as
/// row_scale/row_bias (NCHW) to fuse the BatchNorm into the convolution before it.
template <class T>
void batch_norm_coefficients(Index C, const batch_norm_params<T>& bn, T* scale, T* shift) {
  EVIT_ASSERT(C >= 0 && bn.mean != nullptr && bn.var != nullptr);
  for (Index c = 0; c < C; ++c) {
    const double s =
        (bn.gamma ? double(bn.gamma[c]) : 1.0) / std::sqrt(double(bn.var[c]) + double(bn.eps));
    scale[c] = T(s);
    shift[c] = T((bn.beta ? double(bn.beta[c]) : 0.0) - double(bn.mean[c]) * s);
  }
}

/// BatchNorm (inference) + activation on C channel planes of HW elements (NCHW, one image):
/// y[c, p] = act((x[c, p] - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c]).
/// @pre y may equal x.
template <class Arch = simd::default_arch, class T>
void batch_norm_nchw(Index C, Index HW, const T* x, const batch_norm_params<T>& bn, T* y,
                     activation act = activation::none) {
  EVIT_ASSERT(C >= 0 && HW >= 0);
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  detail::dispatch_activation(act, [&](auto tag) {
    constexpr activation A = decltype(tag)::value;
    for (Index c = 0; c < C; ++c) {
      T s, b;
      batch_norm_coefficients<T>(1,
                                 {bn.mean + c, bn.var + c, bn.gamma ? bn.gamma + c : nullptr,
                                  bn.beta ? bn.beta + c : nullptr, bn.eps},
                                 &s, &b);
      const T* xc = x + c * HW;
      T* yc = y + c * HW;
      Index i = 0;
      for (; i < HW - HW % L; i += L)
        detail::apply_vector<A>(simd::fma(B::load_unaligned(xc + i), B(s), B(b)))
            .store_unaligned(yc + i);
      if (const int tail = static_cast<int>(HW - i); tail > 0)  // as the lanes round it
        simd::store_partial<Arch>(
            detail::apply_vector<A>(simd::fma(simd::load_partial<Arch>(xc + i, tail), B(s), B(b))),
            yc + i, tail);
    }
  });
}

/// Workspace of batch_norm_rows: 2 * C elements (the per-channel scale and shift).
constexpr Index batch_norm_rows_workspace_size(Index C) { return 2 * C; }

/// BatchNorm (inference) + activation on channels-last rows (BatchNorm1d over tokens, as in
/// ElasticViT's head): y[r, c] = act(x[r, c] * scale[c] + shift[c]).
/// @param ws,ws_size workspace of batch_norm_rows_workspace_size(C) elements.
/// @pre ldx, ldy >= C; y may equal x.
template <class Arch = simd::default_arch, class T>
void batch_norm_rows(Index rows, Index C, const T* x, Index ldx, const batch_norm_params<T>& bn,
                     T* y, Index ldy, activation act, T* ws, Index ws_size) {
  EVIT_ASSERT(rows >= 0 && C >= 0 && ldx >= C && ldy >= C);
  EVIT_ASSERT(ws_size >= batch_norm_rows_workspace_size(C) && (C == 0 || ws != nullptr));
  (void)ws_size;
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  T* scale = ws;
  T* shift = ws + C;
  batch_norm_coefficients(C, bn, scale, shift);
  detail::dispatch_activation(act, [&](auto tag) {
    constexpr activation A = decltype(tag)::value;
    for (Index r = 0; r < rows; ++r) {
      const T* xr = x + r * ldx;
      T* yr = y + r * ldy;
      Index i = 0;
      for (; i < C - C % L; i += L)
        detail::apply_vector<A>(simd::fma(B::load_unaligned(xr + i), B::load_unaligned(scale + i),
                                          B::load_unaligned(shift + i)))
            .store_unaligned(yr + i);
      if (const int tail = static_cast<int>(C - i); tail > 0)  // as the lanes round it
        simd::store_partial<Arch>(
            detail::apply_vector<A>(simd::fma(simd::load_partial<Arch>(xr + i, tail),
                                              simd::load_partial<Arch>(scale + i, tail),
                                              simd::load_partial<Arch>(shift + i, tail))),
            yr + i, tail);
    }
  });
}

/// Folds an inference BatchNorm into the layer before it, writing a new weight and bias:
/// w_out[o, :] = w[o, 0 : cols] * scale[o], b_out[o] = (bias[o] - mean[o]) * scale[o] + beta[o]
/// for o in [0, rows), with scale = gamma / sqrt(var + eps). `cols` is the flattened per-output
/// weight length of the active slice (in for a linear layer, in/groups * kh * kw for a
/// convolution whose kernel is not cropped). This writes a copy, by nature: use it to cache a
/// folded subnet; the zero-copy alternative is an epilogue with batch_norm_coefficients.
/// @param bias the layer's supernet bias (first `rows` entries) or nullptr.
template <class T>
void fold_batch_norm(Index rows, Index cols, const T* w, Index ldw, const T* bias,
                     const batch_norm_params<T>& bn, T* w_out, Index ld_out, T* b_out) {
  EVIT_ASSERT(rows >= 0 && cols >= 0 && ldw >= cols && ld_out >= cols);
  for (Index o = 0; o < rows; ++o) {
    const double s =
        (bn.gamma ? double(bn.gamma[o]) : 1.0) / std::sqrt(double(bn.var[o]) + double(bn.eps));
    for (Index k = 0; k < cols; ++k) w_out[o * ld_out + k] = T(double(w[o * ldw + k]) * s);
    const double b = bias ? double(bias[o]) : 0.0;
    b_out[o] = T((b - double(bn.mean[o])) * s + (bn.beta ? double(bn.beta[o]) : 0.0));
  }
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_NORM_INSTANCES(EXTERN, A)                                                            \
  EXTERN template void layer_norm_rows<A, float>(Index, Index, const float*, Index, const float*, \
                                                 const float*, float, float*, Index);             \
  EXTERN template void sample_norm<A, float>(Index, Index, const float*, Index, const float*,     \
                                             const float*, float, float*, Index);                 \
  EXTERN template void batch_norm_nchw<A, float>(                                                 \
      Index, Index, const float*, const batch_norm_params<float>&, float*, activation);           \
  EXTERN template void batch_norm_rows<A, float>(Index, Index, const float*, Index,               \
                                                 const batch_norm_params<float>&, float*, Index,  \
                                                 activation, float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_NORM_INSTANCES)
#undef EVIT_NORM_INSTANCES

template <>
inline void layer_norm_rows<simd::dispatched, float>(Index rows, Index C, const float* x, Index ldx,
                                                     const float* gamma, const float* beta,
                                                     float eps, float* y, Index ldy) {
  simd::dispatch([&](auto arch) {
    layer_norm_rows<decltype(arch)>(rows, C, x, ldx, gamma, beta, eps, y, ldy);
  });
}

template <>
inline void sample_norm<simd::dispatched, float>(Index N, Index C, const float* x, Index ldx,
                                                 const float* gamma, const float* beta, float eps,
                                                 float* y, Index ldy) {
  simd::dispatch(
      [&](auto arch) { sample_norm<decltype(arch)>(N, C, x, ldx, gamma, beta, eps, y, ldy); });
}

template <>
inline void batch_norm_nchw<simd::dispatched, float>(Index C, Index HW, const float* x,
                                                     const batch_norm_params<float>& bn, float* y,
                                                     activation act) {
  simd::dispatch([&](auto arch) { batch_norm_nchw<decltype(arch)>(C, HW, x, bn, y, act); });
}

template <>
inline void batch_norm_rows<simd::dispatched, float>(Index rows, Index C, const float* x, Index ldx,
                                                     const batch_norm_params<float>& bn, float* y,
                                                     Index ldy, activation act, float* ws,
                                                     Index ws_size) {
  simd::dispatch([&](auto arch) {
    batch_norm_rows<decltype(arch)>(rows, C, x, ldx, bn, y, ldy, act, ws, ws_size);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
