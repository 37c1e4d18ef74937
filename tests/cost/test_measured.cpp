// SPDX-License-Identifier: MIT
// Measured latency, this machine's block table and peak memory. The tests that run forwards use
// a micro ElasticViT-family space (a few channels at 32x32), so that they stay fast under the
// sanitizers too.
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/cost/block_profiler.hpp"
#include "evit/cost/cached_profiler.hpp"
#include "evit/cost/calibration.hpp"
#include "evit/cost/measured_latency.hpp"
#include "evit/cost/memory.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/space/detail/moves.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;

namespace {
struct micro_name {
  static constexpr const char* name = "elasticvit-micro";
};
using micro = evit::search_space<
    evit::space_name<micro_name>, evit::resolution<32, 48>,  //
    ev::first_conv<evit::width<8, 16>>,                      //
    ev::stem<evit::width<8, 16>, evit::depth<1, 2>, evit::kernel<3, 5>>,
    evit::conv_stage<evit::width<16, 24>, evit::depth<1, 2>, evit::expansion<2, 3>,
                     evit::kernel<3, 5>, evit::stride<2>>,
    evit::conv_stage<evit::width<24, 32>, evit::depth<1, 2>, evit::expansion<2, 3>, evit::kernel<3>,
                     evit::stride<2>, evit::squeeze_excite<true>>,
    evit::transformer_stage<evit::width<32, 48>, evit::depth<1, 2>, evit::mlp_ratio<2, 3>,
                            evit::v_scale<2, 3>, evit::qk_scale<1>, evit::head_dim<16>,
                            evit::stride<2>>,
    evit::transformer_stage<evit::width<48, 64>, evit::depth<1, 2>, evit::mlp_ratio<2, 3>,
                            evit::v_scale<2, 3>, evit::qk_scale<1>, evit::head_dim<16>,
                            evit::stride<1>>,
    evit::rules<evit::same_width<0, 1>, evit::non_decreasing_width, evit::blockwise>,
    evit::num_classes<10>, evit::head_hidden<64>, evit::head_expand<6>>;
using mini = ev::mini_space;

const ev::supernet<micro>& net() {
  static const ev::supernet<micro> n = ev::supernet<micro>::random(3);
  return n;
}
}  // namespace

TEST_CASE("summarize: median and its order-statistic interval", "[cost][latency]") {
  const auto s = evit::cost::summarize({5, 1, 4, 2, 3});
  CHECK(s.median_ms == 3);
  CHECK(s.min_ms == 1);
  CHECK(s.repeats == 5);
  CHECK(s.lo_ms == 1);  // n = 5: the whole range
  CHECK(s.hi_ms == 5);
  CHECK(s.rel_ci() == 4.0 / 6.0);
  std::vector<double> many;
  for (int i = 1; i <= 100; ++i) many.push_back(i);
  const auto m = evit::cost::summarize(many);
  CHECK(m.median_ms == 50.5);
  CHECK(m.lo_ms == 40);  // floor(50 - 9.8) = 40
  CHECK(m.hi_ms == 61);  // ceil(1 + 50 + 9.8) = 61
  CHECK(evit::cost::summarize({}).repeats == 0);
}

TEST_CASE("measured_latency: median with an interval, cached, bounded repeats", "[cost][latency]") {
  evit::cost::measured_latency lat(net(), evit::cost::timing().warmup(1).repeats(3, 9).target(1e9));
  STATIC_REQUIRE(decltype(lat)::sequential);
  STATIC_REQUIRE(!decltype(lat)::monotone);
  const evit::arch a = micro::max_arch();
  const auto s = lat.measure(a);
  CHECK(s.median_ms > 0);
  CHECK(s.lo_ms <= s.median_ms);
  CHECK(s.hi_ms >= s.median_ms);
  CHECK(s.repeats == 3);         // the (huge) target is met at the minimum
  CHECK(lat(a) == s.median_ms);  // cached
  CHECK(lat.size() == 1);
  CHECK(lat.measure_again(a).repeats == 3);
  CHECK(lat.size() == 1);
  // An unreachable target stops at the maximum.
  evit::cost::measured_latency strict(
      net(), evit::cost::timing().warmup(0).repeats(3, 6).target(1e-12).max_seconds(600));
  CHECK(strict.measure(micro::min_arch()).repeats == 6);
  evit::arch bad = a;
  bad.set_width(5, 80);
  CHECK_THROWS_AS(lat(bad), evit::invalid_arch);
  CHECK_THROWS_AS(evit::cost::measured_latency(net(), evit::cost::timing().repeats(5, 2)),
                  evit::invalid_argument);
  // Two threads over a batch of two.
  evit::cost::measured_latency par(net(), evit::cost::timing().threads(2).batch(2).repeats(3));
  CHECK(par(a) > 0);
}

