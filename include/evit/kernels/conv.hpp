// SPDX-License-Identifier: MIT
// Convolutions and pooling of ElasticViT's MBConv blocks on NCHW images (one image per call;
// channel c's plane starts at c * H * W), all on sliced supernet weights read in place:
//   depthwise_conv2d         k x k, stride 1 or 2, padding k/2, kernel cropped from the centre
//                            of a larger supernet kernel (k = 3 from 5 x 5);
//   depthwise_conv3x3_tokens the 3x3 depthwise conv on V over the token grid (channels last);
//   depthwise_conv2d_tokens  depthwise_conv2d on channels-last maps (a reduction block after a
//                            transformer stage runs on its tokens, 1x1s as linear_packed);
//   pointwise_conv           1x1 convolution = W[:out, :in] · X (kernels/gemm.hpp, gemm_nn);
//   conv2d                   dense k x k convolution, gemm_nn's tiles on the taps read in place
//                            (the 3x3 stride-2 first conv from 3 channels);
//   squeeze_excite           avg-pool, 1x1 + bias + ReLU, 1x1 + bias + Hardsigmoid, multiply;
//   avg_pool_2x2             the MBConv shortcut's pooling (pad 1 on odd sides, zeros counted),
//                            and avg_pool_2x2_tokens on channels-last maps;
//   global_avg_pool, mean_rows.
// Every output stage takes an epilogue (kernels/epilogue.hpp): BatchNorm as row_scale/row_bias
// per output channel, an activation, and `accumulate` for residual adds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>

#include <xsimd/xsimd.hpp>

#include "evit/core/index.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/epilogue.hpp"
#include "evit/kernels/gemm.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/simd/arch.hpp"
#include "evit/simd/compat.hpp"
#include "evit/simd/isa.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace kernels {

