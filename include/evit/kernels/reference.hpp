// SPDX-License-Identifier: MIT
// Scalar double-precision references of every kernel in evit/kernels/, shipped so that users
// can validate their own kernels and cost models (as XNNPACK ships src/reference/). Each takes
// the same inputs as its kernel (any element type T) and writes `double` outputs; they are
// written straight from the definitions in docs/elasticvit.md and PyTorch's
// semantics, never from the optimised code, and are slow on purpose. They allocate freely.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/attention.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {
namespace reference {

/// The activation `a` at x, in double.
inline double activate(activation a, double x) {
  switch (a) {
    case activation::relu:
      return x > 0 ? x : 0;
    case activation::hardswish:
      return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    case activation::hardsigmoid:
      return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    case activation::gelu_erf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case activation::gelu_tanh: {
      const double c = std::sqrt(2.0 / 3.14159265358979323846);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
    case activation::none:
      break;
  }
  return x;
}

/// The epilogue of kernels/epilogue.hpp applied to the exact product `acc` of output (i, j);
/// `old` is the previous output value (used when ep.accumulate).
template <class T>
double apply_epilogue(double acc, Index i, Index j, const epilogue<T>& ep, double old) {
  double v = acc * double(ep.alpha) * (ep.row_scale ? double(ep.row_scale[i]) : 1.0);
  if (ep.row_bias) v += double(ep.row_bias[i]);
  if (ep.col_scale) v *= double(ep.col_scale[j]);
  if (ep.col_bias) v += double(ep.col_bias[j]);
  v = activate(ep.act, v);
  return ep.accumulate ? old + v : v;
}

/// gemm_nt: C = ep(A · Bᵀ). `C_old` (same layout as C, may be null when !ep.accumulate) holds
/// the output before the call.
template <class T>
void gemm_nt(Index M, Index N, Index K, const T* A, Index lda, const T* B, Index ldb, double* C,
             Index ldc, const epilogue<T>& ep = {}, const T* C_old = nullptr, Index ld_old = 0) {
  for (Index i = 0; i < M; ++i)
    for (Index j = 0; j < N; ++j) {
      double s = 0;
      for (Index k = 0; k < K; ++k) s += double(A[i * lda + k]) * double(B[j * ldb + k]);
      C[i * ldc + j] = apply_epilogue(s, i, j, ep, C_old ? double(C_old[i * ld_old + j]) : 0.0);
    }
}

/// gemm_nn: C = ep(A · B).
template <class T>
void gemm_nn(Index M, Index N, Index K, const T* A, Index lda, const T* B, Index ldb, double* C,
             Index ldc, const epilogue<T>& ep = {}, const T* C_old = nullptr, Index ld_old = 0) {
  for (Index i = 0; i < M; ++i)
    for (Index j = 0; j < N; ++j) {
      double s = 0;
      for (Index k = 0; k < K; ++k) s += double(A[i * lda + k]) * double(B[k * ldb + j]);
      C[i * ldc + j] = apply_epilogue(s, i, j, ep, C_old ? double(C_old[i * ld_old + j]) : 0.0);
    }
}

/// linear: y = act(x · W[r0 : r0 + out, :in]ᵀ + bias[r0 : r0 + out]).
template <class T>
void linear(Index rows, Index in, Index out, const T* x, Index ldx, const T* w, Index ldw, Index r0,
            const T* bias, double* y, Index ldy, activation act = activation::none) {
  for (Index r = 0; r < rows; ++r)
    for (Index o = 0; o < out; ++o) {
      double s = bias ? double(bias[r0 + o]) : 0.0;
      for (Index k = 0; k < in; ++k) s += double(x[r * ldx + k]) * double(w[(r0 + o) * ldw + k]);
      y[r * ldy + o] = activate(act, s);
    }
}

/// softmax over each row, in double.
template <class T>
void softmax_rows(Index rows, Index cols, const T* x, Index ldx, double* y, Index ldy) {
  for (Index r = 0; r < rows; ++r) {
    double m = -INFINITY;
    for (Index c = 0; c < cols; ++c) m = std::max(m, double(x[r * ldx + c]));
    double s = 0;
    for (Index c = 0; c < cols; ++c) s += std::exp(double(x[r * ldx + c]) - m);
    for (Index c = 0; c < cols; ++c) y[r * ldy + c] = std::exp(double(x[r * ldx + c]) - m) / s;
  }
}

/// Per-token LayerNorm (biased variance).
template <class T>
void layer_norm_rows(Index rows, Index C, const T* x, Index ldx, const T* gamma, const T* beta,
                     double eps, double* y, Index ldy) {
  for (Index r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (Index c = 0; c < C; ++c) m += double(x[r * ldx + c]);
    m /= double(C);
    for (Index c = 0; c < C; ++c) v += (double(x[r * ldx + c]) - m) * (double(x[r * ldx + c]) - m);
    v /= double(C);
    for (Index c = 0; c < C; ++c)
      y[r * ldy + c] =
          (double(x[r * ldx + c]) - m) / std::sqrt(v + eps) * (gamma ? double(gamma[c]) : 1.0) +
          (beta ? double(beta[c]) : 0.0);
  }
}

/// ElasticViT's LNSuper: F.layer_norm over (N, C) jointly, then gamma[c], beta[c].
template <class T>
void sample_norm(Index N, Index C, const T* x, Index ldx, const T* gamma, const T* beta, double eps,
                 double* y, Index ldy) {
  double m = 0, v = 0;
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c) m += double(x[n * ldx + c]);
  m /= double(N * C);
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c) v += (double(x[n * ldx + c]) - m) * (double(x[n * ldx + c]) - m);
  v /= double(N * C);
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c)
      y[n * ldy + c] =
          (double(x[n * ldx + c]) - m) / std::sqrt(v + eps) * (gamma ? double(gamma[c]) : 1.0) +
          (beta ? double(beta[c]) : 0.0);
}

