// SPDX-License-Identifier: MIT
// The AutoFormer forward pass on a supernet's weights (the official Vision_TransformerSuper with
// gp, change_qkv, relative_position and abs_pos on, as its supernet-T/S/B runs use them; every
// quirk of the official forward is reproduced, docs/autoformer.md): the workspace, the options, and
// `network`, the engine that supernet<Space> (supernet.hpp, read that first) wraps.
//
// Every sample runs op by op over the caller's executor; with fewer samples than workers, each op
// of a sample is also cut into pieces (token rows, output columns or heads) that compute their
// elements exactly as the whole op does, so the logits are the same bit for bit for any executor.
// Weights are read in place (zero-copy slices of the supernet tensors, including the stride-3 q,
// k, v rows of qkv); all buffers come from a forward_workspace sized once for the space's largest
// subnet.
//
// ISA: network::run takes the SIMD architecture as a template parameter and is compiled once per
// ISA in a dispatching program (cmake/evit_isa_unit.cpp); forward() runs the one simd::dispatch()
// picks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/kernels/activation.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/kernels/norm.hpp"
#include "evit/kernels/rel_pos_attention.hpp"
#include "evit/models/autoformer/weights.hpp"
#include "evit/nn/workspace.hpp"
#include "evit/simd/isa.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace autoformer {

/// LayerNorm epsilon of the official model (F.layer_norm's default, 1e-5).
inline constexpr float norm_eps = 1e-5f;

/// Intermediate outputs of a forward pass, named and shaped as the reference goldens:
/// "patch_embed" (B, P, E), "embed" (B, P + 1, E), "block0.attn_out", "block<i>" for every active
/// block, "norm" (B, P + 1, E), "features" (B, E).
struct intermediates {
  struct tensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
  };
  std::map<std::string, tensor> by_name;
};

/// Options of a forward pass, with named setters.
class forward_options {
 public:
  /// Runs the samples, and with fewer samples than workers the pieces of each op, on `exec`
  /// (default: the calling thread). The logits are the same for every executor.
  forward_options& executor(executor_ref exec) {
    exec_ = exec;
    return *this;
  }
  /// Stores the intermediates (allocates: for tests and debugging).
  forward_options& keep_intermediates(intermediates& into) {
    inter_ = &into;
    return *this;
  }
  executor_ref executor() const { return exec_; }
  intermediates* kept_intermediates() const { return inter_; }

 private:
  static sequential_executor& calling_thread() {
    static sequential_executor one;
    return one;
  }
  executor_ref exec_{calling_thread()};
  intermediates* inter_ = nullptr;
};

/// Buffers of a forward pass, sized once for the supernet (which bounds every subnet) and a batch
/// capacity; any later forward of any subnet with at most that batch allocates nothing.
class forward_workspace {
 public:
  /// Reserves buffers for `batch` samples and `workers` threads of a supernet of sizes `z`, with
  /// `scratch` floats per worker.
  void reserve(const supernet_dims& z, Index batch, int workers, Index scratch) {
    const Index n = z.tokens, e = z.embed, q = z.qkv();
    const Index patches = Index(z.tokens - 1) * 3 * z.patch * z.patch;
    const Index x = round(n * e), qkv = round(n * 3 * q), heads = round(n * q);
    const Index hidden = round(std::max(n * z.hidden, patches)), feat = round(e);
    if (batch <= batch_ && workers <= workers_ && x <= x_ && qkv <= qkv_ && heads <= heads_ &&
        hidden <= hidden_ && feat <= feat_ && scratch <= scratch_)
      return;
    // Each buffer at the largest size any supernet asked for (one workspace may serve several).
    batch_ = std::max(batch_, batch);
    workers_ = std::max(workers_, workers);
    scratch_ = round(std::max(scratch_, scratch));
    x_ = std::max(x_, x);
    qkv_ = std::max(qkv_, qkv);
    heads_ = std::max(heads_, heads);
    hidden_ = std::max(hidden_, hidden);
    feat_ = std::max(feat_, feat);
    per_sample_ = 2 * x_ + qkv_ + heads_ + hidden_ + feat_;
    buffer_.reserve(batch_ * per_sample_ + workers_ * scratch_);
  }

  Index batch_capacity() const { return batch_; }
  int worker_capacity() const { return workers_; }
  /// Bytes held.
  Index bytes() const { return buffer_.size() * static_cast<Index>(sizeof(float)); }
  static Index round(Index n) { return (n + 15) / 16 * 16; }