/// Output side of a convolution or pooling: (in + 2 pad - k) / stride + 1.
constexpr Index conv_out_size(Index in, Index k, Index stride, Index pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// ---- depthwise k x k, NCHW --------------------------------------------------------------------

/// Whether depthwise_conv2d runs with the channels in the vector lanes: output rows narrower
/// than one vector, where plane-wise tiles would leave most lanes empty.
template <class Arch = simd::default_arch, class T = float>
constexpr bool depthwise_channels_in_lanes(Index W, Index k, Index stride) {
  return conv_out_size(W, k, stride, k / 2) < simd::lanes_v<T, Arch>;
}

/// Row pitch (elements) of depthwise_conv2d's zero-padded planes: the padded row (its even or
/// odd half at stride 2), two vectors of slack for the ragged last vector pair, rounded up to
/// whole vectors so that every row starts where the first row does (the tiles' loads then split
/// across cache lines only where their column offset does).
template <class Arch = simd::default_arch, class T = float>
constexpr Index depthwise_plane_pitch(Index W, Index k, Index stride) {
  const Index L = simd::lanes_v<T, Arch>, wp = W + 2 * (k / 2);
  const Index row = (stride == 1 ? wp : (wp + 1) / 2) + 2 * L;
  return (row + L - 1) / L * L;
}

/// Workspace (elements) of depthwise_conv2d: one zero-padded input plane, split into even and
/// odd columns when stride = 2 so that both strides load contiguous vectors (rows of
/// depthwise_plane_pitch), and one output plane (an activation that is not fused, with
/// `accumulate`); with the channels in the lanes, one padded input tile and one output tile of
/// L channels, their k * k taps and the epilogue's scale and bias.
template <class Arch = simd::default_arch, class T = float>
constexpr Index depthwise_conv2d_workspace_size(Index H, Index W, Index k, Index stride) {
  const Index L = simd::lanes_v<T, Arch>;
  const Index hp = H + 2 * (k / 2), wp = W + 2 * (k / 2);
  const Index out_plane = conv_out_size(H, k, stride, k / 2) * conv_out_size(W, k, stride, k / 2);
  if (depthwise_channels_in_lanes<Arch, T>(W, k, stride))  // tiles in and out, taps, scale, bias
    return (hp * wp + k * k + 2 + out_plane) * L;
  return (stride == 1 ? 1 : 2) * hp * depthwise_plane_pitch<Arch, T>(W, k, stride) + out_plane;
}

namespace detail {

/// Whether depthwise_conv2d applies `a` inside its tiles. Hardsigmoid and GELU are applied by a
/// pass over each finished plane (or channel block) instead: MobileNet-style blocks follow a
/// depthwise conv with ReLU or Hardswish, and every fused activation adds a full set of tile
/// variants (those three were 60% of the depthwise code, 45% of an ISA unit's).
constexpr bool depthwise_fuses(activation a) {
  return a == activation::none || a == activation::relu || a == activation::hardswish;
}

/// dispatch_activation over the activations depthwise_conv2d fuses; the others run as `none`.
template <class F>
inline void dispatch_depthwise_activation(activation a, F&& f) {
  if (a == activation::relu) return f(act_tag<activation::relu>{});
  if (a == activation::hardswish) return f(act_tag<activation::hardswish>{});
  f(act_tag<activation::none>{});
}

/// The zero-padded input rows of dw_plane_rows, copied into its workspace: padded row i at
/// i * pw of `even` (at stride 2 its even padded columns there and its odd ones in `odd`).
template <class T>
struct dw_padded_rows {
  const T* even;
  const T* odd;
  Index pw;

  Index row(Index i) const noexcept { return i * pw; }
  /// What a tile's loads need to know of its columns (from output column ox).
  template <class Arch, int S, int KS, int NV>
  Index columns(Index ox) const noexcept {
    return ox;
  }
  /// The L inputs of tap column kx for the tile's output vector v, from padded row `r`.
  template <class Arch, int S>
  xsimd::batch<T, Arch> load(Index r, Index ox, Index kx, Index v) const noexcept {
    const T* base = (S == 1 ? even + ox + kx : ((kx & 1) ? odd : even) + ox + kx / 2) + r;
    return xsimd::batch<T, Arch>::load_unaligned(base + v * simd::lanes_v<T, Arch>);
  }
};

/// The input rows of dw_plane_rows at stride 2, read in place: padded row i is image row top + i
/// (a row of zeros above and below the image), and the columns outside [0, W) load as zeros
/// (lane masks computed once per tile). A tile loads each of its rows once, as the 2 NV + 1
/// vectors of image columns it spans, and makes every tap column's vectors from them in
/// registers: their even or odd columns (kx even or odd), shifted by kx / 2. (One masked load
/// pair per tap and vector took more masks than AVX-512 has mask registers, and ran slower.)
template <class T>
struct dw_image_rows {
  const T* x;  ///< image row 0
  const T* zeros;
  Index top, H, W, p;

  const T* row(Index i) const noexcept {
    const Index iy = top + i;
    return iy >= 0 && iy < H ? x + iy * W : zeros;
  }
  /// The lanes of the vector from image column c that lie in [0, W).
  template <class Arch>
  unsigned lanes_inside(Index c) const noexcept {
    constexpr Index L = simd::lanes_v<T, Arch>;
    return simd::lane_bits(int(std::clamp<Index>(-c, 0, L)), int(std::clamp<Index>(W - c, 0, L)));
  }
  /// A tile's first image column and the lane masks of the vectors of a row it loads.
  template <int NV>
  struct tile_columns {
    Index first;
    unsigned bits[2 * NV + 1];
  };
  template <class Arch, int S, int KS, int NV>
  tile_columns<NV> columns(Index ox) const noexcept {
    static_assert(S == 2, "dw_image_rows: stride 2");
    constexpr Index L = simd::lanes_v<T, Arch>;
    tile_columns<NV> t{2 * ox - p, {}};
    for (int m = 0; m < 2 * NV + 1; ++m) t.bits[m] = lanes_inside<Arch>(t.first + m * L);
    return t;
  }
  /// in[kx][v]: the inputs of tap column kx for the tile's output vector v, from row `r`
  /// (a compile-time kernel side KS).
  template <class Arch, int S, int KS, int NV>
  void load_row(const T* r, const tile_columns<NV>& t,
                xsimd::batch<T, Arch> (&in)[KS][NV]) const noexcept {
    using B = xsimd::batch<T, Arch>;
    constexpr Index L = simd::lanes_v<T, Arch>;
    // The taps past the tile's last vector come from the even or odd half of the last one.
    static_assert((KS - 1) / 2 <= L / 2, "dw_image_rows: a kernel side up to L + 1");
    B q[2 * NV + 1], even[NV + 1], odd[NV + 1];
    unrolled<2 * NV + 1>([&](auto m) EVIT_ALWAYS_INLINE {
      q[m] = simd::load_masked<Arch>(r + t.first + m * L, t.bits[m]);
    });
    unrolled<NV + 1>([&](auto v) EVIT_ALWAYS_INLINE {  // the last: the columns past the tile
      std::tie(even[v], odd[v]) =
          simd::even_odd_lanes(q[2 * v], q[std::min<int>(2 * v + 1, 2 * NV)]);
    });
    unrolled<NV>([&](auto v) EVIT_ALWAYS_INLINE {
      // The shift is a template argument: the taps unrolled in the source in every build (in
      // unoptimised ones unrolled() is a plain loop).
      auto tap = [&](auto kx) EVIT_ALWAYS_INLINE {
        constexpr int shift = kx / 2;
        if constexpr (kx % 2 == 0)
          in[kx][v] = simd::lanes_from<shift>(even[v], even[v + 1]);
        else
          in[kx][v] = simd::lanes_from<shift>(odd[v], odd[v + 1]);
      };
      unrolled_impl(tap, std::make_integer_sequence<int, KS>{});
    });
  }
  /// One tap column's vector for the tile's output vector v, for a run-time kernel side: two
  /// masked loads.
  template <class Arch, int S, int NV>
  xsimd::batch<T, Arch> load(const T* r, const tile_columns<NV>& t, Index kx,
                             Index v) const noexcept {
    constexpr Index L = simd::lanes_v<T, Arch>;
    const Index c = t.first + kx + 2 * v * L;
    return simd::even_odd_lanes(simd::load_masked<Arch>(r + c, lanes_inside<Arch>(c)),
                                simd::load_masked<Arch>(r + c + L, lanes_inside<Arch>(c + L)))
        .first;
  }
};

/// Whether dw_plane_rows reads its input rows in place at stride 2 (dw_image_rows) rather than
/// splitting them into padded even and odd rows first: on AVX-512, whose masked loads and
/// two-source permutes make the edges and the split cheap in registers. Zen 4, MBConvs in bands
/// (expansion, depthwise, projection) at stride 2: 0.89-0.98 of the time with the split copies,
/// which had taken about as long as the depthwise tiles (perf); the same bits. At stride 1
/// reading in place ran 0.98-1.05 of the time of the padded copies, which stay.
template <class Arch, class T>
constexpr bool depthwise_reads_in_place() {
  return std::is_same<T, float>::value && std::is_base_of<xsimd::avx512f, Arch>::value;
}

/// Whether a dw_tile source loads a whole row's taps at once (dw_image_rows).
template <class Src>
struct has_load_row : std::false_type {};
template <class T>
struct has_load_row<dw_image_rows<T>> : std::true_type {};

/// `RR` output rows from row oy times `NV` vectors of L outputs from column ox: RR * NV
/// independent accumulation chains (FMA latency x throughput needs about 8; a single chain of
/// k² dependent FMAs would run at a quarter of the FMA rate). `src` gives the input rows
/// (dw_padded_rows or dw_image_rows: the same values, so the same bits).
template <class Arch, int KS, int S, int RR, int NV, activation Act, class T, class Src>
inline void dw_tile(const Src& src, Index oy, Index ox, Index Wo, Index k, const T* wk, Index wld,
                    T* y, Index c, const epilogue<T>& ep) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index kk = KS > 0 ? KS : k;
  B acc[RR][NV];
  EVIT_UNROLL
  for (int r = 0; r < RR; ++r) EVIT_UNROLL
  for (int v = 0; v < NV; ++v) acc[r][v] = B(T(0));
  const auto cols = src.template columns<Arch, S, KS, NV>(ox);
  if constexpr (KS > 0) {
    // Each loaded input vector feeds every output row of the tile that reads it (up to KS of
    // them at stride 1): (RR - 1) * S + KS input rows loaded per tap column instead of RR * KS.
    // Every accumulator still adds its taps in (ky, kx) order: the same bits as the loop below.
    EVIT_UNROLL
    for (int ir = 0; ir < (RR - 1) * S + KS; ++ir) {
      const auto row = src.row(oy * S + ir);
      [[maybe_unused]] B row_in[KS][NV];
      if constexpr (has_load_row<Src>::value)
        src.template load_row<Arch, S, KS, NV>(row, cols, row_in);
      EVIT_UNROLL
      for (int kx = 0; kx < KS; ++kx) {
        B in[NV];
        EVIT_UNROLL
        for (int v = 0; v < NV; ++v) {
          if constexpr (has_load_row<Src>::value)
            in[v] = row_in[kx][v];
          else
            in[v] = src.template load<Arch, S>(row, cols, kx, v);
        }
        EVIT_UNROLL
        for (int r = 0; r < RR; ++r) {
          const int ky = ir - r * S;
          if (ky < 0 || ky >= KS) continue;
          const B wv(wk[ky * wld + kx]);
          EVIT_UNROLL
          for (int v = 0; v < NV; ++v) acc[r][v] = simd::fma(wv, in[v], acc[r][v]);
        }
      }
    }
  } else {
    for (Index ky = 0; ky < kk; ++ky) {
      const T* wr = wk + ky * wld;
      for (Index kx = 0; kx < kk; ++kx) {
        const B wv(wr[kx]);
        EVIT_UNROLL
        for (int r = 0; r < RR; ++r) {
          const auto row = src.row((oy + r) * S + ky);
          EVIT_UNROLL
          for (int v = 0; v < NV; ++v)
            acc[r][v] = simd::fma(wv, src.template load<Arch, S>(row, cols, kx, v), acc[r][v]);
        }
      }
    }
  }
  // The epilogue, with the channel's scale and bias taken once and the flags
  // read from a local copy of `ep` (the stores into y cannot alias it, so nothing is reloaded
  // after each store): with a per-vector epilogue that reread them it took a third of the tile's
  // time (perf). Every product that feeds an addition is an explicit FMA: with the flags known loop
  // invariants the compiler would otherwise fuse some of them in one tile size and not in
  // another, and a band of rows would differ from the whole map in the last bit (as did
  // gemm_nn's scalar ragged edge once its flags were invariants).
  // (ep.col_bias is null here: depthwise_conv2d's precondition.)
  const epilogue<T> e = ep;
  T s = e.alpha;
  if (e.row_scale) s *= e.row_scale[c];
  const B scale(s), row_bias(e.row_bias ? e.row_bias[c] : T(0)), one(T(1));
  EVIT_UNROLL
  for (int r = 0; r < RR; ++r) EVIT_UNROLL
  for (int v = 0; v < NV; ++v) {
    T* out = y + (oy + r) * Wo + ox + v * L;
    const Index n = std::min<Index>(L, Wo - ox - v * L);
    B x = apply_vector<Act>(simd::fma(acc[r][v], scale, row_bias));
    if (n < L) {  // the ragged right edge: the same vector, n lanes of it read and written
      if (e.accumulate) x = simd::fma(x, one, simd::load_partial<Arch>(out, int(n)));
      simd::store_partial(x, out, int(n));
      continue;
    }
    if (e.accumulate) x = simd::fma(x, one, B::load_unaligned(out));
    x.store_unaligned(out);
  }
}

/// dw_tile as a call of its own, for the tiles of several rows: inlined into dw_plane (as GCC
/// chose for some instantiations once the input rows became a template parameter) they ran
/// 1.03-1.16x the time (Zen 4, AVX-512, MBConvs in bands); the one-row tiles stay inline.
template <class Arch, int KS, int S, int RR, int NV, activation Act, class T, class Src>
[[gnu::noinline]] void dw_tile_call(const Src& src, Index oy, Index ox, Index Wo, Index k,
                                    const T* wk, Index wld, T* y, Index c,
                                    const epilogue<T>& ep) noexcept {
  dw_tile<Arch, KS, S, RR, NV, Act>(src, oy, ox, Wo, k, wk, wld, y, c, ep);
}

/// Output rows [oy, oy + RR) of one plane: pairs of vectors, then a last single vector.
template <class Arch, int KS, int S, int RR, activation Act, class T, class Src>
inline void dw_row_block(const Src& src, Index oy, Index Wo, Index k, const T* wk, Index wld, T* y,
                         Index c, const epilogue<T>& ep) noexcept {
  constexpr Index L = simd::lanes_v<T, Arch>;
  auto tile = [&](Index ox, auto nv) {
    constexpr int NV = decltype(nv)::value;
    if constexpr (RR > 1)
      dw_tile_call<Arch, KS, S, RR, NV, Act>(src, oy, ox, Wo, k, wk, wld, y, c, ep);
    else
      dw_tile<Arch, KS, S, RR, NV, Act>(src, oy, ox, Wo, k, wk, wld, y, c, ep);
  };
  Index ox = 0;
  for (; ox + L < Wo; ox += 2 * L)  // at least one full vector and part of a second
    tile(ox, std::integral_constant<int, 2>{});
  if (ox < Wo) tile(ox, std::integral_constant<int, 1>{});
}

/// One output plane. KS > 0: compile-time kernel side; KS == 0: run-time side `k`.
template <class Arch, int KS, int S, activation Act, class T, class Src>
void dw_plane(const Src& src, Index Ho, Index Wo, Index k, const T* wk, Index wld, T* y, Index c,
              const epilogue<T>& ep) noexcept {
  constexpr int RR = 4;
  Index oy = 0;
  for (; oy < Ho - Ho % RR; oy += RR)
    dw_row_block<Arch, KS, S, RR, Act>(src, oy, Wo, k, wk, wld, y, c, ep);
  for (; oy < Ho; ++oy) dw_row_block<Arch, KS, S, 1, Act>(src, oy, Wo, k, wk, wld, y, c, ep);
}

/// `NX` outputs of row oy from column ox with the channels in the lanes: t is the padded tile
/// (pixel (r, q) at (r * wp + q) * L), wt the k * k tap vectors, sc/bi the epilogue's vectors.
template <class Arch, int KS, int S, int NX, activation Act, class T>
inline void dw_lanes_tile(const T* t, Index wp, Index oy, Index ox, Index k, const T* wt,
                          const T* sc, const T* bi, bool has_bias, T* out) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index kk = KS > 0 ? KS : k;
  B acc[NX];
  EVIT_UNROLL
  for (int j = 0; j < NX; ++j) acc[j] = B(T(0));
  for (Index ky = 0; ky < kk; ++ky) {
    const T* row = t + ((oy * S + ky) * wp + ox * S) * L;
    EVIT_UNROLL
    for (Index kx = 0; kx < kk; ++kx) {
      const B wv = B::load_unaligned(wt + (ky * kk + kx) * L);
      EVIT_UNROLL
      for (int j = 0; j < NX; ++j)
        acc[j] = simd::fma(wv, B::load_unaligned(row + (j * S + kx) * L), acc[j]);
    }
  }
  EVIT_UNROLL
  for (int j = 0; j < NX; ++j) {
    B v = acc[j] * B::load_unaligned(sc);
    if (has_bias) v = v + B::load_unaligned(bi);
    apply_vector<Act>(v).store_unaligned(out + j * L);
  }
}

