// SPDX-License-Identifier: MIT
// AutoFormer subnets in the official form (the `sample_config` dict of Vision_TransformerSuper:
// per-layer mlp_ratio, num_heads and embed_dim lists and a layer_num), and the released subnets
// AutoFormer-T/S/B of experiments/subnet/AutoFormer-{T,S,B}.yaml by name.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/rational.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/simd/namespace.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/validate.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace autoformer {

/// An official subnet config: `layer_num` layers, per layer its MLP ratio, head count and embed
/// width (the official sampler repeats one width; evit's AutoFormer spaces have one width too).
struct official_config {
  int layer_num = 0;
  std::vector<double> mlp_ratio;
  std::vector<int> num_heads;
  std::vector<int> embed_dim;
};

/// The subnet of space `d` (resolution: its largest) that an official config describes.
/// @throws evit::invalid_arch naming the field, its value and what the space allows (a list of
///         the wrong length, two embed widths, an MLP ratio that is not one of the space's
///         choices).
inline arch from_official_config(const space_descriptor& d, const official_config& c) {
  const stage_descriptor& st = d.stages.at(0);
  auto length = [&](const char* field, std::size_t n) {
    if (n != static_cast<std::size_t>(c.layer_num))
      throw invalid_arch(std::string("official config: ") + field + " has " + std::to_string(n) +
                         " entries; layer_num is " + std::to_string(c.layer_num));
  };
  if (c.layer_num < 1)
    throw invalid_arch("official config: layer_num " + std::to_string(c.layer_num) + " < 1");
  length("mlp_ratio", c.mlp_ratio.size());
  length("num_heads", c.num_heads.size());
  length("embed_dim", c.embed_dim.size());
  for (int e : c.embed_dim)
    if (e != c.embed_dim[0])
      throw invalid_arch("official config: embed_dim varies (" + std::to_string(c.embed_dim[0]) +
                         " and " + std::to_string(e) + "); space " + d.name +
                         " has one width for all layers");
  arch a;
  a.set_resolution(d.resolution.back());
  a.add_stage(c.embed_dim[0], c.layer_num);
  for (int i = 0; i < c.layer_num; ++i) {
    layer_dims& l = a.layer(0, i);
    l.num_heads = c.num_heads[static_cast<std::size_t>(i)];
    l.qk_scale = st.qk_scale.empty() ? 0 : st.qk_scale[0];
    l.v_scale = st.v_scale.empty() ? 0 : st.v_scale[0];
    const double m = c.mlp_ratio[static_cast<std::size_t>(i)];
    bool found = false;
    for (const rational& r : st.mlp_ratio)
      if (std::abs(r.to_double() - m) < 1e-9) {
        l.mlp_ratio = r;
        found = true;
      }
    if (!found) {
      auto text = [](double x) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", x);
        return std::string(buf);
      };
      std::string allowed;
      for (const rational& r : st.mlp_ratio)
        allowed += (allowed.empty() ? "" : ", ") + text(r.to_double());
      throw invalid_arch("official config: mlp_ratio[" + std::to_string(i) + "] = " + text(m) +
                         " is not a choice of space " + d.name + " {" + allowed + "}");
    }
  }
  validate(d, a);
  return a;
}

/// The released subnets' official configs (experiments/subnet/AutoFormer-{T,S,B}.yaml, RETRAIN).
inline official_config released_config(const std::string& name) {
  if (name == "AutoFormer-T")
    return {13,
            {3.5, 3.5, 3.0, 3.5, 3.0, 3.0, 4.0, 4.0, 3.5, 4.0, 3.5, 4.0, 3.5},
            {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3},
            std::vector<int>(13, 192)};
  if (name == "AutoFormer-S")
    return {13,
            {3.0, 3.5, 3.0, 3.5, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.5, 4.0},
            {6, 6, 5, 7, 5, 5, 5, 6, 6, 7, 7, 6, 7},
            std::vector<int>(13, 384)};
  if (name == "AutoFormer-B")
    return {14,
            {3.5, 3.5, 4.0, 3.5, 4.0, 3.5, 3.5, 3.0, 4.0, 4.0, 3.0, 4.0, 3.0, 3.5},
            {9, 9, 9, 9, 9, 10, 9, 9, 10, 9, 10, 9, 9, 10},
            std::vector<int>(14, 576)};
  throw invalid_argument("released AutoFormer subnet \"" + name +
                         "\" unknown (AutoFormer-T, AutoFormer-S, AutoFormer-B)");
}

/// The names of the released subnets.
inline std::vector<std::string> released_names() {
  return {"AutoFormer-T", "AutoFormer-S", "AutoFormer-B"};
}

/// A released subnet as an arch of space `d`: AutoFormer-T belongs to tiny_released_space (it
/// uses MLP ratio 3.0, outside tiny_space), AutoFormer-S to small_space, AutoFormer-B to
/// base_space.
inline arch released(const space_descriptor& d, const std::string& name) {
  return from_official_config(d, released_config(name));
}

}  // namespace autoformer
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
