// SPDX-License-Identifier: MIT
// nn/workspace.hpp: the workspace is aligned and only grows.
#include <cstdint>

#include "evit/nn/workspace.hpp"

#include "catch.hpp"

TEST_CASE("workspace: 64-byte aligned, grows only when asked", "[nn][workspace]") {
  evit::nn::workspace<float> ws;
  CHECK(ws.size() == 0);
  ws.reserve(100);
  REQUIRE(ws.size() == 100);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % 64 == 0);
  float* p = ws.data();
  ws.reserve(50);
  CHECK(ws.data() == p);
  CHECK(ws.size() == 100);
  ws.reserve(1000);
  CHECK(ws.size() == 1000);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % 64 == 0);
  // Supernet-sized buffers are huge-page aligned (and advised to use huge pages on Linux).
  ws.reserve(3 << 20);
  CHECK(reinterpret_cast<std::uintptr_t>(ws.data()) % (2u << 20) == 0);
  ws.data()[ws.size() - 1] = 1.0f;
  CHECK(ws.data()[ws.size() - 1] == 1.0f);
}
