// SPDX-License-Identifier: MIT
#include "common.hpp"

namespace evit_py {

void bind_runtime(py::module_& /*m*/) {}

}  // namespace evit_py
