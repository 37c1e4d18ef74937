// SPDX-License-Identifier: MIT
// This machine's block table for AutoFormer subnets (cost/autoformer_latency.hpp): the blocks and
// keys of a subnet, every block of a space, profiling once per key, the sum, saving and loading,
// the machine key, the calibration and the table as a search's cost model. The tests that time
// blocks use a af_micro AutoFormer-family space (64x64 images, 17 tokens), fast under sanitizers.
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/cost/autoformer_latency.hpp"
#include "evit/cost/calibration.hpp"
#include "evit/search/evolutionary.hpp"
#include "evit/search/options.hpp"

#include "catch.hpp"

namespace af = evit::autoformer;

namespace {
struct af_micro_name {
  static constexpr const char* name = "autoformer-af_micro";
};
using af_micro = evit::search_space<
    evit::space_name<af_micro_name>, evit::resolution<64>,
    evit::transformer_stage<evit::width<64, 96>, evit::depth<1, 2>, evit::num_heads<1, 2>,
                            evit::head_dim<64>, evit::mlp_ratio_q<std::ratio<2>, std::ratio<3>>,
                            evit::max_width<128>, evit::max_heads<2>, evit::max_depth<3>,
                            evit::stage_name<af::names::blocks>>,
    evit::rules<evit::layerwise>, evit::num_classes<10>, evit::patch_size<16>>;

const af::supernet<af_micro>& af_net() {
  static const af::supernet<af_micro> n = af::supernet<af_micro>::random(5);
  return n;
}
evit::cost::timing af_quick() { return evit::cost::timing().warmup(0).repeats(1); }
}  // namespace

TEST_CASE("autoformer_blocks: the forward's steps in order, keyed", "[cost][lut][af]") {
  using S = af::tiny_space;
  const evit::arch a = S::max_arch();
  const auto blocks = evit::cost::autoformer_blocks(S::descriptor(), a);
  REQUIRE(blocks.size() == static_cast<std::size_t>(2 * a.depth(0) + 2));
  CHECK(blocks.front().key == "afembed_224_16_240");
  CHECK(blocks[1].key == "afattn_197_240_4_64");
  CHECK(blocks[2].key == "afffn_197_240_960");
  CHECK(blocks.back().key == "afhead_197_240_1000");
  CHECK(blocks.front().kind() == evit::cost::block_kind::first_conv);
  CHECK(blocks[1].kind() == evit::cost::block_kind::attention);
  CHECK(blocks[2].kind() == evit::cost::block_kind::ffn);
  CHECK(blocks.back().kind() == evit::cost::block_kind::head);
  // The smallest: 192 wide, 3 heads, MLP 3.5 (hidden floor(3.5 x 192) = 672), 12 layers.
  const auto small = evit::cost::autoformer_blocks(S::descriptor(), S::min_arch());
  CHECK(small.size() == 26);
  CHECK(small[1].key == "afattn_197_192_3_64");
  CHECK(small[2].key == "afffn_197_192_672");
}

TEST_CASE("all_autoformer_blocks: every block of every subnet, once", "[cost][lut][af]") {
  const auto check = [](const evit::space_descriptor& d, std::size_t expected, const auto& sample) {
    std::set<std::string> keys;
    for (const auto& b : evit::cost::all_autoformer_blocks(d)) REQUIRE(keys.insert(b.key).second);
    CHECK(keys.size() == expected);
    evit::rng g(4);
    for (int i = 0; i < 300; ++i)
      for (const auto& b : evit::cost::autoformer_blocks(d, sample(g))) {
        CAPTURE(d.name, b.key);
        REQUIRE(keys.count(b.key) == 1);
      }
  };
  // T: 3 widths x (embed, 2 head counts, 2 MLP ratios, head); S and B: 3 MLP ratios, 3 or 2 heads.
  check(af::tiny_space::descriptor(), 18, [](evit::rng& g) { return af::tiny_space::sample(g); });
  check(af::small_space::descriptor(), 24, [](evit::rng& g) { return af::small_space::sample(g); });
  check(af::base_space::descriptor(), 21, [](evit::rng& g) { return af::base_space::sample(g); });
  CHECK_THROWS_WITH(
      evit::cost::all_autoformer_blocks(evit::elasticvit::official_space::descriptor()),
      Catch::Matchers::Contains("not an AutoFormer-family space"));
}