/// The outputs of `nc` <= L channels c0.. of one image, channels in the lanes: for maps whose
/// output rows are narrower than a vector, where the plane-wise tiles would be mostly empty
/// lanes. The planes are transposed into a zero-padded tile, L pixels at a time
/// (simd::transpose: the scalar transposes they replaced took 90% of the time, perf), convolved
/// L channels at a time into an output tile, and transposed back.
template <class Arch, int KS, int S, activation Act, class T>
void dw_lanes_block(Index nc, Index H, Index W, const T* x, Index k, const T* w, Index w_side, T* y,
                    const epilogue<T>& ep, T* ws) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index p = k / 2, wp = W + 2 * p, hp = H + 2 * p;
  const Index Ho = conv_out_size(H, k, S, p), Wo = conv_out_size(W, k, S, p);
  const Index off = (w_side - k) / 2, hw = H * W, hwo = Ho * Wo;
  T* t = ws;                // hp x wp pixels of L lanes; the border stays zero
  T* wt = t + hp * wp * L;  // k * k taps of L lanes
  T* sc = wt + k * k * L;   // the epilogue's scale and bias per lane
  T* bi = sc + L;
  T* o = bi + L;  // Ho x Wo output pixels of L lanes
  // Pixel i = r * W + q of the plane lands at padded pixel (r + p, q + p); lanes of channels past
  // nc are zero.
  Index i = 0, r = 0, q = 0;
  auto next = [&] {  // the padded pixel of (r, q), then one pixel on
    T* d = t + ((r + p) * wp + q + p) * L;
    if (++q == W) q = 0, ++r;
    return d;
  };
  for (; i + L <= hw; i += L) {
    B v[L];
    for (Index c = 0; c < L; ++c) v[c] = c < nc ? B::load_unaligned(x + c * hw + i) : B(T(0));
    simd::transpose(v);
    for (Index j = 0; j < L; ++j) v[j].store_unaligned(next());
  }
  // The last n < L pixels: over half a vector, masked loads and the same transpose; fewer, one
  // by one (a transpose for a pixel or two took longer than the copies, bench_kernels).
  if (2 * (hw - i) > L) {
    const int n = int(hw - i);
    B v[L];
    for (Index c = 0; c < L; ++c)
      v[c] = c < nc ? simd::load_partial<Arch>(x + c * hw + i, n) : B(T(0));
    simd::transpose(v);
    for (int j = 0; j < n; ++j) v[j].store_unaligned(next());
    i = hw;
  }
  for (; i < hw; ++i) {
    T* d = next();
    for (Index c = 0; c < L; ++c) d[c] = c < nc ? x[c * hw + i] : T(0);
  }
  for (Index c = 0; c < nc; ++c) {
    for (Index ky = 0; ky < k; ++ky)
      for (Index kx = 0; kx < k; ++kx)
        wt[(ky * k + kx) * L + c] = w[c * w_side * w_side + (off + ky) * w_side + off + kx];
    sc[c] = ep.row_scale ? ep.alpha * ep.row_scale[c] : ep.alpha;
    bi[c] = ep.row_bias ? ep.row_bias[c] : T(0);
  }
  for (Index c = nc; c < L; ++c) {  // unused lanes: zero taps
    for (Index tap = 0; tap < k * k; ++tap) wt[tap * L + c] = T(0);
    sc[c] = T(0);
    bi[c] = T(0);
  }
  const bool has_bias = ep.row_bias != nullptr;
  for (Index oy = 0; oy < Ho; ++oy) {
    T* row = o + oy * Wo * L;
    Index ox = 0;
    for (; ox + 4 <= Wo; ox += 4)
      dw_lanes_tile<Arch, KS, S, 4, Act>(t, wp, oy, ox, k, wt, sc, bi, has_bias, row + ox * L);
    for (; ox < Wo; ++ox)
      dw_lanes_tile<Arch, KS, S, 1, Act>(t, wp, oy, ox, k, wt, sc, bi, has_bias, row + ox * L);
  }
  const activation unfused = depthwise_fuses(ep.act) ? activation::none : ep.act;
  if (unfused != activation::none) activate<Arch>(unfused, o, hwo * L);
  // Back to planes, L output pixels at a time.
  for (i = 0; i + L <= hwo; i += L) {
    B v[L];
    for (Index j = 0; j < L; ++j) v[j] = B::load_unaligned(o + (i + j) * L);
    simd::transpose(v);
    for (Index c = 0; c < nc; ++c) {
      T* dst = y + c * hwo + i;
      if (ep.accumulate)
        (B::load_unaligned(dst) + v[c]).store_unaligned(dst);
      else
        v[c].store_unaligned(dst);
    }
  }
  if (2 * (hwo - i) > L) {  // the last n < L pixels, as the input's
    const int n = int(hwo - i);
    B v[L];
    for (Index j = 0; j < L; ++j) v[j] = j < n ? B::load_unaligned(o + (i + j) * L) : B(T(0));
    simd::transpose(v);
    for (Index c = 0; c < nc; ++c) {
      T* dst = y + c * hwo + i;
      simd::store_partial(ep.accumulate ? simd::load_partial<Arch>(dst, n) + v[c] : v[c], dst, n);
    }
    i = hwo;
  }
  for (; i < hwo; ++i)
    for (Index c = 0; c < nc; ++c) {
      T* dst = y + c * hwo + i;
      if (ep.accumulate)
        *dst += o[i * L + c];
      else
        *dst = o[i * L + c];
    }
}

}  // namespace detail

namespace detail {

/// Copies the W elements of an input row to `dst` in whole vectors, the last one read masked:
/// the lanes past the row store zeros, which is what a padded row holds there (the right
/// padding, then depthwise_plane_pitch's slack: room for the last vector). As std::copy calls,
/// the rows (16-112 floats) took a quarter of a stride-1 depthwise conv (perf: memmove, 96
/// channels of 56 x 56).
template <class Arch, class T>
inline void padded_row_copy(const T* src, Index W, T* dst) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = B::size;
  Index q = 0;
  for (; q + L <= W; q += L) B::load_unaligned(src + q).store_unaligned(dst + q);
  if (q < W) simd::load_partial<Arch>(src + q, int(W - q)).store_unaligned(dst + q);
}

/// depthwise_conv2d_rows, plane-wise (no checks): per channel, the band's input rows read in
/// place (stride 2 where depthwise_reads_in_place) or copied into zero-padded rows in ws (split
/// into even and odd columns at stride 2), then convolved.
template <class Arch, class T>
void dw_plane_rows(Index C, Index H, Index W, const T* x, Index ldx, Index x_row0, Index k,
                   Index stride, const T* w, Index w_side, T* y, Index ldy, Index o0, Index o1,
                   const epilogue<T>& ep, T* ws) {
  const bool in_place = depthwise_reads_in_place<Arch, T>() && stride == 2;
  const Index p = k / 2;
  const Index Wo = conv_out_size(W, k, stride, p), Ho = o1 - o0;
  if (Ho <= 0) return;
  const Index off = (w_side - k) / 2;
  // The band reads image rows [top, top + hp): row r as padded row r - top; rows outside the
  // image are zeros.
  const Index top = o0 * stride - p, hp = (Ho - 1) * stride + k;
  const Index r_begin = std::max<Index>(0, top), r_end = std::min(H, top + hp);
  const Index pw = depthwise_plane_pitch<Arch, T>(W, k, stride);
  T* even = ws;
  T* odd = ws + hp * pw;
  T* out_plane = ws + (in_place ? W : (stride == 1 ? 1 : 2) * hp * pw);
  // The borders of the padded planes stay zero for every channel; only the interior is
  // rewritten. (In place: one row of zeros.)
  std::fill(ws, out_plane, T(0));
  // An activation the tiles do not fuse: they store the affine result (into the output, or with
  // `accumulate` into out_plane), then one pass activates it (and adds it to the output).
  const bool activate_after = !detail::depthwise_fuses(ep.act);
  epilogue<T> tile_ep = ep;
  if (activate_after) tile_ep.accumulate = false;
  detail::dispatch_depthwise_activation(ep.act, [&](auto tag) {
    constexpr activation A = decltype(tag)::value;
    for (Index c = 0; c < C; ++c) {
      const T* xc = x + c * ldx - x_row0 * W;  // image row r at xc + r * W
      const T* wk = w + c * w_side * w_side + off * w_side + off;
      T* yc = y + c * ldy;
      T* yt = activate_after && ep.accumulate ? out_plane : yc;
      auto convolve = [&](const auto& src, auto stride_tag) {
        constexpr int S = decltype(stride_tag)::value;
        if (k == 3)
          detail::dw_plane<Arch, 3, S, A>(src, Ho, Wo, k, wk, w_side, yt, c, tile_ep);
        else if (k == 5)
          detail::dw_plane<Arch, 5, S, A>(src, Ho, Wo, k, wk, w_side, yt, c, tile_ep);
        else
          detail::dw_plane<Arch, 0, S, A>(src, Ho, Wo, k, wk, w_side, yt, c, tile_ep);
      };
      using one = std::integral_constant<int, 1>;
      using two = std::integral_constant<int, 2>;
      if (in_place) {
        if constexpr (depthwise_reads_in_place<Arch, T>())
          convolve(dw_image_rows<T>{xc, ws, top, H, W, p}, two{});
      } else if (stride == 1) {
        for (Index r = r_begin; r < r_end; ++r)
          padded_row_copy<Arch>(xc + r * W, W, even + (r - top) * pw + p);
        convolve(dw_padded_rows<T>{even, odd, pw}, one{});
      } else {
        // Input column q sits at padded column q + p: even ones go to `even`, odd to `odd`.
        // One pass over pairs of input columns, 2L at a time in shuffles (simd::split_even_odd).
        constexpr Index L = simd::lanes_v<T, Arch>;
        const Index qe = p % 2, qo = 1 - qe;  // first input column of each parity
        for (Index r = r_begin; r < r_end; ++r) {
          const T* xr = xc + r * W;
          T* e = even + (r - top) * pw + (qe + p) / 2;
          T* o = odd + (r - top) * pw + (qo + p) / 2;
          T* from_even = qe == 0 ? e : o;  // input columns 2j
          T* from_odd = qe == 0 ? o : e;   // input columns 2j + 1
          Index j = 0;
          for (; j + L <= W / 2; j += L)
            simd::split_even_odd<T, Arch>(xr + 2 * j, from_even + j, from_odd + j);
          if (j < W / 2)  // whole vectors, zeros past the row: its right padding and slack
            simd::split_even_odd_padded<T, Arch>(xr + 2 * j, int(W / 2 - j), from_even + j,
                                                 from_odd + j);
          if (W % 2 == 1) from_even[W / 2] = xr[W - 1];
        }
        convolve(dw_padded_rows<T>{even, odd, pw}, two{});
      }
      if (activate_after) {
        activate<Arch>(ep.act, yt, Ho * Wo);
        if (yt != yc)
          for (Index i = 0; i < Ho * Wo; ++i) yc[i] += yt[i];
      }
    }
  });
}

}  // namespace detail

