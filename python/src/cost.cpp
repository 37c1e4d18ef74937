// SPDX-License-Identifier: MIT
// evit.CostModel: the built-in counts (MACs, parameters) and any Python callable f(arch) -> float
// as one cost model type that samplers and searches take. A Python model is called with the GIL
// held (searches release it around their C++ work and take it back for each call).
#include <cmath>
#include <memory>
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <string>

#include <evit/core/error.hpp>

#include "common.hpp"

namespace evit_py {

namespace {

/// A Python callable as a C++ cost model of one space: converts the subnet to evit.Arch, calls,
/// and converts the result to float. The callable is released with the GIL held, whichever thread
/// drops the last copy.
struct python_cost {
  std::shared_ptr<py::object> fn;
  space_handle space;
  double operator()(const evit::arch& a) const {
    py::gil_scoped_acquire gil;
    py::object r = (*fn)(py_arch{a, space});
    double v = 0;
    try {
      v = r.cast<double>();
    } catch (const py::cast_error&) {
      throw evit::invalid_argument("cost model: the Python callable returned " +
                                   std::string(py::str(py::type::of(r)).cast<std::string>()) +
                                   ", not a number");
    }
    return v;
  }
};

std::shared_ptr<py::object> keep_with_gil(py::object fn) {
  return std::shared_ptr<py::object>(new py::object(std::move(fn)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

}  // namespace

py_cost python_cost_model(space_handle s, py::object fn, bool monotone, std::string name) {
  if (!PyCallable_Check(fn.ptr()))
    throw evit::invalid_argument("CostModel: fn is " +
                                 py::str(py::type::of(fn)).cast<std::string>() +
                                 ", not a callable f(arch) -> float");
  python_cost f{keep_with_gil(std::move(fn)), s};
  py_cost c;
  c.space = s.index;
  c.name = name.empty() ? "python" : std::move(name);
  c.reduce = [s, held = f.fn, monotone, n = c.name] {
    return py::make_tuple("python", s.attribute_name(), *held, monotone, n);
  };
  if (monotone)
    c.model = evit::make_cost_model<true>(std::move(f));
  else
    c.model = evit::make_cost_model<false>(std::move(f));
  return c;
}

void bind_cost(py::module_& m) {
  py::class_<py_cost>(
      m, "CostModel",
      "A cost model of one space: the built-in counts (evit.cost.macs(space), "
      "evit.cost.params(space)), latency models, or any Python callable f(arch) -> float. "
      "monotone=True promises that a larger choice in any dimension never lowers the cost (the "
      "complexity-aware sampler then moves only in the useful direction).")
      .def(py::init(&python_cost_model), py::arg("space"), py::arg("fn"),
           py::arg("monotone") = false, py::arg("name") = "",
           "A cost model calling fn(arch) (an evit.Arch of `space`), which returns a float.")
      .def(
          "__call__",
          [](const py_cost& c, const py_arch& a) {
            if (c.space >= 0) arch_of(a, space_handle{c.space}, ("cost model " + c.name).c_str());
            // Without the GIL: a measured latency runs for a while, and other Python threads go on
            // (a Python model takes the GIL back for its own call).
            py::gil_scoped_release nogil;
            return c.model(a.value);
          },
          py::arg("arch"), "The cost of `arch` (computed without holding the GIL).")
      .def_property_readonly(
          "monotone", [](const py_cost& c) { return c.model.traits().monotone; },
          "Whether a larger choice never lowers the cost.")
      .def_property_readonly(
          "name", [](const py_cost& c) { return c.name; }, "Its name.")
      .def_property_readonly(
          "space",
          [](const py_cost& c) -> py::object {
            if (c.space < 0) return py::none();
            return py::cast(space_handle{c.space});
          },
          "The space whose subnets it prices.")
      .def(
          py::pickle(
              [](const py_cost& c) {
                if (!c.reduce)
                  throw evit::invalid_argument("CostModel " + c.name +
                                               ": cannot be pickled (it holds a supernet or a "
                                               "measurement); make it again where it is needed");
                return c.reduce();
              },
              [](const py::tuple& t) {
                const std::string kind = t.size() > 0 ? t[0].cast<std::string>() : "";
                if (kind == "count" && t.size() == 3)
                  return builtin_count(space_by_name(t[1].cast<std::string>()), t[2].cast<bool>());
                if (kind == "python" && t.size() == 5)
                  return python_cost_model(space_by_name(t[1].cast<std::string>()),
                                           py::reinterpret_borrow<py::object>(t[2]),
                                           t[3].cast<bool>(), t[4].cast<std::string>());
                if (kind == "phone" && t.size() == 4)
                  return py::module_::import("evit")
                      .attr("cost")
                      .attr("phone_latency")(space_by_name(t[1].cast<std::string>()), t[2], t[3])
                      .cast<py_cost>();
                throw evit::format_error("CostModel pickle: unknown state (kind \"" + kind +
                                         "\", " + std::to_string(t.size()) + " values)");
              }),
          "Pickling: built-in counts, phone tables and Python callables (if the callable pickles).")
      .def("__repr__", [](const py_cost& c) {
        return "<evit.CostModel " + c.name + " of " +
               (c.space < 0 ? std::string("any space") : space_handle{c.space}.descriptor().name) +
               (c.model.traits().monotone ? ", monotone>" : ">");
      });

  py::module_ cost = m.def_submodule("cost", "Cost models: built-in counts and latency models.");
  cost.def(
      "macs", [](space_handle s) { return builtin_count(s, false); }, py::arg("space"),
      "The official MACs count of `space`'s subnets (monotone).");
  cost.def(
      "params", [](space_handle s) { return builtin_count(s, true); }, py::arg("space"),
      "The parameter count of `space`'s subnets (monotone).");
}

}  // namespace evit_py
