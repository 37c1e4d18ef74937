// SPDX-License-Identifier: MIT
// Random subnets of a space, with evit's own distributions (core/rng.hpp): the same seed gives
// the same subnets on every platform. No rejection loop: widths are drawn only among the choices
// that the width rules allow and that can still be completed (space/enumerate.hpp).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rng.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/enumerate.hpp"

namespace evit {

namespace detail {

template <class T, class Engine>
T pick_uniform(const std::vector<T>& v, Engine& g) {
  if (v.empty()) return T(0);
  return v[static_cast<std::size_t>(uniform_below(g, v.size()))];
}

/// Draws every per-layer dimension of one layer uniformly (in the fixed order e, k, mlp, qk, v,
/// heads, so a seed means the same thing everywhere).
template <class Engine>
layer_dims draw_layer(const stage_descriptor& st, int width, Engine& g) {
  layer_dims l;
  l.expand_ratio = pick_uniform(st.expand_ratio, g);
  l.kernel_size = pick_uniform(st.kernel_size, g);
  l.mlp_ratio = pick_uniform(st.mlp_ratio, g);
  l.qk_scale = pick_uniform(st.qk_scale, g);
  l.v_scale = pick_uniform(st.v_scale, g);
  l.num_heads = st.heads == head_semantics::width_over_dim ? width / st.head_dim
                                                           : pick_uniform(st.num_heads, g);
  return l;
}

/// Index drawn with probability weights[i] / sum(weights) (integer weights: exact and portable).
template <class Engine>
std::size_t pick_weighted(const std::vector<std::uint64_t>& weights, Engine& g) {
  std::uint64_t total = 0;
  for (std::uint64_t w : weights) {
    if (w > std::numeric_limits<std::uint64_t>::max() - total)
      throw error(
          "evit: subnet counts exceed 2^64; uniform-over-subnets sampling is not "
          "supported for this space (use per-dimension sampling)");
    total += w;
  }
  std::uint64_t r = uniform_below(g, total);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  return weights.size() - 1;  // unreachable: r < total
}

template <class Engine>
void fill_stage_layers(const space_descriptor& d, const stage_descriptor& st, int width, int depth,
                       arch& a, Engine& g) {
  const int s = a.num_stages();
  const layer_dims first = draw_layer(st, width, g);
  a.add_stage(width, depth, first);
  if (!d.blockwise)
    for (int j = 1; j < depth; ++j) a.layer(s, j) = draw_layer(st, width, g);
}

}  // namespace detail

/// The official "uniform" sampler's distribution: every dimension uniform among the choices the
/// rules leave. For each stage in order: width uniform among the choices compatible with the
/// previous width (what the official redraw-until-valid loop converges to, without the loop),
/// depth uniform, then the layer choices (one draw per stage when block-wise, per layer otherwise).
template <class Engine>
arch sample_per_dimension(const space_descriptor& d, const width_chains& chains, Engine& g) {
  arch a;
  a.set_resolution(detail::pick_uniform(d.resolution, g));
  int prev = 0;
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    auto allowed = [&](std::size_t i) {
      return chains.completions[s][i] != 0 && width_chains::compatible(d, s, prev, st.width[i]);
    };
    std::uint64_t n_allowed = 0;
    for (std::size_t i = 0; i < st.width.size(); ++i) n_allowed += allowed(i) ? 1 : 0;
    if (n_allowed == 0) throw infeasible("space " + d.name + ": the width rules leave no subnet");
    // The k-th allowed width, without building a list (no allocation per draw).
    std::uint64_t k = uniform_below(g, n_allowed);
    int w = 0;
    for (std::size_t i = 0; i < st.width.size(); ++i)
      if (allowed(i) && k-- == 0) {
        w = st.width[i];
        break;
      }
    const int depth = detail::pick_uniform(st.depth, g);
    detail::fill_stage_layers(d, st, w, depth, a, g);
    prev = w;
  }
  return a;
}

/// Uniform over subnets: every distinct subnet of the space is equally likely. Widths are drawn
/// in proportion to the number of width chains they complete; for layer-wise spaces a depth d is
/// drawn in proportion to (per-layer settings)^d.
template <class Engine>
arch sample_uniform_subnet(const space_descriptor& d, const width_chains& chains, Engine& g) {
  arch a;
  a.set_resolution(detail::pick_uniform(d.resolution, g));
  int prev = 0;
  std::vector<std::uint64_t> weights;
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    weights.assign(st.width.size(), 0);
    for (std::size_t i = 0; i < st.width.size(); ++i)
      if (width_chains::compatible(d, s, prev, st.width[i])) weights[i] = chains.completions[s][i];
    const int w = st.width[detail::pick_weighted(weights, g)];
    int depth;
    if (d.blockwise) {
      depth = detail::pick_uniform(st.depth, g);
    } else {
      const std::uint64_t per_layer = detail::layer_options(st);
      weights.assign(st.depth.size(), 1);
      for (std::size_t i = 0; i < st.depth.size(); ++i)
        for (int r = 0; r < st.depth[i]; ++r) {
          if (weights[i] > std::numeric_limits<std::uint64_t>::max() / per_layer)
            throw error("evit: subnet counts exceed 2^64 in stage " + st.name +
                        "; use per-dimension sampling");
          weights[i] *= per_layer;
        }
      depth = st.depth[detail::pick_weighted(weights, g)];
    }
    detail::fill_stage_layers(d, st, w, depth, a, g);
    prev = w;
  }
  return a;
}

}  // namespace evit