/// Depthwise k x k convolution, stride 1 or 2, padding k/2, no bias, on C channels of an H x W
/// image, with the kernel of channel c taken from the centre of a `w_side` x `w_side` supernet
/// kernel: w[c * w_side² + (off + ky) * w_side + off + kx], off = (w_side - k) / 2 (k = 3 from
/// 5 x 5: the [1:4, 1:4] crop). Output: C planes of conv_out_size(H, k, stride, k/2) x
/// conv_out_size(W, ...), then the epilogue with row = channel (e.g. BatchNorm + Hardswish).
/// @param ws,ws_size workspace of depthwise_conv2d_workspace_size<Arch, T>(H, W, k, stride).
/// @pre k odd, 1 <= k <= w_side, (w_side - k) even; stride in {1, 2}; ep.col_bias == nullptr;
///      y does not overlap x.
template <class Arch = simd::default_arch, class T>
void depthwise_conv2d(Index C, Index H, Index W, const T* x, Index k, Index stride, const T* w,
                      Index w_side, T* y, const epilogue<T>& ep, T* ws, Index ws_size) {
  EVIT_ASSERT(C >= 0 && H >= 1 && W >= 1 && k >= 1 && k % 2 == 1 && k <= w_side);
  EVIT_ASSERT((w_side - k) % 2 == 0 && (stride == 1 || stride == 2) && ep.col_bias == nullptr);
  EVIT_ASSERT((ws_size >= depthwise_conv2d_workspace_size<Arch, T>(H, W, k, stride)));
  (void)ws_size;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index p = k / 2, hp = H + 2 * p, wp = W + 2 * p;
  const Index Ho = conv_out_size(H, k, stride, p), Wo = conv_out_size(W, k, stride, p);
  if (depthwise_channels_in_lanes<Arch, T>(W, k, stride)) {
    std::fill(ws, ws + hp * wp * L, T(0));
    detail::dispatch_depthwise_activation(ep.act, [&](auto tag) {
      constexpr activation A = decltype(tag)::value;
      for (Index c0 = 0; c0 < C; c0 += L) {
        const Index nc = std::min(L, C - c0);
        const T* xb = x + c0 * H * W;
        const T* wb = w + c0 * w_side * w_side;
        T* yb = y + c0 * Ho * Wo;
        const epilogue<T> eb = ep.rows_from(c0);
        if (stride == 1 && k == 3)
          detail::dw_lanes_block<Arch, 3, 1, A>(nc, H, W, xb, k, wb, w_side, yb, eb, ws);
        else if (stride == 2 && k == 3)
          detail::dw_lanes_block<Arch, 3, 2, A>(nc, H, W, xb, k, wb, w_side, yb, eb, ws);
        else if (stride == 1 && k == 5)
          detail::dw_lanes_block<Arch, 5, 1, A>(nc, H, W, xb, k, wb, w_side, yb, eb, ws);
        else if (stride == 2 && k == 5)
          detail::dw_lanes_block<Arch, 5, 2, A>(nc, H, W, xb, k, wb, w_side, yb, eb, ws);
        else if (stride == 1)
          detail::dw_lanes_block<Arch, 0, 1, A>(nc, H, W, xb, k, wb, w_side, yb, eb, ws);
        else
          detail::dw_lanes_block<Arch, 0, 2, A>(nc, H, W, xb, k, wb, w_side, yb, eb, ws);
      }
    });
    return;
  }
  detail::dw_plane_rows<Arch>(C, H, W, x, H * W, 0, k, stride, w, w_side, y, Ho * Wo, 0, Ho, ep,
                              ws);
}

/// depthwise_conv2d on a band of rows, for running an MBConv in bands of rows (its expansion,
/// depthwise and projection on a few rows at a time, in the caches): output rows [o0, o1) of
/// every channel from the input rows [x_row0, x_row1) that are at hand. Channel c's input row r
/// is at x[c * ldx + (r - x_row0) * W]; its output row o at y[c * ldy + (o - o0) * Wo]. Each
/// output is computed exactly as depthwise_conv2d computes it (the same bits).
/// @param ws,ws_size workspace of depthwise_conv2d_workspace_size<Arch, T>(H, W, k, stride).
/// @pre depthwise_conv2d's, and: the map is computed plane-wise (not
///      depthwise_channels_in_lanes(W, k, stride)); 0 <= o0 <= o1 <= Ho; [x_row0, x_row1) holds
///      every row of the image that output rows [o0, o1) read; ldx >= (x_row1 - x_row0) * W;
///      ldy >= (o1 - o0) * Wo.
template <class Arch = simd::default_arch, class T>
void depthwise_conv2d_rows(Index C, Index H, Index W, const T* x, Index ldx, Index x_row0,
                           Index x_row1, Index k, Index stride, const T* w, Index w_side, T* y,
                           Index ldy, Index o0, Index o1, const epilogue<T>& ep, T* ws,
                           Index ws_size) {
  EVIT_ASSERT(C >= 0 && H >= 1 && W >= 1 && k >= 1 && k % 2 == 1 && k <= w_side);
  EVIT_ASSERT((w_side - k) % 2 == 0 && (stride == 1 || stride == 2) && ep.col_bias == nullptr);
  EVIT_ASSERT((!depthwise_channels_in_lanes<Arch, T>(W, k, stride)));
  EVIT_ASSERT((ws_size >= depthwise_conv2d_workspace_size<Arch, T>(H, W, k, stride)));
  (void)ws_size;
  const Index p = k / 2;
  const Index Ho = conv_out_size(H, k, stride, p), Wo = conv_out_size(W, k, stride, p);
  EVIT_ASSERT(0 <= o0 && o0 <= o1 && o1 <= Ho);
  EVIT_ASSERT(o0 == o1 || (x_row0 <= std::max<Index>(0, o0 * stride - p) &&
                           x_row1 >= std::min(H, (o1 - 1) * stride + p + 1)));
  EVIT_ASSERT(ldx >= (x_row1 - x_row0) * W && ldy >= (o1 - o0) * Wo);
  (void)x_row1;  // only checked
  (void)Ho;
  (void)Wo;
  detail::dw_plane_rows<Arch>(C, H, W, x, ldx, x_row0, k, stride, w, w_side, y, ldy, o0, o1, ep,
                              ws);
}

// ---- depthwise 3x3 on the token grid, channels last ---------------------------------------------

/// Workspace of depthwise_conv3x3_tokens: the C x 9 kernel transposed to 9 x C.
constexpr Index depthwise_conv3x3_tokens_workspace_size(Index C) { return 9 * C; }

/// 3x3 depthwise convolution, stride 1, padding 1, no bias, over a side x side token grid with
/// channels last: y[t, c] = sum over the 3x3 neighbours u of t of w[c * 9 + tap] * x[u, c],
/// token index = row * side + col. ElasticViT's conv on V calls it once per head with
/// that head's dv channels (x = the head's v columns inside the qkv output, w = the supernet
/// weight + head * dv * 9, y = the head's columns of a [N, h * dv] buffer).
/// @param ws,ws_size workspace of depthwise_conv3x3_tokens_workspace_size(C) elements.
/// @pre ldx, ldy >= C; y does not overlap x.
template <class Arch = simd::default_arch, class T>
void depthwise_conv3x3_tokens(Index side, Index C, const T* x, Index ldx, const T* w, T* y,
                              Index ldy, T* ws, Index ws_size) {
  EVIT_ASSERT(side >= 0 && C >= 0 && ldx >= C && ldy >= C);
  EVIT_ASSERT(ws_size >= depthwise_conv3x3_tokens_workspace_size(C));
  (void)ws_size;
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  T* wt = ws;  // wt[tap * C + c]
  for (Index c = 0; c < C; ++c)
    for (Index tap = 0; tap < 9; ++tap) wt[tap * C + c] = w[c * 9 + tap];
  for (Index oy = 0; oy < side; ++oy)
    for (Index ox = 0; ox < side; ++ox) {
      const Index ky0 = oy == 0 ? 1 : 0, ky1 = oy == side - 1 ? 2 : 3;
      const Index kx0 = ox == 0 ? 1 : 0, kx1 = ox == side - 1 ? 2 : 3;
      T* yt = y + (oy * side + ox) * ldy;
      Index c = 0;
      for (; c < C - C % L; c += L) {
        B acc(T(0));
        for (Index ky = ky0; ky < ky1; ++ky)
          for (Index kx = kx0; kx < kx1; ++kx) {
            const T* src = x + ((oy + ky - 1) * side + (ox + kx - 1)) * ldx + c;
            acc = simd::fma(B::load_unaligned(wt + (ky * 3 + kx) * C + c), B::load_unaligned(src),
                            acc);
          }
        acc.store_unaligned(yt + c);
      }
      for (; c < C; ++c) {
        T acc = T(0);
        for (Index ky = ky0; ky < ky1; ++ky)
          for (Index kx = kx0; kx < kx1; ++kx)
            acc += wt[(ky * 3 + kx) * C + c] * x[((oy + ky - 1) * side + (ox + kx - 1)) * ldx + c];
        yt[c] = acc;
      }
    }
}

// ---- depthwise k x k on channels-last maps ---------------------------------------------------

namespace detail {

/// Channel vectors per block of depthwise_conv2d_tokens: independent accumulators for the FMA
/// latency, and one block's taps (k * k * 4 vectors) stay in L1.
constexpr int dw_tokens_vectors = 4;

/// One block of NV channel vectors of depthwise_conv2d_tokens on one image: `n` channels
/// (all NV * L unless Partial: then vector v holds the first clamp(n - v L, 0, L) lanes,
/// read and written masked); `taps` points at the block's first channel of tap (0, 0) of the
/// k x k crop, tap (ky, kx) at taps + (ky * w_side + kx) * ldw.
template <class Arch, int NV, bool Partial, activation Act, class T>
void dw_tokens_block(Index H, Index W, const T* x, Index ldx, Index k, Index stride, const T* taps,
                     Index w_side, Index ldw, T* y, Index ldy, const xsimd::batch<T, Arch>* scale,
                     const xsimd::batch<T, Arch>* bias, Index n, activation act) noexcept {
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index p = k / 2, Ho = conv_out_size(H, k, stride, p), Wo = conv_out_size(W, k, stride, p);
  int lanes[NV];
  for (int v = 0; v < NV; ++v) lanes[v] = int(std::clamp<Index>(n - v * L, 0, L));
  auto load = [&](const T* at, int v) {
    return Partial ? simd::load_partial<Arch>(at + v * L, lanes[v]) : B::load_unaligned(at + v * L);
  };
  for (Index oy = 0; oy < Ho; ++oy) {
    const Index iy0 = oy * stride - p;  // the input row of tap row 0
    const Index ky0 = std::max<Index>(0, -iy0), ky1 = std::min<Index>(k, H - iy0);
    for (Index ox = 0; ox < Wo; ++ox) {
      const Index ix0 = ox * stride - p;
      const Index kx0 = std::max<Index>(0, -ix0), kx1 = std::min<Index>(k, W - ix0);
      B acc[NV];
      EVIT_UNROLL
      for (int v = 0; v < NV; ++v) acc[v] = B(T(0));
      for (Index ky = ky0; ky < ky1; ++ky) {
        const T* row = x + ((iy0 + ky) * W + ix0) * ldx;
        const T* trow = taps + ky * w_side * ldw;
        for (Index kx = kx0; kx < kx1; ++kx) {
          EVIT_UNROLL
          for (int v = 0; v < NV; ++v)
            acc[v] = simd::fma(load(row + kx * ldx, v), load(trow + kx * ldw, v), acc[v]);
        }
      }
      T* out = y + (oy * Wo + ox) * ldy;
      EVIT_UNROLL
      for (int v = 0; v < NV; ++v) {
        const B r = apply_vector<Act>(simd::fma(acc[v], scale[v], bias[v]), act);
        if (Partial)
          simd::store_partial(r, out + v * L, lanes[v]);
        else
          r.store_unaligned(out + v * L);
      }
    }
  }
}

}  // namespace detail

