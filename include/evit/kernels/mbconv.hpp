// SPDX-License-Identifier: MIT
// An MBConv's 1x1 expansion, k x k depthwise and 1x1 projection on one NCHW image in bands of
// output rows. Run as three whole-map ops, the expanded map (megabytes at the first stages'
// resolutions) goes out to memory and comes back twice; in bands, each band's expanded rows and
// depthwise rows are still in L2 when the next op reads them. Every output is computed exactly
// as the three whole-map ops compute it (pointwise_conv, depthwise_conv2d, pointwise_conv): the
// same bits.
#pragma once

#include <algorithm>

#include "evit/core/index.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/gemm.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// The supernet tensors of one MBConv, read in place.
template <class T>
struct mbconv_weights {
  const T* expand = nullptr;     ///< [inner_max, in_max]
  Index expand_ld = 0;           ///< in_max
  const T* depthwise = nullptr;  ///< [inner_max, side, side], cropped to k x k at its centre
  Index depthwise_side = 0;      ///< the supernet kernel's side
  const T* project = nullptr;    ///< [out_max, inner_max]
  Index project_ld = 0;          ///< inner_max
};

/// The shape of one MBConv run in bands: an H x H input of `in` channels, `inner` expanded
/// channels, `out` output channels, a k x k depthwise at `stride`, `rows` output rows per band.
struct mbconv_band_shape {
  Index in = 0, inner = 0, out = 0, H = 0, k = 3, stride = 1, rows = 1;

  Index side() const { return conv_out_size(H, k, stride, k / 2); }  ///< output side
  /// Input rows a band reads at most.
  Index rows_in() const { return std::min(H, (rows - 1) * stride + k); }
  /// Floats of the expanded rows a band holds (`expanded` of mbconv_bands).
  Index expanded_size() const { return inner * rows_in() * H; }
  /// Floats of a band of the depthwise output (`band` of mbconv_bands).
  Index band_size() const { return inner * rows * side(); }
  /// Workspace (floats) of mbconv_bands.
  template <class Arch = simd::default_arch, class T = float>
  Index workspace_size() const {
    return std::max({gemm_nn_workspace_size<Arch, T>(in), gemm_nn_workspace_size<Arch, T>(inner),
                     depthwise_conv2d_workspace_size<Arch, T>(H, H, k, stride)});
  }
};

/// Output rows per band such that a band's expanded rows take about `floats` floats (at least
/// one row, at most the whole map).
inline Index mbconv_band_rows(Index inner, Index H, Index k, Index stride, Index floats) {
  const Index side = conv_out_size(H, k, stride, k / 2);
  return std::clamp<Index>(floats / std::max<Index>(1, inner * H * stride), 1, side);
}

/// y = project_ep(P · dw_ep(depthwise(expand_ep(E · x)))) on one NCHW image x [s.in, H, H] into
/// y [s.out, side, side], `s.rows` output rows at a time, with E, the depthwise kernels and P the
/// slices of `w` (E[:inner, :in], P[:out, :inner]). Rows shared by consecutive bands (the
/// kernel's overlap) are moved within `expanded`, not expanded again.
/// @param expanded,band buffers of s.expanded_size() and s.band_size() floats.
/// @param ws,ws_size workspace of s.workspace_size<Arch, T>() floats.
/// @pre the depthwise runs plane-wise (not depthwise_channels_in_lanes(H, k, stride));
///      dw_ep.col_bias == nullptr; y overlaps neither x nor the buffers.
template <class Arch = simd::default_arch, class T>
void mbconv_bands(const mbconv_band_shape& s, const T* x, const mbconv_weights<T>& w,
                  const epilogue<T>& expand_ep, const epilogue<T>& dw_ep,
                  const epilogue<T>& project_ep, T* y, T* expanded, T* band, T* ws, Index ws_size) {
  const Index H = s.H, side = s.side(), R = s.rows, p = s.k / 2, inner = s.inner;
  EVIT_ASSERT(s.in >= 1 && inner >= 1 && s.out >= 1 && R >= 1 && R <= side);
  EVIT_ASSERT(s.in <= w.expand_ld && inner <= w.project_ld);
  EVIT_ASSERT((!depthwise_channels_in_lanes<Arch, T>(H, s.k, s.stride)));
  EVIT_ASSERT((ws_size >= s.workspace_size<Arch, T>()));
  const Index lde = s.rows_in() * H;  // channel stride of `expanded`
  const Index ldb = R * side;         // channel stride of `band`
  Index have0 = 0, have1 = 0;         // `expanded` holds the input rows [have0, have1)
  for (Index r0 = 0; r0 < side; r0 += R) {
    const Index r1 = std::min(side, r0 + R);
    const Index need0 = std::max<Index>(0, r0 * s.stride - p);
    const Index need1 = std::min(H, (r1 - 1) * s.stride + p + 1);
    const Index keep0 = std::max(need0, have0), keep1 = std::max(keep0, have1);
    if (keep0 > have0 && keep1 > keep0)  // the overlap to the front of each channel
      for (Index c = 0; c < inner; ++c)
        std::copy(expanded + c * lde + (keep0 - have0) * H,
                  expanded + c * lde + (keep1 - have0) * H, expanded + c * lde);
    have0 = need0;
    const Index from = std::max(need0, keep1);
    gemm_nn<Arch>(inner, (need1 - from) * H, s.in, w.expand, w.expand_ld, x + from * H, H * H,
                  expanded + (from - have0) * H, lde, expand_ep, ws, ws_size);
    have1 = need1;
    depthwise_conv2d_rows<Arch>(inner, H, H, expanded, lde, have0, have1, s.k, s.stride,
                                w.depthwise, w.depthwise_side, band, ldb, r0, r1, dw_ep, ws,
                                ws_size);
    gemm_nn<Arch>(s.out, (r1 - r0) * side, inner, w.project, w.project_ld, band, ldb, y + r0 * side,
                  side * side, project_ep, ws, ws_size);
  }
}

// The entry point for float: compiled once per ISA in a dispatching program (simd/isa.hpp), and
// run through simd::dispatch() when called with simd::dispatched.
#define EVIT_MBCONV_INSTANCES(EXTERN, A)                                                      \
  EXTERN template void mbconv_bands<A, float>(                                                \
      const mbconv_band_shape&, const float*, const mbconv_weights<float>&,                   \
      const epilogue<float>&, const epilogue<float>&, const epilogue<float>&, float*, float*, \
      float*, float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_MBCONV_INSTANCES)
#undef EVIT_MBCONV_INSTANCES

template <>
inline void mbconv_bands<simd::dispatched, float>(const mbconv_band_shape& s, const float* x,
                                                  const mbconv_weights<float>& w,
                                                  const epilogue<float>& expand_ep,
                                                  const epilogue<float>& dw_ep,
                                                  const epilogue<float>& project_ep, float* y,
                                                  float* expanded, float* band, float* ws,
                                                  Index ws_size) {
  simd::dispatch([&](auto arch) {
    mbconv_bands<decltype(arch)>(s, x, w, expand_ep, dw_ep, project_ep, y, expanded, band, ws,
                                 ws_size);
  });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