TEST_CASE("autoformer_profiler: profiles each block once, sums them, saves the table",
          "[cost][lut][af]") {
  auto prof = std::make_shared<evit::cost::autoformer_profiler<af_micro>>(
      af_net(), evit::cost::timing().warmup(1).repeats(3).max_seconds(0.2), "test-machine");
  const evit::cost::local_latency lat(prof);
  STATIC_REQUIRE(decltype(lat)::sequential);
  STATIC_REQUIRE(std::is_same_v<decltype(lat)::space_type, af_micro>);
  const evit::arch a = af_micro::max_arch();
  const double p = lat(a);
  CHECK(p > 0);
  std::set<std::string> distinct;
  double sum = 0;
  for (const auto& b : evit::cost::autoformer_blocks(af_micro::descriptor(), a)) {
    distinct.insert(b.key);
    const double ms = prof->table().at(b.key);
    CHECK(ms > 0);
    sum += ms;
  }
  CHECK(prof->profiled() == distinct.size());
  CHECK(sum == Approx(p));
  CHECK(lat(a) == p);  // nothing new to profile
  CHECK(prof->profiled() == distinct.size());
  CHECK(prof->missing(a).empty());
  CHECK(prof->missing(af_micro::min_arch()).size() == 4);  // E = 64: all four blocks are new
  // Saved and loaded: the same prediction, nothing profiled.
  const std::string path = "evit_test_af_table.json";
  prof->table().save(path);
  evit::cost::autoformer_profiler<af_micro> other(af_net(), af_quick());
  other.merge(evit::cost::latency_table::load(path));
  std::remove(path.c_str());
  CHECK(other.predict(a) == p);
  CHECK(other.profiled() == 0);
  CHECK_THROWS_AS(lat(af::tiny_space::max_arch()), evit::invalid_arch);
  // Compared with a whole forward: the same order of magnitude (a loose bound: this is a noisy
  // shared machine; search_autoformer prints the calibrated table's held-out error).
  evit::cost::measured_latency whole(af_net(), evit::cost::timing().repeats(5));
  const double m = whole(a);
  CAPTURE(p, m);
  CHECK(p > 0.1 * m);
  CHECK(p < 10 * m);
}

TEST_CASE("autoformer_profiler: keyed by this machine, profile_all, a stale cache is refused",
          "[cost][lut][af][calibration]") {
  evit::cost::autoformer_profiler<af_micro> prof(af_net(), af_quick());
  const evit::cost::table_key here = prof.table().key();
  CHECK(here.cpu == evit::cost::cpu_model());
  CHECK(here.isa == evit::simd::isa_name(evit::simd::active_isa()));
  CHECK(here.threads == 1);
  CHECK(here.method == "context");
  std::size_t calls = 0;
  const std::size_t all = evit::cost::all_autoformer_blocks(af_micro::descriptor()).size();
  CHECK(all == 2 * (1 + 2 + 2 + 1));
  CHECK(prof.profile_all([&](std::size_t, std::size_t) { ++calls; }) == all);
  CHECK(calls == all);
  CHECK(prof.profile_all() == 0);
  evit::cost::latency_table stale = prof.table();
  stale.set_key({"Other CPU", here.isa, here.threads, here.method});
  const std::string path = "evit_test_af_stale.json";
  stale.save(path);
  CHECK_THROWS_AS(evit::cost::cached_profiler(af_net(), path, af_quick(), false,
                                              evit::cost::stale_policy::refuse),
                  evit::cost::stale_table);
  const auto fresh = evit::cost::cached_profiler(af_net(), path, af_quick(), false);
  CHECK(fresh->profiled() == all);
  CHECK(evit::cost::latency_table::load(path).key().mismatch(here).empty());
  const auto again = evit::cost::cached_profiler(af_net(), path, af_quick(), false);
  std::remove(path.c_str());
  CHECK(again->profiled() == 0);
  CHECK(again->predict(af_micro::max_arch()) == fresh->predict(af_micro::max_arch()));
}

TEST_CASE("autoformer_profiler: calibrated on measured subnets, a search's constraint",
          "[cost][lut][af][calibration]") {
  auto prof = std::make_shared<evit::cost::autoformer_profiler<af_micro>>(af_net(), af_quick());
  evit::cost::measured_latency whole(af_net(), evit::cost::timing().warmup(1).repeats(3));
  const evit::cost::table_calibration c = evit::cost::calibrate(*prof, whole, 8, 3);
  CHECK(c.fitted);
  CHECK(c.fit_n == 6);
  CHECK(c.heldout_n == 2);
  CHECK(prof->table().calibration().fitted);
  // A search under the table: every answer within the budget as the table predicts it.
  const evit::cost::local_latency lat(prof);
  const double lo = lat(af_micro::min_arch()), hi = lat(af_micro::max_arch());
  const double budget = (lo + hi) / 2;
  const auto& d = af_micro::descriptor();
  auto params = [&d](const evit::arch& a) { return af::params(d, a); };
  const evit::search_result r = evit::evolutionary_search<af_micro>(
      params, evit::cost::at_most(lat, budget, "latency ms"),
      evit::evolution_options().population(8).parents(2).mutations(4).crossovers(4).iterations(2),
      11);
  REQUIRE(r.ok());
  CHECK(lat(r.best().subnet) <= budget);
}
