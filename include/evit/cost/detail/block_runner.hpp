// SPDX-License-Identifier: MIT
// Internal header: include <evit/cost/block_profiler.hpp> instead.
// Runs one block of an ElasticViT subnet (a lut_block: first conv, MBConv layer, a transformer
// stage's reduction with its layout changes, attention, FFN, head) on one image with the
// supernet's own weights and kernels, exactly as elasticvit::supernet::forward runs it
// (models/elasticvit/supernet.hpp), so that its time is the block's share of a whole forward.
// Before each run the block's weights and intermediate buffers are evicted from the caches (a
// whole forward streams tens of MB of weights through them, so they are not cached when the
// block starts; at batch 1 the late stages are bound by that streaming), while its input is
// freshly written (hot, as the previous block leaves it). Without this, a table of blocks timed
// in a loop underestimated whole subnets by ~45% on the project's machine.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/cost/latency_table.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/attention.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/nn/workspace.hpp"
#include "evit/simd/namespace.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#define EVIT_DETAIL_HAS_CLFLUSH 1
#endif

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace cost {
namespace detail {

template <class Space>
class block_runner {
 public:
  explicit block_runner(const elasticvit::supernet<Space>& net) : net_(&net) {
    const space_descriptor& d = net.space();
    z_ = elasticvit::forward_workspace::size_for(d);
    const Index R = d.resolution.back();
    images_.reserve(3 * R * R);
    for (auto* b : {&x_, &y_, &sc_, &normed_, &keep_}) b->reserve(z_.act);
    expand_.reserve(std::max<Index>(z_.expand, 1));
    inner_.reserve(std::max<Index>(z_.inner, 1));
    scratch_.reserve(z_.scratch);
    rng g(0x626c6f636bULL);
    auto fill = [&g](nn::workspace<float>& w) {
      for (Index i = 0; i < w.size(); ++i)
        w.data()[i] = static_cast<float>(2 * uniform_real(g) - 1);
    };
    fill(images_);
    fill(keep_);
  }

  /// Prepares block `b`: evicts its weights from the caches, writes its input. Call before each
  /// run() of a timed loop.
  void prepare(const lut_block& b) {
    evict_weights(b);
    {
      const Index e = b.kind == block_kind::reduction ? 6 : std::max(1, b.expand);
      const Index hw_in = Index(b.side_in) * b.side_in, hw = Index(b.side) * b.side;
      evict(expand_.data(), std::min<Index>(z_.expand, b.cin * e * hw_in));
      evict(inner_.data(), std::min<Index>(z_.inner, b.cin * e * hw));
      evict(y_.data(), std::min<Index>(z_.act, std::max<Index>(b.cout, b.cin * e) * hw));
      evict(sc_.data(), std::min<Index>(z_.act, b.cin * hw));
      evict(normed_.data(), std::min<Index>(z_.act, std::max<Index>(b.cout, b.cin * e) * hw));
#ifdef EVIT_DETAIL_HAS_CLFLUSH
      _mm_mfence();
#endif
    }
    const Index n = std::max<Index>(b.cin, b.cout) * b.side_in * b.side_in;
    std::copy(keep_.data(), keep_.data() + std::min<Index>(n, z_.act), x_.data());
  }

  /// Runs block `b` once.
  void run(const lut_block& b) {
    using kernels::activation;
    const space_descriptor& d = net_->space();
    const elasticvit::supernet_weights& w = net_->weights();
    float* scratch = scratch_.data();
    const Index ss = z_.scratch;
    switch (b.kind) {
      case block_kind::first_conv: {
        const Index R = b.side_in, k = b.kernel, kmax = d.stages[0].kernel_size.back();
        kernels::conv2d(b.cout, 3, R, R, images_.data(), k, b.stride, k / 2, w.first_conv,
                        3 * kmax * kmax, x_.data(),
                        epilogue(w.first_bn, b.cout, activation::hardswish), scratch, ss);
        return;
      }
      case block_kind::conv: {
        const auto& layers = w.conv_layers[static_cast<std::size_t>(b.stage)];
        const auto& t = layers[static_cast<std::size_t>(
            std::min<int>(b.layer, static_cast<int>(layers.size()) - 1))];
        mbconv(t, b.cin, b.cout, b.expand, b.kernel, b.se, b.stride, b.side_in);
        return;
      }
      case block_kind::reduction: {
        const bool tokens_in = b.stage > 0 && d.stages[b.stage - 1].is_transformer();
        const Index hw_in = b.side_in * b.side_in;
        if (tokens_in) {  // tokens [N, C] -> planes [C, N]
          transpose(x_.data(), hw_in, b.cin, y_.data());
          std::swap(x_, y_);
        }
        mbconv(w.reduction[static_cast<std::size_t>(b.stage)], b.cin, b.cout, 6, 3, true, b.stride,
               b.side_in);
        transpose(y_.data(), b.cout, b.side * b.side, x_.data());  // planes -> tokens
        return;
      }
      case block_kind::attention: {
        const auto& t = layer(b);
        const stage_descriptor& st = d.stages[b.stage];
        const Index n = b.side * b.side, c = b.cout;
        layer_dims l;
        l.qk_scale = b.qk_scale;
        l.v_scale = b.v_scale;
        const auto cfg = elasticvit::attention_config_of(st, l, b.side, c);
        const auto aw = elasticvit::attention_weights_of(t, st.head_dim);
        kernels::sample_norm(n, c, x_.data(), c, t.norm1_gamma, t.norm1_beta, 1e-5f, normed_.data(),
                             c);
        kernels::attention(1, cfg, aw, normed_.data(), c, x_.data(), c, /*accumulate=*/true,
                           scratch, ss);
        return;
      }
      case block_kind::ffn: {
        const auto& t = layer(b);
        const Index n = b.side * b.side, c = b.cout;
        const Index hidden = b.mlp_ratio.floor_times(c);
        const auto mw = elasticvit::mlp_weights_of(t);
        kernels::sample_norm(n, c, x_.data(), c, t.norm2_gamma, t.norm2_beta, 1e-5f, normed_.data(),
                             c);
        kernels::mlp(n, c, hidden, c, normed_.data(), c, mw, activation::hardswish, x_.data(), c,
                     /*accumulate=*/true, scratch, ss);
        return;
      }
      case block_kind::head: {
        const Index c = b.cin, e = b.expand, ec = e * c, hid = b.hidden, classes = b.classes;
        const Index n = b.side * b.side;
        const Index c_max = d.stages.back().max_width;
        float* h = normed_.data();
        kernels::linear(n, c, ec, x_.data(), c, w.head0_w, c_max, 0, w.head0_b, h, ec);
        const coefficients& sc = coefficients_of(w.head_bn, ec);
        for (Index r = 0; r < n; ++r)
          for (Index i = 0; i < ec; ++i) {
            float& v = h[r * ec + i];
            v = v * sc.scale[static_cast<std::size_t>(i)] + sc.shift[static_cast<std::size_t>(i)];
          }
        kernels::activate(activation::hardswish, h, n * ec);
        float* pooled = scratch;
        float* hidden = scratch + ec;
        kernels::mean_rows(n, ec, h, ec, pooled);
        kernels::linear(1, ec, hid, pooled, ec, w.head1_w, e * c_max, 0, w.head1_b, hidden, hid,
                        activation::hardswish);
        kernels::linear(1, hid, classes, hidden, hid, w.classifier_w, hid, 0, w.classifier_b,
                        y_.data(), classes);
        return;
      }
    }
  }

 private:
  struct coefficients {
    std::vector<float> scale, shift;
  };

  const elasticvit::transformer_tensors& layer(const lut_block& b) const {
    const auto& layers = net_->weights().transformer_layers[static_cast<std::size_t>(b.stage)];
    return layers[static_cast<std::size_t>(
        std::min<int>(b.layer, static_cast<int>(layers.size()) - 1))];
  }

  // BatchNorm folded as the supernet does (its running statistics), computed once per BN.
  const coefficients& coefficients_of(const elasticvit::bn_tensors& t, Index c) {
    coefficients& k = coef_[t.gamma];
    if (static_cast<Index>(k.scale.size()) < c) {
      k.scale.resize(static_cast<std::size_t>(c));
      k.shift.resize(static_cast<std::size_t>(c));
      for (Index i = 0; i < c; ++i) {
        const float s = t.gamma[i] / std::sqrt(t.var[i] + 1e-5f);
        k.scale[static_cast<std::size_t>(i)] = s;
        k.shift[static_cast<std::size_t>(i)] = t.beta[i] - t.mean[i] * s;
      }
    }
    return k;
  }
  kernels::epilogue<float> epilogue(const elasticvit::bn_tensors& t, Index c,
                                    kernels::activation act) {
    const coefficients& k = coefficients_of(t, c);
    return kernels::epilogue<float>{}
        .with_row_scale(k.scale.data())
        .with_row_bias(k.shift.data())
        .with_activation(act);
  }

  static void evict(const float* p, Index n) {
#ifdef EVIT_DETAIL_HAS_CLFLUSH
    if (p == nullptr) return;
    const char* c = reinterpret_cast<const char*>(p);
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float);
    for (std::size_t i = 0; i < bytes; i += 64) _mm_clflush(c + i);
    _mm_clflush(c + bytes - 1);
#else
    (void)p;
    (void)n;
#endif
  }

  // The supernet tensors block `b` reads (at their max sizes).
  void evict_weights(const lut_block& b) {
    const space_descriptor& d = net_->space();
    const elasticvit::supernet_weights& w = net_->weights();
    auto mb = [](const elasticvit::mbconv_tensors& t) {
      const Index in = t.in_max, inner = t.inner_max, out = t.out_max, k = t.kernel_max;
      if (t.has_pw) evict(t.pw, inner * in);
      evict(t.dw, inner * k * k);
      if (t.has_se) {
        evict(t.se1_w, inner / 4 * inner);
        evict(t.se1_b, inner / 4);
        evict(t.se2_w, inner * (inner / 4));
        evict(t.se2_b, inner);
      }
      evict(t.pwl, out * inner);
      evict(t.shortcut, out * in);
    };
    switch (b.kind) {
      case block_kind::first_conv: {
        const Index k = d.stages[0].kernel_size.back();
        evict(w.first_conv, d.stages[0].max_width * 3 * k * k);
        break;
      }
      case block_kind::conv: {
        const auto& layers = w.conv_layers[static_cast<std::size_t>(b.stage)];
        mb(layers[static_cast<std::size_t>(
            std::min<int>(b.layer, static_cast<int>(layers.size()) - 1))]);
        break;
      }
      case block_kind::reduction:
        mb(w.reduction[static_cast<std::size_t>(b.stage)]);
        break;
      case block_kind::attention: {
        const auto& t = layer(b);
        const Index c = t.width_max, hd = d.stages[b.stage].head_dim;
        const Index dv = t.heads_max * hd * t.v_max;
        evict(t.qkv, c * (2 * t.qk_max + t.v_max) * c);
        evict(t.rel_bias, (2 * t.rel_side_max - 1) * (2 * t.rel_side_max - 1) * t.heads_max);
        evict(t.v_conv, dv * 9);
        evict(t.proj_w, c * dv);
        break;
      }
      case block_kind::ffn: {
        const auto& t = layer(b);
        evict(t.fc1_w, t.hidden_max * t.width_max);
        evict(t.fc2_w, t.width_max * t.hidden_max);
        break;
      }
      case block_kind::head: {
        const Index c = d.stages.back().max_width, e = d.constants.head_expand;
        evict(w.head0_w, e * c * c);
        evict(w.head1_w, d.constants.head_hidden * e * c);
        evict(w.classifier_w, d.constants.num_classes * d.constants.head_hidden);
        break;
      }
    }
#ifdef EVIT_DETAIL_HAS_CLFLUSH
    _mm_mfence();
#endif
  }

  static void transpose(const float* x, Index rows, Index cols, float* y) {
    for (Index r = 0; r < rows; ++r)
      for (Index col = 0; col < cols; ++col) y[col * rows + r] = x[r * cols + col];
  }

  // One MBConv block on x_ -> y_ (supernet::mbconv for one sample).
  void mbconv(const elasticvit::mbconv_tensors& t, Index cin, Index c, Index e, Index k, bool se,
              Index stride, Index side_in) {
    using kernels::activation;
    const Index side = stride == 2 ? (side_in + 1) / 2 : side_in;
    const Index hw_in = side_in * side_in, hw = side * side;
    const Index inner = cin * e;
    float* scratch = scratch_.data();
    const Index ss = z_.scratch;
    if (t.has_pw)
      kernels::pointwise_conv(inner, cin, hw_in, t.pw, t.in_max, x_.data(), expand_.data(),
                              epilogue(t.pw_bn, inner, activation::hardswish), scratch, ss);
    const float* src = t.has_pw ? expand_.data() : x_.data();
    kernels::depthwise_conv2d(inner, side_in, side_in, src, k, stride, t.dw, t.kernel_max,
                              inner_.data(), epilogue(t.dw_bn, inner, activation::hardswish),
                              scratch, ss);
    if (se) {
      kernels::squeeze_excite_weights<float> sw;
      sw.w1 = t.se1_w;
      sw.ld1 = t.inner_max;
      sw.b1 = t.se1_b;
      sw.w2 = t.se2_w;
      sw.ld2 = t.inner_max / 4;
      sw.b2 = t.se2_b;
      kernels::squeeze_excite(inner, inner / 4, hw, inner_.data(), sw, scratch, ss);
    }
    kernels::pointwise_conv(c, inner, hw, t.pwl, t.inner_max, inner_.data(), y_.data(),
                            epilogue(t.pwl_bn, c, activation::none), scratch, ss);
    const float* sc_src = x_.data();
    if (stride == 2) {
      kernels::avg_pool_2x2(cin, side_in, side_in, x_.data(), sc_.data());
      sc_src = sc_.data();
    }
    if (cin != c) {
      kernels::pointwise_conv(c, cin, hw, t.shortcut, t.in_max, sc_src, y_.data(),
                              kernels::epilogue<float>{}.with_accumulate(true), scratch, ss);
    } else {
      float* y = y_.data();
      for (Index i = 0; i < c * hw; ++i) y[i] += sc_src[i];
    }
  }

  const elasticvit::supernet<Space>* net_;
  elasticvit::forward_workspace::sizes z_;
  nn::workspace<float> images_, x_, y_, sc_, normed_, keep_, expand_, inner_, scratch_;
  std::map<const float*, coefficients> coef_;
};

}  // namespace detail
}  // namespace cost
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