  float* x(Index b) { return sample(b); }                   ///< the residual stream [N, E]
  float* xn(Index b) { return sample(b) + x_; }             ///< normed tokens / branch out
  float* qkv(Index b) { return xn(b) + x_; }                ///< [N, 3Q]: q | k | v
  float* heads(Index b) { return qkv(b) + qkv_; }           ///< [N, Q]
  float* hidden(Index b) { return heads(b) + heads_; }      ///< [N, F] or the patches
  float* features(Index b) { return hidden(b) + hidden_; }  ///< [E]
  float* scratch(int worker) { return buffer_.data() + batch_ * per_sample_ + worker * scratch_; }
  Index scratch_size() const { return scratch_; }

 private:
  float* sample(Index b) { return buffer_.data() + b * per_sample_; }
  Index batch_ = 0, per_sample_ = 0, scratch_ = 0, x_ = 0, qkv_ = 0, heads_ = 0, hidden_ = 0,
        feat_ = 0;
  int workers_ = 0;
  nn::workspace<float> buffer_;
};

/// The steps of a forward pass, in order: embed, then per active block attention and ffn, then
/// head. This machine's block table times them one by one (cost/autoformer_latency.hpp).
enum class step {
  embed,      ///< patch embedding, class token, absolute position
  attention,  ///< x + proj(attention(qkv(LN(x)))) of one block
  ffn,        ///< x + fc2(gelu(fc1(LN(x)))) of one block
  head,       ///< final LayerNorm, mean of the patch tokens, classifier
};

/// The engine of the forward pass: one supernet's weights. Immutable; any number of threads may
/// run forwards at once, each with its own forward_workspace.
class network {
 public:
  explicit network(supernet_weights w) : w_(std::move(w)) {}

  const supernet_weights& weights() const { return w_; }
  const space_descriptor& space() const { return w_.space(); }
  int num_classes() const { return w_.dims().classes; }

  /// See supernet<Space>::forward.
  void forward(const arch& a, const float* images, Index batch, float* logits,
               forward_workspace& ws, const forward_options& opts) const;

  template <class Arch>
  void run(const arch& a, const float* images, Index batch, float* logits, forward_workspace& ws,
           intermediates* inter, executor_ref exec) const;

  /// Runs one step of subnet `a`'s forward, on the workspace as the previous step left it
  /// (`layer`: the block of an attention or ffn step, ignored otherwise): the same code and
  /// buffers as forward(), for timing a step alone. Dispatches like forward().
  /// @throws evit::invalid_arch, evit::invalid_argument for a layer outside [0, depth).
  void run_step(step s, int layer, const arch& a, const float* images, Index batch, float* logits,
                forward_workspace& ws, executor_ref exec) const;

  template <class Arch>
  void run_step_on(step s, int layer, const arch& a, const float* images, Index batch,
                   float* logits, forward_workspace& ws, executor_ref exec) const;

 private:
  /// Every sample, and with fewer samples than workers `parts` pieces of each op per sample;
  /// pieces write disjoint outputs and compute each element as the whole op does.
  struct splitter {
    executor_ref exec;
    Index batch;
    Index parts;
    template <class F>
    void pieces(Index n, Index align, F&& fn) const {
      const Index per = ((n + align - 1) / align + parts - 1) / parts * align;
      exec.parallel_for(batch * parts, [&](Index i, int worker) {
        const Index p = i % parts;
        const Index begin = std::min(n, p * per), end = std::min(n, begin + per);
        if (begin < end) fn(i / parts, begin, end, worker);
      });
    }
  };

  /// One forward's sizes, buffers and pieces (begin() checks the arguments and sizes `ws`).
  struct pass {
    const arch& a;
    const float* images;
    Index batch;
    float* logits;
    forward_workspace& ws;
    intermediates* inter;
    splitter sp;
    Index ps, R, side, N, P, K, E, Emax, Qmax, Fmax, hd, nc;
    kernels::rel_pos_attention_config cfg;

