// SPDX-License-Identifier: MIT
// The Python module evit._core (re-exported by the package evit): one binding file per part.
#include <string>

#include <evit/simd/isa.hpp>
#include <evit/version.hpp>

#include "common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "evit: elastic transformer subnets (spaces, samplers, searches, cost models and the "
      "supernet runtime) from C++ headers.";
  m.attr("__version__") = std::to_string(EVIT_VERSION_MAJOR) + "." +
                          std::to_string(EVIT_VERSION_MINOR) + "." +
                          std::to_string(EVIT_VERSION_PATCH);
  m.def(
      "isa", [] { return evit::simd::active_isa_name(); },
      "The instruction set the kernels dispatch to on this CPU (e.g. \"avx512\").");
  evit_py::bind_errors(m);
  evit_py::bind_spaces(m);
  evit_py::bind_cost(m);
  evit_py::bind_latency(m);
  evit_py::bind_samplers(m);
  evit_py::bind_search(m);
  evit_py::bind_runtime(m);
}
