// SPDX-License-Identifier: MIT
// The one Catch2 main of all test programs (compiled here rather than linking Debian's x86
// libCatch2WithMain.a, so the same test sources also cross-build for aarch64).
#define CATCH_CONFIG_MAIN
#include "catch.hpp"
