// SPDX-License-Identifier: MIT
#include <algorithm>
#include <string>

#include "evit/models/elasticvit/weights.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;

TEST_CASE("supernet weights: the official supernet has 40,488,174 parameters",
          "[models][weights]") {
  // The official supernet class, built for the official space, has 40,488,174 parameters.
  CHECK(ev::supernet_parameter_count(ev::official_space::descriptor()) == 40488174);
}

TEST_CASE("supernet weights: the reference mini supernet loads with every name and shape",
          "[models][weights][reference]") {
  const auto f = evit::io::safetensors_file::open(
      evit::test::data_path("elasticvit-mini/supernet.safetensors"));
  const auto w = ev::supernet_weights::load(ev::mini_space::descriptor(), f);
  CHECK(w.specs().size() == 342);
  // Every file tensor is either expected or one of the buffers a loader may ignore.
  for (const auto& t : f.tensors()) {
    const bool ignorable = t.name.find("num_batches_tracked") != std::string::npos ||
                           t.name.find("relative_position_index") != std::string::npos;
    bool expected = true;
    try {
      w.spec(t.name);
    } catch (const evit::invalid_argument&) {
      expected = false;
    }
    CAPTURE(t.name);
    CHECK(expected != ignorable);
  }
  // Values land where the index says.
  const auto ref = f.to_f32(f.at("feature_exactor.3.layers.2.qkv.weight"));
  const float* got = w.transformer_layers[5][1].qkv;
  for (std::size_t i = 0; i < ref.size(); i += 97) CHECK(got[i] == ref[i]);
  CHECK(w.reduction[4].inner_max == 6 * 48);
  CHECK(w.conv_layers[3][0].has_se);
  CHECK(!w.conv_layers[1][0].has_pw);  // the stem has no expanding 1x1
}

TEST_CASE("supernet weights: a missing, misshapen or integer tensor is named",
          "[models][weights]") {
  const auto& d = ev::mini_space::descriptor();
  const auto good = ev::supernet_weights::random(d, 3);
  auto file_without = [&](const std::string& skip, const std::string& reshape) {
    evit::io::safetensors_writer wr;
    for (const auto& s : good.specs()) {
      if (s.name == skip) continue;
      auto shape = s.shape;
      if (s.name == reshape) shape[0] -= 1;
      wr.add(s.name, shape, good.tensor(s.name));
    }
    return evit::io::safetensors_file::from_bytes(wr.to_bytes(), "sn.safetensors");
  };
  CHECK_THROWS_WITH(ev::supernet_weights::load(d, file_without("pre_head_1.bias", "")),
                    "sn.safetensors: tensor \"pre_head_1.bias\" is missing (expected shape [256] "
                    "for space elasticvit-mini)");
  CHECK_THROWS_WITH(
      ev::supernet_weights::load(d, file_without("", "feature_exactor.2.layers.0.qkv.weight")),
      "sn.safetensors: tensor \"feature_exactor.2.layers.0.qkv.weight\" has shape [287, 48]; the "
      "supernet of space elasticvit-mini needs [288, 48]");
  // Loading what random() made gives the same values.
  const auto again = ev::supernet_weights::load(d, file_without("", ""));
  for (const auto& s : good.specs())
    CHECK(std::equal(good.tensor(s.name), good.tensor(s.name) + s.numel(), again.tensor(s.name)));
}
