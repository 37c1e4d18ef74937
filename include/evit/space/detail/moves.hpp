// SPDX-License-Identifier: MIT
// Internal header of the samplers and the searches (sample/complexity_aware.hpp,
// search/detail/core.hpp), which both walk the space with these moves (detail/seek.hpp).
// Moves on a subnet: change one dimension (the resolution, a stage's width, a stage's depth, or a
// per-layer choice) to another of its values, keeping every rule of the space. They work on any
// space, because they only read the run-time space_descriptor.
#pragma once

#include <cstdint>
#include <vector>

#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/enumerate.hpp"

namespace evit {
namespace detail {

/// What a move changes.
enum class dim_kind : std::uint8_t {
  resolution,
  width,  // a group of stages tied by same_width rules moves together
  depth,
  expand_ratio,
  kernel_size,
  mlp_ratio,
  qk_scale,
  v_scale,
  num_heads,  // only where heads are chosen (not width / head_dim)
};

/// One place a move can act on.
struct site {
  dim_kind kind = dim_kind::resolution;
  int stage = -1;       ///< the stage (for a width: the first stage of its tie group)
  int stage_last = -1;  ///< width: the last stage of the tie group
  int layer = -1;       ///< per-layer dims: the layer, or -1 for all layers of the stage
};

/// The moves of one space: which sites exist, which values each may take from a given subnet,
/// and how to apply a change. Sites with a single choice never move and are left out.
class move_set {
 public:
  explicit move_set(const space_descriptor& d) : d_(&d) {
    if (d.resolution.size() > 1) fixed_.push_back(site{dim_kind::resolution, -1, -1, -1});
    for (int s = 0; s < d.num_stages(); ++s) {
      if (s > 0 && d.tied_to_previous(s)) continue;  // part of the previous stage's group
      int last = s;
      while (last + 1 < d.num_stages() && d.tied_to_previous(last + 1)) ++last;
      if (d.stages[s].width.size() > 1) fixed_.push_back(site{dim_kind::width, s, last, -1});
    }
    for (int s = 0; s < d.num_stages(); ++s)
      if (d.stages[s].depth.size() > 1) fixed_.push_back(site{dim_kind::depth, s, s, -1});
    for (int s = 0; s < d.num_stages(); ++s) {
      const stage_descriptor& st = d.stages[s];
      auto add = [&](dim_kind k, std::size_t n) {
        if (n > 1) per_layer_.push_back(site{k, s, s, -1});
      };
      add(dim_kind::expand_ratio, st.expand_ratio.size());
      add(dim_kind::kernel_size, st.kernel_size.size());
      add(dim_kind::mlp_ratio, st.mlp_ratio.size());
      add(dim_kind::qk_scale, st.qk_scale.size());
      add(dim_kind::v_scale, st.v_scale.size());
      if (st.heads != head_semantics::width_over_dim) add(dim_kind::num_heads, st.num_heads.size());
    }
  }

  const space_descriptor& descriptor() const { return *d_; }

  /// Every site of `a`: the fixed ones, then the per-layer ones (one per stage when the space is
  /// block-wise, one per layer otherwise).
  void sites(const arch& a, std::vector<site>& out) const {
    out.assign(fixed_.begin(), fixed_.end());
    for (const site& p : per_layer_) {
      if (d_->blockwise) {
        out.push_back(p);
      } else {
        for (int j = 0; j < a.depth(p.stage); ++j) out.push_back(site{p.kind, p.stage, p.stage, j});
      }
    }
  }

  /// The value indices site `p` may move to from `a` in direction dir (+1: larger, -1: smaller),
  /// nearest first, keeping the width rules.
  void targets(const arch& a, const site& p, int dir, std::vector<int>& out) const {
    out.clear();
    const int n = num_choices(p);
    const int cur = current_index(a, p);
    if (cur < 0) return;  // the subnet holds a value outside the list: leave it alone
    for (int i = cur + dir; i >= 0 && i < n; i += dir) {
      if (p.kind != dim_kind::width) {
        out.push_back(i);
        continue;
      }
      if (!width_allowed(a, p, d_->stages[p.stage].width[i])) {
        if (d_->same_width.empty()) break;  // non-decreasing alone: farther values fail too
        continue;
      }
      out.push_back(i);
    }
  }

  /// The nearest value index in direction dir, or -1.
  int nearest_target(const arch& a, const site& p, int dir) const {
    const int n = num_choices(p);
    const int cur = current_index(a, p);
    if (cur < 0) return -1;
    for (int i = cur + dir; i >= 0 && i < n; i += dir) {
      if (p.kind != dim_kind::width || width_allowed(a, p, d_->stages[p.stage].width[i])) return i;
      if (d_->same_width.empty()) return -1;
    }
    return -1;
  }

