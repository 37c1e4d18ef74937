// SPDX-License-Identifier: MIT
#include <string>

#include "evit/core/big_uint.hpp"

#include "catch.hpp"

TEST_CASE("big_uint: decimal strings of products beyond 2^64", "[core][big_uint]") {
  CHECK(evit::big_uint().to_string() == "0");
  CHECK(evit::big_uint(1000000000ULL).to_string() == "1000000000");
  CHECK(evit::big_uint(~0ULL).to_string() == "18446744073709551615");
  // 2^64 = 18446744073709551616; (2^64)^2 = 2^128.
  const evit::big_uint two64 = evit::big_uint(~0ULL) + evit::big_uint(1);
  CHECK(two64.to_string() == "18446744073709551616");
  CHECK((two64 * two64).to_string() == "340282366920938463463374607431768211456");
  // 10^18 * 10^18 has 18 zeros in the middle: checks zero-padding of inner 9-digit chunks.
  const evit::big_uint e18(1000000000000000000ULL);
  CHECK((e18 * e18).to_string() == "1" + std::string(36, '0'));
  CHECK(e18 < e18 * evit::big_uint(2));
  CHECK(!(e18 < e18));
  CHECK((e18 + evit::big_uint(5)).to_u64() == 1000000000000000005ULL);
}
