// SPDX-License-Identifier: MIT
// models/elasticvit/plan.hpp: a subnet's blocks in forward order, their geometry chains, the
// slices fit the supernet's tensors, the per-block counts sum to the subnet's, and the printed
// table's total is the official count.
#include <cstdio>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/plan.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/weights.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
using kind = ev::block_kind;

TEST_CASE("plan: elastic_T1's blocks in forward order, with their geometry", "[models][plan]") {
  const auto& d = ev::official_space::descriptor();
  const evit::arch& a = ev::released("elastic_T1");
  const auto p = ev::plan::of(d, a);
  std::string kinds;
  for (const auto& b : p.blocks()) kinds += std::string(ev::block_kind_name(b.kind)) + " ";
  // first conv, stem 1, C0 2, C1 3 MBConvs, then four transformer stages of depth 1, the head
  CHECK(kinds ==
        "first_conv mbconv mbconv mbconv mbconv mbconv mbconv reduction attention ffn reduction "
        "attention ffn reduction attention ffn reduction attention ffn head ");
  const auto& first = p.blocks().front();
  CHECK(first.side_in == 128);
  CHECK(first.side == 64);
  CHECK(first.cout == 16);
  const auto& head = p.blocks().back();
  CHECK(head.side == 2);  // 128 / 2^6
  CHECK(head.cin == 272);
  CHECK(head.classes == 1000);
  // The first transformer stage's reduction reads planes, the later ones tokens.
  int reductions = 0;
  for (const auto& b : p.blocks())
    if (b.kind == kind::reduction) CHECK(b.tokens_in == (reductions++ > 0));
}

TEST_CASE("plan: sides and channels chain, slices fit the supernet, counts add up",
          "[models][plan]") {
  const auto& d = ev::official_space::descriptor();
  std::vector<evit::arch> archs = {ev::official_space::min_arch(), ev::official_space::max_arch()};
  evit::rng g(4);
  for (int i = 0; i < 50; ++i) archs.push_back(ev::official_space::sample(g));
  for (const evit::arch& a : archs) {
    CAPTURE(evit::to_string<ev::official_space>(a));
    const auto p = ev::plan::of(d, a);
    int side = a.resolution(), c = 3;
    double macs = 0, corrected = 0, params = 0;
    for (const auto& b : p.blocks()) {
      CAPTURE(b.key());
      CHECK(b.side_in == side);
      if (b.kind != kind::first_conv) CHECK(b.cin == c);
      CHECK(b.cout <= (b.kind == kind::head ? b.classes : b.max.out));
      if (b.kind == kind::conv || b.kind == kind::reduction) {
        CHECK(b.cin <= b.max.in);
        CHECK(b.inner() <= b.max.inner);
        CHECK(b.kernel <= b.max.kernel);
      }
      if (b.kind == kind::attention) {
        CHECK(b.heads <= b.max.heads);
        CHECK(b.side <= b.max.rel_side);
        CHECK(b.heads * b.head_dim == b.cout);
      }
      if (b.kind == kind::ffn) CHECK(b.hidden <= b.max.hidden);
      side = b.side;
      c = b.kind == kind::head ? c : b.cout;
      macs += ev::block_macs(b);
      corrected += ev::block_macs_corrected(b);
      params += ev::block_params(b);
    }
    CHECK(macs == ev::macs(d, a));
    CHECK(corrected == ev::macs_corrected(d, a));
    CHECK(params == ev::params(d, a));
  }
}

TEST_CASE("plan: the table's total is the official count, a bad arch is refused",
          "[models][plan]") {
  const auto& d = ev::official_space::descriptor();
  const evit::arch& a = ev::released("elastic_T1");
  const std::string table = ev::plan_table(ev::plan::of(d, a));
  char total[64];
  std::snprintf(total, sizeof total, "%10.3f", ev::macs(d, a) / 1e6);
  INFO(table);
  CHECK(table.find("total") != std::string::npos);
  CHECK(table.find(total) != std::string::npos);  // 62.915
  CHECK(table.find("mbconv") != std::string::npos);
  evit::arch bad = a;
  bad.set_width(3, 72);
  CHECK_THROWS_AS(ev::plan::of(d, bad), evit::invalid_arch);
}

TEST_CASE("plan: the supernet's plan names every tensor once", "[models][plan]") {
  const auto& d = ev::official_space::descriptor();
  const auto p = ev::plan::of_supernet(d);
  std::vector<std::string> modules;
  for (const auto& b : p.blocks()) modules.push_back(ev::module_name(b));
  CHECK(modules.front() == "first_conv");
  CHECK(modules[1] == "conv_stem.layers.0.0");
  CHECK(modules.back() == "pre_head");
  // The modules are distinct, and every tensor of the supernet lies in one of them (the head owns
  // the classifier; a reduction is nested in its stage's layer 0).
  for (std::size_t i = 0; i < modules.size(); ++i)
    for (std::size_t j = i + 1; j < modules.size(); ++j) CHECK(modules[i] != modules[j]);
  for (const auto& t : ev::expected_tensors(d)) {
    bool owned = t.name.compare(0, 10, "classifer.") == 0;
    for (const auto& m : modules)
      owned = owned || t.name.compare(0, m.size() + 1, m + ".") == 0 ||
              t.name.compare(0, m.size() + 1, m + "_") == 0;
    CAPTURE(t.name);
    CHECK(owned);
  }
}
