// SPDX-License-Identifier: MIT
// evit's errors as Python exceptions, evit.Rng, evit.Space (the predefined spaces under
// evit.spaces) and evit.Arch (a subnet of one space: three text formats, equality, hash, pickling).
#include <cstdint>
#include <pybind11/stl.h>
#include <string>
#include <vector>

#include <evit/core/error.hpp>
#include <evit/core/rng.hpp>
#include <evit/io/arch_json.hpp>
#include <evit/io/arch_text.hpp>
#include <evit/models/autoformer/released.hpp>
#include <evit/models/elasticvit/official_list.hpp>
#include <evit/models/elasticvit/subnet_text.hpp>

#include "common.hpp"

namespace evit_py {

namespace {

// ---- formats ----------------------------------------------------------------------------------

nlohmann::json autoformer_official(const evit::space_descriptor& d, const evit::arch& a) {
  evit::validate(d, a);
  nlohmann::json mlp = nlohmann::json::array(), heads = nlohmann::json::array(),
                 embed = nlohmann::json::array();
  for (int j = 0; j < a.depth(0); ++j) {
    const evit::layer_dims& l = a.layer(0, j);
    mlp.push_back(static_cast<double>(l.mlp_ratio.num()) / l.mlp_ratio.den());
    heads.push_back(l.num_heads);
    embed.push_back(a.width(0));
  }
  return {
      {"layer_num", a.depth(0)}, {"mlp_ratio", mlp}, {"num_heads", heads}, {"embed_dim", embed}};
}

evit::arch autoformer_from_official(const evit::space_descriptor& d, const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw evit::parse_error("AutoFormer official config: not valid JSON");
  if (!j.is_object())
    throw evit::parse_error(
        "AutoFormer official config: expected an object with layer_num, "
        "mlp_ratio, num_heads and embed_dim");
  evit::autoformer::official_config c;
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.contains(key))
      throw evit::parse_error(std::string("AutoFormer official config: missing field \"") + key +
                              "\"");
    return j.at(key);
  };
  try {
    c.layer_num = field("layer_num").get<int>();
    c.mlp_ratio = field("mlp_ratio").get<std::vector<double>>();
    c.num_heads = field("num_heads").get<std::vector<int>>();
    c.embed_dim = field("embed_dim").get<std::vector<int>>();
  } catch (const nlohmann::json::exception& e) {
    throw evit::parse_error(std::string("AutoFormer official config: ") + e.what());
  }
  return evit::autoformer::from_official_config(d, c);
}

std::string format_arch(const py_arch& a, const std::string& format) {
  const evit::space_descriptor& d = a.space.descriptor();
  if (format == "text") return evit::to_string(d, a.value);
  if (format == "json") return evit::to_json(d, a.value).dump();
  if (format == "official")
    return visit_space(a.space, [&](auto e) {
      if constexpr (decltype(e)::model_family == family::elasticvit)
        return evit::elasticvit::to_official_list(d, a.value).dump();
      else
        return autoformer_official(d, a.value).dump();
    });
  throw evit::invalid_argument("format: \"" + format +
                               "\" is not a subnet format (allowed: text, json, official)");
}

