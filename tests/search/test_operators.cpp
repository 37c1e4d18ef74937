// SPDX-License-Identifier: MIT
#include <set>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/search/operators.hpp"
#include "evit/search/options.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
using official = ev::official_space;

namespace {
template <class Space>
void check_operators_keep_subnets_valid(std::uint64_t seed) {
  const auto& d = Space::descriptor();
  evit::rng g(seed);
  evit::mutation_params p;
  p.mutation_prob = 0.5;
  p.depth_prob = 0.5;
  p.resolution_prob = 0.5;
  p.random_choice_prob = 0.7;
  for (int i = 0; i < 1500; ++i) {
    p.depth_mode = i % 2 ? evit::depth_mutation::together : evit::depth_mutation::per_stage;
    const evit::arch a = Space::sample(g), b = Space::sample(g);
    const evit::arch m = evit::mutate(d, Space::chains(), a, p, g);
    const evit::arch c = evit::crossover(d, a, b, g);
    CAPTURE(i, evit::to_string(d, a), evit::to_string(d, b));
    REQUIRE(Space::is_valid(m));
    REQUIRE(Space::is_valid(c));
  }
}
}  // namespace

TEST_CASE("mutate, crossover: children are valid subnets of every space", "[search][operators]") {
  check_operators_keep_subnets_valid<official>(1);
  check_operators_keep_subnets_valid<ev::mini_space>(2);
  check_operators_keep_subnets_valid<evit::autoformer::tiny_space>(3);  // layer-wise
}

TEST_CASE("mutate: the released code's defects are fixed (max depth, resolution, width steps)",
          "[search][operators]") {
  const auto& d = official::descriptor();
  evit::rng g(7);
  const evit::mutation_params p = evit::presets::elasticvit_search().mutation();
  std::vector<std::set<int>> depths(static_cast<std::size_t>(d.num_stages())),
      widths(static_cast<std::size_t>(d.num_stages()));
  std::set<int> res;
  evit::arch a = official::sample(g);
  for (int i = 0; i < 20000; ++i) {
    const evit::arch m = evit::mutate(d, official::chains(), a, p, g);
    res.insert(m.resolution());
    for (int s = 0; s < d.num_stages(); ++s) {
      depths[static_cast<std::size_t>(s)].insert(m.depth(s));
      widths[static_cast<std::size_t>(s)].insert(m.width(s));
    }
    a = i % 50 == 0 ? official::sample(g) : m;  // walk, restarting now and then
  }
  // Every resolution (official: resolution mutation was a no-op).
  CHECK(res.size() == d.resolution.size());
  for (int s = 0; s < d.num_stages(); ++s) {
    const auto& st = d.stages[static_cast<std::size_t>(s)];
    CAPTURE(st.name);
    // Every depth, the max included (official: range(min, max) excluded it).
    CHECK(depths[static_cast<std::size_t>(s)] == std::set<int>(st.depth.begin(), st.depth.end()));
    // Widths only from the stage's own list: conv stages step 8, transformer stages step 16.
    for (int w : widths[static_cast<std::size_t>(s)]) {
      CHECK(std::find(st.width.begin(), st.width.end(), w) != st.width.end());
      if (st.is_transformer()) CHECK(w % 16 == 0);
    }
    CHECK(widths[static_cast<std::size_t>(s)].size() == st.width.size());
  }
}

TEST_CASE("mutate: random_choice_prob 0 sends a mutated dimension to its minimum",
          "[search][operators]") {
  const auto& d = official::descriptor();
  evit::rng g(3);
  evit::mutation_params p;
  p.mutation_prob = 1;
  p.depth_prob = 1;
  p.resolution_prob = 1;
  p.random_choice_prob = 0;
  const evit::arch m = evit::mutate(d, official::chains(), official::max_arch(), p, g);
  CHECK(m == official::min_arch());
  p.mutation_prob = p.depth_prob = p.resolution_prob = 0;
  const evit::arch same = evit::mutate(d, official::chains(), official::max_arch(), p, g);
  CHECK(same == official::max_arch());
}

