// SPDX-License-Identifier: MIT
// The official MACs count against the official code's values for 311 subnets of the full space
// and the 16 cases of the mini space (tests/data), and the released models' MMACs and parameter
// counts (docs/elasticvit.md#released-models).
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "evit/core/rng.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/models/elasticvit/released.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;
using json = nlohmann::json;

TEST_CASE("elasticvit macs: equals the official count for all 311 reference subnets",
          "[models][macs][reference]") {
  const json cases = json::parse(
      evit::test::read_file(evit::test::data_path("elasticvit-full/full_space_flops.json")));
  REQUIRE(cases.size() == 311);
  double worst = 0;
  for (const auto& c : cases) {
    const evit::arch a = ev::from_official_list(c["arch"]);
    const double ref = c["mflops"].get<double>() * 1e6;
    const double rel = std::abs(ev::macs(a) - ref) / ref;
    CAPTURE(c["name"].get<std::string>(), ev::macs(a), ref);
    CHECK(rel < 1e-9);
    worst = std::max(worst, rel);
  }
  CHECK(worst < 1e-9);
}

TEST_CASE("elasticvit macs: follows the space it is given (the mini space's 16 cases)",
          "[models][macs][reference]") {
  const json j =
      json::parse(evit::test::read_file(evit::test::data_path("elasticvit-mini/cases.json")));
  REQUIRE(j["cases"].size() == 16);
  for (const auto& c : j["cases"]) {
    const evit::arch a = ev::from_official_list<ev::mini_space>(c["arch"]);
    const double ref = c["mflops"].get<double>() * 1e6;
    CAPTURE(c["name"].get<std::string>());
    CHECK(std::abs(ev::macs<ev::mini_space>(a) - ref) / ref < 1e-9);
  }
}

TEST_CASE("elasticvit macs: the released models' MMACs and params", "[models][macs]") {
  // MMACs to 0.1 and params to 0.1 M, as in docs/elasticvit.md#released-models.
  const double mmacs[] = {62.9, 120.0, 217.6, 318.5, 415.6, 517.1, 618.8, 704.1, 815.4};
  const double mparams[] = {8.9, 9.3, 10.8, 10.2, 12.0, 12.8, 14.7, 14.9, 15.3};
  const auto& models = ev::released_models();
  REQUIRE(models.size() == 9);
  for (std::size_t i = 0; i < 9; ++i) {
    CAPTURE(models[i].name);
    CHECK(std::abs(ev::macs(models[i].arch_value) / 1e6 - mmacs[i]) < 0.05);
    CHECK(std::abs(ev::params(models[i].arch_value) / 1e6 - mparams[i]) < 0.05);
  }
}

TEST_CASE("elasticvit macs: the corrected count adds exactly the terms the official one omits",
          "[models][macs]") {
  // elastic_T1 by hand (R=128): sides 64 (stem), 32 (C0), 16 (C1), 8 (T2, T3), 4 (T4), 2 (T5).
  const evit::arch& a = ev::released("elastic_T1");
  const double official = ev::macs(a);
  double extra = 0;
  // dw conv on V: official counts N*h*dv, real is 9x: +8*N*h*dv per transformer layer
  // (widths 64,96,176,272 -> h 4,6,11,17; v=2 -> dv 32; N = 64, 64, 16, 4).
  extra += 8.0 * (64 * 4 * 32 + 64 * 6 * 32 + 16 * 11 * 32 + 4 * 17 * 32);
  // C0 layer 0 (16 -> 24, stride 2, no SE): the pool (4 * cin * n_out) replaces nothing; the
  // official count already has the 1x1 shortcut. C1 layer 0 (24 -> 32, SE): pool + SE pool/scale.
  extra += 4.0 * 16 * 32 * 32;  // C0 avg pool
  extra += 4.0 * 24 * 16 * 16;  // C1 avg pool
  // C1's SE (pool and scale; the official count has only its two 1x1 convs): layer 0 has
  // inner 24*3 = 72, layers 1-2 inner 32*3 = 96, on 16x16 = 256 positions.
  extra += 2.0 * 256 * (72 + 2 * 96);
  // Reduction blocks (e6, SE, stride 2 except T3): SE (2 fc + pool/scale), avg pool, 1x1 conv.
  auto reduction = [](double cin, double c, double n_out, bool stride2) {
    const double inner = 6 * cin;
    double m = 2 * inner * std::floor(inner / 4) + 2 * inner * n_out;
    if (stride2) m += 4 * cin * n_out;
    if (cin != c) m += cin * c * n_out;
    return m;
  };
  extra += reduction(32, 64, 64, true) + reduction(64, 96, 64, false) +
           reduction(96, 176, 16, true) + reduction(176, 272, 4, true);
  extra += 6.0 * 272 * 4;  // the head's mean pool over 4 tokens of 6*272 channels
  CHECK(ev::macs_corrected(a) == official + extra);
}

TEST_CASE("elasticvit macs: invalid archs are errors, not numbers", "[models][macs]") {
  evit::arch a = ev::released("elastic_T1");
  a.set_width(5, 72);
  CHECK_THROWS_AS(ev::macs(a), evit::invalid_arch);
  CHECK_THROWS_AS(ev::params(a), evit::invalid_arch);
  CHECK_THROWS_AS(ev::macs_corrected(a), evit::invalid_arch);
}

TEST_CASE("elasticvit macs: monotone in every dimension", "[models][macs]") {
  // Raising any single choice never lowers the count (what macs_model's `monotone` promises).
  using S = ev::official_space;
  const auto& d = S::descriptor();
  evit::rng g(21);
  for (int trial = 0; trial < 200; ++trial) {
    const evit::arch a = S::sample(g);
    const double base = ev::macs(a);
    for (int s = 0; s < d.num_stages(); ++s) {
      evit::arch b = a;
      b.set_depth(s, std::min(a.depth(s) + 1, d.stages[s].depth.back()));
      CHECK(ev::macs(b) >= base);
      evit::arch c = a;
      evit::layer_dims l = c.layer(s, 0);
      if (d.stages[s].is_transformer()) {
        l.v_scale = d.stages[s].v_scale.back();
        l.mlp_ratio = d.stages[s].mlp_ratio.back();
      } else if (d.stages[s].is_conv()) {
        l.expand_ratio = d.stages[s].expand_ratio.back();
        l.kernel_size = d.stages[s].kernel_size.back();
      }
      c.set_stage_layers(s, l);
      CHECK(ev::macs(c) >= base);
    }
  }
}

TEST_CASE("fashion space: every stage keeps a feature map, MACs span more than 10x",
          "[models][macs]") {
  using space = ev::fashion_space;
  for (evit::arch a : {space::min_arch(), space::max_arch()})
    for (int r : space::descriptor().resolution) {
      a.set_resolution(r);
      const ev::plan p = ev::plan::of(space::descriptor(), a);
      int last_side = 0;
      for (const ev::block& b : p.blocks()) {
        INFO("resolution " << r << ", block at stage " << b.stage << " layer " << b.layer);
        CHECK(b.side >= 1);
        if (b.stage >= 0) last_side = b.side;
      }
      CHECK(last_side == 1);
    }
  const double lo = ev::macs<space>(space::min_arch()), hi = ev::macs<space>(space::max_arch());
  CHECK(hi / lo > 10.0);
  CHECK(space::cardinality().to_string() == "253957939200");
}