/// BatchNorm (inference) of channel c at value x.
template <class T>
double batch_norm(const batch_norm_params<T>& bn, Index c, double x) {
  return (x - double(bn.mean[c])) / std::sqrt(double(bn.var[c]) + double(bn.eps)) *
             (bn.gamma ? double(bn.gamma[c]) : 1.0) +
         (bn.beta ? double(bn.beta[c]) : 0.0);
}

/// batch_norm_nchw: C planes of HW.
template <class T>
void batch_norm_nchw(Index C, Index HW, const T* x, const batch_norm_params<T>& bn, double* y,
                     activation act = activation::none) {
  for (Index c = 0; c < C; ++c)
    for (Index p = 0; p < HW; ++p)
      y[c * HW + p] = activate(act, batch_norm(bn, c, double(x[c * HW + p])));
}

/// batch_norm_rows: channels last.
template <class T>
void batch_norm_rows(Index rows, Index C, const T* x, Index ldx, const batch_norm_params<T>& bn,
                     double* y, Index ldy, activation act = activation::none) {
  for (Index r = 0; r < rows; ++r)
    for (Index c = 0; c < C; ++c)
      y[r * ldy + c] = activate(act, batch_norm(bn, c, double(x[r * ldx + c])));
}

/// Depthwise k x k convolution, stride s, padding k/2 (PyTorch conv2d with groups = C), kernel
/// of channel c = the centred k x k crop of a w_side x w_side supernet kernel; then `ep`.
/// `y_old` (C planes, may be null when !ep.accumulate) holds the output before the call.
template <class T>
void depthwise_conv2d(Index C, Index H, Index W, const T* x, Index k, Index stride, const T* w,
                      Index w_side, double* y, const epilogue<T>& ep = {},
                      const T* y_old = nullptr) {
  const Index p = k / 2, off = (w_side - k) / 2;
  const Index Ho = (H + 2 * p - k) / stride + 1, Wo = (W + 2 * p - k) / stride + 1;
  for (Index c = 0; c < C; ++c)
    for (Index oy = 0; oy < Ho; ++oy)
      for (Index ox = 0; ox < Wo; ++ox) {
        double s = 0;
        for (Index ky = 0; ky < k; ++ky)
          for (Index kx = 0; kx < k; ++kx) {
            const Index iy = oy * stride + ky - p, ix = ox * stride + kx - p;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            s += double(w[c * w_side * w_side + (off + ky) * w_side + off + kx]) *
                 double(x[(c * H + iy) * W + ix]);
          }
        const Index o = (c * Ho + oy) * Wo + ox;
        y[o] = apply_epilogue(s, c, ox, ep, y_old ? double(y_old[o]) : 0.0);
      }
}

/// 3x3 depthwise conv, padding 1, over a side x side token grid, channels last.
template <class T>
void depthwise_conv3x3_tokens(Index side, Index C, const T* x, Index ldx, const T* w, double* y,
                              Index ldy) {
  for (Index oy = 0; oy < side; ++oy)
    for (Index ox = 0; ox < side; ++ox)
      for (Index c = 0; c < C; ++c) {
        double s = 0;
        for (Index dy = -1; dy <= 1; ++dy)
          for (Index dx = -1; dx <= 1; ++dx) {
            const Index iy = oy + dy, ix = ox + dx;
            if (iy < 0 || iy >= side || ix < 0 || ix >= side) continue;
            s += double(w[c * 9 + (dy + 1) * 3 + (dx + 1)]) * double(x[(iy * side + ix) * ldx + c]);
          }
        y[(oy * side + ox) * ldy + c] = s;
      }
}

