// SPDX-License-Identifier: MIT
// Internal header: include <evit/models/elasticvit/forward.hpp> instead.
// The heavy part of the forward pass (it instantiates every kernel): network's calibration,
// MBConv and run, as templates instantiated on first use, or compiled once (see forward.hpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>

#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

template <class Arch>
void network::calibrate_bn(const bn_mode& m, const bn_tensors& t, Index batch, Index c, Index hw,
                           Index ch_stride, Index el_stride, const buffer_getter& x, activation act,
                           executor_ref exec) const {
  const bn_slot_info& info = slots_[static_cast<std::size_t>(slot_of(t))];
  std::vector<double> sum(static_cast<std::size_t>(c), 0.0), sq(static_cast<std::size_t>(c), 0.0);
  for (Index b = 0; b < batch; ++b) {
    const float* p = x(b);
    for (Index ch = 0; ch < c; ++ch) {
      double s1 = 0, s2 = 0;
      for (Index i = 0; i < hw; ++i) {
        const double v = p[ch * ch_stride + i * el_stride];
        s1 += v;
        s2 += v * v;
      }
      sum[static_cast<std::size_t>(ch)] += s1;
      sq[static_cast<std::size_t>(ch)] += s2;
    }
  }
  const double n = static_cast<double>(batch * hw);
  auto& st = m.calibrate->by_name_[info.name];
  if (st.mean.empty()) {
    st.mean.assign(static_cast<std::size_t>(c), 0.f);
    st.var.assign(static_cast<std::size_t>(c), 0.f);
  } else if (static_cast<Index>(st.mean.size()) != c) {
    throw invalid_argument("recalibrate: BatchNorm " + info.name + " changed width");
  }
  const double k = m.calibrate->batches_;  // cumulative average over batches
  std::vector<float> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  for (Index ch = 0; ch < c; ++ch) {
    const auto i = static_cast<std::size_t>(ch);
    const double mean = sum[i] / n;
    const double var = std::max(0.0, sq[i] / n - mean * mean);  // biased: used to normalise
    const double unbiased = n > 1 ? var * n / (n - 1) : var;    // accumulated, as PyTorch
    st.mean[i] = static_cast<float>(st.mean[i] + (mean - st.mean[i]) / k);
    st.var[i] = static_cast<float>(st.var[i] + (unbiased - st.var[i]) / k);
    const double sc = t.gamma[ch] / std::sqrt(var + double(model_fixed::norm_eps));
    scale[i] = static_cast<float>(sc);
    shift[i] = static_cast<float>(t.beta[ch] - mean * sc);
  }
  exec.parallel_for(batch, [&](Index b, int) {
    float* p = const_cast<float*>(x(b));
    for (Index ch = 0; ch < c; ++ch)
      for (Index i = 0; i < hw; ++i) {
        float& v = p[ch * ch_stride + i * el_stride];
        v = v * scale[static_cast<std::size_t>(ch)] + shift[static_cast<std::size_t>(ch)];
      }
    if (act != activation::none)
      for (Index ch = 0; ch < c; ++ch)
        for (Index i = 0; i < hw; ++i) {
          float* v = &p[ch * ch_stride + i * el_stride];
          kernels::activate<Arch>(act, v, 1);
        }
  });
}

template <class Arch>
void network::pointwise(const splitter& sp, Index out, Index in, Index hw, const float* w,
                        Index ldw, const float* packed, const buffer_getter& x,
                        const buffer_getter& y, const kernels::epilogue<float>& ep,
                        forward_workspace& ws) const {
  if (hw < small_plane) {  // the whole batch as one product, in pieces of output channels
    const Index i0 = sp.first;
    EVIT_ASSERT(sp.batch == 1 ||
                (x(i0 + 1) - x(i0) == ws.per_sample_ && y(i0 + 1) - y(i0) == ws.per_sample_));
    sp.columns(out, 16, [&](Index o0, Index o1, int wk) {
      if (packed)
        kernels::pointwise_conv_small_packed<Arch>(out, in, hw, packed, ldw, x(i0), y(i0),
                                                   ws.samples(sp.batch), ep, o0, o1, ws.scratch(wk),
                                                   ws.scratch_size());
      else
        kernels::pointwise_conv_small<Arch>(out, in, hw, w, ldw, x(i0), y(i0), ws.samples(sp.batch),
                                            ep, o0, o1, ws.scratch(wk), ws.scratch_size());
    });
    return;
  }
  if (sp.parts == 1 || hw >= 64 * sp.parts) {  // large planes: pieces of output columns
    sp.pieces(hw, 32, [&](Index b, Index j0, Index j1, int wk) {
      kernels::gemm_nn<Arch>(out, j1 - j0, in, w, ldw, x(b) + j0, hw, y(b) + j0, hw, ep,
                             ws.scratch(wk), ws.scratch_size());
    });
  } else {  // small planes (late stages): pieces of output channels
    sp.pieces(out, 8, [&](Index b, Index r0, Index r1, int wk) {
      kernels::gemm_nn<Arch>(r1 - r0, hw, in, w + r0 * ldw, ldw, x(b), hw, y(b) + r0 * hw, hw,
                             ep.rows_from(r0), ws.scratch(wk), ws.scratch_size());
    });
  }
}

