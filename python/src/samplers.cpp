// SPDX-License-Identifier: MIT
#include "common.hpp"

namespace evit_py {

void bind_samplers(py::module_& /*m*/) {}

}  // namespace evit_py