/// Dense convolution (groups = 1): first `out` filters, first `in` channels of [out_max, in_max,
/// k, k] (ldw = in_max k²), stride, padding; then `ep` with row = output channel.
template <class T>
void conv2d(Index out, Index in, Index H, Index W, const T* x, Index k, Index stride, Index pad,
            const T* w, Index ldw, double* y, const epilogue<T>& ep = {}) {
  const Index Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
  for (Index o = 0; o < out; ++o)
    for (Index oy = 0; oy < Ho; ++oy)
      for (Index ox = 0; ox < Wo; ++ox) {
        double s = 0;
        for (Index ci = 0; ci < in; ++ci)
          for (Index ky = 0; ky < k; ++ky)
            for (Index kx = 0; kx < k; ++kx) {
              const Index iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              s += double(w[o * ldw + (ci * k + ky) * k + kx]) * double(x[(ci * H + iy) * W + ix]);
            }
        y[(o * Ho + oy) * Wo + ox] = apply_epilogue(s, o, oy * Wo + ox, ep, 0.0);
      }
}

/// PyTorch avg_pool2d(x, kernel 2, stride 2, padding = side % 2, count_include_pad = True).
template <class T>
void avg_pool_2x2(Index C, Index H, Index W, const T* x, double* y) {
  const Index ph = H % 2, pw = W % 2;
  const Index Ho = (H + 2 * ph - 2) / 2 + 1, Wo = (W + 2 * pw - 2) / 2 + 1;
  for (Index c = 0; c < C; ++c)
    for (Index oy = 0; oy < Ho; ++oy)
      for (Index ox = 0; ox < Wo; ++ox) {
        double s = 0;
        for (Index dy = 0; dy < 2; ++dy)
          for (Index dx = 0; dx < 2; ++dx) {
            const Index iy = 2 * oy - ph + dy, ix = 2 * ox - pw + dx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += double(x[(c * H + iy) * W + ix]);
          }
        y[(c * Ho + oy) * Wo + ox] = s / 4.0;  // the window always spans 4 padded cells
      }
}

/// Squeeze-excite, out of place: y[c, p] = x[c, p] * hsig(W2 relu(W1 mean(x) + b1) + b2)[c].
template <class T>
void squeeze_excite(Index inner, Index reduced, Index HW, const T* x,
                    const squeeze_excite_weights<T>& se, double* y) {
  std::vector<double> pooled(inner), z(reduced);
  for (Index c = 0; c < inner; ++c) {
    double s = 0;
    for (Index p = 0; p < HW; ++p) s += double(x[c * HW + p]);
    pooled[c] = s / double(HW);
  }
  for (Index r = 0; r < reduced; ++r) {
    double s = se.b1 ? double(se.b1[r]) : 0.0;
    for (Index c = 0; c < inner; ++c) s += double(se.w1[r * se.ld1 + c]) * pooled[c];
    z[r] = activate(activation::relu, s);
  }
  for (Index c = 0; c < inner; ++c) {
    double s = se.b2 ? double(se.b2[c]) : 0.0;
    for (Index r = 0; r < reduced; ++r) s += double(se.w2[c * se.ld2 + r]) * z[r];
    const double g = activate(activation::hardsigmoid, s);
    for (Index p = 0; p < HW; ++p) y[c * HW + p] = double(x[c * HW + p]) * g;
  }
}