/// Writes depthwise kernels w [C, w_side, w_side] tap-major into dst [w_side * w_side, C] (tap
/// t of channel c at dst[t * C + c]): the layout depthwise_conv2d_tokens reads, made once when
/// the supernet is loaded (each tap a contiguous run of channels).
template <class T>
void pack_depthwise_taps(const T* w, Index C, Index w_side, T* dst) {
  const Index taps = w_side * w_side;
  for (Index c = 0; c < C; ++c)
    for (Index t = 0; t < taps; ++t) dst[t * C + c] = w[c * taps + t];
}

/// depthwise_conv2d on channels-last maps (pixel i's channel c at x[i * ldx + c], pixels row by
/// row: the tokens of a transformer stage), for channels [c_begin, c_end) of images.count
/// images (image g's map at x + g * images.x_stride, its output at y + g * images.y_stride):
/// the same padding k / 2, stride, centre crop of w_side x w_side supernet kernels and epilogue
/// (row_scale/row_bias per channel, activation). The kernels are tap-major
/// (pack_depthwise_taps): tap t of channel c at taps[t * ldw + c], t over the w_side x w_side
/// taps. Every output sums its taps in row-major order with FMAs, skipping those in the
/// padding, whatever the channel range and image count. No workspace.
/// @pre k odd, k <= w_side, (w_side - k) even; stride 1 or 2; c_end <= ldx, ldy, ldw; no column
///      terms and no accumulate in `ep`; y does not overlap x.
template <class Arch = simd::default_arch, class T>
void depthwise_conv2d_tokens(Index H, Index W, const T* x, Index ldx, Index k, Index stride,
                             const T* taps, Index w_side, Index ldw, T* y, Index ldy,
                             const epilogue<T>& ep, Index c_begin, Index c_end,
                             row_groups images = {}) {
  EVIT_ASSERT(H >= 1 && W >= 1 && k >= 1 && k % 2 == 1 && k <= w_side && (w_side - k) % 2 == 0);
  EVIT_ASSERT((stride == 1 || stride == 2) && images.count >= 0);
  EVIT_ASSERT(0 <= c_begin && c_begin <= c_end && c_end <= ldx && c_end <= ldy && c_end <= ldw);
  EVIT_ASSERT(!ep.col_bias && !ep.col_scale && !ep.accumulate);
  using B = xsimd::batch<T, Arch>;
  constexpr int NV = detail::dw_tokens_vectors;
  constexpr Index L = simd::lanes_v<T, Arch>, TL = NV * L;
  const Index off = (w_side - k) / 2;
  const T* crop = taps + (off * w_side + off) * ldw;  // tap (0, 0) of the k x k crop
  detail::dispatch_epilogue_activation(ep.act, [&](auto tag) {
    constexpr activation Act = decltype(tag)::value;
    for (Index c0 = c_begin; c0 < c_end; c0 += TL) {
      const Index n = std::min(TL, c_end - c0);
      // The block's BatchNorm as vectors (alpha * row_scale rounded as the plane-wise kernel).
      B scale[NV], bias[NV];
      for (int v = 0; v < NV; ++v) {
        const int m = int(std::clamp<Index>(n - v * L, 0, L));
        scale[v] = B(ep.alpha);
        if (ep.row_scale)
          scale[v] = scale[v] * simd::load_partial<Arch>(ep.row_scale + c0 + v * L, m);
        bias[v] = ep.row_bias ? simd::load_partial<Arch>(ep.row_bias + c0 + v * L, m) : B(T(0));
      }
      for (Index g = 0; g < images.count; ++g) {
        const T* xg = x + g * images.x_stride + c0;
        T* yg = y + g * images.y_stride + c0;
        if (n == TL)
          detail::dw_tokens_block<Arch, NV, false, Act>(H, W, xg, ldx, k, stride, crop + c0, w_side,
                                                        ldw, yg, ldy, scale, bias, n, ep.act);
        else  // the ragged end of the range: masked loads and stores
          detail::dw_tokens_block<Arch, NV, true, Act>(H, W, xg, ldx, k, stride, crop + c0, w_side,
                                                       ldw, yg, ldy, scale, bias, n, ep.act);
      }
    }
  });
}

// ---- 1x1 and dense convolutions ---------------------------------------------------------------

/// Workspace of pointwise_conv (gemm_nn's panel).
template <class Arch = simd::default_arch, class T = float>
constexpr Index pointwise_conv_workspace_size(Index in) {
  return gemm_nn_workspace_size<Arch, T>(in);
}

/// 1x1 convolution of one NCHW image: y[o, p] = ep(sum_i W[o, i] x[i, p]) for o < out, i < in,
/// p < HW, with W the supernet weight [out_max, in_max(, 1, 1)] read in place (ldw = in_max).
/// BatchNorm goes in the epilogue (row_scale/row_bias from batch_norm_coefficients).
template <class Arch = simd::default_arch, class T>
void pointwise_conv(Index out, Index in, Index HW, const T* w, Index ldw, const T* x, T* y,
                    const epilogue<T>& ep, T* ws, Index ws_size) {
  gemm_nn<Arch>(out, HW, in, w, ldw, x, HW, y, HW, ep, ws, ws_size);
}

/// Pixels (rows of its product) per step of pointwise_conv_small: its workspace holds this many
/// rows of the transposed images and of the product; more pixels are taken in steps.
constexpr Index pointwise_conv_small_rows = 128;

/// Workspace of pointwise_conv_small for `in` input and `out` output channels.
constexpr Index pointwise_conv_small_workspace_size(Index in, Index out) {
  return pointwise_conv_small_rows * (in + out);
}

namespace detail {

/// pointwise_conv_small's steps: up to pointwise_conv_small_rows pixels of the images
/// transposed into rows, product(rows, xt, prod) writing prod [rows, o_end - o_begin] = xt ·
/// W[o_begin : o_end, :]ᵀ, then the epilogue along each row and each value to its plane.
template <class Arch, class T, class Product>
void pointwise_small_steps(Index out, Index in, Index hw, const T* x, T* y, row_groups images,
                           const epilogue<T>& ep, Index o_begin, Index o_end, T* ws, Index ws_size,
                           Product&& product) {
  EVIT_ASSERT(out >= 0 && in >= 0 && hw >= 1 && images.count >= 0);
  EVIT_ASSERT(0 <= o_begin && o_begin <= o_end && o_end <= out && ep.col_bias == nullptr);
  EVIT_ASSERT(ws_size >= pointwise_conv_small_workspace_size(in, o_end - o_begin));
  (void)ws_size;
  (void)out;
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index n = o_end - o_begin;
  if (n == 0 || images.count == 0) return;
  const Index total = images.count * hw;          // pixels of all images: the product's rows
  T* xt = ws;                                     // [rows, in]: the step's pixels
  T* prod = ws + pointwise_conv_small_rows * in;  // [rows, n]
  for (Index r0 = 0; r0 < total; r0 += pointwise_conv_small_rows) {
    const Index rows = std::min(pointwise_conv_small_rows, total - r0);
    for (Index r = 0; r < rows; ++r) {  // row r is pixel p of image g
      const Index g = (r0 + r) / hw, p = (r0 + r) % hw;
      const T* xg = x + g * images.x_stride + p;
      for (Index i = 0; i < in; ++i) xt[r * in + i] = xg[i * hw];
    }
    product(rows, static_cast<const T*>(xt), prod);
    // The epilogue along each product row (contiguous channels), then each value to its plane.
    dispatch_epilogue_activation(ep.act, [&](auto tag) {
      constexpr activation Act = decltype(tag)::value;
      for (Index r = 0; r < rows; ++r) {
        T* v = prod + r * n;
        Index o = 0;
        for (; o + L <= n; o += L) {
          B s(ep.alpha);
          if (ep.row_scale) s = s * B::load_unaligned(ep.row_scale + o_begin + o);
          B t = B::load_unaligned(v + o) * s;
          if (ep.row_bias) t = t + B::load_unaligned(ep.row_bias + o_begin + o);
          apply_vector<Act>(t, ep.act).store_unaligned(v + o);
        }
        if (const int tail = static_cast<int>(n - o); tail > 0) {  // as the lanes round it
          B s(ep.alpha);
          if (ep.row_scale) s = s * simd::load_partial<Arch>(ep.row_scale + o_begin + o, tail);
          B t = simd::load_partial<Arch>(v + o, tail) * s;
          if (ep.row_bias) t = t + simd::load_partial<Arch>(ep.row_bias + o_begin + o, tail);
          simd::store_partial<Arch>(apply_vector<Act>(t, ep.act), v + o, tail);
        }
      }
    });
    for (Index r = 0; r < rows; ++r) {
      const Index g = (r0 + r) / hw, p = (r0 + r) % hw;
      T* yg = y + g * images.y_stride + o_begin * hw + p;
      const T* v = prod + r * n;
      if (ep.accumulate)
        for (Index o = 0; o < n; ++o) yg[o * hw] += v[o];
      else
        for (Index o = 0; o < n; ++o) yg[o * hw] = v[o];
    }
  }
}

}  // namespace detail

/// pointwise_conv on `images.count` small NCHW images at once (image g's input at
/// x + g * images.x_stride, its output at y + g * images.y_stride), output channels
/// [o_begin, o_end) only. The images' pixels become the rows of one product against the weight
/// slice, read in place (gemm_nt on the transposed images), so that the weights are read once
/// for the whole batch and nothing is padded: on the 1x1 to 4x4 maps of the last stages,
/// pointwise_conv's panels of 32 pixels are mostly padding and each image reads the weights, up
/// to a megabyte, again (bench_kernels pointwise_conv_small vs pointwise_conv). Each output is
/// computed the same way whatever the image count, the steps and [o_begin, o_end) (split it at
/// multiples of 16), so callers may cut the channels over threads.
/// @param ws,ws_size workspace of pointwise_conv_small_workspace_size(in, o_end - o_begin).
/// Any hw works; it pays off below about 16 pixels (above, pointwise_conv is faster).
/// @pre ep.col_bias == nullptr; y does not overlap x.
template <class Arch = simd::default_arch, class T>
void pointwise_conv_small(Index out, Index in, Index hw, const T* w, Index ldw, const T* x, T* y,
                          row_groups images, const epilogue<T>& ep, Index o_begin, Index o_end,
                          T* ws, Index ws_size) {
  EVIT_ASSERT(ldw >= in);
  const Index n = o_end - o_begin;
  detail::pointwise_small_steps<Arch>(out, in, hw, x, y, images, ep, o_begin, o_end, ws, ws_size,
                                      [&](Index rows, const T* xt, T* prod) {
                                        gemm_nt<Arch>(rows, n, in, xt, in, w + o_begin * ldw, ldw,
                                                      prod, n);
                                      });
}

