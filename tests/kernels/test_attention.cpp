// SPDX-License-Identifier: MIT
// kernels/attention.hpp and kernels/mlp.hpp against the reference built straight from the
// definitions (docs/elasticvit.md#attention): both qkv layouts, both head semantics,
// relative-position bias with Rmax indexing, the 3x3 conv on V, Hardswish before proj, batches,
// residual accumulation.
#include <algorithm>
#include <utility>
#include <vector>

#include "evit/kernels/attention.hpp"
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/reference.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::kernels::activation;
using evit::kernels::attention_config;
using evit::kernels::attention_weights;
using evit::kernels::qkv_layout;
namespace ref = evit::kernels::reference;
using evit::test::exact_buffer;

// Whole-layer comparisons: three chained products of length <= C, h dv and N, a softmax and an
// activation, with O(1) values. A float pipeline of this depth stays within ~1e-5 of the double
// reference; 3e-5 absolute + 1e-4 relative leaves margin while a wrong head split, bias index or
// slice errs by O(0.1).
static constexpr double layer_abs_tol = 3e-5, layer_rel_tol = 1e-4;

namespace {

struct supernet_attention {
  Index c_max, h_max, dv_max, r_max;
  exact_buffer<float> qkv, qkv_bias, proj, proj_bias, rel, vconv;
  supernet_attention(evit::rng& g, Index cmax, Index dvmax, Index rmax)
      : c_max(cmax),
        h_max(cmax / 16),
        dv_max(dvmax),
        r_max(rmax),
        qkv((2 * cmax + (cmax / 16) * dvmax) * cmax),
        qkv_bias(2 * cmax + (cmax / 16) * dvmax),
        proj(cmax * (cmax / 16) * dvmax),
        proj_bias(cmax),
        rel((2 * rmax - 1) * (2 * rmax - 1) * (cmax / 16)),
        vconv((cmax / 16) * dvmax * 9) {
    // Weights of size ~1/sqrt(fan-in), like a trained layer, keep logits O(1).
    evit::test::fill_uniform(g, qkv, -0.25, 0.25);
    evit::test::fill_uniform(g, qkv_bias, -0.1, 0.1);
    evit::test::fill_uniform(g, proj, -0.1, 0.1);
    evit::test::fill_uniform(g, proj_bias, -0.1, 0.1);
    evit::test::fill_uniform(g, rel, -0.5, 0.5);
    evit::test::fill_uniform(g, vconv, -0.3, 0.3);
  }
  attention_weights<float> weights(bool bias, bool vc, bool qb) const {
    auto w = attention_weights<float>::elasticvit(qkv.data(), c_max, proj.data(), h_max * dv_max,
                                                  proj_bias.data());
    if (bias) w.with_rel_bias(rel.data(), r_max, h_max);
    if (vc) w.with_v_conv(vconv.data());
    if (qb) w.qkv_bias = qkv_bias.data();
    return w;
  }
};

template <class Arch>
void run_attention(const attention_config& cfg, const attention_weights<float>& w, Index batch,
                   bool accumulate, evit::rng& g) {
  const Index N = cfg.tokens, ldx = evit::test::next_prime(cfg.in + 1), ldo = cfg.out + 2;
  exact_buffer<float> x(evit::test::view_size(batch * N, cfg.in, ldx), 1),
      out(evit::test::view_size(batch * N, cfg.out, ldo));
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, out);
  std::vector<float> old(out.data(), out.data() + out.size());
  const Index wsn = evit::kernels::attention_workspace_size<Arch, float>(cfg, w.v_conv != nullptr);
  exact_buffer<float> ws(wsn);
  evit::kernels::attention_profile prof;
  evit::kernels::attention<Arch>(batch, cfg, w, x.data(), ldx, out.data(), ldo, accumulate,
                                 ws.data(), wsn, &prof);
  CHECK(prof.total() >= 0.0);
  for (Index b = 0; b < batch; ++b) {
    std::vector<double> expect(N * cfg.out);
    ref::attention(cfg, w, x.data() + b * N * ldx, ldx, expect.data(), cfg.out);
    if (accumulate)
      for (Index n = 0; n < N; ++n)
        for (Index c = 0; c < cfg.out; ++c) expect[n * cfg.out + c] += old[(b * N + n) * ldo + c];
    CAPTURE(b);
    evit::test::check_close("attention", N, cfg.out, out.data() + b * N * ldo, ldo, expect.data(),
                            cfg.out, layer_abs_tol, layer_rel_tol);
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("attention: ElasticViT layers (interleaved heads, bias, V conv, hswish)",
                        "[kernels][attention]", evit::test::archs) {
  using Arch = TestType;
  evit::rng g(61);
  // A T2-like supernet: Cmax = 64 (h_max = 4), v_scale up to 4 (dv_max = 64), Rmax = 6.
  supernet_attention net(g, 64, 64, 6);
  const Index C = GENERATE(16, 32, 64);     // h = 1, 2, 4 (active = 1 head and = max)
  const Index v_scale = GENERATE(2, 4);     // dv = 32, 64
  const Index side = GENERATE(1, 3, 4, 6);  // N = 1, 9, 16, 36; side < Rmax and = Rmax
  const bool bias = GENERATE(true, false);
  const bool vc = GENERATE(true, false);
  CAPTURE(Arch::name(), C, v_scale, side, bias, vc);
  const auto cfg = attention_config::fixed_head_dim(side, C, 16, 1, v_scale)
                       .with_pre_proj(activation::hardswish);
  run_attention<Arch>(cfg, net.weights(bias, vc, false), 1, false, g);
}

TEMPLATE_LIST_TEST_CASE("attention: standard blocked heads, fixed qkv width, qkv bias, batch",
                        "[kernels][attention]", evit::test::archs) {
  using Arch = TestType;
  evit::rng g(62);
  supernet_attention net(g, 64, 32, 4);
  const Index heads = GENERATE(1, 2, 4);
  const Index tokens = GENERATE(1, 5, 17);
  const bool accumulate = GENERATE(false, true);
  CAPTURE(Arch::name(), heads, tokens, accumulate);
  // AutoFormer-style: C = 48 of Cmax = 64, qkv width 64 split over `heads` heads.
  auto cfg = attention_config::fixed_qkv_width(tokens, 48, heads, 64);
  cfg.out = 40;
  auto w = net.weights(false, false, true);
  run_attention<Arch>(cfg, w, 2, accumulate, g);
}

TEMPLATE_LIST_TEST_CASE("attention: phases run in pieces equal the whole call bit for bit",
                        "[kernels][attention]", evit::test::archs) {
  using Arch = TestType;
  evit::rng g(63);
  supernet_attention net(g, 64, 64, 6);
  const Index pieces = GENERATE(2, 3, 7);
  const bool vc = GENERATE(true, false);
  CAPTURE(Arch::name(), pieces, vc);
  const auto cfg =
      attention_config::fixed_head_dim(5, 48, 16, 1, 3).with_pre_proj(activation::hardswish);
  const auto w = net.weights(true, vc, false);
  const Index N = cfg.tokens;
  exact_buffer<float> x(N * cfg.in), whole(N * cfg.out), split(N * cfg.out);
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, whole);
  std::copy(whole.data(), whole.data() + whole.size(), split.data());
  const Index wsn = evit::kernels::attention_workspace_size<Arch, float>(cfg, vc);
  exact_buffer<float> ws(wsn);
  evit::kernels::attention<Arch>(1, cfg, w, x.data(), cfg.in, whole.data(), cfg.out, true,
                                 ws.data(), wsn);
  // Shared buffers once; one heads workspace per piece, as parallel workers would hold them.
  using shared = evit::kernels::attention_shared<float>;
  exact_buffer<float> shared_buf(shared::size(cfg, vc));
  const auto sh = shared::carve(cfg, vc, shared_buf.data());
  const Index hws = evit::kernels::attention_heads_workspace_size<Arch, float>(cfg);
  std::vector<exact_buffer<float>> heads_ws;
  for (Index p = 0; p < pieces; ++p) heads_ws.emplace_back(hws);
  auto piece = [&](Index n, Index p) {  // uneven pieces, some empty
    return std::make_pair(std::min(n, p * (n / pieces + 1)),
                          std::min(n, (p + 1) * (n / pieces + 1)));
  };
  for (Index p = pieces - 1; p >= 0; --p) {  // any order
    const auto r = piece(cfg.qkv_width(), p);
    evit::kernels::attention_qkv<Arch>(cfg, w, x.data(), cfg.in, sh, r.first, r.second);
  }
  for (Index p = 0; p < pieces; ++p) {
    const auto r = piece(cfg.heads, p);
    evit::kernels::attention_heads<Arch>(cfg, w, sh, r.first, r.second,
                                         heads_ws[static_cast<std::size_t>(p)].data(), hws);
  }
  for (Index p = 0; p < pieces; ++p) {
    const auto r = piece(cfg.out, p);
    evit::kernels::attention_proj<Arch>(cfg, w, sh, split.data(), cfg.out, true, r.first, r.second);
  }
  for (Index i = 0; i < N * cfg.out; ++i) {
    CAPTURE(i, i / cfg.out, i % cfg.out);
    REQUIRE(split.data()[i] == whole.data()[i]);
  }
}

TEST_CASE("attention_config: the two head splits address the qkv output as documented",
          "[kernels][attention]") {
  auto cfg = attention_config::fixed_head_dim(4, 64, 16, 1, 2);  // h = 4, dqk = 16, dv = 32
  CHECK(cfg.heads == 4);
  CHECK(cfg.qkv_width() == 4 * 64);
  // Interleaved: head 1 = columns [64, 128) as q | k | v.
  CHECK(cfg.q_col(1) == 64);
  CHECK(cfg.k_col(1) == 80);
  CHECK(cfg.v_col(1) == 96);
  cfg.with_layout(qkv_layout::blocked);
  CHECK(cfg.q_col(1) == 16);
  CHECK(cfg.k_col(1) == 64 + 16);
  CHECK(cfg.v_col(1) == 128 + 32);
}

TEMPLATE_LIST_TEST_CASE("mlp: fc1 + activation + fc2 on sliced weights, residual", "[kernels][mlp]",
                        evit::test::archs) {
  using Arch = TestType;
  evit::rng g(63);
  const Index c_max = 48, hidden_max = 5 * c_max;
  exact_buffer<float> fc1(hidden_max * c_max), b1(hidden_max), fc2(c_max * hidden_max), b2(c_max);
  evit::test::fill_uniform(g, fc1, -0.15, 0.15);
  evit::test::fill_uniform(g, b1, -0.1, 0.1);
  evit::test::fill_uniform(g, fc2, -0.07, 0.07);
  evit::test::fill_uniform(g, b2, -0.1, 0.1);
  const evit::kernels::mlp_weights<float> w{fc1.data(), c_max,      b1.data(),
                                            fc2.data(), hidden_max, b2.data()};
  const Index C = GENERATE(1, 16, 33, 48);
  const double ratio = GENERATE(2.0, 3.0, 5.0);
  const Index rows = GENERATE(1, 4, 13);
  const activation act = GENERATE(activation::hardswish, activation::gelu_erf);
  const bool accumulate = GENERATE(false, true);
  const Index hidden = evit::kernels::mlp_hidden(ratio, C);
  CAPTURE(Arch::name(), C, ratio, hidden, rows, evit::kernels::activation_name(act), accumulate);
  exact_buffer<float> x(rows * C), y(rows * C), ws(evit::kernels::mlp_workspace_size(rows, hidden));
  evit::test::fill_uniform(g, x);
  evit::test::fill_uniform(g, y);
  std::vector<double> expect(rows * C);
  ref::mlp(rows, C, hidden, C, x.data(), C, w, act, expect.data(), C);
  if (accumulate)
    for (Index i = 0; i < rows * C; ++i) expect[i] += y[i];
  evit::kernels::mlp<Arch>(rows, C, hidden, C, x.data(), C, w, act, y.data(), C, accumulate,
                           ws.data(), ws.size());
  evit::test::check_close("mlp", rows, C, y.data(), C, expect.data(), C, layer_abs_tol,
                          layer_rel_tol);
}

TEST_CASE("mlp_hidden: floor(ratio * C)", "[kernels][mlp]") {
  CHECK(evit::kernels::mlp_hidden(4.0, 48) == 192);
  CHECK(evit::kernels::mlp_hidden(2.5, 33) == 82);
  CHECK(evit::kernels::mlp_hidden(0.1, 30) == 3);  // 0.1 * 30 = 3.0000000000000004 in double
}