/// Multi-head attention of one sample (docs/elasticvit.md#attention): y = x · W'ᵀ with
/// W' = [Q block; K block; V block] (+ bias), split per head by `cfg.layout`, optional 3x3
/// conv on V, softmax(q kᵀ / sqrt(dqk) + B), concat, activation, proj. Output [N, out].
template <class T>
void attention(const attention_config& cfg, const attention_weights<T>& w, const T* x, Index ldx,
               double* out, Index ldo) {
  const Index N = cfg.tokens, h = cfg.heads, dqk = cfg.qk_dim, dv = cfg.v_dim, C = cfg.in;
  const Index S = 2 * dqk + dv, width = h * S;
  // Row of the supernet qkv weight behind output column j of y (the concatenated W').
  auto w_row = [&](Index j) {
    if (j < h * dqk) return w.q_row0 + j;
    if (j < 2 * h * dqk) return w.k_row0 + (j - h * dqk);
    return w.v_row0 + (j - 2 * h * dqk);
  };
  std::vector<double> y(N * width);
  for (Index n = 0; n < N; ++n)
    for (Index j = 0; j < width; ++j) {
      const Index r = w_row(j);
      double s = w.qkv_bias ? double(w.qkv_bias[r]) : 0.0;
      for (Index c = 0; c < C; ++c) s += double(x[n * ldx + c]) * double(w.qkv[r * w.qkv_ld + c]);
      y[n * width + j] = s;
    }
  // q/k/v of head i, element d, token n.
  auto q = [&](Index n, Index i, Index d) {
    return cfg.layout == qkv_layout::interleaved ? y[n * width + i * S + d]
                                                 : y[n * width + i * dqk + d];
  };
  auto k = [&](Index n, Index i, Index d) {
    return cfg.layout == qkv_layout::interleaved ? y[n * width + i * S + dqk + d]
                                                 : y[n * width + h * dqk + i * dqk + d];
  };
  auto v_raw = [&](Index n, Index i, Index d) {
    return cfg.layout == qkv_layout::interleaved ? y[n * width + i * S + 2 * dqk + d]
                                                 : y[n * width + 2 * h * dqk + i * dv + d];
  };
  // V after the optional depthwise conv: channel i * dv + t on the side x side grid.
  std::vector<double> v(N * h * dv);
  for (Index n = 0; n < N; ++n)
    for (Index i = 0; i < h; ++i)
      for (Index t = 0; t < dv; ++t) {
        if (!w.v_conv) {
          v[n * h * dv + i * dv + t] = v_raw(n, i, t);
          continue;
        }
        const Index side = cfg.side, oy = n / side, ox = n % side, ch = i * dv + t;
        double s = 0;
        for (Index dy = -1; dy <= 1; ++dy)
          for (Index dx = -1; dx <= 1; ++dx) {
            const Index iy = oy + dy, ix = ox + dx;
            if (iy < 0 || iy >= side || ix < 0 || ix >= side) continue;
            s += double(w.v_conv[ch * 9 + (dy + 1) * 3 + (dx + 1)]) * v_raw(iy * side + ix, i, t);
          }
        v[n * h * dv + i * dv + t] = s;
      }
  std::vector<double> o(N * h * dv), a(N);
  const double scale = 1.0 / std::sqrt(double(dqk));
  const Index R = w.rel_side_max;
  for (Index i = 0; i < h; ++i)
    for (Index p = 0; p < N; ++p) {
      double m = -INFINITY;
      for (Index qn = 0; qn < N; ++qn) {
        double s = 0;
        for (Index d = 0; d < dqk; ++d) s += q(p, i, d) * k(qn, i, d);
        s *= scale;
        if (w.rel_bias) {
          const Index y1 = p / cfg.side, x1 = p % cfg.side, y2 = qn / cfg.side, x2 = qn % cfg.side;
          const Index idx = (y1 - y2 + R - 1) * (2 * R - 1) + (x1 - x2 + R - 1);
          s += double(w.rel_bias[idx * w.rel_heads_max + i]);
        }
        a[qn] = s;
        m = std::max(m, s);
      }
      double z = 0;
      for (Index qn = 0; qn < N; ++qn) z += (a[qn] = std::exp(a[qn] - m));
      for (Index t = 0; t < dv; ++t) {
        double s = 0;
        for (Index qn = 0; qn < N; ++qn) s += a[qn] / z * v[qn * h * dv + i * dv + t];
        o[p * h * dv + i * dv + t] = activate(cfg.pre_proj, s);
      }
    }
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < cfg.out; ++c) {
      double s = w.proj_bias ? double(w.proj_bias[c]) : 0.0;
      for (Index j = 0; j < h * dv; ++j) s += o[n * h * dv + j] * double(w.proj[c * w.proj_ld + j]);
      out[n * ldo + c] = s;
    }
}

/// MLP: y = fc2(act(fc1(x))), hidden activations kept in double.
template <class T>
void mlp(Index rows, Index in, Index hidden, Index out, const T* x, Index ldx,
         const mlp_weights<T>& w, activation act, double* y, Index ldy) {
  std::vector<double> hbuf(hidden);
  for (Index r = 0; r < rows; ++r) {
    for (Index j = 0; j < hidden; ++j) {
      double s = w.fc1_bias ? double(w.fc1_bias[j]) : 0.0;
      for (Index c = 0; c < in; ++c) s += double(x[r * ldx + c]) * double(w.fc1[j * w.fc1_ld + c]);
      hbuf[j] = activate(act, s);
    }
    for (Index o = 0; o < out; ++o) {
      double s = w.fc2_bias ? double(w.fc2_bias[o]) : 0.0;
      for (Index j = 0; j < hidden; ++j) s += hbuf[j] * double(w.fc2[o * w.fc2_ld + j]);
      y[r * ldy + o] = s;
    }
  }
}

}  // namespace reference
}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