template <class Arch>
int network::mbconv(const bn_mode& m, const mbconv_tensors& t, const block& blk,
                    forward_workspace& ws, int x_slot, int y_slot, const splitter& sp) const {
  const Index cin = blk.cin, c = blk.cout, e = blk.expand, k = blk.kernel, stride = blk.stride;
  const Index side_in = blk.side_in, side = blk.side;
  const bool se = blk.se;
  const Index hw_in = side_in * side_in, hw = side * side;
  const Index inner = cin * e;
  const Index batch = sp.batch;
  const buffer_getter x = [&](Index b) { return ws.act(b, x_slot); };
  const buffer_getter y = [&](Index b) { return ws.act(b, y_slot); };
  // The block's own buffers (expansion, depthwise output, squeeze-excite vectors, pooled
  // shortcut): the sample's, or the worker's when a worker takes samples through the blocks
  // one by one (splitter::temps), so that they stay in the caches from sample to sample.
  const auto tmp = [&](Index b) { return sp.temps >= 0 ? sp.temps : b; };
  const buffer_getter expand = [&](Index b) { return ws.expand(tmp(b)); };
  const buffer_getter inner_map = [&](Index b) { return ws.inner(tmp(b)); };
  const auto pw_ep =
      t.has_pw ? m.epilogue(t.pw_bn, inner, activation::hardswish) : kernels::epilogue<float>{};
  const auto dw_ep = m.epilogue(t.dw_bn, inner, activation::hardswish);
  const auto pwl_ep = m.epilogue(t.pwl_bn, c, activation::none);
  // A large expanded map without squeeze-excite: expansion, depthwise and projection in bands of
  // rows that stay in L2 (mbconv_in_bands), each worker a whole sample.
  const bool in_bands = mbconv_in_bands(blk) && !m.calibrating() && sp.parts == 1;
  if (in_bands) {
    const Index rows = kernels::mbconv_band_rows(inner, side_in, k, stride, band_floats);
    const kernels::mbconv_band_shape shape{cin, inner, c, side_in, k, stride, rows};
    const kernels::mbconv_weights<float> w{t.pw, t.in_max, t.dw, t.kernel_max, t.pwl, t.inner_max};
    // The expand and inner buffers hold whole maps, more than a band needs.
    EVIT_ASSERT(shape.expanded_size() <= inner * hw_in && shape.band_size() <= inner * hw);
    sp.samples([&](Index b, int wk) {
      kernels::mbconv_bands<Arch>(shape, x(b), w, pw_ep, dw_ep, pwl_ep, y(b), expand(b),
                                  inner_map(b), ws.scratch(wk), ws.scratch_size());
    });
  } else {
    // 1x1 expansion (+ BN + Hardswish); the stem (max expansion 1) has none.
    if (t.has_pw) {
      pointwise<Arch>(sp, inner, cin, hw_in, t.pw, t.in_max, t.pw_packed, x, expand, pw_ep, ws);
      if (m.calibrating())
        calibrate_bn<Arch>(m, t.pw_bn, batch, inner, hw_in, hw_in, 1, expand, activation::hardswish,
                           sp.exec);
    }
    // k x k depthwise (centre crop of the supernet kernel) + BN + Hardswish, in channel pieces.
    const buffer_getter& dw_src = t.has_pw ? expand : x;
    sp.pieces(inner, 4, [&](Index b, Index c0, Index c1, int wk) {
      kernels::depthwise_conv2d<Arch>(c1 - c0, side_in, side_in, dw_src(b) + c0 * hw_in, k, stride,
                                      t.dw + c0 * t.kernel_max * t.kernel_max, t.kernel_max,
                                      inner_map(b) + c0 * hw, dw_ep.rows_from(c0), ws.scratch(wk),
                                      ws.scratch_size());
    });
    if (m.calibrating())
      calibrate_bn<Arch>(m, t.dw_bn, batch, inner, hw, hw, 1, inner_map, activation::hardswish,
                         sp.exec);
  }
  // Squeeze-excite on the expanded channels (reduction inner / 4), its three phases in pieces
  // (its FCs stream megabytes of weights at batch 1). The pooled vector and the squeezed one of
  // sample b live in its act slot 2, free inside an MBConv.
  if (se) {
    const Index reduced = inner / model_fixed::se_divisor;
    const auto sw = squeeze_excite_weights_of(t);
    auto pooled = [&](Index b) { return ws.act(tmp(b), 2); };
    auto squeezed = [&](Index b) { return pooled(b) + forward_workspace::round(inner); };
    sp.pieces(inner, 8, [&](Index b, Index c0, Index c1, int) {
      kernels::squeeze_excite_pool<Arch>(hw, inner_map(b), pooled(b), c0, c1);
    });
    // Its two FCs on every sample at once (pieces of their outputs over the workers), so that
    // their weights are read once per forward, not once per sample.
    const Index i0 = sp.first;
    EVIT_ASSERT(batch == 1 || (pooled(i0 + 1) - pooled(i0) == ws.per_sample_ &&
                               inner_map(i0 + 1) - inner_map(i0) == ws.per_sample_));
    const kernels::row_groups samples = ws.samples(batch);
    // Pieces at multiples of 16: the packed FCs' (any cut gives the same bits).
    sp.columns(reduced, 16, [&](Index r0, Index r1, int) {
      kernels::squeeze_excite_squeeze<Arch>(inner, reduced, pooled(i0), sw, squeezed(i0), r0, r1,
                                            samples);
    });
    sp.columns(inner, 16, [&](Index c0, Index c1, int) {
      kernels::squeeze_excite_scale<Arch>(inner, reduced, hw, inner_map(i0), sw, squeezed(i0),
                                          pooled(i0), c0, c1, samples);
    });
  }
  // 1x1 projection + BN, into y; with an identity shortcut (outside calibration, which needs
  // the projection's own statistics), added into x in place by its epilogue instead: one pass
  // over the map fewer, the same sums (x + projection, rounded once).
  const bool add_in_place = !in_bands && !m.calibrating() && stride == 1 && cin == c;
  if (add_in_place) {
    kernels::epilogue<float> ep = pwl_ep;
    pointwise<Arch>(sp, c, inner, hw, t.pwl, t.inner_max, t.pwl_packed, inner_map, x,
                    ep.with_accumulate(), ws);
    return x_slot;
  }
  if (!in_bands)
    pointwise<Arch>(sp, c, inner, hw, t.pwl, t.inner_max, t.pwl_packed, inner_map, y, pwl_ep, ws);
  if (m.calibrating())
    calibrate_bn<Arch>(m, t.pwl_bn, batch, c, hw, hw, 1, y, activation::none, sp.exec);
  // Residual: identity; or average pool (stride 2) and/or 1x1 conv without BN (cin != c).
  const buffer_getter pooled = [&](Index b) { return ws.act(tmp(b), 3); };
  if (stride == 2)
    sp.pieces(cin, 4, [&](Index b, Index c0, Index c1, int) {
      kernels::avg_pool_2x2<Arch>(c1 - c0, side_in, side_in, x(b) + c0 * hw_in,
                                  pooled(b) + c0 * hw);
    });
  const buffer_getter& src = stride == 2 ? pooled : x;
  if (cin != c) {
    pointwise<Arch>(sp, c, cin, hw, t.shortcut, t.in_max, t.shortcut_packed, src, y,
                    kernels::epilogue<float>{}.with_accumulate(true), ws);
  } else {
    sp.pieces(c * hw, 64, [&](Index b, Index i0, Index i1, int) {
      const float* s = src(b);
      float* out = y(b);
      for (Index i = i0; i < i1; ++i) out[i] += s[i];
    });
  }
  return y_slot;
}