/// pointwise_conv_small on a weight packed by pack_linear_weight (`in_max` its input width):
/// the product runs in linear_packed's broadcast tiles on contiguous panels rather than
/// gemm_nt's dot products (bench_kernels pointwise_conv_small vs pointwise_conv_small_packed).
/// The same outputs up to the order of each sum's additions; every output is computed the same
/// way whatever the image count and [o_begin, o_end) (split it at multiples of 16).
template <class Arch = simd::default_arch, class T>
void pointwise_conv_small_packed(Index out, Index in, Index hw, const T* wp, Index in_max,
                                 const T* x, T* y, row_groups images, const epilogue<T>& ep,
                                 Index o_begin, Index o_end, T* ws, Index ws_size) {
  EVIT_ASSERT(in_max >= in);
  const Index n = o_end - o_begin;
  detail::pointwise_small_steps<Arch>(out, in, hw, x, y, images, ep, o_begin, o_end, ws, ws_size,
                                      [&](Index rows, const T* xt, T* prod) {
                                        linear_packed<Arch>(rows, in, n, xt, in, wp, in_max,
                                                            o_begin, static_cast<const T*>(nullptr),
                                                            prod, n);
                                      });
}

namespace detail {

/// conv2d's input rows split by column phase (px % stride, px a zero-padded column): phase p of
/// channel c holds padded columns p, p + stride, ..., so that tap (c, ky, kx) of output row oy
/// is one contiguous run of Wo pixels, at column kx / stride of phase kx % stride's row
/// oy * stride + ky. `rows` padded rows from output row `row_begin`'s first.
struct conv2d_phases {
  Index in, H, W, k, stride, pad, Wo, row_begin, rows;
  constexpr Index width() const { return Wo + (k - 1) / stride; }  // columns read per phase row
  constexpr Index plane() const { return rows * width(); }
  constexpr Index size() const { return in * stride * plane(); }
};

/// Elements of T at the head of conv2d's workspace that hold its table of K tap rows (pointers),
/// wherever in the workspace's first element's alignment the table has to start.
template <class T>
constexpr Index conv2d_table_elements(Index K) {
  return (K * Index(sizeof(const T*)) + Index(alignof(const T*)) + Index(sizeof(T)) - 1) /
         Index(sizeof(T));
}

}  // namespace detail

/// Workspace of conv2d: a table of its in * k * k taps, the input rows split by column phase (about
/// the input's size), and a few vectors beyond them.
template <class Arch = simd::default_arch, class T = float>
constexpr Index conv2d_workspace_size(Index in, Index H, Index W, Index k, Index stride,
                                      Index pad) {
  const Index Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
  const detail::conv2d_phases ph{
      in, H, W, k, stride, pad, Wo, 0, std::max<Index>(0, (Ho - 1) * stride + k)};
  return detail::conv2d_table_elements<T>(in * k * k) + ph.size() + gemm_tiles<T, Arch>::nn_nr;
}

/// Dense k x k convolution (groups = 1) of one NCHW image: the first `out` filters and the first
/// `in` input channels of a supernet weight [out_max, in_max, k, k] (ldw = in_max * k * k; the
/// slice is read in place). ElasticViT's first conv is conv2d(C_f, 3, R, R, x, 3, 2, 1, w, 27, y,
/// ep) with BatchNorm + Hardswish in `ep`. Only output rows [row_begin, row_end) are computed when
/// given (a caller running pieces of the image in parallel passes its piece; the default is every
/// row); every output gets the same bits however the rows are cut.
///
/// Without im2col: the input rows are copied once, split by column phase (a stride-2 row into its
/// even and odd padded columns), so that every tap of an output row is a contiguous run of the
/// copy, and gemm_nn's tiles read those runs in place through a table of the K = in * k * k taps
/// (one output row at a time: C[out, Wo] = W[out, K] · taps[K, Wo]). The copy is about the input's
/// size where im2col's matrix is k² / stride² times it, and no panel is packed.
/// @param ws,ws_size workspace of conv2d_workspace_size<Arch, T>(in, H, W, k, stride, pad).
template <class Arch = simd::default_arch, class T>
void conv2d(Index out, Index in, Index H, Index W, const T* x, Index k, Index stride, Index pad,
            const T* w, Index ldw, T* y, const epilogue<T>& ep, T* ws, Index ws_size,
            Index row_begin = 0, Index row_end = -1) {
  EVIT_ASSERT(out >= 0 && in >= 0 && H >= 1 && W >= 1 && k >= 1 && stride >= 1 && pad >= 0);
  EVIT_ASSERT(ldw >= in * k * k);
  EVIT_ASSERT((ws_size >= conv2d_workspace_size<Arch, T>(in, H, W, k, stride, pad)));
  (void)ws_size;
  using tiles = gemm_tiles<T, Arch>;
  const Index Ho = conv_out_size(H, k, stride, pad), Wo = conv_out_size(W, k, stride, pad);
  if (row_end < 0) row_end = Ho;
  EVIT_ASSERT(0 <= row_begin && row_begin <= row_end && row_end <= Ho);
  const Index K = in * k * k;
  if (row_end == row_begin || Wo <= 0 || out == 0) return;
  const detail::conv2d_phases ph{
      in, H, W, k, stride, pad, Wo, row_begin, (row_end - 1 - row_begin) * stride + k};
  const Index Wq = ph.width();
  // The tap table at the first pointer-aligned byte of the workspace, the phase rows after it.
  void* head = ws;
  std::size_t room = std::size_t(detail::conv2d_table_elements<T>(K)) * sizeof(T);
  head = std::align(alignof(const T*), std::size_t(K) * sizeof(const T*), head, room);
  EVIT_ASSERT(head != nullptr);
  const T** table = static_cast<const T**>(head);
  T* phases = ws + detail::conv2d_table_elements<T>(K);
  for (Index c = 0; c < in; ++c)
    for (Index r = 0; r < ph.rows; ++r) {
      const Index iy = row_begin * stride + r - pad;
      for (Index p = 0; p < stride; ++p) {
        T* d = phases + (p * in + c) * ph.plane() + r * Wq;
        if (iy < 0 || iy >= H) {
          std::fill(d, d + Wq, T(0));
          continue;
        }
        // Columns [lo, hi) lie inside the image (ix = q * stride + p - pad in [0, W)).
        const T* row = x + (c * H + iy) * W;
        const Index off = p - pad;
        const Index lo = std::min(Wq, off >= 0 ? 0 : (-off + stride - 1) / stride);
        const Index last = W - 1 - off;
        const Index hi = last < 0 ? lo : std::max(lo, std::min(Wq, last / stride + 1));
        std::fill(d, d + lo, T(0));
        if (stride == 1)
          std::copy(row + lo + off, row + hi + off, d + lo);
        else if (stride == 2)
          for (Index q = lo; q < hi; ++q) d[q] = row[2 * q + off];
        else
          for (Index q = lo; q < hi; ++q) d[q] = row[q * stride + off];
        std::fill(d + hi, d + Wq, T(0));
      }
    }
  // A tile reads whole vectors: past the last row's Wo columns, into the next row or this tail.
  std::fill(phases + ph.size(), phases + ph.size() + tiles::nn_nr, T(0));
  for (Index c = 0; c < in; ++c)
    for (Index ky = 0; ky < k; ++ky)
      for (Index kx = 0; kx < k; ++kx)
        ::new (static_cast<void*>(table + (c * k + ky) * k + kx))
            const T*(phases + (kx % stride * in + c) * ph.plane() + ky * Wq + kx / stride);
  // One output row at a time.
  detail::dispatch_epilogue_activation(ep.act, [&](auto tag) {
    constexpr activation Act = decltype(tag)::value;
    const Index ldc = Ho * Wo;
    for (Index oy = row_begin; oy < row_end; ++oy) {
      const Index base = (oy - row_begin) * stride * Wq;
      // Two-vector tiles, and a last run of at most one vector in a one-vector tile rather than
      // in a two-vector tile whose second vector would be all padding (as gemm_nn; 112 outputs
      // a row at 224 pixels are 3 x 32 + 16 on AVX-512).
      const Index narrow = tiles::nn_narrow_tail(Wo);
      Index ox = 0;
      for (; ox < Wo - narrow; ox += tiles::nn_nr)
        detail::nn_rows<Arch, tiles::nn_mr, tiles::nn_nv, Act>(
            out, K, w, ldw, detail::table_rows<T>{table, base + ox}, y + oy * Wo + ox, ldc, 0,
            oy * Wo + ox, std::min<Index>(tiles::nn_nr, Wo - narrow - ox), ep);
      if (narrow > 0)
        detail::nn_rows<Arch, tiles::nn_narrow_mr, 1, Act>(
            out, K, w, ldw, detail::table_rows<T>{table, base + ox}, y + oy * Wo + ox, ldc, 0,
            oy * Wo + ox, narrow, ep);
    }
  });
}

// ---- pooling, squeeze-excite -------------------------------------------------------------------

/// out[c] = mean of the HW elements of plane c (NCHW).
template <class Arch = simd::default_arch, class T>
void global_avg_pool(Index C, Index HW, const T* x, T* out) {
  EVIT_ASSERT(C >= 0 && HW >= 1);
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  for (Index c = 0; c < C; ++c) {
    const T* xc = x + c * HW;
    B acc(T(0));
    Index i = 0;
    for (; i < HW - HW % L; i += L) acc = acc + B::load_unaligned(xc + i);
    T s = simd::reduce_add(acc);
    for (; i < HW; ++i) s += xc[i];
    out[c] = s / T(HW);
  }
}

/// out[c] = mean over rows r of x[r * ld + c] (the token mean-pool of ElasticViT's head).
template <class Arch = simd::default_arch, class T>
void mean_rows(Index rows, Index cols, const T* x, Index ld, T* out) {
  EVIT_ASSERT(rows >= 1 && cols >= 0 && ld >= cols);
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const T inv = T(1) / T(rows);
  Index c = 0;
  for (; c < cols - cols % L; c += L) {
    B acc(T(0));
    for (Index r = 0; r < rows; ++r) acc = acc + B::load_unaligned(x + r * ld + c);
    (acc * B(inv)).store_unaligned(out + c);
  }
  for (; c < cols; ++c) {
    T s = T(0);
    for (Index r = 0; r < rows; ++r) s += x[r * ld + c];
    out[c] = s * inv;
  }
}

/// Output side of avg_pool_2x2: ceil(side / 2) (padding 1 on odd sides, else 0).
constexpr Index avg_pool_2x2_out_size(Index side) { return (side + 1) / 2; }