py_arch parse_arch(space_handle s, const std::string& text, const std::string& format) {
  const evit::space_descriptor& d = s.descriptor();
  evit::arch a;
  if (format == "text") {
    a = evit::parse_arch(d, text);
  } else if (format == "json") {
    a = evit::from_json_text(d, text);
  } else if (format == "official") {
    a = visit_space(s, [&](auto e) {
      if constexpr (decltype(e)::model_family == family::elasticvit)
        return evit::elasticvit::from_official_list(d, text);
      else
        return autoformer_from_official(d, text);
    });
  } else if (format == "auto") {
    a = visit_space(s, [&](auto e) {
      using entry = decltype(e);
      if constexpr (entry::model_family == family::elasticvit) {
        return evit::elasticvit::parse_subnet<typename entry::space>(text);
      } else {
        if (!text.empty() && text[0] == '{') {
          const auto j = nlohmann::json::parse(text, nullptr, false);
          if (j.is_object() && j.contains("layer_num")) return autoformer_from_official(d, text);
          return evit::from_json_text(d, text);
        }
        if (text.size() > 1 && text[0] == 'r' && text[1] >= '0' && text[1] <= '9')
          return evit::parse_arch(d, text);
        return evit::autoformer::released(d, text);
      }
    });
  } else {
    throw evit::invalid_argument("format: \"" + format +
                                 "\" is not a subnet format (allowed: auto, text, json, official)");
  }
  evit::validate(d, a);
  return py_arch{a, s};
}

// ---- describing spaces and subnets as Python values --------------------------------------------

py::list int_list(const std::vector<int>& v) {
  py::list l;
  for (int x : v) l.append(x);
  return l;
}

py::object rational_value(const evit::rational& r) {
  if (r.is_integer()) return py::int_(r.num());
  py::module_ fractions = py::module_::import("fractions");
  return fractions.attr("Fraction")(r.num(), r.den());
}

py::dict describe_stage(const evit::stage_descriptor& st) {
  py::dict o;
  o["name"] = st.name;
  o["kind"] = evit::kind_name(st.kind);
  o["width"] = int_list(st.width);
  o["depth"] = int_list(st.depth);
  o["stride"] = st.stride;
  // The supernet's sizes, where the space sets them (0: the largest choice).
  o["max_width"] = st.max_width;
  o["max_depth"] = st.max_depth;
  if (st.is_transformer()) {
    o["head_dim"] = st.head_dim;
    o["max_heads"] = st.max_heads;
    py::list mlp;
    for (const auto& r : st.mlp_ratio) mlp.append(rational_value(r));
    o["mlp_ratio"] = mlp;
    o["num_heads"] = int_list(st.num_heads);
    o["qk_scale"] = int_list(st.qk_scale);
    o["v_scale"] = int_list(st.v_scale);
  } else {
    o["expand_ratio"] = int_list(st.expand_ratio);
    o["kernel_size"] = int_list(st.kernel_size);
    o["squeeze_excite"] = st.squeeze_excite;
  }
  return o;
}

py::list describe_arch(const py_arch& a) {
  const evit::space_descriptor& d = a.space.descriptor();
  py::list stages;
  for (int s = 0; s < a.value.num_stages(); ++s) {
    const evit::stage_descriptor& st = d.stages[static_cast<std::size_t>(s)];
    py::dict o;
    o["name"] = st.name;
    o["width"] = a.value.width(s);
    o["depth"] = a.value.depth(s);
    py::list layers;
    for (int j = 0; j < a.value.depth(s); ++j) {
      const evit::layer_dims& l = a.value.layer(s, j);
      py::dict ld;
      if (st.is_transformer()) {
        ld["mlp_ratio"] = rational_value(l.mlp_ratio);
        ld["num_heads"] = l.num_heads;
        if (l.qk_scale) ld["qk_scale"] = l.qk_scale;
        if (l.v_scale) ld["v_scale"] = l.v_scale;
      } else {
        ld["expand_ratio"] = l.expand_ratio;
        ld["kernel_size"] = l.kernel_size;
      }
      layers.append(ld);
    }
    o["layers"] = layers;
    stages.append(o);
  }
  return stages;
}

py_arch sample_arch(space_handle s, evit::rng& g, bool uniform_subnet) {
  return visit_space(s, [&](auto e) {
    using space = typename decltype(e)::space;
    return py_arch{uniform_subnet ? space::sample_uniform(g) : space::sample(g), s};
  });
}

}  // namespace