    /// Stores an intermediate (only called with `inter`: the names and copies allocate).
    template <class Src>
    void keep(const std::string& name, Index rows, Index cols, Index ld, Src src) const {
      intermediates::tensor t;
      t.shape = rows == 1 ? std::vector<std::int64_t>{batch, cols}
                          : std::vector<std::int64_t>{batch, rows, cols};
      t.values.resize(static_cast<std::size_t>(batch * rows * cols));
      for (Index b = 0; b < batch; ++b)
        for (Index r = 0; r < rows; ++r)
          std::copy(src(b) + r * ld, src(b) + r * ld + cols,
                    t.values.data() + (b * rows + r) * cols);
      inter->by_name[name] = std::move(t);
    }
    /// x += xn, row pieces (the official residual adds, in their order).
    void add_into_x() const {
      sp.pieces(N, 1, [&](Index b, Index r0, Index r1, int) {
        float* x = ws.x(b);
        const float* y = ws.xn(b);
        for (Index i = r0 * E; i < r1 * E; ++i) x[i] += y[i];
      });
    }
  };

  template <class Arch>
  pass begin(const arch& a, const float* images, Index batch, float* logits, forward_workspace& ws,
             intermediates* inter, executor_ref exec) const;
  template <class Arch>
  void embed(const pass& p) const;
  template <class Arch>
  void attention(const pass& p, int i) const;
  template <class Arch>
  void ffn(const pass& p, int i) const;
  template <class Arch>
  void head(const pass& p) const;

  supernet_weights w_;
};

template <class Arch>
network::pass network::begin(const arch& a, const float* images, Index batch, float* logits,
                             forward_workspace& ws, intermediates* inter, executor_ref exec) const {
  const space_descriptor& d = space();
  validate(d, a);
  if (batch < 1) throw invalid_argument("forward: batch " + std::to_string(batch) + " < 1");
  if (images == nullptr || logits == nullptr)
    throw invalid_argument("forward: null input or output");
  const supernet_dims& z = w_.dims();
  const Index ps = z.patch, R = a.resolution(), side = R / ps;
  if (side != z.side)
    throw invalid_arch("resolution " + std::to_string(R) + ": the position embedding has " +
                       std::to_string(z.tokens) + " positions, for " + std::to_string(z.side) +
                       "x" + std::to_string(z.side) + " patches of " + std::to_string(ps) +
                       " (resolution " + std::to_string(z.side * ps) + ")");
  const Index N = side * side + 1;
  kernels::rel_pos_attention_config cfg;
  cfg.tokens = N;
  cfg.side = side;
  cfg.head_dim = z.head_dim;
  cfg.heads = z.heads;
  const Index scratch = kernels::rel_pos_attention_workspace_size<Arch, float>(cfg, z.rel_rows());
  const Index threads = exec.num_threads();
  ws.reserve(z, batch, static_cast<int>(threads), scratch);
  const splitter sp{exec, batch, batch >= threads ? 1 : (threads + batch - 1) / batch};
  return pass{a,       images,  batch,    logits,     ws,        inter,       sp,
              ps,      R,       side,     N,          N - 1,     3 * ps * ps, a.width(0),
              z.embed, z.qkv(), z.hidden, z.head_dim, z.classes, cfg};
}

template <class Arch>
void network::run(const arch& a, const float* images, Index batch, float* logits,
                  forward_workspace& ws, intermediates* inter, executor_ref exec) const {
  const pass p = begin<Arch>(a, images, batch, logits, ws, inter, exec);
  embed<Arch>(p);
  for (int i = 0; i < a.depth(0); ++i) {
    attention<Arch>(p, i);
    ffn<Arch>(p, i);
    if (inter) p.keep("block" + std::to_string(i), p.N, p.E, p.E, [&](Index b) { return ws.x(b); });
  }
  // Blocks at and after the sampled depth are the identity.
  head<Arch>(p);
}

template <class Arch>
void network::run_step_on(step s, int layer, const arch& a, const float* images, Index batch,
                          float* logits, forward_workspace& ws, executor_ref exec) const {
  const pass p = begin<Arch>(a, images, batch, logits, ws, nullptr, exec);
  if ((s == step::attention || s == step::ffn) && (layer < 0 || layer >= a.depth(0)))
    throw invalid_argument("run_step: layer " + std::to_string(layer) + " (allowed: 0 to " +
                           std::to_string(a.depth(0) - 1) + ", the subnet's depth - 1)");
  switch (s) {
    case step::embed:
      return embed<Arch>(p);
    case step::attention:
      return attention<Arch>(p, layer);
    case step::ffn:
      return ffn<Arch>(p, layer);
    case step::head:
      return head<Arch>(p);
  }
}