/// The MBConv shortcut's average pooling on C planes (NCHW): kernel 2, stride 2, padding 1 when
/// the side is odd (per dimension), count_include_pad = true, so every window divides by 4
/// (PyTorch's avg_pool2d(x, 2, 2, padding = side % 2)). With odd sides the padded zero row and
/// column come first, so output (oy, ox) covers input rows 2 oy - pad_h, 2 oy - pad_h + 1.
template <class Arch = simd::default_arch, class T>
void avg_pool_2x2(Index C, Index H, Index W, const T* x, T* y) {
  EVIT_ASSERT(C >= 0 && H >= 1 && W >= 1);
  const Index ph = H % 2, pw = W % 2;
  const Index Ho = avg_pool_2x2_out_size(H), Wo = avg_pool_2x2_out_size(W);
  if (ph == 0 && pw == 0) {
    // Even sides, no padding: the same sums in the same order without the bounds tests, a loop
    // the compiler vectorises (even and odd columns by permutes).
    for (Index c = 0; c < C; ++c)
      for (Index oy = 0; oy < Ho; ++oy) {
        const T* r0 = x + c * H * W + 2 * oy * W;
        const T* r1 = r0 + W;
        T* o = y + c * Ho * Wo + oy * Wo;
        for (Index ox = 0; ox < Wo; ++ox)
          o[ox] = (T(0) + r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * T(0.25);
      }
    return;
  }
  for (Index c = 0; c < C; ++c) {
    const T* xc = x + c * H * W;
    T* yc = y + c * Ho * Wo;
    for (Index oy = 0; oy < Ho; ++oy)
      for (Index ox = 0; ox < Wo; ++ox) {
        T s = T(0);
        for (Index dy = 0; dy < 2; ++dy) {
          const Index iy = 2 * oy - ph + dy;
          if (iy < 0 || iy >= H) continue;
          for (Index dx = 0; dx < 2; ++dx) {
            const Index ix = 2 * ox - pw + dx;
            if (ix >= 0 && ix < W) s += xc[iy * W + ix];
          }
        }
        yc[oy * Wo + ox] = s * T(0.25);
      }
  }
}

/// avg_pool_2x2 on a channels-last map: x [H * W, ldx] -> y [Ho * Wo, ldy], channels [0, C);
/// the same windows, sums and order as the plane-wise kernel.
template <class Arch = simd::default_arch, class T>
void avg_pool_2x2_tokens(Index C, Index H, Index W, const T* x, Index ldx, T* y, Index ldy) {
  EVIT_ASSERT(C >= 0 && H >= 1 && W >= 1 && ldx >= C && ldy >= C);
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index ph = H % 2, pw = W % 2;
  const Index Ho = avg_pool_2x2_out_size(H), Wo = avg_pool_2x2_out_size(W);
  for (Index oy = 0; oy < Ho; ++oy)
    for (Index ox = 0; ox < Wo; ++ox) {
      const T* in[4];
      int taps = 0;
      for (Index dy = 0; dy < 2; ++dy) {
        const Index iy = 2 * oy - ph + dy;
        if (iy < 0 || iy >= H) continue;
        for (Index dx = 0; dx < 2; ++dx) {
          const Index ix = 2 * ox - pw + dx;
          if (ix >= 0 && ix < W) in[taps++] = x + (iy * W + ix) * ldx;
        }
      }
      T* out = y + (oy * Wo + ox) * ldy;
      Index c = 0;
      for (; c < C - C % L; c += L) {
        B s(T(0));
        for (int t = 0; t < taps; ++t) s = s + B::load_unaligned(in[t] + c);
        (s * B(T(0.25))).store_unaligned(out + c);
      }
      for (; c < C; ++c) {
        T s = T(0);
        for (int t = 0; t < taps; ++t) s += in[t][c];
        out[c] = s * T(0.25);
      }
    }
}

/// Squeeze-excite weights of one supernet block; a block with `inner` active channels and
/// `reduced` = inner / 4 uses W1[:reduced, :inner] + b1[:reduced] and W2[:inner, :reduced] +
/// b2[:inner] (docs/elasticvit.md#mbconv: the reduction is relative to the expanded width).
template <class T>
struct squeeze_excite_weights {
  const T* w1 = nullptr;  ///< [reduced_max, inner_max]
  Index ld1 = 0;          ///< inner_max
  const T* b1 = nullptr;
  const T* w2 = nullptr;  ///< [inner_max, reduced_max]
  Index ld2 = 0;          ///< reduced_max
  const T* b2 = nullptr;
  /// W1 and W2 packed by pack_linear_weight (reduced_max x ld1, inner_max x ld2), or null.
  /// With them the FCs run in linear_packed's broadcast tiles, each weight read once for any
  /// number of images (gemm_nt's dot-product tiles read it again for every two), and the
  /// phases' pieces must start at multiples of 16.
  const T* w1_packed = nullptr;
  const T* w2_packed = nullptr;
};

/// Workspace of squeeze_excite: inner + reduced elements.
constexpr Index squeeze_excite_workspace_size(Index inner, Index reduced) {
  return inner + reduced;
}

// The three phases of squeeze_excite() on one image, for a caller that runs pieces of them in
// parallel (disjoint ranges, a barrier between phases; any split gives the same result bit for
// bit); squeeze_excite() runs them whole. `pooled` holds `inner` values, `squeezed` `reduced`.
// Phases 2 and 3 also take several images at once (`images`: image g's pooled and squeezed
// vectors at + g * x_stride, its planes at + g * y_stride), so that their weights, megabytes in
// the late blocks, are read once for all of them; each image's result is the same bits as alone.

/// Phase 1: pooled[c] = mean of plane c, for channels [c_begin, c_end).
template <class Arch = simd::default_arch, class T>
void squeeze_excite_pool(Index HW, const T* x, T* pooled, Index c_begin, Index c_end) {
  EVIT_ASSERT(0 <= c_begin && c_begin <= c_end && HW >= 1);
  global_avg_pool<Arch>(c_end - c_begin, HW, x + c_begin * HW, pooled + c_begin);
}

/// Phase 2: squeezed[r] = ReLU(W1[r, :inner] · pooled + b1[r]), for r in [r_begin, r_end).
template <class Arch = simd::default_arch, class T>
void squeeze_excite_squeeze(Index inner, Index reduced, const T* pooled,
                            const squeeze_excite_weights<T>& se, T* squeezed, Index r_begin,
                            Index r_end, row_groups images = {}) {
  EVIT_ASSERT(inner <= se.ld1 && 0 <= r_begin && r_begin <= r_end && r_end <= reduced);
  EVIT_ASSERT(images.count == 1 || images.x_stride >= std::max(inner, reduced));
  const Index ld = images.count > 1 ? images.x_stride : inner;
  if (se.w1_packed) {
    EVIT_ASSERT(r_begin % 16 == 0);
    linear_packed<Arch>(images.count, inner, r_end - r_begin, pooled, ld, se.w1_packed, se.ld1,
                        r_begin, se.b1, squeezed + r_begin, std::max(ld, reduced),
                        activation::relu);
    return;
  }
  gemm_nt<Arch>(
      images.count, r_end - r_begin, inner, pooled, ld, se.w1 + r_begin * se.ld1, se.ld1,
      squeezed + r_begin, std::max(ld, reduced),
      epilogue<T>{}.with_col_bias(se.b1).cols_from(r_begin).with_activation(activation::relu));
}

/// How an image's `inner` channels of HW pixels lie: planes (NCHW, channel c's pixel i at
/// x[c * HW + i]) or tokens (channels last, at x[i * inner + c]).
enum class map_layout { planes, tokens };

/// Phase 3: for channels c in [c_begin, c_end): gate = Hardsigmoid(W2[c, :reduced] · squeezed +
/// b2[c]) (written over pooled[c], which phase 2 has consumed), channel c of x *= gate.
/// (Phase 1 on tokens is mean_rows.)
template <class Arch = simd::default_arch, class T>
void squeeze_excite_scale(Index inner, Index reduced, Index HW, T* x,
                          const squeeze_excite_weights<T>& se, const T* squeezed, T* pooled,
                          Index c_begin, Index c_end, row_groups images = {},
                          map_layout layout = map_layout::planes) {
  EVIT_ASSERT(reduced <= se.ld2 && 0 <= c_begin && c_begin <= c_end && c_end <= inner);
  EVIT_ASSERT(images.count == 1 || images.x_stride >= std::max(inner, reduced));
  using B = xsimd::batch<T, Arch>;
  constexpr Index L = simd::lanes_v<T, Arch>;
  const Index ld = images.count > 1 ? images.x_stride : inner;
  if (se.w2_packed) {
    EVIT_ASSERT(c_begin % 16 == 0);
    linear_packed<Arch>(images.count, reduced, c_end - c_begin, squeezed, std::max(ld, reduced),
                        se.w2_packed, se.ld2, c_begin, se.b2, pooled + c_begin, ld,
                        activation::hardsigmoid);
  } else {
    gemm_nt<Arch>(images.count, c_end - c_begin, reduced, squeezed, std::max(ld, reduced),
                  se.w2 + c_begin * se.ld2, se.ld2, pooled + c_begin, ld,
                  epilogue<T>{}.with_col_bias(se.b2).cols_from(c_begin).with_activation(
                      activation::hardsigmoid));
  }
  for (Index g = 0; g < images.count; ++g) {
    const T* gate = pooled + g * images.x_stride;
    T* xg = x + g * images.y_stride;
    if (layout == map_layout::tokens) {
      for (Index i = 0; i < HW; ++i) {
        T* row = xg + i * inner;
        Index c = c_begin;
        for (; c + L <= c_end; c += L)
          (B::load_unaligned(row + c) * B::load_unaligned(gate + c)).store_unaligned(row + c);
        for (; c < c_end; ++c) row[c] *= gate[c];
      }
      continue;
    }
    for (Index c = c_begin; c < c_end; ++c) {
      T* xc = xg + c * HW;
      const B s(gate[c]);
      Index i = 0;
      for (; i < HW - HW % L; i += L) (B::load_unaligned(xc + i) * s).store_unaligned(xc + i);
      for (; i < HW; ++i) xc[i] *= gate[c];
    }
  }
}

/// In place on `inner` planes of HW (NCHW): s = Hardsigmoid(W2 · ReLU(W1 · avgpool(x) + b1) + b2),
/// x[c, :] *= s[c].
template <class Arch = simd::default_arch, class T>
void squeeze_excite(Index inner, Index reduced, Index HW, T* x, const squeeze_excite_weights<T>& se,
                    T* ws, Index ws_size) {
  EVIT_ASSERT(inner >= 0 && reduced >= 0 && HW >= 1 && reduced <= se.ld2 && inner <= se.ld1);
  EVIT_ASSERT(ws_size >= squeeze_excite_workspace_size(inner, reduced));
  (void)ws_size;
  T* pooled = ws;
  T* squeezed = ws + inner;
  squeeze_excite_pool<Arch>(HW, x, pooled, 0, inner);
  squeeze_excite_squeeze<Arch>(inner, reduced, pooled, se, squeezed, 0, reduced);
  squeeze_excite_scale<Arch>(inner, reduced, HW, x, se, squeezed, pooled, 0, inner);
}

// The entry points for float: compiled once per ISA in a dispatching program (simd/isa.hpp),
// and run through simd::dispatch() when called with simd::dispatched.
#define EVIT_CONV_INSTANCES(EXTERN, A)                                                             \
  EXTERN template void depthwise_conv2d<A, float>(Index, Index, Index, const float*, Index, Index, \
                                                  const float*, Index, float*,                     \
                                                  const epilogue<float>&, float*, Index);          \
  EXTERN template void depthwise_conv2d_rows<A, float>(                                            \
      Index, Index, Index, const float*, Index, Index, Index, Index, Index, const float*, Index,   \
      float*, Index, Index, Index, const epilogue<float>&, float*, Index);                         \
  EXTERN template void depthwise_conv3x3_tokens<A, float>(                                         \
      Index, Index, const float*, Index, const float*, float*, Index, float*, Index);              \
  EXTERN template void pointwise_conv<A, float>(Index, Index, Index, const float*, Index,          \
                                                const float*, float*, const epilogue<float>&,      \
                                                float*, Index);                                    \
  EXTERN template void pointwise_conv_small<A, float>(                                             \
      Index, Index, Index, const float*, Index, const float*, float*, row_groups,                  \
      const epilogue<float>&, Index, Index, float*, Index);                                        \
  EXTERN template void pointwise_conv_small_packed<A, float>(                                      \
      Index, Index, Index, const float*, Index, const float*, float*, row_groups,                  \
      const epilogue<float>&, Index, Index, float*, Index);                                        \
  EXTERN template void conv2d<A, float>(Index, Index, Index, Index, const float*, Index, Index,    \
                                        Index, const float*, Index, float*,                        \
                                        const epilogue<float>&, float*, Index, Index, Index);      \
  EXTERN template void global_avg_pool<A, float>(Index, Index, const float*, float*);              \
  EXTERN template void mean_rows<A, float>(Index, Index, const float*, Index, float*);             \
  EXTERN template void avg_pool_2x2<A, float>(Index, Index, Index, const float*, float*);          \
  EXTERN template void squeeze_excite<A, float>(                                                   \
      Index, Index, Index, float*, const squeeze_excite_weights<float>&, float*, Index);           \
  EXTERN template void squeeze_excite_pool<A, float>(Index, const float*, float*, Index, Index);   \
  EXTERN template void squeeze_excite_squeeze<A, float>(Index, Index, const float*,                \
                                                        const squeeze_excite_weights<float>&,      \
                                                        float*, Index, Index, row_groups);         \
  EXTERN template void squeeze_excite_scale<A, float>(                                             \
      Index, Index, Index, float*, const squeeze_excite_weights<float>&, const float*, float*,     \
      Index, Index, row_groups, map_layout);                                                       \
  EXTERN template void depthwise_conv2d_tokens<A, float>(                                          \
      Index, Index, const float*, Index, Index, Index, const float*, Index, Index, float*, Index,  \
      const epilogue<float>&, Index, Index, row_groups);                                           \
  EXTERN template void avg_pool_2x2_tokens<A, float>(Index, Index, Index, const float*, Index,     \
                                                     float*, Index);
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_CONV_INSTANCES)
#undef EVIT_CONV_INSTANCES