template <class Arch>
int network::mbconv_tokens(const bn_mode& m, const mbconv_tensors& t, const block& blk,
                           forward_workspace& ws, int x_slot, int y_slot,
                           const splitter& sp) const {
  const Index cin = blk.cin, c = blk.cout, k = blk.kernel, stride = blk.stride;
  const Index side_in = blk.side_in, hw_in = side_in * side_in, hw = Index(blk.side) * blk.side;
  const Index inner = cin * blk.expand;
  const Index i0 = sp.first;
  // Every op runs on the whole batch at once (the samples' maps per_sample_ apart), each worker
  // a piece of the channels; the block-local buffers as in mbconv().
  const auto tmp = [&](Index b) { return sp.temps >= 0 ? sp.temps : b; };
  EVIT_ASSERT(sp.batch == 1 || sp.temps < 0);
  const kernels::row_groups samples = ws.samples(sp.batch);
  float* const x = ws.act(i0, x_slot);
  float* const y = ws.act(i0, y_slot);
  float* const expand = ws.expand(tmp(i0));
  float* const inner_map = ws.inner(tmp(i0));
  // 1x1 expansion + BN + Hardswish: [hw_in, cin] -> [hw_in, inner].
  const auto pw_ep = m.epilogue(t.pw_bn, inner, activation::hardswish).channels_as_columns();
  sp.columns(inner, 16, [&](Index j0, Index j1, int) {
    kernels::linear_packed<Arch>(hw_in, cin, j1 - j0, x, cin, t.pw_packed, t.in_max, j0,
                                 expand + j0, inner, pw_ep.cols_from(j0), samples);
  });
  // k x k depthwise + BN + Hardswish: -> [hw, inner].
  const auto dw_ep = m.epilogue(t.dw_bn, inner, activation::hardswish);
  sp.columns(inner, 16, [&](Index c0, Index c1, int) {
    kernels::depthwise_conv2d_tokens<Arch>(side_in, side_in, expand, inner, k, stride, t.dw_taps,
                                           t.kernel_max, t.inner_max, inner_map, inner, dw_ep, c0,
                                           c1, samples);
  });
  if (blk.se) {  // as in mbconv(), the pooling a mean over the token rows
    const Index reduced = inner / model_fixed::se_divisor;
    const auto sw = squeeze_excite_weights_of(t);
    auto pooled = [&](Index b) { return ws.act(tmp(b), 2); };
    float* const squeezed = pooled(i0) + forward_workspace::round(inner);
    sp.pieces(inner, 16, [&](Index b, Index c0, Index c1, int) {
      kernels::mean_rows<Arch>(hw, c1 - c0, ws.inner(tmp(b)) + c0, inner, pooled(b) + c0);
    });
    sp.columns(reduced, 16, [&](Index r0, Index r1, int) {
      kernels::squeeze_excite_squeeze<Arch>(inner, reduced, pooled(i0), sw, squeezed, r0, r1,
                                            samples);
    });
    sp.columns(inner, 16, [&](Index c0, Index c1, int) {
      kernels::squeeze_excite_scale<Arch>(inner, reduced, hw, inner_map, sw, squeezed, pooled(i0),
                                          c0, c1, samples, kernels::map_layout::tokens);
    });
  }
  // 1x1 projection + BN: -> [hw, c], into y; added into x in place with an identity shortcut.
  const bool add_in_place = stride == 1 && cin == c;
  kernels::epilogue<float> pwl_ep = m.epilogue(t.pwl_bn, c, activation::none).channels_as_columns();
  pwl_ep.accumulate = add_in_place;
  float* const out = add_in_place ? x : y;
  sp.columns(c, 16, [&](Index j0, Index j1, int) {
    kernels::linear_packed<Arch>(hw, inner, j1 - j0, inner_map, inner, t.pwl_packed, t.inner_max,
                                 j0, out + j0, c, pwl_ep.cols_from(j0), samples);
  });
  if (add_in_place) return x_slot;
  // Shortcut: average pool (stride 2) and/or 1x1 conv without BN (cin != c), added into y.
  auto pooled = [&](Index b) { return ws.act(tmp(b), 3); };
  if (stride == 2)
    sp.samples([&](Index b, int) {
      kernels::avg_pool_2x2_tokens<Arch>(cin, side_in, side_in, ws.act(b, x_slot), cin, pooled(b),
                                         cin);
    });
  const auto src = [&](Index b) { return stride == 2 ? pooled(b) : ws.act(b, x_slot); };
  if (cin != c) {
    const auto ep = kernels::epilogue<float>{}.with_accumulate(true);
    sp.columns(c, 16, [&](Index j0, Index j1, int) {
      kernels::linear_packed<Arch>(hw, cin, j1 - j0, src(i0), cin, t.shortcut_packed, t.in_max, j0,
                                   y + j0, c, ep, samples);
    });
  } else {
    sp.pieces(c * hw, 64, [&](Index b, Index e0, Index e1, int) {
      const float* s = src(b);
      float* o = ws.act(b, y_slot);
      for (Index e = e0; e < e1; ++e) o[e] += s[e];
    });
  }
  return y_slot;
}

