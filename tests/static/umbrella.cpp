// SPDX-License-Identifier: MIT
// <evit/evit.hpp> compiles on its own with -Wall -Wextra -Wpedantic -Werror.
#include <evit/evit.hpp>
