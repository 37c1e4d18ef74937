// SPDX-License-Identifier: MIT
// The transformer MLP on sliced supernet weights: y = fc2(act(fc1(x))), fc1 = W1[:hidden, :C] +
// b1[:hidden], fc2 = W2[:out, :hidden] + b2[:out], hidden = floor(mlp_ratio * C)
// (docs/elasticvit.md#mlp).
// The activation is fused into fc1's epilogue and the residual add into fc2's.
#pragma once

#include <cmath>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// floor(ratio * C), the hidden width of an elastic MLP.
inline Index mlp_hidden(double ratio, Index C) {
  return static_cast<Index>(std::floor(ratio * double(C) + 1e-9));
}

/// The supernet tensors of one MLP, read in place.
template <class T>
struct mlp_weights {
  const T* fc1 = nullptr;       ///< [hidden_max, in_max]
  Index fc1_ld = 0;             ///< in_max
  const T* fc1_bias = nullptr;  ///< [hidden_max] or nullptr
  const T* fc2 = nullptr;       ///< [out_max, hidden_max]
  Index fc2_ld = 0;             ///< hidden_max
  const T* fc2_bias = nullptr;  ///< [out_max] or nullptr
};

/// Workspace of mlp(): the hidden activations, rows x hidden elements.
constexpr Index mlp_workspace_size(Index rows, Index hidden) { return rows * hidden; }

/// y = [accumulate ? y : 0] + fc2(act(fc1(x))) on `rows` tokens (all samples of a batch at once).
/// @param y,ldy may be the same buffer as x (fc1 consumes all rows before fc2 writes).
/// @param ws,ws_size workspace of mlp_workspace_size(rows, hidden) elements.
/// @code
///   // ElasticViT FFN with residual: x += fc2(hswish(fc1(LN(x))))
///   evit::kernels::mlp(N, C, evit::kernels::mlp_hidden(4, C), C, ln, C, w,
///                      evit::kernels::activation::hardswish, x, C, true, ws, ws_size);
/// @endcode
template <class Arch = simd::default_arch, class T>
void mlp(Index rows, Index in, Index hidden, Index out, const T* x, Index ldx,
         const mlp_weights<T>& w, activation act, T* y, Index ldy, bool accumulate, T* ws,
         Index ws_size) {
  EVIT_ASSERT(rows >= 0 && in >= 0 && hidden >= 0 && out >= 0);
  EVIT_ASSERT(in <= w.fc1_ld && hidden <= w.fc2_ld && ws_size >= mlp_workspace_size(rows, hidden));
  (void)ws_size;
  linear<Arch>(rows, in, hidden, x, ldx, w.fc1, w.fc1_ld, 0, w.fc1_bias, ws, hidden, act);
  linear<Arch>(rows, hidden, out, ws, hidden, w.fc2, w.fc2_ld, 0, w.fc2_bias, y, ldy,
               activation::none, accumulate);
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_MLP_INSTANCES(EXTERN, A)                                                            \
  EXTERN template void mlp<A, float>(Index, Index, Index, Index, const float*, Index,            \
                                     const mlp_weights<float>&, activation, float*, Index, bool, \
                                     float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_MLP_INSTANCES)
#undef EVIT_MLP_INSTANCES

template <>
inline void mlp<simd::dispatched, float>(Index rows, Index in, Index hidden, Index out,
                                         const float* x, Index ldx, const mlp_weights<float>& w,
                                         activation act, float* y, Index ldy, bool accumulate,
                                         float* ws, Index ws_size) {
  simd::dispatch([&](auto arch) {
    mlp<decltype(arch)>(rows, in, hidden, out, x, ldx, w, act, y, ldy, accumulate, ws, ws_size);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
