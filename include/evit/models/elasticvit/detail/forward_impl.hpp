// SPDX-License-Identifier: MIT
// Internal header: include <evit/models/elasticvit/forward.hpp> instead.
// The heavy part of the forward pass (it instantiates every kernel): network's calibration,
// MBConv and run, as templates instantiated on first use, or compiled once (see forward.hpp).
#pragma once

namespace evit {
namespace elasticvit {

template <class>
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
    const double sc = t.gamma[ch] / std::sqrt(var + 1e-5);
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
          kernels::activate(act, v, 1);
        }
  });
}

template <class>
void network::mbconv(const bn_mode& m, const mbconv_tensors& t, Index batch, Index cin, Index c,
                     Index e, Index k, bool se, Index stride, Index side_in, forward_workspace& ws,
                     int x_slot, int y_slot, executor_ref exec) const {
  const Index side = stride == 2 ? (side_in + 1) / 2 : side_in;
  const Index hw_in = side_in * side_in, hw = side * side;
  const Index inner = cin * e;
  // 1x1 expansion (+ BN + Hardswish); the stem (max expansion 1) has none.
  if (t.has_pw) {
    exec.parallel_for(batch, [&](Index b, int wk) {
      kernels::pointwise_conv(inner, cin, hw_in, t.pw, t.in_max, ws.act(b, x_slot), ws.expand(b),
                              m.epilogue(t.pw_bn, inner, activation::hardswish), ws.scratch(wk),
                              ws.scratch_size());
    });
    if (m.calibrating())
      calibrate_bn(
          m, t.pw_bn, batch, inner, hw_in, hw_in, 1, [&](Index b) { return ws.expand(b); },
          activation::hardswish, exec);
  }
  // k x k depthwise (centre crop of the supernet kernel) + BN + Hardswish.
  exec.parallel_for(batch, [&](Index b, int wk) {
    const float* src = t.has_pw ? ws.expand(b) : ws.act(b, x_slot);
    kernels::depthwise_conv2d(inner, side_in, side_in, src, k, stride, t.dw, t.kernel_max,
                              ws.inner(b), m.epilogue(t.dw_bn, inner, activation::hardswish),
                              ws.scratch(wk), ws.scratch_size());
  });
  if (m.calibrating())
    calibrate_bn(
        m, t.dw_bn, batch, inner, hw, hw, 1, [&](Index b) { return ws.inner(b); },
        activation::hardswish, exec);
  // Squeeze-excite on the expanded channels (reduction inner / 4).
  if (se) {
    kernels::squeeze_excite_weights<float> sw;
    sw.w1 = t.se1_w;
    sw.ld1 = t.inner_max;
    sw.b1 = t.se1_b;
    sw.w2 = t.se2_w;
    sw.ld2 = t.inner_max / 4;
    sw.b2 = t.se2_b;
    exec.parallel_for(batch, [&](Index b, int wk) {
      kernels::squeeze_excite(inner, inner / 4, hw, ws.inner(b), sw, ws.scratch(wk),
                              ws.scratch_size());
    });
  }
  // 1x1 projection + BN, into y.
  exec.parallel_for(batch, [&](Index b, int wk) {
    kernels::pointwise_conv(c, inner, hw, t.pwl, t.inner_max, ws.inner(b), ws.act(b, y_slot),
                            m.epilogue(t.pwl_bn, c, activation::none), ws.scratch(wk),
                            ws.scratch_size());
  });
  if (m.calibrating())
    calibrate_bn(
        m, t.pwl_bn, batch, c, hw, hw, 1, [&](Index b) { return ws.act(b, y_slot); },
        activation::none, exec);
  // Residual: identity; or average pool (stride 2) and/or 1x1 conv without BN (cin != c).
  exec.parallel_for(batch, [&](Index b, int wk) {
    const float* x = ws.act(b, x_slot);
    float* y = ws.act(b, y_slot);
    float* sc = ws.act(b, 3);
    const float* src = x;
    if (stride == 2) {
      kernels::avg_pool_2x2(cin, side_in, side_in, x, sc);
      src = sc;
    }
    if (cin != c) {
      kernels::pointwise_conv(c, cin, hw, t.shortcut, t.in_max, src, y,
                              kernels::epilogue<float>{}.with_accumulate(true), ws.scratch(wk),
                              ws.scratch_size());
    } else {
      for (Index i = 0; i < c * hw; ++i) y[i] += src[i];
    }
  });
}