// Patch embedding: conv 16x16 stride 16 = each patch's 3 x p x p pixels (rows, patch order
// row-major) times the first E filters; into rows 1..P of x. Then the class token, then the
// absolute position embedding on every token (class token included).
template <class Arch>
void network::embed(const pass& p) const {
  const Index P = p.P, K = p.K, E = p.E, R = p.R, ps = p.ps, side = p.side;
  forward_workspace& ws = p.ws;
  p.sp.pieces(P, 1, [&](Index b, Index p0, Index p1, int) {
    const float* img = p.images + b * 3 * R * R;
    for (Index q = p0; q < p1; ++q) {
      float* row = ws.hidden(b) + q * K;
      const Index py = q / side, px = q % side;
      for (Index c = 0; c < 3; ++c)
        for (Index ky = 0; ky < ps; ++ky)
          std::copy(img + c * R * R + (py * ps + ky) * R + px * ps,
                    img + c * R * R + (py * ps + ky) * R + px * ps + ps, row + (c * ps + ky) * ps);
    }
  });
  p.sp.pieces(E, 16, [&](Index b, Index j0, Index j1, int) {
    kernels::linear<Arch>(P, K, j1 - j0, ws.hidden(b), K, w_.patch_w, K, j0, w_.patch_b,
                          ws.x(b) + E + j0, E);
  });
  if (p.inter) p.keep("patch_embed", P, E, E, [&](Index b) { return ws.x(b) + E; });
  p.sp.pieces(p.N, 1, [&](Index b, Index r0, Index r1, int) {
    float* x = ws.x(b);
    for (Index r = r0; r < r1; ++r) {
      const float* pos = w_.pos_embed + r * p.Emax;
      float* row = x + r * E;
      if (r == 0)
        for (Index c = 0; c < E; ++c) row[c] = w_.cls_token[c] + pos[c];
      else
        for (Index c = 0; c < E; ++c) row[c] += pos[c];
    }
  });
  if (p.inter) p.keep("embed", p.N, E, E, [&](Index b) { return ws.x(b); });
}

// x + attn(LN(x)) of block i: LayerNorm over the sampled E.
template <class Arch>
void network::attention(const pass& p, int i) const {
  const block_tensors& t = w_.blocks[static_cast<std::size_t>(i)];
  const Index N = p.N, E = p.E, Emax = p.Emax, hd = p.hd;
  const Index H = p.a.layer(0, i).num_heads, Q = H * hd;
  forward_workspace& ws = p.ws;
  p.sp.pieces(N, 1, [&](Index b, Index r0, Index r1, int) {
    kernels::layer_norm_rows<Arch>(r1 - r0, E, ws.x(b) + r0 * E, E, t.ln_attn_g, t.ln_attn_b,
                                   norm_eps, ws.xn(b) + r0 * E, E);
  });
  // qkv [N, 3Q]: part s (q, k, v) feature j is supernet row 3 j + s (stride 3, first E columns),
  // its bias entry s Q + j (contiguous: the official code's mismatch, reproduced).
  p.sp.pieces(3 * Q, 16, [&](Index b, Index c0, Index c1, int) {
    for (Index s = 0; s < 3; ++s) {
      const Index lo = std::max(c0, s * Q), hi = std::min(c1, (s + 1) * Q);
      if (lo >= hi) continue;
      const Index j = lo - s * Q;
      kernels::linear<Arch>(N, E, hi - lo, ws.xn(b), E, t.qkv_w + (3 * j + s) * Emax, 3 * Emax, 0,
                            t.qkv_b + s * Q + j, ws.qkv(b) + lo, 3 * Q);
    }
  });
  // Heads: d = 64 always, scale (Q / H)^-1/2 = 1/8 whatever E is; 2-D relative position on
  // keys and values.
  kernels::rel_pos_attention_config c = p.cfg;
  c.heads = H;
  c.scale = 0.125f;
  c.q_col0 = 0;
  c.k_col0 = Q;
  c.v_col0 = 2 * Q;
  const supernet_dims& z = w_.dims();
  kernels::rel_pos_tables<float> rk{t.rel_k_v, t.rel_k_h, hd, z.max_relative};
  kernels::rel_pos_tables<float> rv{t.rel_v_v, t.rel_v_h, hd, z.max_relative};
  p.sp.pieces(H, 1, [&](Index b, Index h0, Index h1, int wk) {
    kernels::rel_pos_attention_heads<Arch>(c, ws.qkv(b), 3 * Q, rk, rv, h0, h1, ws.heads(b), Q,
                                           ws.scratch(wk), ws.scratch_size());
  });
  // proj W[:E, :Q] + b[:E] into xn, then the residual add.
  p.sp.pieces(E, 16, [&](Index b, Index j0, Index j1, int) {
    kernels::linear<Arch>(N, Q, j1 - j0, ws.heads(b), Q, t.proj_w, p.Qmax, j0, t.proj_b,
                          ws.xn(b) + j0, E);
  });
  if (p.inter && i == 0) p.keep("block0.attn_out", N, E, E, [&](Index b) { return ws.xn(b); });
  p.add_into_x();
}

