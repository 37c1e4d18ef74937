// SPDX-License-Identifier: MIT
// The variation operators of the evolutionary searches, for any search space (they read only the
// run-time space_descriptor), with ElasticViT's semantics (docs/elasticvit.md#evolutionary-search)
// and its released-code defects fixed:
//   mutate     the resolution (p = resolution_prob: official code mutated it into a no-op); the
//              depths (all stages together with p = depth_prob, or each stage with it; the max
//              depth included, unlike the official range()); each stage's width (p =
//              mutation_prob, among the choices the width rules allow after the previous stage:
//              each stage's own choice list, so conv stages step by 8 and transformer stages by
//              16, where the official code swapped the steps); each per-layer dimension (p =
//              mutation_prob, once per stage when block-wise, per layer otherwise). A mutated
//              dimension takes a uniform choice with p = random_choice_prob, else its smallest
//              (official ElasticViT: 0.45). A later stage whose width the rules no longer allow
//              takes its smallest allowed width. Heads follow width / head_dim.
//   crossover  resolution, the width tuple and the depth tuple each whole from a random parent;
//              each per-layer dimension (e, k, mlp, qk, v, heads) from a random parent for the
//              whole subnet, repeated block-wise over the new depths.
// Both return valid subnets of the space and draw from the engine in a fixed order.
// Next: search/evolutionary.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/search/options.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/enumerate.hpp"

