// SPDX-License-Identifier: MIT
// kernels/rel_pos_attention.hpp against a double reference written from the definition
// (AutoFormer's RelativePosition2D on keys and values, docs/autoformer.md): the (N, N, d) tensors R
// built explicitly, the class token at row 0, offsets clamped to [-M, M] (grids wider than M
// included), heads in pieces equal to the whole call bit for bit, exact-size buffers.
#include <algorithm>
#include <cmath>
#include <vector>

#include "evit/kernels/rel_pos_attention.hpp"

#include "kernel_test_util.hpp"

using evit::Index;
using evit::test::exact_buffer;

namespace {

/// out[i, h d + c] for every head, in double, from the definition.
std::vector<double> rel_pos_reference(const evit::kernels::rel_pos_attention_config& cfg,
                                      const float* qkv, Index ld, const float* kv, const float* kh,
                                      const float* vv, const float* vh, Index M) {
  const Index N = cfg.tokens, d = cfg.head_dim, s = cfg.side;
  auto row = [&](Index i, Index j, bool vertical) -> Index {
    if (i == 0 || j == 0) return 0;
    const Index a = vertical ? (i - 1) / s : (i - 1) % s, b = vertical ? (j - 1) / s : (j - 1) % s;
    return std::min(std::max(b - a, -M), M) + M + 1;
  };
  std::vector<double> out(static_cast<std::size_t>(N * cfg.heads * d), 0.0);
  std::vector<double> p(static_cast<std::size_t>(N));
  for (Index h = 0; h < cfg.heads; ++h)
    for (Index i = 0; i < N; ++i) {
      const float* q = qkv + i * ld + cfg.q_col0 + h * d;
      double mx = -1e300;
      for (Index j = 0; j < N; ++j) {
        const float* k = qkv + j * ld + cfg.k_col0 + h * d;
        const Index rv = row(i, j, true), rh = row(i, j, false);
        double qk = 0, qr = 0;
        for (Index c = 0; c < d; ++c) {
          qk += double(q[c]) * k[c];
          qr += double(q[c]) * (double(kv[rv * d + c]) + kh[rh * d + c]);
        }
        p[static_cast<std::size_t>(j)] = (qk + qr) * cfg.scale;
        mx = std::max(mx, p[static_cast<std::size_t>(j)]);
      }
      double sum = 0;
      for (auto& x : p) sum += (x = std::exp(x - mx));
      for (Index j = 0; j < N; ++j) {
        const double a = p[static_cast<std::size_t>(j)] / sum;
        const float* v = qkv + j * ld + cfg.v_col0 + h * d;
        const Index rv = row(i, j, true), rh = row(i, j, false);
        for (Index c = 0; c < d; ++c)
          out[static_cast<std::size_t>(i * cfg.heads * d + h * d + c)] +=
              a * (double(v[c]) + vv[rv * d + c] + vh[rh * d + c]);
      }
    }
  return out;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("rel_pos_attention: heads against the definition, clamped offsets",
                        "[kernels][attention][af]", evit::test::archs) {
  using Arch = TestType;
  const Index side = GENERATE(1, 2, 4, 7);
  const Index M = GENERATE(2, 14);  // M = 2: offsets up to 6 clamp; 14: rows 1 and 29 unused
  const Index heads = GENERATE(1, 3);
  const Index d = 16;
  CAPTURE(Arch::name(), side, M, heads);
  evit::rng g(static_cast<std::uint64_t>(side * 100 + M * 10 + heads));
  evit::kernels::rel_pos_attention_config cfg;
  cfg.tokens = side * side + 1;
  cfg.side = side;
  cfg.head_dim = d;
  cfg.heads = heads;
  cfg.scale = 0.25f;
  cfg.q_col0 = 0;
  cfg.k_col0 = heads * d;
  cfg.v_col0 = 2 * heads * d;
  const Index N = cfg.tokens, ld = 3 * heads * d + 5, rows = 2 * M + 2;
  exact_buffer<float> qkv(evit::test::view_size(N, 3 * heads * d, ld), 1);
  evit::test::fill_uniform(g, qkv, -1.5, 1.5);
  std::vector<exact_buffer<float>> t;
  for (int k = 0; k < 4; ++k) {
    t.emplace_back(rows * d);
    evit::test::fill_uniform(g, t.back());
  }
  const evit::kernels::rel_pos_tables<float> rk{t[0].data(), t[1].data(), d, M};
  const evit::kernels::rel_pos_tables<float> rv{t[2].data(), t[3].data(), d, M};
  const Index ws_size = evit::kernels::rel_pos_attention_workspace_size<Arch, float>(cfg, rows);
  exact_buffer<float> ws(ws_size), out(N * heads * d), pieces(N * heads * d);
  evit::kernels::rel_pos_attention_heads<Arch>(cfg, qkv.data(), ld, rk, rv, 0, heads, out.data(),
                                               heads * d, ws.data(), ws_size);
  const auto expect =
      rel_pos_reference(cfg, qkv.data(), ld, t[0].data(), t[1].data(), t[2].data(), t[3].data(), M);
  evit::test::check_close("rel_pos_attention", N, heads * d, out.data(), heads * d, expect.data(),
                          heads * d, 2e-5, 1e-4);
  // Heads one at a time (the forward's pieces) give the same values bit for bit.
  for (Index h = 0; h < heads; ++h)
    evit::kernels::rel_pos_attention_heads<Arch>(cfg, qkv.data(), ld, rk, rv, h, h + 1,
                                                 pieces.data(), heads * d, ws.data(), ws_size);
  bool same = true;
  for (Index i = 0; i < N * heads * d; ++i) same = same && pieces[i] == out[i];
  CHECK(same);
}