TEST_CASE("crossover: resolution, widths and depths come whole from one parent",
          "[search][operators]") {
  const auto& d = official::descriptor();
  evit::rng g(11);
  for (int i = 0; i < 500; ++i) {
    const evit::arch a = official::sample(g), b = official::sample(g);
    const evit::arch c = evit::crossover(d, a, b, g);
    CHECK((c.resolution() == a.resolution() || c.resolution() == b.resolution()));
    bool wa = true, wb = true, da = true, db = true;
    for (int s = 0; s < d.num_stages(); ++s) {
      wa = wa && c.width(s) == a.width(s);
      wb = wb && c.width(s) == b.width(s);
      da = da && c.depth(s) == a.depth(s);
      db = db && c.depth(s) == b.depth(s);
      // Block-wise: every layer of a stage shares its setting.
      for (int j = 1; j < c.depth(s); ++j) CHECK(c.layer(s, j) == c.layer(s, 0));
    }
    CHECK((wa || wb));
    CHECK((da || db));
  }
}

TEST_CASE("mutate, crossover: the same engine state gives the same children",
          "[search][operators]") {
  const auto& d = official::descriptor();
  evit::rng g1(5), g2(5);
  const evit::mutation_params p = evit::presets::elasticvit_search().mutation();
  for (int i = 0; i < 200; ++i) {
    const evit::arch a1 = official::sample(g1), a2 = official::sample(g2);
    REQUIRE(evit::mutate(d, official::chains(), a1, p, g1) ==
            evit::mutate(d, official::chains(), a2, p, g2));
    REQUIRE(evit::crossover(d, a1, a1, g1) == evit::crossover(d, a2, a2, g2));
  }
}

TEST_CASE("presets: the published systems' settings", "[search][presets]") {
  const auto e = evit::presets::elasticvit_search();
  CHECK(e.population() == 512);
  CHECK(e.parents() == 256);
  CHECK(e.mutations() == 128);
  CHECK(e.crossovers() == 128);
  CHECK(e.iterations() == 40);
  CHECK(e.mutation().mutation_prob == 0.2);
  CHECK(e.mutation().depth_prob == 0.4);
  CHECK(e.mutation().random_choice_prob == 0.45);
  CHECK(e.max_evaluations() == 512 + 40 * 256);
  const auto a = evit::presets::autoformer_search();
  CHECK((a.population() == 50 && a.parents() == 10 && a.mutations() == 25 && a.crossovers() == 25 &&
         a.iterations() == 20 && a.refill()));
  const auto o = evit::presets::ofa_search();
  CHECK((o.population() == 100 && o.parents() == 25 && o.mutations() == 50 &&
         o.crossovers() == 50 && o.iterations() == 500 && o.mutation().mutation_prob == 0.1 &&
         o.mutation().resolution_prob == 0.5));
  const auto h = evit::presets::hat_search();
  CHECK((h.population() == 125 && h.parents() == 25 && h.mutations() == 50 &&
         h.crossovers() == 50 && h.iterations() == 30 && h.mutation().mutation_prob == 0.3));
  CHECK(evit::presets::by_name("hat").name() == "hat");
  CHECK_THROWS_AS(evit::presets::by_name("nope"), evit::invalid_argument);
  CHECK_THROWS_AS(evit::presets::elasticvit_search().population(0).check(), evit::invalid_argument);
  CHECK_THROWS_AS(evit::presets::elasticvit_search().mutation_prob(1.5).check(),
                  evit::invalid_argument);
  // Options survive JSON.
  const auto back = evit::evolution_options::from_json(evit::presets::ofa_search().to_json());
  CHECK(back.to_json() == evit::presets::ofa_search().to_json());
}