namespace evit {

namespace search {
namespace detail {

/// The smallest or a uniform choice among v[i] for which allowed(i): the mutation rule.
template <class Engine, class Allowed>
int pick_index(std::size_t n, double random_prob, Engine& g, Allowed&& allowed) {
  std::uint64_t count = 0;
  int first = -1;
  for (std::size_t i = 0; i < n; ++i)
    if (allowed(i)) {
      if (first < 0) first = static_cast<int>(i);
      ++count;
    }
  if (count == 0) return -1;
  if (!bernoulli(g, random_prob)) return first;
  std::uint64_t k = uniform_below(g, count);
  for (std::size_t i = 0; i < n; ++i)
    if (allowed(i) && k-- == 0) return static_cast<int>(i);
  return first;
}

inline void fix_heads(const space_descriptor& d, arch& a, int s) {
  const stage_descriptor& st = d.stages[s];
  if (st.heads != head_semantics::width_over_dim) return;
  for (int j = 0; j < a.depth(s); ++j) a.layer(s, j).num_heads = a.width(s) / st.head_dim;
}

/// Per-layer dimension kinds, in the fixed draw order.
enum class layer_dim { expand_ratio, kernel_size, mlp_ratio, qk_scale, v_scale, num_heads };
constexpr layer_dim layer_dims_order[] = {layer_dim::expand_ratio, layer_dim::kernel_size,
                                          layer_dim::mlp_ratio,    layer_dim::qk_scale,
                                          layer_dim::v_scale,      layer_dim::num_heads};

inline std::size_t num_choices(const stage_descriptor& st, layer_dim k) {
  switch (k) {
    case layer_dim::expand_ratio:
      return st.expand_ratio.size();
    case layer_dim::kernel_size:
      return st.kernel_size.size();
    case layer_dim::mlp_ratio:
      return st.mlp_ratio.size();
    case layer_dim::qk_scale:
      return st.qk_scale.size();
    case layer_dim::v_scale:
      return st.v_scale.size();
    case layer_dim::num_heads:
      return st.heads == head_semantics::width_over_dim ? 0 : st.num_heads.size();
  }
  return 0;
}

inline void set_choice(const stage_descriptor& st, layer_dim k, std::size_t i, layer_dims& l) {
  switch (k) {
    case layer_dim::expand_ratio:
      l.expand_ratio = st.expand_ratio[i];
      break;
    case layer_dim::kernel_size:
      l.kernel_size = st.kernel_size[i];
      break;
    case layer_dim::mlp_ratio:
      l.mlp_ratio = st.mlp_ratio[i];
      break;
    case layer_dim::qk_scale:
      l.qk_scale = st.qk_scale[i];
      break;
    case layer_dim::v_scale:
      l.v_scale = st.v_scale[i];
      break;
    case layer_dim::num_heads:
      l.num_heads = st.num_heads[i];
      break;
  }
}

inline void copy_dim(layer_dim k, const layer_dims& from, layer_dims& to) {
  switch (k) {
    case layer_dim::expand_ratio:
      to.expand_ratio = from.expand_ratio;
      break;
    case layer_dim::kernel_size:
      to.kernel_size = from.kernel_size;
      break;
    case layer_dim::mlp_ratio:
      to.mlp_ratio = from.mlp_ratio;
      break;
    case layer_dim::qk_scale:
      to.qk_scale = from.qk_scale;
      break;
    case layer_dim::v_scale:
      to.v_scale = from.v_scale;
      break;
    case layer_dim::num_heads:
      to.num_heads = from.num_heads;
      break;
  }
}

}  // namespace detail
}  // namespace search

/// A mutation of `parent` (see the file comment). @pre `parent` is valid in `d`.
template <class Engine>
arch mutate(const space_descriptor& d, const width_chains& chains, const arch& parent,
            const mutation_params& p, Engine& g) {
  using namespace search::detail;
  arch a = parent;
  const double rp = p.random_choice_prob;
  // Resolution.
  if (d.resolution.size() > 1 && bernoulli(g, p.resolution_prob)) {
    const int i = pick_index(d.resolution.size(), rp, g, [](std::size_t) { return true; });
    a.set_resolution(d.resolution[static_cast<std::size_t>(i)]);
  }
  // Depths: new layers repeat the stage's last layer (block-wise: its setting).
  const bool all_depths = p.depth_mode == depth_mutation::together && bernoulli(g, p.depth_prob);
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    if (st.depth.size() < 2) continue;
    const bool go =
        p.depth_mode == depth_mutation::together ? all_depths : bernoulli(g, p.depth_prob);
    if (!go) continue;
    const int i = pick_index(st.depth.size(), rp, g, [](std::size_t) { return true; });
    a.set_depth(s, st.depth[static_cast<std::size_t>(i)]);
  }
  // Widths, stage by stage; a tied stage follows the previous one.
  int prev = 0;
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    auto allowed = [&](std::size_t i) {
      return chains.completions[s][i] != 0 && width_chains::compatible(d, s, prev, st.width[i]);
    };
    if (s > 0 && d.tied_to_previous(s)) {
      a.set_width(s, prev);
    } else {
      const bool still_ok = [&] {
        for (std::size_t i = 0; i < st.width.size(); ++i)
          if (st.width[i] == a.width(s)) return allowed(i);
        return false;
      }();
      const bool go = st.width.size() > 1 && bernoulli(g, p.mutation_prob);
      if (go || !still_ok) {
        const int i = still_ok ? pick_index(st.width.size(), rp, g, allowed)
                               : pick_index(st.width.size(), 0.0, g, allowed);
        if (i >= 0) a.set_width(s, st.width[static_cast<std::size_t>(i)]);
      }
    }
    fix_heads(d, a, s);
    prev = a.width(s);
  }
  // Per-layer dimensions.
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    for (layer_dim k : layer_dims_order) {
      const std::size_t n = num_choices(st, k);
      if (n < 2) continue;
      const int units = d.blockwise ? 1 : a.depth(s);
      for (int u = 0; u < units; ++u) {
        if (!bernoulli(g, p.mutation_prob)) continue;
        const int i = pick_index(n, rp, g, [](std::size_t) { return true; });
        if (d.blockwise) {
          for (int j = 0; j < a.depth(s); ++j)
            set_choice(st, k, static_cast<std::size_t>(i), a.layer(s, j));
        } else {
          set_choice(st, k, static_cast<std::size_t>(i), a.layer(s, u));
        }
      }
    }
  }
  return a;
}

/// A crossover of two parents (see the file comment). @pre both are valid in `d`.
template <class Engine>
arch crossover(const space_descriptor& d, const arch& p0, const arch& p1, Engine& g) {
  using namespace search::detail;
  const arch* par[2] = {&p0, &p1};
  auto pick = [&]() -> const arch& { return *par[uniform_below(g, 2)]; };
  const arch& res = pick();
  const arch& wid = pick();
  const arch& dep = pick();
  const arch* dim_parent[6];
  for (int k = 0; k < 6; ++k) dim_parent[k] = &pick();
  arch a;
  a.set_resolution(res.resolution());
  for (int s = 0; s < d.num_stages(); ++s) {
    a.add_stage(wid.width(s), dep.depth(s));
    for (int j = 0; j < a.depth(s); ++j) {
      layer_dims& l = a.layer(s, j);
      for (int k = 0; k < 6; ++k) {
        const arch& m = *dim_parent[k];
        // Block-wise: the micro-parent's first layer of the stage, repeated; layer-wise: its layer
        // j, or its last layer when it has fewer.
        const int src = d.blockwise ? 0 : std::min(j, m.depth(s) - 1);
        copy_dim(layer_dims_order[k], m.layer(s, src), l);
      }
    }
    fix_heads(d, a, s);
  }
  return a;
}

}  // namespace evit