template <>
inline void depthwise_conv2d<simd::dispatched, float>(Index C, Index H, Index W, const float* x,
                                                      Index k, Index stride, const float* w,
                                                      Index w_side, float* y,
                                                      const epilogue<float>& ep, float* ws,
                                                      Index ws_size) {
  simd::dispatch([&](auto arch) {
    depthwise_conv2d<decltype(arch)>(C, H, W, x, k, stride, w, w_side, y, ep, ws, ws_size);
  });
}

template <>
inline void depthwise_conv2d_rows<simd::dispatched, float>(
    Index C, Index H, Index W, const float* x, Index ldx, Index x_row0, Index x_row1, Index k,
    Index stride, const float* w, Index w_side, float* y, Index ldy, Index o0, Index o1,
    const epilogue<float>& ep, float* ws, Index ws_size) {
  simd::dispatch([&](auto arch) {
    depthwise_conv2d_rows<decltype(arch)>(C, H, W, x, ldx, x_row0, x_row1, k, stride, w, w_side, y,
                                          ldy, o0, o1, ep, ws, ws_size);
  });
}

template <>
inline void depthwise_conv3x3_tokens<simd::dispatched, float>(Index side, Index C, const float* x,
                                                              Index ldx, const float* w, float* y,
                                                              Index ldy, float* ws, Index ws_size) {
  simd::dispatch([&](auto arch) {
    depthwise_conv3x3_tokens<decltype(arch)>(side, C, x, ldx, w, y, ldy, ws, ws_size);
  });
}

template <>
inline void pointwise_conv<simd::dispatched, float>(Index out, Index in, Index HW, const float* w,
                                                    Index ldw, const float* x, float* y,
                                                    const epilogue<float>& ep, float* ws,
                                                    Index ws_size) {
  simd::dispatch([&](auto arch) {
    pointwise_conv<decltype(arch)>(out, in, HW, w, ldw, x, y, ep, ws, ws_size);
  });
}

template <>
inline void pointwise_conv_small<simd::dispatched, float>(Index out, Index in, Index hw,
                                                          const float* w, Index ldw, const float* x,
                                                          float* y, row_groups images,
                                                          const epilogue<float>& ep, Index o_begin,
                                                          Index o_end, float* ws, Index ws_size) {
  simd::dispatch([&](auto arch) {
    pointwise_conv_small<decltype(arch)>(out, in, hw, w, ldw, x, y, images, ep, o_begin, o_end, ws,
                                         ws_size);
  });
}

template <>
inline void pointwise_conv_small_packed<simd::dispatched, float>(
    Index out, Index in, Index hw, const float* wp, Index in_max, const float* x, float* y,
    row_groups images, const epilogue<float>& ep, Index o_begin, Index o_end, float* ws,
    Index ws_size) {
  simd::dispatch([&](auto arch) {
    pointwise_conv_small_packed<decltype(arch)>(out, in, hw, wp, in_max, x, y, images, ep, o_begin,
                                                o_end, ws, ws_size);
  });
}

template <>
inline void conv2d<simd::dispatched, float>(Index out, Index in, Index H, Index W, const float* x,
                                            Index k, Index stride, Index pad, const float* w,
                                            Index ldw, float* y, const epilogue<float>& ep,
                                            float* ws, Index ws_size, Index row_begin,
                                            Index row_end) {
  simd::dispatch([&](auto arch) {
    conv2d<decltype(arch)>(out, in, H, W, x, k, stride, pad, w, ldw, y, ep, ws, ws_size, row_begin,
                           row_end);
  });
}

template <>
inline void global_avg_pool<simd::dispatched, float>(Index C, Index HW, const float* x,
                                                     float* out) {
  simd::dispatch([&](auto arch) { global_avg_pool<decltype(arch)>(C, HW, x, out); });
}

template <>
inline void mean_rows<simd::dispatched, float>(Index rows, Index cols, const float* x, Index ld,
                                               float* out) {
  simd::dispatch([&](auto arch) { mean_rows<decltype(arch)>(rows, cols, x, ld, out); });
}

template <>
inline void avg_pool_2x2<simd::dispatched, float>(Index C, Index H, Index W, const float* x,
                                                  float* y) {
  simd::dispatch([&](auto arch) { avg_pool_2x2<decltype(arch)>(C, H, W, x, y); });
}

template <>
inline void squeeze_excite<simd::dispatched, float>(Index inner, Index reduced, Index HW, float* x,
                                                    const squeeze_excite_weights<float>& se,
                                                    float* ws, Index ws_size) {
  simd::dispatch(
      [&](auto arch) { squeeze_excite<decltype(arch)>(inner, reduced, HW, x, se, ws, ws_size); });
}

template <>
inline void squeeze_excite_pool<simd::dispatched, float>(Index HW, const float* x, float* pooled,
                                                         Index c_begin, Index c_end) {
  simd::dispatch(
      [&](auto arch) { squeeze_excite_pool<decltype(arch)>(HW, x, pooled, c_begin, c_end); });
}

template <>
inline void squeeze_excite_squeeze<simd::dispatched, float>(Index inner, Index reduced,
                                                            const float* pooled,
                                                            const squeeze_excite_weights<float>& se,
                                                            float* squeezed, Index r_begin,
                                                            Index r_end, row_groups images) {
  simd::dispatch([&](auto arch) {
    squeeze_excite_squeeze<decltype(arch)>(inner, reduced, pooled, se, squeezed, r_begin, r_end,
                                           images);
  });
}

template <>
inline void squeeze_excite_scale<simd::dispatched, float>(Index inner, Index reduced, Index HW,
                                                          float* x,
                                                          const squeeze_excite_weights<float>& se,
                                                          const float* squeezed, float* pooled,
                                                          Index c_begin, Index c_end,
                                                          row_groups images, map_layout layout) {
  simd::dispatch([&](auto arch) {
    squeeze_excite_scale<decltype(arch)>(inner, reduced, HW, x, se, squeezed, pooled, c_begin,
                                         c_end, images, layout);
  });
}

template <>
inline void depthwise_conv2d_tokens<simd::dispatched, float>(
    Index H, Index W, const float* x, Index ldx, Index k, Index stride, const float* taps,
    Index w_side, Index ldw, float* y, Index ldy, const epilogue<float>& ep, Index c_begin,
    Index c_end, row_groups images) {
  simd::dispatch([&](auto arch) {
    depthwise_conv2d_tokens<decltype(arch)>(H, W, x, ldx, k, stride, taps, w_side, ldw, y, ldy, ep,
                                            c_begin, c_end, images);
  });
}

template <>
inline void avg_pool_2x2_tokens<simd::dispatched, float>(Index C, Index H, Index W, const float* x,
                                                         Index ldx, float* y, Index ldy) {
  simd::dispatch([&](auto arch) { avg_pool_2x2_tokens<decltype(arch)>(C, H, W, x, ldx, y, ldy); });
}

}  // namespace kernels
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