// x + fc2(gelu(fc1(LN(x)))) of block i.
template <class Arch>
void network::ffn(const pass& p, int i) const {
  const block_tensors& t = w_.blocks[static_cast<std::size_t>(i)];
  const Index N = p.N, E = p.E, F = p.a.layer(0, i).mlp_ratio.floor_times(E);
  forward_workspace& ws = p.ws;
  p.sp.pieces(N, 1, [&](Index b, Index r0, Index r1, int) {
    kernels::layer_norm_rows<Arch>(r1 - r0, E, ws.x(b) + r0 * E, E, t.ln_ffn_g, t.ln_ffn_b,
                                   norm_eps, ws.xn(b) + r0 * E, E);
  });
  p.sp.pieces(F, 16, [&](Index b, Index j0, Index j1, int) {
    kernels::linear<Arch>(N, E, j1 - j0, ws.xn(b), E, t.fc1_w, p.Emax, j0, t.fc1_b,
                          ws.hidden(b) + j0, F, kernels::activation::gelu_erf);
  });
  p.sp.pieces(E, 16, [&](Index b, Index j0, Index j1, int) {
    kernels::linear<Arch>(N, F, j1 - j0, ws.hidden(b), F, t.fc2_w, p.Fmax, j0, t.fc2_b,
                          ws.xn(b) + j0, E);
  });
  p.add_into_x();
}

// Final LayerNorm, then the mean of the patch tokens only (gp: the class token is left out), then
// the classifier.
template <class Arch>
void network::head(const pass& p) const {
  const Index N = p.N, E = p.E, nc = p.nc;
  forward_workspace& ws = p.ws;
  p.sp.pieces(N, 1, [&](Index b, Index r0, Index r1, int) {
    kernels::layer_norm_rows<Arch>(r1 - r0, E, ws.x(b) + r0 * E, E, w_.norm_g, w_.norm_b, norm_eps,
                                   ws.xn(b) + r0 * E, E);
  });
  if (p.inter) p.keep("norm", N, E, E, [&](Index b) { return ws.xn(b); });
  p.sp.pieces(E, 16, [&](Index b, Index j0, Index j1, int) {
    kernels::mean_rows<Arch>(p.P, j1 - j0, ws.xn(b) + E + j0, E, ws.features(b) + j0);
  });
  if (p.inter) p.keep("features", 1, E, E, [&](Index b) { return ws.features(b); });
  p.sp.pieces(nc, 16, [&](Index b, Index j0, Index j1, int) {
    kernels::linear<Arch>(1, E, j1 - j0, ws.features(b), E, w_.head_w, p.Emax, j0, w_.head_b,
                          p.logits + b * nc + j0, nc);
  });
}

// The forward pass per ISA: compiled once per ISA in a dispatching program (simd/isa.hpp).
#define EVIT_AUTOFORMER_FORWARD_INSTANCES(EXTERN, A)                                            \
  EXTERN template void network::run<A>(const arch&, const float*, Index, float*,                \
                                       forward_workspace&, intermediates*, executor_ref) const; \
  EXTERN template void network::run_step_on<A>(step, int, const arch&, const float*, Index,     \
                                               float*, forward_workspace&, executor_ref) const;
EVIT_FOR_EACH_DISPATCH_ARCH(EVIT_AUTOFORMER_FORWARD_INSTANCES)
#undef EVIT_AUTOFORMER_FORWARD_INSTANCES

inline void network::forward(const arch& a, const float* images, Index batch, float* logits,
                             forward_workspace& ws, const forward_options& opts) const {
  simd::dispatch([&](auto arch) {
    run<decltype(arch)>(a, images, batch, logits, ws, opts.kept_intermediates(), opts.executor());
  });
}

inline void network::run_step(step s, int layer, const arch& a, const float* images, Index batch,
                              float* logits, forward_workspace& ws, executor_ref exec) const {
  simd::dispatch([&](auto arch) {
    run_step_on<decltype(arch)>(s, layer, a, images, batch, logits, ws, exec);
  });
}

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
