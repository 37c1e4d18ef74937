// SPDX-License-Identifier: MIT
// A subnet's plan (plan.hpp) as JSON, for programs outside C++: every block with its kind, official
// module name (its tensors' common prefix), geometry, chosen dimensions and the shapes of the
// tensors it slices, plus ElasticViT's fixed numbers. export_subnet() stores it in the metadata of
// the file it writes ("plan"), so that tools/export_onnx.py builds the ONNX graph from the file
// alone, without knowing the space's strides or re-deriving any geometry.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/models/elasticvit/weights.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// The format tag of plan_json's output; a reader refuses any other.
inline constexpr const char* plan_json_format = "evit.elasticvit.plan/1";

/// One block as JSON: its fields (plan.hpp's block), the official module name and the supernet
/// sizes of the tensors it slices ("max").
inline nlohmann::ordered_json block_json(const block& b) {
  nlohmann::ordered_json j;
  j["kind"] = block_kind_name(b.kind);
  j["module"] = module_name(b);
  j["stage"] = b.stage;
  j["layer"] = b.layer;
  j["tokens_in"] = b.tokens_in;
  j["side_in"] = b.side_in;
  j["side"] = b.side;
  j["cin"] = b.cin;
  j["cout"] = b.cout;
  j["stride"] = b.stride;
  j["kernel"] = b.kernel;
  j["expand"] = b.expand;
  j["has_pw"] = b.has_pw;
  j["se"] = b.se;
  j["heads"] = b.heads;
  j["head_dim"] = b.head_dim;
  j["qk_scale"] = b.qk_scale;
  j["v_scale"] = b.v_scale;
  j["mlp_ratio"] = {b.mlp_ratio.num(), b.mlp_ratio.den()};
  j["hidden"] = b.hidden;
  j["classes"] = b.classes;
  j["max"] = {
      {"in", b.max.in},           {"inner", b.max.inner},       {"out", b.max.out},
      {"kernel", b.max.kernel},   {"heads", b.max.heads},       {"qk_scale", b.max.qk_scale},
      {"v_scale", b.max.v_scale}, {"rel_side", b.max.rel_side}, {"hidden", b.max.hidden}};
  return j;
}

/// Subnet `a` of space `d` as JSON text: {"format", "space", "arch" (compact text), "resolution",
/// "classes", "fixed": {norm_eps, se_divisor, v_conv_kernel, reduction_expand, reduction_kernel},
/// "blocks": [block_json...]} in forward order.
/// @throws evit::invalid_arch if `a` is not in `d`; evit::error if `d` is not an ElasticViT-family
///         space.
inline std::string plan_json(const space_descriptor& d, const arch& a) {
  const plan p = plan::of(d, a);
  nlohmann::ordered_json j;
  j["format"] = plan_json_format;
  j["space"] = d.name;
  j["arch"] = evit::to_string(d, a);
  j["resolution"] = a.resolution();
  j["classes"] = d.constants.num_classes;
  j["fixed"] = {{"norm_eps", static_cast<double>(model_fixed::norm_eps)},
                {"se_divisor", model_fixed::se_divisor},
                {"v_conv_kernel", model_fixed::v_conv_kernel},
                {"reduction_expand", model_fixed::reduction_expand},
                {"reduction_kernel", model_fixed::reduction_kernel}};
  nlohmann::ordered_json blocks = nlohmann::ordered_json::array();
  for (const block& b : p.blocks()) blocks.push_back(block_json(b));
  j["blocks"] = std::move(blocks);
  return j.dump();
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
