// SPDX-License-Identifier: MIT
// The official ElasticViT arch format (docs/elasticvit.md#the-official-list-format): the 10-list
//   [R, channels[n], depths[n], conv_ratio[Ls], kernel[Ls], mlp_ratio[Lt], num_heads[Lt],
//    window[Lt], qk_scale[Lt], v_scale[Lt]]
// where n counts the stages after the first conv (channels[0] is the stem's width, which the first
// conv shares), Ls the conv layers (stem included) and Lt the transformer layers.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/io/detail/json_read.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// Reads an official 10-list into an arch of space `d` and validates it.
/// @throws evit::parse_error naming the element (wrong type, wrong length, out of range),
///         evit::invalid_arch when the values are not in the space.
inline arch from_official_list(const space_descriptor& d, const nlohmann::json& j) {
  using io::detail::read_array;
  using io::detail::read_int;
  using io::detail::read_rational;
  check_elasticvit_family(d);
  const int n = d.num_stages() - 1;  // stages after the first conv
  const std::string where = "official arch list";
  read_array(j, where, 10);
  const char* names[10] = {"resolution", "channels",  "depths", "conv_ratio", "kernel",
                           "mlp_ratio",  "num_heads", "window", "qk_scale",   "v_scale"};
  auto field = [&](int i) {
    return where + " element " + std::to_string(i) + " (" + names[i] + ")";
  };
  const int R = read_int(j[0], field(0));
  read_array(j[1], field(1), n);
  read_array(j[2], field(2), n);
  std::vector<int> widths(n), depths(n);
  int conv_layers = 0, transformer_layers = 0;
  for (int s = 0; s < n; ++s) {
    widths[s] = read_int(j[1][s], field(1) + "[" + std::to_string(s) + "]");
    depths[s] = read_int(j[2][s], field(2) + "[" + std::to_string(s) + "]");
    if (depths[s] > arch::max_layers)
      throw parse_error(field(2) + "[" + std::to_string(s) + "]: depth " +
                        std::to_string(depths[s]) + " exceeds " + std::to_string(arch::max_layers));
    (d.stages[s + 1].is_transformer() ? transformer_layers : conv_layers) += depths[s];
  }
  for (int i = 3; i <= 4; ++i) read_array(j[i], field(i), conv_layers);
  for (int i = 5; i <= 9; ++i) read_array(j[i], field(i), transformer_layers);

  arch a;
  a.set_resolution(R);
  layer_dims first;  // the 10-list has no entry for the first conv: its kernel is fixed
  first.kernel_size = d.stages[0].kernel_size.front();
  a.add_stage(widths[0], 1, first);
  int ci = 0, ti = 0;
  for (int s = 0; s < n; ++s) {
    layer_dims fill;
    a.add_stage(widths[s], depths[s], fill);
    for (int k = 0; k < depths[s]; ++k) {
      layer_dims& l = a.layer(s + 1, k);
      if (d.stages[s + 1].is_transformer()) {
        const std::string idx = "[" + std::to_string(ti) + "]";
        l.mlp_ratio = read_rational(j[5][ti], field(5) + idx);
        l.num_heads = read_int(j[6][ti], field(6) + idx);
        const int window = read_int(j[7][ti], field(7) + idx);
        if (window != 1)
          throw parse_error(field(7) + idx + ": window " + std::to_string(window) +
                            " not supported; ElasticViT attention is global (window 1)");
        l.qk_scale = read_int(j[8][ti], field(8) + idx);
        l.v_scale = read_int(j[9][ti], field(9) + idx);
        ++ti;
      } else {
        const std::string idx = "[" + std::to_string(ci) + "]";
        l.expand_ratio = read_int(j[3][ci], field(3) + idx);
        l.kernel_size = read_int(j[4][ci], field(4) + idx);
        ++ci;
      }
    }
  }
  validate(d, a);
  return a;
}

/// Parses the text of an official 10-list (JSON syntax, as in the official configs).
inline arch from_official_list(const space_descriptor& d, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    throw parse_error("official arch list: not valid JSON: " + text.substr(0, 60));
  return from_official_list(d, j);
}

/// Writes `a` (validated against `d`) as an official 10-list.
inline nlohmann::json to_official_list(const space_descriptor& d, const arch& a) {
  check_elasticvit_family(d);
  validate(d, a);
  using json = nlohmann::json;
  json channels = json::array(), depths = json::array(), ratio = json::array(),
       kernel = json::array(), mlp = json::array(), heads = json::array(), window = json::array(),
       qk = json::array(), v = json::array();
  for (int s = 1; s < a.num_stages(); ++s) {
    channels.push_back(a.width(s));
    depths.push_back(a.depth(s));
    for (int k = 0; k < a.depth(s); ++k) {
      const layer_dims& l = a.layer(s, k);
      if (d.stages[s].is_transformer()) {
        if (l.mlp_ratio.is_integer())
          mlp.push_back(l.mlp_ratio.num());
        else
          mlp.push_back(l.mlp_ratio.to_string());
        heads.push_back(l.num_heads);
        window.push_back(1);
        qk.push_back(l.qk_scale);
        v.push_back(l.v_scale);
      } else {
        ratio.push_back(l.expand_ratio);
        kernel.push_back(l.kernel_size);
      }
    }
  }
  return json::array({a.resolution(), channels, depths, ratio, kernel, mlp, heads, window, qk, v});
}

/// A string literal is text (not a JSON string value).
inline arch from_official_list(const space_descriptor& d, const char* text) {
  return from_official_list(d, std::string(text));
}

/// Typed shorthands: the official space by default.
template <class Space = official_space>
arch from_official_list(const nlohmann::json& j) {
  return from_official_list(Space::descriptor(), j);
}
template <class Space = official_space>
arch from_official_list(const std::string& text) {
  return from_official_list(Space::descriptor(), text);
}
/// A string literal is text (not a JSON string value).
template <class Space = official_space>
arch from_official_list(const char* text) {
  return from_official_list(Space::descriptor(), std::string(text));
}
template <class Space = official_space>
nlohmann::json to_official_list(const arch& a) {
  return to_official_list(Space::descriptor(), a);
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
