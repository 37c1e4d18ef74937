// SPDX-License-Identifier: MIT
#include "evit/core/rational.hpp"

#include "catch.hpp"

TEST_CASE("rational: normalised, ordered, exact floor products", "[core][rational]") {
  constexpr evit::rational a(7, 2), b(14, 4), c(4);
  static_assert(a == b, "normalised");
  static_assert(a < c, "ordered");
  static_assert(a.floor_times(192) == 672, "floor(3.5 * 192)");
  static_assert(evit::rational(10, 3).floor_times(7) == 23, "floor(70 / 3)");
  static_assert(evit::rational(-7, 2).floor_times(1) == -4, "floor rounds down");
  CHECK(a.to_string() == "7/2");
  CHECK(c.to_string() == "4");
  CHECK(evit::rational(3, -6).to_string() == "-1/2");
}