template <class Arch>
int network::run_block(const block& b, const float* images, float* logits, forward_workspace& ws,
                       int cur, const bn_mode& m, const splitter& sp) const {
  const executor_ref exec = sp.exec;
  const Index batch = sp.batch;
  const auto s = static_cast<std::size_t>(b.stage);
  const Index n = Index(b.side) * b.side;
  switch (b.kind) {
    case block_kind::first_conv: {
      // k x k conv from RGB (+ BN + Hardswish) -> slot 0, in pieces of output rows (any cut
      // computes each output exactly as the whole image does).
      const Index R = b.side_in, k = b.kernel, cf = b.cout, side = b.side;
      const auto ep = m.epilogue(w_.first_bn, cf, activation::hardswish);
      sp.pieces(side, 1, [&](Index i, Index r0, Index r1, int wk) {
        kernels::conv2d<Arch>(cf, 3, R, R, images + i * 3 * R * R, k, b.stride, k / 2,
                              w_.first_conv, 3 * Index(b.max.kernel) * b.max.kernel, ws.act(i, 0),
                              ep, ws.scratch(wk), ws.scratch_size(), r0, r1);
      });
      if (m.calibrating())
        calibrate_bn<Arch>(
            m, w_.first_bn, batch, cf, n, n, 1, [&](Index i) { return ws.act(i, 0); },
            activation::hardswish, exec);
      return 0;
    }
    case block_kind::conv:
      return mbconv<Arch>(m, w_.conv_layers[s][static_cast<std::size_t>(b.layer)], b, ws, cur,
                          1 - cur, sp);
    case block_kind::reduction: {
      // On tokens throughout where reduction_on_tokens (a conv stage's planes transposed
      // first). Else planes in (tokens transposed first when the weights are not packed or
      // BatchNorm is being recalibrated), the MBConv, then tokens out.
      const mbconv_tensors& t = w_.reduction[s];
      if (reduction_on_tokens(m, t, b)) {
        if (!b.tokens_in) {
          const int tokens = 1 - cur;
          sp.samples([&](Index i, int) {
            kernels::transpose<Arch>(b.cin, Index(b.side_in) * b.side_in, ws.act(i, cur),
                                     ws.act(i, tokens));
          });
          cur = tokens;
        }
        return mbconv_tokens<Arch>(m, t, b, ws, cur, 1 - cur, sp);
      }
      if (b.tokens_in) {
        const int planes = 1 - cur;
        sp.samples([&](Index i, int) {
          kernels::transpose<Arch>(Index(b.side_in) * b.side_in, b.cin, ws.act(i, cur),
                                   ws.act(i, planes));
        });
        cur = planes;
      }
      const int out = mbconv<Arch>(m, t, b, ws, cur, 1 - cur, sp);
      const int tokens = 1 - out;
      sp.samples([&](Index i, int) {
        kernels::transpose<Arch>(b.cout, n, ws.act(i, out), ws.act(i, tokens));
      });
      return tokens;
    }
    case block_kind::attention: {
      // x += proj(attention(norm(x))): the per-sample norm, then qkv columns, heads and proj
      // columns in pieces; the shared qkv / V conv / head outputs of sample i live in its expand
      // buffer.
      const transformer_tensors& t = w_.transformer_layers[s][static_cast<std::size_t>(b.layer)];
      const Index c = b.cout;
      const kernels::attention_config cfg = attention_config_of(b);
      const auto aw = attention_weights_of(t, b.head_dim);
      sp.samples([&](Index i, int) {
        kernels::sample_norm<Arch>(n, c, ws.act(i, cur), c, t.norm1_gamma, t.norm1_beta,
                                   model_fixed::norm_eps, ws.act(i, 2), c);
      });
      auto shared = [&](Index i) {
        return kernels::attention_shared<float>::carve(cfg, true, ws.expand(i));
      };
      // qkv and proj run on the whole batch at once (each worker a piece of the columns), so
      // that their weights are read once per forward, not once per sample.
      const Index i0 = sp.first;
      sp.columns(cfg.qkv_width(), 16, [&](Index j0, Index j1, int) {
        kernels::attention_qkv<Arch>(cfg, aw, ws.act(i0, 2), c, shared(i0), j0, j1,
                                     ws.samples(batch));
      });
      sp.pieces(cfg.heads, 1, [&](Index i, Index h0, Index h1, int wk) {
        kernels::attention_heads<Arch>(cfg, aw, shared(i), h0, h1, ws.scratch(wk),
                                       ws.scratch_size());
      });
      sp.columns(c, 16, [&](Index j0, Index j1, int) {
        kernels::attention_proj<Arch>(cfg, aw, shared(i0), ws.act(i0, cur), c,
                                      /*accumulate=*/true, j0, j1, ws.samples(batch));
      });
      return cur;
    }
    case block_kind::ffn: {
      // x += fc2(hswish(fc1(norm(x)))), fc1 and fc2 in output-column pieces; the hidden
      // activations of sample i live in its expand buffer.
      const transformer_tensors& t = w_.transformer_layers[s][static_cast<std::size_t>(b.layer)];
      const Index c = b.cout, hidden = b.hidden;
      sp.samples([&](Index i, int) {
        kernels::sample_norm<Arch>(n, c, ws.act(i, cur), c, t.norm2_gamma, t.norm2_beta,
                                   model_fixed::norm_eps, ws.act(i, 2), c);
      });
      // Packed weights when the supernet has them (load_options::pack_weights): one product
      // over the whole batch (each worker a piece of the columns), the weights read once per
      // forward; else in place, sample by sample.
      if (t.fc1_packed && t.fc2_packed) {
        const Index i0 = sp.first;
        sp.columns(hidden, 16, [&](Index j0, Index j1, int) {
          kernels::linear_packed<Arch>(n, c, j1 - j0, ws.act(i0, 2), c, t.fc1_packed, t.width_max,
                                       j0, t.fc1_b, ws.expand(i0) + j0, hidden,
                                       activation::hardswish, false, ws.samples(batch));
        });
        sp.columns(c, 16, [&](Index j0, Index j1, int) {
          kernels::linear_packed<Arch>(n, hidden, j1 - j0, ws.expand(i0), hidden, t.fc2_packed,
                                       t.hidden_max, j0, t.fc2_b, ws.act(i0, cur) + j0, c,
                                       activation::none, /*accumulate=*/true, ws.samples(batch));
        });
        return cur;
      }
      sp.pieces(hidden, 16, [&](Index i, Index j0, Index j1, int) {
        kernels::linear<Arch>(n, c, j1 - j0, ws.act(i, 2), c, t.fc1_w, t.width_max, j0, t.fc1_b,
                              ws.expand(i) + j0, hidden, activation::hardswish);
      });
      sp.pieces(c, 16, [&](Index i, Index j0, Index j1, int) {
        kernels::linear<Arch>(n, hidden, j1 - j0, ws.expand(i), hidden, t.fc2_w, t.hidden_max, j0,
                              t.fc2_b, ws.act(i, cur) + j0, c, activation::none,
                              /*accumulate=*/true);
      });
      return cur;
    }
    case block_kind::head: {
      // Per-token Linear C -> eC + BN1d + Hardswish, mean over tokens, Linear -> hidden +
      // Hardswish, classifier; each in output-column pieces. The pooled and hidden vectors of
      // sample i live in its inner buffer.
      const Index c = b.cin, ec = Index(b.expand) * c, hid = b.hidden, classes = b.classes;
      const Index c_max = b.max.in;
      auto pooled = [&](Index i) { return ws.inner(i); };
      auto hidden = [&](Index i) { return ws.inner(i) + forward_workspace::round(ec); };
      const auto bn = m.calibrating() ? std::pair<const float*, const float*>{nullptr, nullptr}
                                      : m.coefficients(w_.head_bn, ec);
      // BatchNorm, Hardswish and the mean over tokens of sample i's columns [j0, j1).
      auto normalise_and_pool = [&](Index i, Index j0, Index j1) {
        if (m.calibrating()) return;  // normalised with the batch statistics below
        float* h = ws.act(i, 2);
        for (Index r = 0; r < n; ++r) {
          float* v = h + r * ec;
          for (Index x = j0; x < j1; ++x) v[x] = v[x] * bn.first[x] + bn.second[x];
          kernels::activate<Arch>(activation::hardswish, v + j0, j1 - j0);
        }
        kernels::mean_rows<Arch>(n, j1 - j0, h + j0, ec, pooled(i) + j0);
      };
      if (w_.head0_packed) {
        // On packed panels: one product over the whole batch (each worker a piece of the
        // columns), the weight read once per forward rather than once per sample.
        const Index i0 = sp.first;
        sp.columns(ec, 16, [&](Index j0, Index j1, int) {
          kernels::linear_packed<Arch>(n, c, j1 - j0, ws.act(i0, cur), c, w_.head0_packed, c_max,
                                       j0, w_.head0_b, ws.act(i0, 2) + j0, ec, activation::none,
                                       false, ws.samples(batch));
          for (Index i = i0; i < i0 + batch; ++i) normalise_and_pool(i, j0, j1);
        });
      } else {
        sp.pieces(ec, 16, [&](Index i, Index j0, Index j1, int) {
          kernels::linear<Arch>(n, c, j1 - j0, ws.act(i, cur), c, w_.head0_w, c_max, j0, w_.head0_b,
                                ws.act(i, 2) + j0, ec);
          normalise_and_pool(i, j0, j1);
        });
      }
      if (m.calibrating()) {
        calibrate_bn<Arch>(
            m, w_.head_bn, batch, ec, n, 1, ec, [&](Index i) { return ws.act(i, 2); },
            activation::hardswish, exec);
        sp.samples(
            [&](Index i, int) { kernels::mean_rows<Arch>(n, ec, ws.act(i, 2), ec, pooled(i)); });
      }
      // The two vector layers run as one product over the whole batch (rows one sample apart
      // in the workspace), so that their weights, megabytes at the head, are read once per
      // forward rather than once per sample; pieces of output columns spread over the workers.
      // On packed panels: each weight read once, whatever the batch (the row-major slices'
      // dot-product tiles read the weights again for every two samples: at batch 8, 2x the
      // time; benchmarks/bench_kernels.cpp head_batched).
      const Index rows_ld = ws.per_sample_, ec_max = Index(b.expand) * c_max;
      sp.columns(hid, 16, [&](Index j0, Index j1, int) {
        if (w_.head1_packed)
          kernels::linear_packed<Arch>(batch, ec, j1 - j0, pooled(0), rows_ld, w_.head1_packed,
                                       ec_max, j0, w_.head1_b, hidden(0) + j0, rows_ld,
                                       activation::hardswish);
        else
          kernels::linear<Arch>(batch, ec, j1 - j0, pooled(0), rows_ld, w_.head1_w, ec_max, j0,
                                w_.head1_b, hidden(0) + j0, rows_ld, activation::hardswish);
      });
      sp.columns(classes, 16, [&](Index j0, Index j1, int) {
        if (w_.classifier_packed)
          kernels::linear_packed<Arch>(batch, hid, j1 - j0, hidden(0), rows_ld,
                                       w_.classifier_packed, hid, j0, w_.classifier_b, logits + j0,
                                       classes);
        else
          kernels::linear<Arch>(batch, hid, j1 - j0, hidden(0), rows_ld, w_.classifier_w, hid, j0,
                                w_.classifier_b, logits + j0, classes);
      });
      return cur;
    }
  }
  return cur;
}

