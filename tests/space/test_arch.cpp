// SPDX-License-Identifier: MIT
#include <set>
#include <unordered_set>

#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/arch_map.hpp"

#include "catch.hpp"

using evit::arch;
using evit::layer_dims;

namespace {
layer_dims conv(int e, int k) {
  layer_dims l;
  l.expand_ratio = e;
  l.kernel_size = k;
  return l;
}
}  // namespace

TEST_CASE("arch: stages and flat layers", "[space][arch]") {
  arch a;
  a.set_resolution(224);
  a.add_stage(16, 2, conv(3, 3));
  a.add_stage(24, 1, conv(4, 5));
  CHECK(a.num_stages() == 2);
  CHECK(a.num_layers() == 3);
  CHECK(a.layer(1, 0) == conv(4, 5));
  CHECK(a.layer_index(1, 0) == 2);

  SECTION("growing a stage copies its last layer and shifts later stages") {
    a.layer(0, 1) = conv(6, 5);
    a.set_depth(0, 4);
    CHECK(a.num_layers() == 5);
    CHECK(a.layer(0, 3) == conv(6, 5));
    CHECK(a.layer(1, 0) == conv(4, 5));
  }
  SECTION("shrinking a stage drops its last layers") {
    a.set_depth(0, 1);
    CHECK(a.num_layers() == 2);
    CHECK(a.layer(0, 0) == conv(3, 3));
    CHECK(a.layer(1, 0) == conv(4, 5));
  }
  SECTION("bad indices and depths throw evit::invalid_arch, never UB") {
    CHECK_THROWS_AS(a.layer(2, 0), evit::invalid_arch);
    CHECK_THROWS_AS(a.layer(0, 2), evit::invalid_arch);
    CHECK_THROWS_AS(a.width(-1), evit::invalid_arch);
    CHECK_THROWS_AS(a.set_depth(0, -1), evit::invalid_arch);
    CHECK_THROWS_AS(a.set_depth(0, arch::max_layers), evit::invalid_arch);
    CHECK_THROWS_AS(a.flat_layer(3), evit::invalid_arch);
  }
}

TEST_CASE("arch: equality, order and hash follow the values only", "[space][arch]") {
  arch a;
  a.set_resolution(128);
  a.add_stage(16, 3, conv(3, 3));
  arch b = a;
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  // Layers beyond the depth do not matter: shrink and regrow gives the same value.
  b.layer(0, 2) = conv(6, 5);
  b.set_depth(0, 2);
  b.set_depth(0, 3);
  CHECK(b.layer(0, 2) == conv(3, 3));
  CHECK(a == b);
  b.layer(0, 1).kernel_size = 5;
  CHECK(a != b);
  CHECK(a.hash() != b.hash());
  CHECK((a < b) != (b < a));
}

TEST_CASE("arch: the hash is pinned (same value on every platform and compiler)", "[space][arch]") {
  // The hash mixes integer values in a fixed order; a change here breaks saved caches.
  const arch& t1 = evit::elasticvit::released("elastic_T1");
  CHECK(t1.hash() == 0xef4dc61a8004e6e0ULL);
  std::unordered_set<std::uint64_t> hashes;
  for (const auto& m : evit::elasticvit::released_models()) hashes.insert(m.arch_value.hash());
  CHECK(hashes.size() == 9);
  std::set<arch> ordered;
  for (const auto& m : evit::elasticvit::released_models()) ordered.insert(m.arch_value);
  CHECK(ordered.size() == 9);
}

TEST_CASE("arch_map: subnets whose hashes collide stay apart", "[space][arch_map]") {
  evit::arch_map<int> m;
  const evit::arch a = evit::elasticvit::official_space::min_arch(),
                   b = evit::elasticvit::official_space::max_arch();
  m.insert(a, 42, 1);
  m.insert(b, 42, 2);  // the same (forced) hash
  REQUIRE(m.size() == 2);
  REQUIRE(m.find(a, 42) != nullptr);
  REQUIRE(m.find(b, 42) != nullptr);
  CHECK(*m.find(a, 42) == 1);
  CHECK(*m.find(b, 42) == 2);
  m.insert(a, 42, 3);
  CHECK(m.size() == 2);
  CHECK(*m.find(a, 42) == 3);
  CHECK(m.find(a) == nullptr);  // under its real hash it was never inserted
}