template <class>
void network::run(const arch& a, const float* images, Index batch, float* logits,
                  forward_workspace& ws, const bn_override* use, intermediates* inter,
                  bn_override* calib, executor_ref exec) const {
  const space_descriptor& d = space();
  validate(d, a);
  if (batch < 1) throw invalid_argument("forward: batch " + std::to_string(batch) + " < 1");
  if (images == nullptr || logits == nullptr)
    throw invalid_argument("forward: null input or output");
  if (use && use->arch_ != a)
    throw invalid_argument("forward: the bn_override was made for " + use->arch_text_ +
                           ", not for this subnet");
  ws.reserve(d, batch, exec.num_threads());
  const bn_mode m{this, use, calib};
  using clock = std::chrono::steady_clock;
  auto mark = clock::now();
  auto account = [&](double forward_profile::*field) {
    if (!ws.profile) return;
    const auto now = clock::now();
    ws.profile->*field += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };
  const Index R = a.resolution();
  auto keep = [&](const std::string& name, int slot, Index c, Index side, bool tokens) {
    if (!inter) return;
    intermediates::tensor t;
    const Index n = c * side * side;
    t.shape = tokens ? std::vector<std::int64_t>{batch, side * side, c}
                     : std::vector<std::int64_t>{batch, c, side, side};
    t.values.resize(static_cast<std::size_t>(batch * n));
    for (Index b = 0; b < batch; ++b)
      std::copy(ws.act(b, slot), ws.act(b, slot) + n, t.values.data() + b * n);
    inter->by_name[name] = std::move(t);
  };

  // First conv 3x3 stride 2 (+ BN + Hardswish) -> slot 0.
  const Index cf = a.width(0);
  const Index k0 = a.stage_layers(0)[0].kernel_size;
  const Index kmax0 = d.stages[0].kernel_size.back();
  Index side = (R + 1) / 2;
  exec.parallel_for(batch, [&](Index b, int wk) {
    kernels::conv2d(cf, 3, R, R, images + b * 3 * R * R, k0, 2, k0 / 2, w_.first_conv,
                    3 * kmax0 * kmax0, ws.act(b, 0),
                    m.epilogue(w_.first_bn, cf, activation::hardswish), ws.scratch(wk),
                    ws.scratch_size());
  });
  if (m.calibrating())
    calibrate_bn(
        m, w_.first_bn, batch, cf, side * side, side * side, 1,
        [&](Index b) { return ws.act(b, 0); }, activation::hardswish, exec);
  account(&forward_profile::first_conv);
  keep("first_conv", 0, cf, side, false);

  int cur = 0;  // slot holding the current feature map
  Index cin = cf;
  bool tokens = false;  // current map is tokens [N, C] (after the first transformer stage)
  int main_stage = 0;
  for (int s = 1; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    const Index c = a.width(s);
    const layer_dims* layers = a.stage_layers(s);
    if (st.is_conv()) {
      for (int j = 0; j < a.depth(s); ++j) {
        const Index stride = j == 0 ? st.stride : 1;
        const int next = 1 - cur;
        mbconv(m, w_.conv_layers[static_cast<std::size_t>(s)][static_cast<std::size_t>(j)], batch,
               cin, c, layers[j].expand_ratio, layers[j].kernel_size, st.squeeze_excite, stride,
               side, ws, cur, next, exec);
        if (stride == 2) side = (side + 1) / 2;
        cur = next;
        cin = c;
      }
      account(&forward_profile::mbconv);
    } else {
      // Layer 0's reduction MBConv (e6, k3, SE) runs on planes.
      const Index stride = st.stride;
      const Index side_out = stride == 2 ? (side + 1) / 2 : side;
      if (tokens) {  // tokens [N, C] -> planes [C, N]
        const int planes = 1 - cur;
        exec.parallel_for(batch, [&](Index b, int) {
          transpose(ws.act(b, cur), side * side, cin, ws.act(b, planes));
        });
        cur = planes;
      }
      const int out = 1 - cur;
      mbconv(m, w_.reduction[static_cast<std::size_t>(s)], batch, cin, c, 6, 3, true, stride, side,
             ws, cur, out, exec);
      side = side_out;
      exec.parallel_for(batch, [&](Index b, int) {  // planes [C, N] -> tokens [N, C]
        transpose(ws.act(b, out), c, side * side, ws.act(b, cur));
      });
      tokens = true;
      account(&forward_profile::reduction);
      const Index n = side * side;
      for (int j = 0; j < a.depth(s); ++j) {
        const transformer_tensors& t =
            w_.transformer_layers[static_cast<std::size_t>(s)][static_cast<std::size_t>(j)];
        const layer_dims& l = layers[j];
        kernels::attention_config cfg =
            kernels::attention_config::fixed_head_dim(side, c, st.head_dim, l.qk_scale, l.v_scale);
        cfg.pre_proj = activation::hardswish;
        auto aw = kernels::attention_weights<float>::elasticvit(
                      t.qkv, t.width_max, t.proj_w, t.heads_max * st.head_dim * t.v_max, t.proj_b)
                      .with_rel_bias(t.rel_bias, t.rel_side_max, t.heads_max)
                      .with_v_conv(t.v_conv);
        const Index hidden = l.mlp_ratio.floor_times(c);
        kernels::mlp_weights<float> mw;
        mw.fc1 = t.fc1_w;
        mw.fc1_ld = t.width_max;
        mw.fc1_bias = t.fc1_b;
        mw.fc2 = t.fc2_w;
        mw.fc2_ld = t.hidden_max;
        mw.fc2_bias = t.fc2_b;
        exec.parallel_for(batch, [&](Index b, int wk) {
          float* x = ws.act(b, cur);
          float* normed = ws.act(b, 2);
          kernels::sample_norm(n, c, x, c, t.norm1_gamma, t.norm1_beta, 1e-5f, normed, c);
          kernels::attention(1, cfg, aw, normed, c, x, c, /*accumulate=*/true, ws.scratch(wk),
                             ws.scratch_size());
        });
        account(&forward_profile::attention);
        exec.parallel_for(batch, [&](Index b, int wk) {
          float* x = ws.act(b, cur);
          float* normed = ws.act(b, 2);
          kernels::sample_norm(n, c, x, c, t.norm2_gamma, t.norm2_beta, 1e-5f, normed, c);
          kernels::mlp(n, c, hidden, c, normed, c, mw, activation::hardswish, x, c,
                       /*accumulate=*/true, ws.scratch(wk), ws.scratch_size());
        });
        account(&forward_profile::ffn);
      }
      cin = c;
    }
    if (s >= 2) {
      keep("stage" + std::to_string(main_stage), cur, c, side, tokens);
      ++main_stage;
    } else {
      keep("stem", cur, c, side, false);
    }
  }

  // Head: per-token Linear C -> eC + BN1d + Hardswish, mean over tokens, Linear -> hidden +
  // Hardswish, classifier.
  const Index c = cin, e = d.constants.head_expand, ec = e * c;
  const Index hid = d.constants.head_hidden, classes = d.constants.num_classes;
  const Index n = side * side;
  const Index c_max = d.stages.back().max_width;
  if (!tokens) throw error("space " + d.name + ": the head needs a transformer stage before it");
  exec.parallel_for(batch, [&](Index b, int) {
    kernels::linear(n, c, ec, ws.act(b, cur), c, w_.head0_w, c_max, 0, w_.head0_b, ws.act(b, 2),
                    ec);
  });
  if (m.calibrating()) {
    calibrate_bn(
        m, w_.head_bn, batch, ec, n, 1, ec, [&](Index b) { return ws.act(b, 2); },
        activation::hardswish, exec);
  }
  exec.parallel_for(batch, [&](Index b, int wk) {
    float* h = ws.act(b, 2);
    float* scratch = ws.scratch(wk);
    if (!m.calibrating()) {
      auto sc = m.coefficients(w_.head_bn, ec);
      for (Index r = 0; r < n; ++r)
        for (Index i = 0; i < ec; ++i) {
          float& v = h[r * ec + i];
          v = v * sc.first[i] + sc.second[i];
        }
      kernels::activate(activation::hardswish, h, n * ec);
    }
    float* pooled = scratch;
    float* hidden = scratch + ec;
    kernels::mean_rows(n, ec, h, ec, pooled);
    kernels::linear(1, ec, hid, pooled, ec, w_.head1_w, e * c_max, 0, w_.head1_b, hidden, hid,
                    activation::hardswish);
    kernels::linear(1, hid, classes, hidden, hid, w_.classifier_w, hid, 0, w_.classifier_b,
                    logits + b * classes, classes);
  });
  account(&forward_profile::head);
}

}  // namespace elasticvit
}  // namespace evit