template <class Arch>
void network::run(const arch& a, const float* images, Index batch, float* logits,
                  forward_workspace& ws, const bn_override* use, intermediates* inter,
                  forward_profile* profile, bn_override* calib, executor_ref exec,
                  bool sample_by_sample) const {
  const space_descriptor& d = space();
  validate(d, a);
  if (batch < 1) throw invalid_argument("forward: batch " + std::to_string(batch) + " < 1");
  if (images == nullptr || logits == nullptr)
    throw invalid_argument("forward: null input or output");
  if (use && use->arch_ != a)
    throw invalid_argument("forward: the bn_override was made for " + use->arch_text_ +
                           ", not for this subnet");
  if (!d.stages.back().is_transformer())
    throw error("space " + d.name + ": the head needs a transformer stage before it");
  ws.reserve(d, batch, exec.num_threads());
  build_plan(d, a, ws.plan_);  // within the reserved capacity: no allocation
  const bn_mode m{this, use, calib};
  // With fewer samples than workers, each op of a sample is cut into pieces as well.
  const Index threads = exec.num_threads();
  const splitter sp{exec, batch, batch >= threads ? 1 : (threads + batch - 1) / batch};
  using clock = std::chrono::steady_clock;
  auto mark = clock::now();
  int cur = 0;  // the act slot holding the current feature map
  // With at least as many samples as workers, the MBConv-shaped blocks (first conv, conv
  // stages, reductions) run sample by sample: a worker takes one sample through a run of them,
  // so that its feature maps (large, beside small weights) stay in the caches from op to op;
  // op by op, the other samples' maps evict them. The transformer layers, the head and the
  // reductions into maps under small_plane pixels (small maps, large weights) run op by op,
  // each op's weights read once for the batch.
  // benchmarks/bench_model.cpp BM_batch_order: 0.79-0.98 of the op-by-op time per image at batch
  // 8. Each op computes as in the op-by-op order (one piece per sample): the same logits bit
  // for bit. BatchNorm calibration (statistics over the batch at each op) and intermediates
  // keep the op-by-op order. A profile times what runs: in a run taken sample by sample, each
  // worker times its blocks, and the run's wall time is split between the block kinds in
  // proportion to the workers' summed times (exact with one worker).
  const bool by_sample =
      sample_by_sample && sp.parts == 1 && batch > 1 && !m.calibrating() && !inter;
  static constexpr double forward_profile::*by_kind[] = {
      &forward_profile::first_conv, &forward_profile::mbconv, &forward_profile::reduction,
      &forward_profile::attention,  &forward_profile::ffn,    &forward_profile::head};
  constexpr int kinds = int(std::size(by_kind));
  auto sample_major = [](const block& b) {
    return b.kind == block_kind::first_conv || b.kind == block_kind::conv ||
           (b.kind == block_kind::reduction && Index(b.side) * b.side >= small_plane);
  };
  for (std::size_t k = 0; k < ws.plan_.size(); ++k) {
    if (by_sample && sample_major(ws.plan_[k])) {
      std::size_t e = k;  // the run of blocks [k, e)
      while (e < ws.plan_.size() && sample_major(ws.plan_[e])) ++e;
      int after = cur;  // the act slot after the run (the same for every sample)
      std::atomic<std::int64_t> kind_ns[kinds] = {};  // the workers' summed block times
      exec.parallel_for(batch, [&](Index i, int worker) {
        single_worker one{worker};
        const splitter alone{one, 1, 1, i, worker};
        int c = cur;
        for (std::size_t j = k; j < e; ++j) {
          const auto t0 = profile ? clock::now() : clock::time_point{};
          c = run_block<Arch>(ws.plan_[j], images, logits, ws, c, m, alone);
          if (profile)
            kind_ns[static_cast<int>(ws.plan_[j].kind)] +=
                std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count();
        }
        if (i == 0) after = c;
      });
      cur = after;
      if (profile) {
        const auto now = clock::now();
        const double wall = std::chrono::duration<double>(now - mark).count();
        double summed = 0;
        for (const auto& ns : kind_ns) summed += double(ns.load());
        for (int q = 0; q < kinds && summed > 0; ++q)
          profile->*by_kind[q] += wall * double(kind_ns[q].load()) / summed;
        mark = now;
      }
      k = e - 1;
      continue;
    }
    const block& b = ws.plan_[k];
    cur = run_block<Arch>(b, images, logits, ws, cur, m, sp);
    if (profile) {
      const auto now = clock::now();
      profile->*by_kind[static_cast<int>(b.kind)] +=
          std::chrono::duration<double>(now - mark).count();
      mark = now;
    }
    if (inter && b.last_in_stage && b.kind != block_kind::head) {
      // Each stage's output as the reference goldens store them: first_conv, stem and the conv
      // stages in NCHW, the transformer stages as tokens (batch, side * side, C).
      const bool tokens = b.kind == block_kind::attention || b.kind == block_kind::ffn;
      const std::string name = b.stage == 0   ? "first_conv"
                               : b.stage == 1 ? "stem"
                                              : "stage" + std::to_string(b.stage - 2);
      intermediates::tensor t;
      const Index per = Index(b.cout) * b.side * b.side;
      t.shape = tokens ? std::vector<std::int64_t>{batch, Index(b.side) * b.side, b.cout}
                       : std::vector<std::int64_t>{batch, b.cout, b.side, b.side};
      t.values.resize(static_cast<std::size_t>(batch * per));
      for (Index i = 0; i < batch; ++i)
        std::copy(ws.act(i, cur), ws.act(i, cur) + per, t.values.data() + i * per);
      inter->by_name[name] = std::move(t);
    }
  }
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