TEST_CASE("all_blocks: every block of every subnet, once", "[cost][lut]") {
  for (const evit::space_descriptor* d :
       {&micro::descriptor(), &mini::descriptor(), &ev::official_space::descriptor()}) {
    std::set<std::string> keys;
    for (const auto& b : evit::cost::all_blocks(*d)) REQUIRE(keys.insert(b.key()).second);
    evit::rng g(1);
    for (int i = 0; i < 1000; ++i) {
      const evit::arch a = i == 0 ? evit::min_arch(*d, evit::width_chains(*d))
                                  : evit::sample_per_dimension(*d, evit::width_chains(*d), g);
      for (const auto& b : evit::cost::lut_blocks(*d, a)) {
        CAPTURE(d->name, b.key());
        REQUIRE(keys.count(b.key()) == 1);
      }
    }
    if (d == &ev::official_space::descriptor()) CHECK(keys.size() == 3073);
  }
}

TEST_CASE("block_profiler: profiles each block once, sums them, saves the table", "[cost][lut]") {
  auto prof = std::make_shared<evit::cost::block_profiler<micro>>(
      net(), evit::cost::timing().warmup(1).repeats(3).max_seconds(0.2), "test-machine");
  const evit::cost::local_latency<micro> lat(prof);
  STATIC_REQUIRE(decltype(lat)::sequential);
  const evit::arch a = micro::max_arch();
  const double p = lat(a);
  CHECK(p > 0);
  const auto blocks = evit::cost::lut_blocks(micro::descriptor(), a);
  std::set<std::string> distinct;
  double sum = 0;
  for (const auto& b : blocks) {
    distinct.insert(b.key());
    sum += prof->table().at(b.key());
  }
  CHECK(prof->profiled() == distinct.size());
  CHECK(prof->table().size() == distinct.size());
  CHECK(sum == Approx(p));  // summed per block kind
  CHECK(lat(a) == p);       // nothing new to profile
  CHECK(prof->profiled() == distinct.size());
  // The table is the phone tables' format: it saves, loads and predicts the same.
  const std::string path = "evit_test_this_machine.json";
  prof->table().save(path);
  const auto back = evit::cost::latency_table::load(path, "test-machine");
  std::remove(path.c_str());
  CHECK(back.predict(micro::descriptor(), a) == p);
  evit::cost::block_profiler<micro> other(net());
  other.merge(back);
  CHECK(other.predict(a) == p);
  CHECK(other.profiled() == 0);
  // Compared with a whole forward: the same order of magnitude (a loose bound: this is a noisy
  // shared machine; benchmarks/bench_latency.cpp reports the real error on 100 subnets).
  evit::cost::measured_latency whole(net(), evit::cost::timing().repeats(5));
  const double m = whole(a);
  CAPTURE(p, m);
  CHECK(p > 0.1 * m);
  CHECK(p < 10 * m);
}

TEST_CASE("block_profiler: keyed by this machine, a stale table is refused or profiled anew",
          "[cost][lut][calibration]") {
  evit::cost::block_profiler<micro> prof(net(), evit::cost::timing().warmup(0).repeats(1));
  const evit::cost::table_key here = prof.table().key();
  CHECK(here.cpu == evit::cost::cpu_model());
  CHECK(here.isa == evit::simd::isa_name(evit::simd::active_isa()));
  CHECK(here.threads == 1);
  CHECK(here.method == "context");
  const evit::arch a = micro::max_arch();
  const double p = prof.predict(a);
  evit::cost::latency_table stale = prof.table();
  stale.set_key({"Other CPU", here.isa, here.threads, here.method});
  evit::cost::block_profiler<micro> other(net(), evit::cost::timing().warmup(0).repeats(1));
  CHECK_THROWS_WITH(other.merge(stale), Catch::Matchers::Contains("cpu: the table's 'Other CPU'"));
  const std::string path = "evit_test_stale_lut.json";
  stale.save(path);
  CHECK_THROWS_AS(
      evit::cost::cached_profiler<micro>(net(), path, evit::cost::timing().warmup(0).repeats(1),
                                         false, evit::cost::stale_policy::refuse),
      evit::cost::stale_table);
  // Profiled anew (and saved with this machine's key).
  const auto fresh = evit::cost::cached_profiler<micro>(
      net(), path, evit::cost::timing().warmup(0).repeats(1), false);
  CHECK(fresh->profiled() == evit::cost::all_blocks(micro::descriptor()).size());
  CHECK(evit::cost::latency_table::load(path).key().mismatch(here).empty());
  // A table of this machine is used as is, its calibration included.
  evit::cost::table_calibration c;
  c.constant_ms = 1.0;
  c.fitted = true;
  stale.set_key(here);
  stale.set_calibration(c);
  stale.save(path);
  const auto same = evit::cost::cached_profiler<micro>(
      net(), path, evit::cost::timing().warmup(0).repeats(1), false);
  std::remove(path.c_str());
  CHECK(same->table().calibration().fitted);
  CHECK(same->predict(a) == Approx(p + 1.0));
}