space_handle space_by_name(const std::string& name) {
  for (int i = 0; i < num_spaces; ++i) {
    const space_handle s{i};
    if (name == s.attribute_name() || name == s.descriptor().name) return s;
  }
  std::string allowed;
  for (int i = 0; i < num_spaces; ++i)
    allowed += std::string(i ? ", " : "") + space_attribute_names[i];
  throw evit::invalid_argument("space: \"" + name +
                               "\" is not a space of the module (allowed: " + allowed + ")");
}

void bind_errors(py::module_& m) {
  // Registered base first: pybind11 tries the translators registered last first.
  // A translator for the base too: an evit::error of a class without its own Python class still
  // arrives as evit.Error with its message.
  auto& base = py::register_exception<evit::error>(m, "Error", PyExc_RuntimeError);
  base.doc() =
      "Base of every error evit raises; the message names the field, value and what "
      "was allowed.";
  py::register_exception<evit::invalid_arch>(m, "InvalidArch", base).doc() =
      "A subnet that does not belong to its space.";
  py::register_exception<evit::parse_error>(m, "ParseError", base).doc() =
      "Malformed text or JSON (a subnet, a sampler state): names the position or field.";
  py::register_exception<evit::format_error>(m, "FormatError", base).doc() =
      "A malformed or inconsistent file (weights, tables, saved states).";
  py::register_exception<evit::infeasible>(m, "Infeasible", base).doc() =
      "A constraint or level that no subnet of the space satisfies.";
  py::register_exception<evit::invalid_argument>(m, "InvalidArgument", base).doc() =
      "A bad argument (sizes, options, a subnet of another space).";
}

