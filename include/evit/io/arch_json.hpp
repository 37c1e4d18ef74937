// SPDX-License-Identifier: MIT
// An arch as JSON (nlohmann_json), exact in both directions:
//   {"space": "elasticvit-official", "resolution": 224,
//    "stages": [{"name": "first_conv", "width": 16, "depth": 1, "layers": [{"kernel_size": 3}]},
//               {"name": "T2", "width": 64, "depth": 2,
//                "layers": [{"mlp_ratio": 2, "num_heads": 4, "qk_scale": 1, "v_scale": 2}, ...]},
//               ...]}
// "layers" has one object per layer; a dimension that does not apply is omitted. mlp_ratio is an
// integer or a string such as "7/2". Reading is strict: wrong types, missing or unknown fields,
// wrong lengths and out-of-range numbers are evit::parse_error naming the field.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "evit/core/error.hpp"
#include "evit/io/detail/json_read.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/search_space.hpp"
#include "evit/space/validate.hpp"

namespace evit {

/// `a` as JSON (stage names from space `d`).
inline nlohmann::json to_json(const space_descriptor& d, const arch& a) {
  using json = nlohmann::json;
  if (a.num_stages() != d.num_stages())
    throw invalid_arch("arch has " + std::to_string(a.num_stages()) + " stages; space " + d.name +
                       " has " + std::to_string(d.num_stages()));
  json stages = json::array();
  for (int s = 0; s < a.num_stages(); ++s) {
    json layers = json::array();
    for (int j = 0; j < a.depth(s); ++j) {
      const layer_dims& l = a.layer(s, j);
      json o = json::object();
      auto put = [&o](const char* key, int v) {
        if (v != 0) o[key] = v;
      };
      put("expand_ratio", l.expand_ratio);
      put("kernel_size", l.kernel_size);
      if (l.mlp_ratio != rational(0)) {
        if (l.mlp_ratio.is_integer())
          o["mlp_ratio"] = l.mlp_ratio.num();
        else
          o["mlp_ratio"] = l.mlp_ratio.to_string();
      }
      put("num_heads", l.num_heads);
      put("qk_scale", l.qk_scale);
      put("v_scale", l.v_scale);
      layers.push_back(std::move(o));
    }
    stages.push_back({{"name", d.stages[s].name},
                      {"width", a.width(s)},
                      {"depth", a.depth(s)},
                      {"layers", std::move(layers)}});
  }
  return {{"space", d.name}, {"resolution", a.resolution()}, {"stages", std::move(stages)}};
}

namespace io {
namespace detail {

/// Throws unless `j` is an object whose keys are all in `allowed` and include all of `required`.
inline void check_keys(const nlohmann::json& j, const std::string& field,
                       std::initializer_list<const char*> allowed,
                       std::initializer_list<const char*> required) {
  if (!j.is_object())
    throw parse_error(field + ": expected an object, got " + std::string(j.type_name()) + " " +
                      describe_json(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : allowed) known = known || it.key() == k;
    if (!known) {
      std::string list;
      for (const char* k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
      throw parse_error(field + ": unknown field \"" + it.key() + "\" (allowed: " + list + ")");
    }
  }
  for (const char* k : required)
    if (!j.contains(k)) throw parse_error(field + ": missing field \"" + std::string(k) + "\"");
}

}  // namespace detail
}  // namespace io

/// Reads an arch of space `d` from JSON and validates it.
inline arch from_json(const space_descriptor& d, const nlohmann::json& j) {
  using namespace io::detail;
  check_keys(j, "arch JSON", {"space", "resolution", "stages"}, {"resolution", "stages"});
  if (j.contains("space")) {
    if (!j["space"].is_string())
      throw parse_error("arch JSON: space: expected a string, got " + describe_json(j["space"]));
    if (j["space"].get<std::string>() != d.name)
      throw parse_error("arch JSON: space: \"" + j["space"].get<std::string>() +
                        "\" but reading for space \"" + d.name + "\"");
  }
  arch a;
  a.set_resolution(read_int(j["resolution"], "arch JSON: resolution"));
  const auto& stages = read_array(j["stages"], "arch JSON: stages", d.num_stages());
  for (int s = 0; s < d.num_stages(); ++s) {
    const stage_descriptor& st = d.stages[s];
    const std::string f = "arch JSON: stages[" + std::to_string(s) + "]";
    const auto& js = stages[static_cast<std::size_t>(s)];
    check_keys(js, f, {"name", "width", "depth", "layers"}, {"width", "depth", "layers"});
    if (js.contains("name") &&
        (!js["name"].is_string() || js["name"].get<std::string>() != st.name))
      throw parse_error(f + ".name: expected \"" + st.name + "\", got " +
                        describe_json(js["name"]));
    const int width = read_int(js["width"], f + ".width");
    const int depth = read_int(js["depth"], f + ".depth");
    if (a.num_layers() + depth > arch::max_layers)
      throw parse_error(f + ".depth: " + std::to_string(depth) + " exceeds the capacity of " +
                        std::to_string(arch::max_layers) + " layers");
    const auto& layers = read_array(js["layers"], f + ".layers", depth);
    a.add_stage(width, depth);
    for (int k = 0; k < depth; ++k) {
      const std::string fl = f + ".layers[" + std::to_string(k) + "]";
      const auto& jl = layers[static_cast<std::size_t>(k)];
      check_keys(jl, fl,
                 {"expand_ratio", "kernel_size", "mlp_ratio", "num_heads", "qk_scale", "v_scale"},
                 {});
      layer_dims& l = a.layer(s, k);
      auto get = [&](const char* key, int& out) {
        if (jl.contains(key)) out = read_int(jl[key], fl + "." + key);
      };
      get("expand_ratio", l.expand_ratio);
      get("kernel_size", l.kernel_size);
      get("num_heads", l.num_heads);
      get("qk_scale", l.qk_scale);
      get("v_scale", l.v_scale);
      if (jl.contains("mlp_ratio")) l.mlp_ratio = read_rational(jl["mlp_ratio"], fl + ".mlp_ratio");
      if (l.num_heads == 0 && st.heads == head_semantics::width_over_dim && st.head_dim > 0)
        l.num_heads = width / st.head_dim;
    }
  }
  validate(d, a);
  return a;
}

/// Parses JSON text into an arch of space `d`.
inline arch from_json_text(const space_descriptor& d, const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw parse_error("arch JSON: not valid JSON");
  return from_json(d, j);
}

/// Typed shorthands.
template <class Space>
nlohmann::json to_json(const arch& a) {
  return to_json(Space::descriptor(), a);
}
template <class Space>
arch from_json(const nlohmann::json& j) {
  return from_json(Space::descriptor(), j);
}

}  // namespace evit
