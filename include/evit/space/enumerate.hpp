// SPDX-License-Identifier: MIT
// Space queries over a descriptor: the exact number of subnets, the min and max subnets, and the
// table of width chains that lets samplers respect the width rules without rejection.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "evit/core/big_uint.hpp"
#include "evit/core/error.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"

namespace evit {

/// For each stage s and width choice i, how many ways the widths of stages s+1.. can be chosen
/// given width i at stage s (0: no way). Saturates at 2^64 - 1; samplers check for that.
struct width_chains {
  std::vector<std::vector<std::uint64_t>> completions;

  /// Whether width choice j of stage s may follow width w of stage s - 1 under the rules.
  static bool compatible(const space_descriptor& d, int s, int prev_width, int w) {
    if (s == 0) return true;
    if (d.tied_to_previous(s) && w != prev_width) return false;
    if (d.non_decreasing_width && w < prev_width) return false;
    return true;
  }

  explicit width_chains(const space_descriptor& d) {
    const int n = d.num_stages();
    completions.resize(n);
    for (int s = n - 1; s >= 0; --s) {
      const auto& ws = d.stages[s].width;
      completions[s].assign(ws.size(), 0);
      for (std::size_t i = 0; i < ws.size(); ++i) {
        if (s == n - 1) {
          completions[s][i] = 1;
          continue;
        }
        std::uint64_t sum = 0;
        const auto& next = d.stages[s + 1].width;
        for (std::size_t j = 0; j < next.size(); ++j) {
          if (!compatible(d, s + 1, ws[i], next[j])) continue;
          const std::uint64_t c = completions[s + 1][j];
          sum = (sum > std::numeric_limits<std::uint64_t>::max() - c)
                    ? std::numeric_limits<std::uint64_t>::max()
                    : sum + c;
        }
        completions[s][i] = sum;
      }
    }
  }
};

namespace detail {

/// Number of per-layer settings one layer of stage `st` can take.
inline std::uint64_t layer_options(const stage_descriptor& st) {
  auto n = [](std::size_t k) { return static_cast<std::uint64_t>(k == 0 ? 1 : k); };
  std::uint64_t heads = st.heads == head_semantics::width_over_dim ? 1 : n(st.num_heads.size());
  return n(st.expand_ratio.size()) * n(st.kernel_size.size()) * n(st.mlp_ratio.size()) *
         n(st.qk_scale.size()) * n(st.v_scale.size()) * heads;
}

enum class pick { min, max };

/// A layer with every dimension at its min (or max) choice; heads follow the stage's semantics.
inline layer_dims extreme_layer(const stage_descriptor& st, int width, pick p) {
  auto ext = [p](const auto& v) {
    using T = std::decay_t<decltype(v.front())>;
    return v.empty() ? T(0) : (p == pick::min ? v.front() : v.back());
  };
  layer_dims l;
  l.expand_ratio = ext(st.expand_ratio);
  l.kernel_size = ext(st.kernel_size);
  l.mlp_ratio = ext(st.mlp_ratio);
  l.qk_scale = ext(st.qk_scale);
  l.v_scale = ext(st.v_scale);
  l.num_heads =
      st.heads == head_semantics::width_over_dim ? width / st.head_dim : ext(st.num_heads);
  return l;
}

inline arch extreme_arch(const space_descriptor& d, const width_chains& chains, pick p) {
  arch a;
  a.set_resolution(p == pick::min ? d.resolution.front() : d.resolution.back());
  int prev = 0;
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    int chosen = -1;
    for (std::size_t i = 0; i < st.width.size(); ++i) {
      if (chains.completions[s][i] == 0 || !width_chains::compatible(d, s, prev, st.width[i]))
        continue;
      if (chosen < 0 || p == pick::max) chosen = st.width[i];
      if (p == pick::min) break;
    }
    if (chosen < 0) throw infeasible("space " + d.name + ": the width rules leave no subnet");
    const int depth = p == pick::min ? st.depth.front() : st.depth.back();
    a.add_stage(chosen, depth, extreme_layer(st, chosen, p));
    prev = chosen;
  }
  return a;
}

}  // namespace detail

/// The smallest subnet: every dimension at its smallest choice the rules allow.
inline arch min_arch(const space_descriptor& d, const width_chains& chains) {
  return detail::extreme_arch(d, chains, detail::pick::min);
}
/// The largest subnet: every dimension at its largest choice the rules allow.
inline arch max_arch(const space_descriptor& d, const width_chains& chains) {
  return detail::extreme_arch(d, chains, detail::pick::max);
}

/// The exact number of distinct subnets of space `d` (exact at any size).
inline big_uint cardinality(const space_descriptor& d) {
  const int n = d.num_stages();
  // Width chains, exactly: ways[i] = number of valid width prefixes ending with choice i.
  std::vector<big_uint> ways(d.stages[0].width.size(), big_uint(1));
  for (int s = 1; s < n; ++s) {
    const auto& prev_w = d.stages[s - 1].width;
    const auto& ws = d.stages[s].width;
    std::vector<big_uint> next(ws.size());
    for (std::size_t j = 0; j < ws.size(); ++j)
      for (std::size_t i = 0; i < prev_w.size(); ++i)
        if (width_chains::compatible(d, s, prev_w[i], ws[j])) next[j] += ways[i];
    ways = std::move(next);
  }
  big_uint total;
  for (const auto& w : ways) total += w;
  total *= big_uint(d.resolution.size());
  for (const auto& st : d.stages) {
    // Block-wise: one setting per stage whatever its depth; layer-wise: one per layer.
    const big_uint per_layer(detail::layer_options(st));
    big_uint stage_total;
    for (int depth : st.depth) {
      big_uint c(1);
      const int reps = d.blockwise ? 1 : depth;
      for (int r = 0; r < reps; ++r) c *= per_layer;
      stage_total += c;
    }
    total *= stage_total;
  }
  return total;
}

}  // namespace evit