void bind_spaces(py::module_& m) {
  py::class_<evit::rng>(m, "Rng",
                        "evit's random engine (xoshiro256**): the same seed gives the same "
                        "subnets on every platform, in C++ and in Python.")
      .def(py::init<std::uint64_t>(), py::arg("seed") = 0, "An engine seeded with `seed`.")
      .def(
          "next", [](evit::rng& g) { return g(); }, "The next 64-bit value.")
      .def_property(
          "state",
          [](const evit::rng& g) {
            return py::make_tuple(g.state(0), g.state(1), g.state(2), g.state(3));
          },
          [](evit::rng& g, const std::vector<std::uint64_t>& s) {
            if (s.size() != 4)
              throw evit::invalid_argument("Rng.state: " + std::to_string(s.size()) +
                                           " values given, 4 expected");
            if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0)
              throw evit::invalid_argument(
                  "Rng.state: all four words are 0 (the engine would give 0 forever); at least "
                  "one must be nonzero");
            for (int i = 0; i < 4; ++i) g.set_state(i, s[static_cast<std::size_t>(i)]);
          },
          "The engine's four 64-bit state words (for checkpoints).")
      .def("__eq__", [](const evit::rng& a, const evit::rng& b) { return a == b; })
      .def(py::pickle(
          [](const evit::rng& g) {
            return py::make_tuple(g.state(0), g.state(1), g.state(2), g.state(3));
          },
          [](const py::tuple& t) {
            if (t.size() != 4) throw evit::format_error("Rng pickle: 4 state words expected");
            evit::rng g;
            for (int i = 0; i < 4; ++i)
              g.set_state(i, t[static_cast<std::size_t>(i)].cast<std::uint64_t>());
            return g;
          }));

  auto space_cls = py::class_<space_handle>(
      m, "Space",
      "A search space of the module (evit.spaces.official, .mini, .fashion (the training space "
      "for 28x28 images), .autoformer_t, .autoformer_s, .autoformer_b): its stages and choices, "
      "sampling, validation, parsing and cost counts. "
      "Spaces are C++ policy types; the module lists them in python/src/common.hpp.");
  auto arch_cls = py::class_<py_arch>(
      m, "Arch",
      "A subnet of one space (always valid in it). Made by Space.parse, Space.sample, "
      "Space.min_arch/max_arch or the samplers; immutable, hashable, picklable.");

  space_cls
      .def_property_readonly(
          "name", [](space_handle s) { return s.descriptor().name; },
          "The space's own name (as in subnet JSON).")
      .def_property_readonly("attribute", &space_handle::attribute_name,
                             "Its attribute name under evit.spaces.")
      .def_property_readonly(
          "family",
          [](space_handle s) {
            return visit_space(s, [](auto e) -> std::string {
              return decltype(e)::model_family == family::elasticvit ? "elasticvit" : "autoformer";
            });
          },
          "The model family: \"elasticvit\" or \"autoformer\".")
      .def_property_readonly(
          "resolutions", [](space_handle s) { return int_list(s.descriptor().resolution); },
          "The input resolutions.")
      .def_property_readonly(
          "stages",
          [](space_handle s) {
            py::list l;
            for (const auto& st : s.descriptor().stages) l.append(describe_stage(st));
            return l;
          },
          "Each stage's name, kind and choices, as dicts.")
      .def_property_readonly(
          "constants",
          [](space_handle s) {
            const evit::model_constants& c = s.descriptor().constants;
            py::dict o;
            o["num_classes"] = c.num_classes;
            o["head_hidden"] = c.head_hidden;
            o["head_expand"] = c.head_expand;
            o["patch_size"] = c.patch_size;
            return o;
          },
          "The model constants: num_classes, head_hidden, head_expand, patch_size (0: unset).")
      .def(
          "cardinality",
          [](space_handle s) {
            const std::string digits = visit_space(
                s, [](auto e) { return decltype(e)::space::cardinality().to_string(); });
            return py::reinterpret_steal<py::int_>(PyLong_FromString(digits.c_str(), nullptr, 10));
          },
          "The exact number of subnets, as a Python int.")
      .def(
          "sample",
          [](space_handle s, evit::rng& g, bool uniform_subnet) {
            return sample_arch(s, g, uniform_subnet);
          },
          py::arg("rng"), py::arg("uniform_subnet") = false,
          "A random subnet drawn with `rng` (an evit.Rng): every dimension uniform, rules kept "
          "(the official sampler's distribution), or with uniform_subnet=True every subnet "
          "equally likely. The same as Space::sample / sample_uniform in C++.")
      .def(
          "validate",
          [](space_handle s, const py_arch& a) {
            arch_of(a, s, "Space.validate");
            evit::validate(s.descriptor(), a.value);
          },
          py::arg("arch"), "Raises evit.InvalidArch (naming the broken rule) for a bad subnet.")
      .def(
          "is_valid",
          [](space_handle s, const py_arch& a) {
            return a.space == s && evit::is_valid(s.descriptor(), a.value);
          },
          py::arg("arch"), "Whether `arch` is a valid subnet of this space.")
      .def(
          "min_arch",
          [](space_handle s) {
            return visit_space(s, [&](auto e) {
              return py_arch{decltype(e)::space::min_arch(), s};
            });
          },
          "The smallest subnet (every choice its smallest, rules kept).")
      .def(
          "max_arch",
          [](space_handle s) {
            return visit_space(s, [&](auto e) {
              return py_arch{decltype(e)::space::max_arch(), s};
            });
          },
          "The largest subnet.")
      .def("parse", &parse_arch, py::arg("text"), py::arg("format") = "auto",
           "The subnet `text` describes, validated. format: \"text\" (compact: \"r128 "
           "first_conv=16x1:k3 ...\"), \"json\", \"official\" (ElasticViT's 10-list; AutoFormer's "
           "sample_config dict as JSON), or \"auto\" (told apart by the first character; also a "
           "released model's name). Raises evit.ParseError or evit.InvalidArch.")
      .def(
          "macs",
          [](space_handle s, const py_arch& a) {
            return builtin_count(s, false)(arch_of(a, s, "Space.macs"));
          },
          py::arg("arch"), "The official MACs count of `arch`.")
      .def(
          "params",
          [](space_handle s, const py_arch& a) {
            return builtin_count(s, true)(arch_of(a, s, "Space.params"));
          },
          py::arg("arch"), "The parameters `arch` uses.")
      .def("__eq__", [](space_handle a, space_handle b) { return a == b; })
      .def("__hash__", [](space_handle s) { return s.index; })
      .def("__repr__",
           [](space_handle s) { return std::string("evit.spaces.") + s.attribute_name(); })
      .def(py::pickle([](space_handle s) { return std::string(s.attribute_name()); },
                      [](const std::string& name) { return space_by_name(name); }));

  arch_cls
      .def_property_readonly(
          "space", [](const py_arch& a) { return a.space; }, "Its space.")
      .def_property_readonly(
          "resolution", [](const py_arch& a) { return a.value.resolution(); },
          "The input resolution.")
      .def_property_readonly("stages", &describe_arch,
                             "Per stage: name, width, depth and each layer's choices, as dicts.")
      .def("format", &format_arch, py::arg("format") = "text",
           "The subnet as text: \"text\" (compact), \"json\" or \"official\" (see Space.parse).")
      .def(
          "to_text", [](const py_arch& a) { return format_arch(a, "text"); },
          "The compact text form (Space.parse reads it back exactly).")
      .def(
          "to_json", [](const py_arch& a) { return format_arch(a, "json"); },
          "The JSON form, as a string.")
      .def(
          "to_official", [](const py_arch& a) { return format_arch(a, "official"); },
          "The official form, as a JSON string.")
      .def(
          "macs", [](const py_arch& a) { return builtin_count(a.space, false)(a.value); },
          "The official MACs count.")
      .def(
          "params", [](const py_arch& a) { return builtin_count(a.space, true)(a.value); },
          "The parameters it uses.")
      .def("__str__", [](const py_arch& a) { return format_arch(a, "text"); })
      .def("__repr__",
           [](const py_arch& a) {
             return "evit.spaces." + std::string(a.space.attribute_name()) + ".parse(\"" +
                    format_arch(a, "text") + "\")";
           })
      .def("__eq__",
           [](const py_arch& a, const py::object& b) {
             if (!py::isinstance<py_arch>(b)) return false;
             const py_arch& o = b.cast<const py_arch&>();
             return a.space == o.space && a.value == o.value;
           })
      .def("__lt__",
           [](const py_arch& a, const py_arch& b) {
             if (a.space != b.space) return a.space.index < b.space.index;
             return a.value < b.value;
           })
      .def("__hash__",
           [](const py_arch& a) {
             return static_cast<std::int64_t>(a.value.hash() >> 1) ^ a.space.index;
           })
      .def(
          "hash64", [](const py_arch& a) { return a.value.hash(); },
          "evit's portable 64-bit hash of the subnet (the same in C++).")
      .def(py::pickle(
          [](const py_arch& a) {
            return py::make_tuple(std::string(a.space.attribute_name()), format_arch(a, "text"));
          },
          [](const py::tuple& t) {
            if (t.size() != 2)
              throw evit::format_error("Arch pickle: (space, text) expected, got " +
                                       std::to_string(t.size()) + " values");
            return parse_arch(space_by_name(t[0].cast<std::string>()), t[1].cast<std::string>(),
                              "text");
          }));

  py::module_ spaces = m.def_submodule("spaces", "The search spaces the module knows.");
  for (int i = 0; i < num_spaces; ++i) spaces.attr(space_attribute_names[i]) = space_handle{i};
  spaces.def("by_name", &space_by_name, py::arg("name"),
             "The space with this attribute name or space name (evit.InvalidArgument otherwise).");
  spaces.def(
      "all",
      [] {
        py::list l;
        for (int i = 0; i < num_spaces; ++i) l.append(space_handle{i});
        return l;
      },
      "Every space of the module.");
}

}  // namespace evit_py
