// SPDX-License-Identifier: MIT
// Checks an arch against a space descriptor; the message of the first violation names the stage,
// layer, dimension, value and the allowed values, e.g.
//   "stage T3: width 72 not in {80..160 step 16}".
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"

namespace evit {

namespace detail {

/// "{16, 24}" or, for an arithmetic run of 5 or more values, "{80..160 step 16}".
template <class T>
std::string describe_choices(const std::vector<T>& v) {
  std::ostringstream os;
  os << '{';
  auto str = [](const T& x) {
    if constexpr (std::is_same_v<T, rational>) {
      return x.to_string();
    } else {
      return std::to_string(x);
    }
  };
  if constexpr (std::is_same_v<T, int>) {
    bool arithmetic = v.size() >= 5;  // short sets read better listed
    for (std::size_t i = 2; arithmetic && i < v.size(); ++i)
      arithmetic = v[i] - v[i - 1] == v[1] - v[0];
    if (arithmetic) {
      os << v.front() << ".." << v.back();
      if (v[1] - v[0] != 1) os << " step " << (v[1] - v[0]);
      os << '}';
      return os.str();
    }
  }
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << str(v[i]);
  os << '}';
  return os.str();
}

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

inline std::string describe_one(int v) { return std::to_string(v); }
inline std::string describe_one(rational v) { return v.to_string(); }

inline std::string stage_prefix(const stage_descriptor& st) { return "stage " + st.name; }
inline std::string layer_prefix(const stage_descriptor& st, int j) {
  return "stage " + st.name + " layer " + std::to_string(j);
}

/// Checks one per-layer dimension: in its choice set when the kind has it, 0 otherwise.
template <class T>
void check_layer_dim(const stage_descriptor& st, int j, const char* dim_name,
                     const std::vector<T>& allowed, const T& value) {
  if (allowed.empty()) {
    if (value != T(0))
      throw invalid_arch(layer_prefix(st, j) + ": " + dim_name + " " + describe_one(value) +
                         " given, but a " + kind_name(st.kind) + " has no " + dim_name +
                         " (it must be 0)");
    return;
  }
  if (!contains(allowed, value))
    throw invalid_arch(layer_prefix(st, j) + ": " + dim_name + " " + describe_one(value) +
                       " not in " + describe_choices(allowed));
}

}  // namespace detail

/// Throws evit::invalid_arch naming the first rule `a` breaks in space `d`.
inline void validate(const space_descriptor& d, const arch& a) {
  using detail::contains;
  using detail::describe_choices;
  if (a.num_stages() != d.num_stages())
    throw invalid_arch("arch has " + std::to_string(a.num_stages()) + " stages; space " + d.name +
                       " has " + std::to_string(d.num_stages()));
  if (!contains(d.resolution, a.resolution()))
    throw invalid_arch("resolution " + std::to_string(a.resolution()) + " not in " +
                       describe_choices(d.resolution));
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    const int w = a.width(s);
    if (!contains(st.width, w))
      throw invalid_arch(detail::stage_prefix(st) + ": width " + std::to_string(w) + " not in " +
                         describe_choices(st.width));
    if (s > 0 && d.tied_to_previous(s) && w != a.width(s - 1))
      throw invalid_arch(detail::stage_prefix(st) + ": width " + std::to_string(w) +
                         " must equal stage " + d.stages[s - 1].name + "'s width " +
                         std::to_string(a.width(s - 1)) + " (rule same_width)");
    if (s > 0 && d.non_decreasing_width && w < a.width(s - 1))
      throw invalid_arch(detail::stage_prefix(st) + ": width " + std::to_string(w) +
                         " is below stage " + d.stages[s - 1].name + "'s width " +
                         std::to_string(a.width(s - 1)) + " (rule non_decreasing_width)");
    const int depth = a.depth(s);
    if (!contains(st.depth, depth))
      throw invalid_arch(detail::stage_prefix(st) + ": depth " + std::to_string(depth) +
                         " not in " + describe_choices(st.depth));
    const layer_dims* layers = a.stage_layers(s);
    for (int j = 0; j < depth; ++j) {
      const layer_dims& l = layers[j];
      // Block-wise: every layer must equal layer 0, so only layer 0's values need checking.
      if (d.blockwise && j > 0) {
        if (l != layers[0])
          throw invalid_arch(detail::layer_prefix(st, j) +
                             ": differs from layer 0, but the space is block-wise (all layers of "
                             "a stage share their choices)");
        continue;
      }
      detail::check_layer_dim(st, j, "expand_ratio", st.expand_ratio, l.expand_ratio);
      detail::check_layer_dim(st, j, "kernel_size", st.kernel_size, l.kernel_size);
      detail::check_layer_dim(st, j, "mlp_ratio", st.mlp_ratio, l.mlp_ratio);
      detail::check_layer_dim(st, j, "qk_scale", st.qk_scale, l.qk_scale);
      detail::check_layer_dim(st, j, "v_scale", st.v_scale, l.v_scale);
      if (st.heads == head_semantics::width_over_dim) {
        if (l.num_heads != w / st.head_dim)
          throw invalid_arch(detail::layer_prefix(st, j) + ": num_heads " +
                             std::to_string(l.num_heads) +
                             " must be width / head_dim = " + std::to_string(w) + " / " +
                             std::to_string(st.head_dim) + " = " + std::to_string(w / st.head_dim));
      } else {
        detail::check_layer_dim(st, j, "num_heads", st.num_heads, l.num_heads);
      }
    }
  }
}

/// True when `a` belongs to space `d`.
inline bool is_valid(const space_descriptor& d, const arch& a) {
  try {
    validate(d, a);
    return true;
  } catch (const invalid_arch&) {
    return false;
  }
}

}  // namespace evit
