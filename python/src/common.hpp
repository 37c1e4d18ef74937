// SPDX-License-Identifier: MIT
// What every part of the Python module shares: the spaces the module knows (a compile-time list,
// reached at run time through visit_space), the Python-side subnet (an arch with its space), and
// the cost model object (evit::cost::any_cost with its space and name).
//
// Adding a space to the module: append an entry to `space_list` below (its C++ type, family and
// Python name) and rebuild; every class of the module (samplers, searches, cost models) is then
// instantiated for it. tests/test_spaces.py checks that each listed space is reachable.
#pragma once

#include <cstddef>
#include <functional>
#include <pybind11/pybind11.h>
#include <string>
#include <tuple>
#include <utility>

#include <evit/cost/adaptors.hpp>
#include <evit/models/autoformer/cost.hpp>
#include <evit/models/autoformer/space.hpp>
#include <evit/models/elasticvit/macs.hpp>
#include <evit/models/elasticvit/space.hpp>
#include <evit/space/arch.hpp>
#include <evit/space/search_space.hpp>

namespace evit_py {

namespace py = pybind11;

enum class family { elasticvit, autoformer };

/// One space of the module: its C++ policy type, its model family and its Python name.
template <class Space, family Family>
struct space_entry {
  using space = Space;
  static constexpr family model_family = Family;
};

using space_list = std::tuple<space_entry<evit::elasticvit::official_space, family::elasticvit>,
                              space_entry<evit::elasticvit::mini_space, family::elasticvit>,
                              space_entry<evit::elasticvit::fashion_space, family::elasticvit>,
                              space_entry<evit::autoformer::tiny_space, family::autoformer>,
                              space_entry<evit::autoformer::small_space, family::autoformer>,
                              space_entry<evit::autoformer::base_space, family::autoformer>>;

/// Python attribute names under evit.spaces, in space_list's order.
inline constexpr const char* space_attribute_names[] = {
    "official", "mini", "fashion", "autoformer_t", "autoformer_s", "autoformer_b"};

inline constexpr int num_spaces = static_cast<int>(std::tuple_size_v<space_list>);
static_assert(sizeof(space_attribute_names) / sizeof(space_attribute_names[0]) == num_spaces,
              "one Python name per entry of space_list");

/// A space as Python sees it: the index of its entry in space_list.
struct space_handle {
  int index = 0;
  const evit::space_descriptor& descriptor() const;
  const char* attribute_name() const { return space_attribute_names[index]; }
  friend bool operator==(space_handle a, space_handle b) { return a.index == b.index; }
  friend bool operator!=(space_handle a, space_handle b) { return a.index != b.index; }
};

namespace detail {
template <class F, std::size_t... I>
decltype(auto) visit_space(int index, F&& f, std::index_sequence<I...>) {
  using result = decltype(f(std::tuple_element_t<0, space_list>{}));
  if constexpr (std::is_void_v<result>) {
    ((index == static_cast<int>(I) ? (f(std::tuple_element_t<I, space_list>{}), true) : false) ||
     ...);
  } else {
    result r{};
    ((index == static_cast<int>(I) ? (r = f(std::tuple_element_t<I, space_list>{}), true)
                                   : false) ||
     ...);
    return r;
  }
}
}  // namespace detail

/// Calls f(space_entry<Space, Family>{}) for the space `s` names; every call must return the
/// same type (default-constructible unless void).
template <class F>
decltype(auto) visit_space(space_handle s, F&& f) {
  if (s.index < 0 || s.index >= num_spaces)
    throw evit::invalid_argument("space index " + std::to_string(s.index) + " out of range");
  return detail::visit_space(s.index, std::forward<F>(f),
                             std::make_index_sequence<std::tuple_size_v<space_list>>{});
}

inline const evit::space_descriptor& space_handle::descriptor() const {
  return *visit_space(*this, [](auto e) { return &decltype(e)::space::descriptor(); });
}

/// The handle of Space (a compile error if Space is not in space_list).
template <class Space, std::size_t I = 0>
constexpr space_handle handle_of() {
  static_assert(I < std::tuple_size_v<space_list>, "this space is not in evit_py::space_list");
  if constexpr (std::is_same_v<typename std::tuple_element_t<I, space_list>::space, Space>)
    return space_handle{static_cast<int>(I)};
  else
    return handle_of<Space, I + 1>();
}

/// A subnet as Python sees it: the arch and the space it belongs to (always valid in it: every
/// way of making one validates).
struct py_arch {
  evit::arch value;
  space_handle space;
};

/// The subnet `a` as an arch of space `s`: evit.InvalidArgument when it belongs to another space
/// (what `who` is, for the message).
inline const evit::arch& arch_of(const py_arch& a, space_handle s, const char* who) {
  if (a.space != s)
    throw evit::invalid_argument(std::string(who) + ": the subnet belongs to space " +
                                 a.space.descriptor().name + ", not to space " +
                                 s.descriptor().name);
  return a.value;
}

/// A cost model as Python sees it (evit.CostModel): any_cost keeps its traits (monotone,
/// sequential, space) as values; `space` is the module's space the model prices (index -1: any).
struct py_cost {
  evit::cost::any_cost model;
  int space = -1;
  std::string name;
  /// What pickling stores to make the model again (a tuple: kind, arguments); empty for models
  /// that cannot be made again elsewhere (a measured latency holds a supernet).
  std::function<py::tuple()> reduce;
  double operator()(const evit::arch& a) const { return model(a); }
};

/// AutoFormer's MACs or parameter count as a monotone cost model of Space.
template <class Space, bool Params>
struct autoformer_count {
  using space_type = Space;
  static constexpr bool monotone = true;
  double operator()(const evit::arch& a) const {
    return Params ? evit::autoformer::params(Space::descriptor(), a)
                  : evit::autoformer::macs(Space::descriptor(), a);
  }
};

/// The official MACs or parameter count of each family, as a cost model of space `s`.
inline py_cost builtin_count(space_handle s, bool params) {
  return visit_space(s, [&](auto e) {
    using entry = decltype(e);
    using space = typename entry::space;
    py_cost c;
    c.space = s.index;
    c.name = params ? "params" : "macs";
    c.reduce = [s, params] { return py::make_tuple("count", s.attribute_name(), params); };
    if constexpr (entry::model_family == family::elasticvit) {
      if (params)
        c.model = evit::elasticvit::params_model<space>{};
      else
        c.model = evit::elasticvit::macs_model<space>{};
    } else {
      if (params)
        c.model = autoformer_count<space, true>{};
      else
        c.model = autoformer_count<space, false>{};
    }
    return c;
  });
}

/// The space with this attribute name or space name (evit.InvalidArgument otherwise).
space_handle space_by_name(const std::string& name);

/// A Python callable f(arch) -> float as a cost model of space `s` (bindings of cost.cpp).
py_cost python_cost_model(space_handle s, py::object fn, bool monotone, std::string name);

/// Bindings of each part, in the order module.cpp calls them.
void bind_errors(py::module_& m);
void bind_spaces(py::module_& m);
void bind_cost(py::module_& m);
void bind_latency(py::module_& m);  // after bind_cost: adds to evit.cost
void bind_samplers(py::module_& m);
void bind_search(py::module_& m);
void bind_runtime(py::module_& m);

}  // namespace evit_py
