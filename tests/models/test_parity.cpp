// SPDX-License-Identifier: MIT
// The acceptance test: every case of tests/data/elasticvit-mini (see its README), run from the
// one reference supernet, gives the official model's logits (and, for cases 0 and 1, every stored
// intermediate) within 1e-4.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/supernet.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;
using json = nlohmann::json;

namespace {
struct reference {
  json cases;
  std::unique_ptr<evit::io::safetensors_file> goldens;
  std::unique_ptr<ev::supernet<ev::mini_space>> net;
};
// Loaded once for all test cases of this file.
reference* load_reference() {
  static std::unique_ptr<reference> ref;
  if (ref) return ref.get();
  auto r = std::make_unique<reference>();  // kept only once complete
  r->cases = json::parse(
      evit::test::read_file(evit::test::data_path("elasticvit-mini/cases.json")))["cases"];
  r->goldens = std::make_unique<evit::io::safetensors_file>(evit::io::safetensors_file::open(
      evit::test::data_path("elasticvit-mini/goldens.safetensors")));
  r->net = std::make_unique<ev::supernet<ev::mini_space>>(ev::supernet<ev::mini_space>::load(
      evit::test::data_path("elasticvit-mini/supernet.safetensors")));
  ref = std::move(r);
  return ref.get();
}
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}
}  // namespace

TEST_CASE("parity: logits of all 16 reference cases within 1e-4", "[models][parity][reference]") {
  reference* ref = load_reference();
  ev::forward_workspace ws;
  REQUIRE(ref->cases.size() == 16);
  double worst = 0;
  for (const auto& c : ref->cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    const evit::arch a = ev::from_official_list<ev::mini_space>(c["arch"]);
    const auto& input = ref->goldens->at(name + ".input");
    const auto images = ref->goldens->to_f32(input);
    const auto expect = ref->goldens->to_f32(ref->goldens->at(name + ".logits"));
    const auto batch = static_cast<evit::Index>(input.shape[0]);
    const auto got = ref->net->forward(a, images, batch, ws);
    const double err = max_abs_diff(got, expect);
    CAPTURE(err);
    CHECK(err < 1e-4);
    worst = std::max(worst, err);
    // The MACs of each case equal cases.json.
    CHECK(std::abs(ev::macs<ev::mini_space>(a) / 1e6 - c["mflops"].get<double>()) < 1e-9);
  }
  std::printf("parity: worst max-abs logits error over 16 cases: %.3g\n", worst);
}

TEST_CASE("parity: without packed weights (slices read in place) too, and both agree",
          "[models][parity][reference]") {
  reference* ref = load_reference();
  const auto in_place = ev::supernet<ev::mini_space>::load(
      evit::test::data_path("elasticvit-mini/supernet.safetensors"),
      ev::load_options().pack_weights(false));
  REQUIRE(in_place.weights().packed_size() == 0);
  REQUIRE(ref->net->weights().packed_size() > 0);
  ev::forward_workspace ws;
  double worst_golden = 0, worst_packed = 0;
  for (const auto& c : ref->cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    const evit::arch a = ev::from_official_list<ev::mini_space>(c["arch"]);
    const auto& input = ref->goldens->at(name + ".input");
    const auto images = ref->goldens->to_f32(input);
    const auto expect = ref->goldens->to_f32(ref->goldens->at(name + ".logits"));
    const auto batch = static_cast<evit::Index>(input.shape[0]);
    const auto got = in_place.forward(a, images, batch, ws);
    const auto packed = ref->net->forward(a, images, batch, ws);
    worst_golden = std::max(worst_golden, max_abs_diff(got, expect));
    worst_packed = std::max(worst_packed, max_abs_diff(got, packed));
  }
  std::printf("parity, in place: worst error %.3g vs goldens, %.3g vs packed\n", worst_golden,
              worst_packed);
  CHECK(worst_golden < 1e-4);
  CHECK(worst_packed < 1e-5);
}

TEST_CASE("parity: every intermediate of cases 0 and 1", "[models][parity][reference]") {
  reference* ref = load_reference();
  ev::forward_workspace ws;
  for (int k = 0; k < 2; ++k) {
    const auto& c = ref->cases[static_cast<std::size_t>(k)];
    const std::string name = c["name"];
    const evit::arch a = ev::from_official_list<ev::mini_space>(c["arch"]);
    const auto& input = ref->goldens->at(name + ".input");
    ev::intermediates inter;
    ref->net->forward(a, ref->goldens->to_f32(input), input.shape[0], ws,
                      ev::forward_options().keep_intermediates(inter));
    for (const auto& stage : c["intermediates"]) {
      const std::string s = stage;
      CAPTURE(name, s);
      const auto& golden = ref->goldens->at(name + "." + s);
      REQUIRE(inter.by_name.count(s) == 1);
      CHECK(inter.by_name[s].shape == golden.shape);
      const double err = max_abs_diff(inter.by_name[s].values, ref->goldens->to_f32(golden));
      CAPTURE(err);
      CHECK(err < 1e-4);
    }
  }
}