TEST_CASE("calibrate: fits on measured random subnets, a quarter held out", "[cost][calibration]") {
  evit::cost::block_profiler<micro> prof(net(), evit::cost::timing().warmup(0).repeats(1));
  evit::cost::measured_latency<micro> whole(net(), evit::cost::timing().warmup(1).repeats(3));
  int calls = 0;
  const evit::cost::table_calibration c =
      evit::cost::calibrate(prof, whole, 12, 5, [&](int, int) { ++calls; });
  CHECK(calls == 12);
  CHECK(c.fitted);
  CHECK(c.fit_n == 9);
  CHECK(c.heldout_n == 3);
  CHECK(prof.table().calibration().fitted);
  for (double s : c.scale) CHECK(s > 0);
  CHECK_THROWS_WITH(evit::cost::calibrate(prof, whole, 4),
                    Catch::Matchers::Contains("4 subnets (allowed: at least 8"));
}

TEST_CASE("block_profiler: profile_all covers the space", "[cost][lut]") {
  evit::cost::block_profiler<micro> prof(net(), evit::cost::timing().warmup(0).repeats(1));
  std::size_t calls = 0, total = 0;
  const std::size_t fresh = prof.profile_all([&](std::size_t, std::size_t n) {
    ++calls;
    total = n;
  });
  CHECK(fresh == evit::cost::all_blocks(micro::descriptor()).size());
  CHECK(calls == total);
  CHECK(prof.table().size() == fresh);
  evit::rng g(2);
  for (int i = 0; i < 50; ++i)
    CHECK(prof.table().missing(micro::descriptor(), micro::sample(g)).empty());
  CHECK(prof.profile_all() == 0);
}

TEST_CASE("memory_of, peak_memory: weights touched plus the subnet's own workspace, monotone",
          "[cost][memory]") {
  const evit::arch a = mini::max_arch();
  const auto m = evit::cost::memory_of<mini>(a, 2, 3);
  CHECK(m.weights > 4.0 * ev::params<mini>(a));
  // The activation part is exactly what a forward_workspace holds for this subnet alone, plus
  // the images and the logits.
  ev::forward_workspace ws;
  ws.reserve(ev::supernet<mini>::single_subnet_space(mini::descriptor(), a), 2, 3);
  const double images = 2.0 * 3 * a.resolution() * a.resolution();
  CHECK(m.activations == static_cast<double>(ws.bytes()) + 4.0 * (images + 2 * 10));
  // Monotone: a move to a larger choice never lowers it.
  STATIC_REQUIRE(evit::cost::peak_memory<mini>::monotone);
  const evit::cost::peak_memory<ev::official_space> mem;
  const auto& d = ev::official_space::descriptor();
  evit::detail::move_set moves(d);
  std::vector<evit::detail::site> sites;
  evit::rng g(4);
  for (int i = 0; i < 200; ++i) {
    const evit::arch x = ev::official_space::sample(g);
    moves.sites(x, sites);
    for (const auto& s : sites) {
      const int t = moves.nearest_target(x, s, +1);
      if (t < 0) continue;
      evit::arch y = x;
      moves.apply(y, s, t);
      REQUIRE(mem(y) >= mem(x));
    }
  }
  CHECK(mem(ev::official_space::min_arch()) < mem(ev::official_space::max_arch()));
}
