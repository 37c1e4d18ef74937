// SPDX-License-Identifier: MIT
// The run-time description of a search space: choice lists, stage kinds, rules and constants.
// Every space type (space/search_space.hpp) builds one; validation, formats, sampling and cost
// counts run on it, so they are compiled once, not once per space.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/rational.hpp"
#include "evit/space/stage.hpp"

namespace evit {

/// "input_conv", "conv_stage" or "transformer_stage".
inline const char* kind_name(stage_kind k) {
  switch (k) {
    case stage_kind::input_conv:
      return "input_conv";
    case stage_kind::conv:
      return "conv_stage";
    case stage_kind::transformer:
      return "transformer_stage";
  }
  return "?";
}

/// One stage of a space, at run time.
struct stage_descriptor {
  std::string name;
  stage_kind kind = stage_kind::conv;
  std::vector<int> width, depth, expand_ratio, kernel_size, num_heads, qk_scale, v_scale;
  std::vector<rational> mlp_ratio;
  int stride = 1;
  bool squeeze_excite = false;
  head_semantics heads = head_semantics::none;
  int head_dim = 0;   ///< q/k per-head dim unit (width_over_dim, chosen_fixed_dim)
  int qkv_width = 0;  ///< fixed_qkv_width only
  int max_width = 0;  ///< the supernet's sizes (>= the largest searched choice)
  int max_depth = 0;
  int max_heads = 0;

  bool is_transformer() const { return kind == stage_kind::transformer; }
  bool is_conv() const { return kind == stage_kind::conv; }
};

/// Fixed numbers of the model a space describes (0 when not given).
struct model_constants {
  int num_classes = 0;
  int head_hidden = 0;
  int head_expand = 0;
  int patch_size = 0;
};

/// A whole space, at run time.
struct space_descriptor {
  std::string name;
  std::vector<int> resolution;
  std::vector<stage_descriptor> stages;
  bool non_decreasing_width = false;
  std::vector<std::pair<int, int>> same_width;  ///< pairs (s, s + 1)
  bool blockwise = true;
  model_constants constants;

  int num_stages() const { return static_cast<int>(stages.size()); }
  /// True when stage s must have the same width as stage s - 1.
  bool tied_to_previous(int s) const {
    for (const auto& p : same_width)
      if (p.second == s) return true;
    return false;
  }
  /// Index of the stage called `stage_name`, or -1.
  int find_stage(const std::string& stage_name) const {
    for (int s = 0; s < num_stages(); ++s)
      if (stages[s].name == stage_name) return s;
    return -1;
  }
  /// Feature-map side after stage s for input resolution r: every stride-2 stage maps x to
  /// ceil(x / 2) (a k x k conv with padding k / 2, or ElasticViT's stride-2 reduction block).
  int side_after(int r, int s) const {
    int x = r;
    for (int t = 0; t <= s; ++t)
      if (stages[t].stride == 2) x = (x + 1) / 2;
    return x;
  }
  /// Largest side after stage s over all resolutions of the space (ElasticViT's Rmax).
  int max_side_after(int s) const {
    int m = 0;
    for (int r : resolution) m = std::max(m, side_after(r, s));
    return m;
  }
};

}  // namespace evit