  /// Sets site p of `a` to its value number `index`.
  void apply(arch& a, const site& p, int index) const {
    const space_descriptor& d = *d_;
    switch (p.kind) {
      case dim_kind::resolution:
        a.set_resolution(d.resolution[index]);
        return;
      case dim_kind::width: {
        const int w = d.stages[p.stage].width[index];
        for (int s = p.stage; s <= p.stage_last; ++s) {
          a.set_width(s, w);
          const stage_descriptor& st = d.stages[s];
          if (st.heads == head_semantics::width_over_dim)
            for (int j = 0; j < a.depth(s); ++j) a.layer(s, j).num_heads = w / st.head_dim;
        }
        return;
      }
      case dim_kind::depth:
        a.set_depth(p.stage, d.stages[p.stage].depth[index]);
        return;
      default:
        break;
    }
    const int first = p.layer < 0 ? 0 : p.layer;
    const int last = p.layer < 0 ? a.depth(p.stage) - 1 : p.layer;
    for (int j = first; j <= last; ++j) set_layer_value(a.layer(p.stage, j), p, index);
  }

  int num_choices(const site& p) const {
    const space_descriptor& d = *d_;
    if (p.kind == dim_kind::resolution) return static_cast<int>(d.resolution.size());
    const stage_descriptor& st = d.stages[p.stage];
    switch (p.kind) {
      case dim_kind::width:
        return static_cast<int>(st.width.size());
      case dim_kind::depth:
        return static_cast<int>(st.depth.size());
      case dim_kind::expand_ratio:
        return static_cast<int>(st.expand_ratio.size());
      case dim_kind::kernel_size:
        return static_cast<int>(st.kernel_size.size());
      case dim_kind::mlp_ratio:
        return static_cast<int>(st.mlp_ratio.size());
      case dim_kind::qk_scale:
        return static_cast<int>(st.qk_scale.size());
      case dim_kind::v_scale:
        return static_cast<int>(st.v_scale.size());
      case dim_kind::num_heads:
        return static_cast<int>(st.num_heads.size());
      default:
        return 0;
    }
  }

  /// Index of the site's current value in its choice list (-1 if absent).
  int current_index(const arch& a, const site& p) const {
    const space_descriptor& d = *d_;
    if (p.kind == dim_kind::resolution) return index_of(d.resolution, a.resolution());
    const stage_descriptor& st = d.stages[p.stage];
    if (p.kind == dim_kind::width) return index_of(st.width, a.width(p.stage));
    if (p.kind == dim_kind::depth) return index_of(st.depth, a.depth(p.stage));
    const layer_dims& l = a.layer(p.stage, p.layer < 0 ? 0 : p.layer);
    switch (p.kind) {
      case dim_kind::expand_ratio:
        return index_of(st.expand_ratio, l.expand_ratio);
      case dim_kind::kernel_size:
        return index_of(st.kernel_size, l.kernel_size);
      case dim_kind::mlp_ratio:
        return index_of(st.mlp_ratio, l.mlp_ratio);
      case dim_kind::qk_scale:
        return index_of(st.qk_scale, l.qk_scale);
      case dim_kind::v_scale:
        return index_of(st.v_scale, l.v_scale);
      case dim_kind::num_heads:
        return index_of(st.num_heads, l.num_heads);
      default:
        return -1;
    }
  }

 private:
  template <class T>
  static int index_of(const std::vector<T>& v, const T& x) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] == x) return static_cast<int>(i);
    return -1;
  }

  // Width w for the tie group of p: a choice of every tied stage, compatible with the stages
  // before and after the group.
  bool width_allowed(const arch& a, const site& p, int w) const {
    const space_descriptor& d = *d_;
    for (int s = p.stage + 1; s <= p.stage_last; ++s)
      if (index_of(d.stages[s].width, w) < 0) return false;
    if (p.stage > 0 && !width_chains::compatible(d, p.stage, a.width(p.stage - 1), w)) return false;
    if (p.stage_last + 1 < d.num_stages() &&
        !width_chains::compatible(d, p.stage_last + 1, w, a.width(p.stage_last + 1)))
      return false;
    return true;
  }

  void set_layer_value(layer_dims& l, const site& p, int index) const {
    const stage_descriptor& st = d_->stages[p.stage];
    switch (p.kind) {
      case dim_kind::expand_ratio:
        l.expand_ratio = st.expand_ratio[index];
        break;
      case dim_kind::kernel_size:
        l.kernel_size = st.kernel_size[index];
        break;
      case dim_kind::mlp_ratio:
        l.mlp_ratio = st.mlp_ratio[index];
        break;
      case dim_kind::qk_scale:
        l.qk_scale = st.qk_scale[index];
        break;
      case dim_kind::v_scale:
        l.v_scale = st.v_scale[index];
        break;
      case dim_kind::num_heads:
        l.num_heads = st.num_heads[index];
        break;
      default:
        break;
    }
  }

  const space_descriptor* d_;
  std::vector<site> fixed_;      // resolution, width groups, depths
  std::vector<site> per_layer_;  // per-stage templates of the per-layer sites
};

}  // namespace detail
}  // namespace evit
