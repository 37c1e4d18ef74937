// SPDX-License-Identifier: MIT
// Every test includes this instead of Catch2 directly: it picks Catch2 v2's single header
// (Debian 12) or v3's, so the tests build against either.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
