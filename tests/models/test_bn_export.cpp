// SPDX-License-Identifier: MIT
// BatchNorm recalibration (docs/elasticvit.md#batchnorm-recalibration) against a direct
// computation, the override's isolation and persistence, and standalone export of one subnet.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/models/elasticvit/supernet.hpp"

#include "catch.hpp"

namespace ev = evit::elasticvit;
using net_t = ev::supernet<ev::mini_space>;

namespace {
std::vector<float> random_images(evit::Index batch, int r, std::uint64_t seed) {
  evit::rng g(seed);
  std::vector<float> v(static_cast<std::size_t>(batch * 3 * r * r));
  for (auto& x : v) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
  return v;
}
// The first conv's raw output (before BatchNorm), directly in double: 3x3, stride 2, padding 1.
std::vector<double> first_conv_raw(const net_t& net, const std::vector<float>& img, int r, int cf,
                                   int b) {
  const float* w = net.weights().first_conv;
  const int side = (r + 1) / 2;
  std::vector<double> out(static_cast<std::size_t>(cf * side * side), 0.0);
  for (int o = 0; o < cf; ++o)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        double acc = 0;
        for (int i = 0; i < 3; ++i)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = 2 * y - 1 + ky, ix = 2 * x - 1 + kx;
              if (iy < 0 || ix < 0 || iy >= r || ix >= r) continue;
              acc += double(w[((o * 3 + i) * 3 + ky) * 3 + kx]) *
                     img[static_cast<std::size_t>(((b * 3 + i) * r + iy) * r + ix)];
            }
        out[static_cast<std::size_t>((o * side + y) * side + x)] = acc;
      }
  return out;
}
}  // namespace

TEST_CASE("bn recalibration: cumulative average of batch mean and unbiased variance",
          "[models][bn]") {
  const net_t net = net_t::random(5);
  const evit::arch a = ev::mini_space::min_arch();
  const int r = a.resolution(), cf = a.width(0), side = (r + 1) / 2;
  const std::vector<std::vector<float>> batches = {random_images(3, r, 1), random_images(2, r, 2)};
  ev::forward_workspace ws;
  const ev::bn_override o = net.recalibrate(a, batches, ws);
  CHECK(o.batches() == 2);
  // Direct computation for the first BatchNorm, whose input does not depend on any other.
  std::vector<double> mean(static_cast<std::size_t>(cf), 0.0), var(mean);
  for (std::size_t k = 0; k < batches.size(); ++k) {
    const int batch = static_cast<int>(batches[k].size() / (3 * r * r));
    const double n = double(batch) * side * side;
    for (int c = 0; c < cf; ++c) {
      double s1 = 0, s2 = 0;
      for (int b = 0; b < batch; ++b) {
        const auto raw = first_conv_raw(net, batches[k], r, cf, b);
        for (int p = 0; p < side * side; ++p) {
          const double v = raw[static_cast<std::size_t>(c * side * side + p)];
          s1 += v;
          s2 += v * v;
        }
      }
      const double m = s1 / n;
      mean[static_cast<std::size_t>(c)] += m / 2;  // cumulative average of 2 batches
      var[static_cast<std::size_t>(c)] += (s2 / n - m * m) * n / (n - 1) / 2;
    }
  }
  const auto& st = o.at("first_conv_bn");
  REQUIRE(st.mean.size() == static_cast<std::size_t>(cf));
  for (int c = 0; c < cf; ++c) {
    CAPTURE(c);
    CHECK(std::abs(st.mean[static_cast<std::size_t>(c)] - mean[static_cast<std::size_t>(c)]) <
          1e-5 * (1 + std::abs(mean[static_cast<std::size_t>(c)])));
    CHECK(std::abs(st.var[static_cast<std::size_t>(c)] - var[static_cast<std::size_t>(c)]) <
          1e-4 * (1 + var[static_cast<std::size_t>(c)]));
  }
  // Every BatchNorm the subnet uses has statistics at its active width.
  CHECK(o.at("pre_head_norm_0").mean.size() == static_cast<std::size_t>(6 * a.width(7)));
  CHECK(o.at("feature_exactor.0.layers.0.0.pw_bn").mean.size() ==
        static_cast<std::size_t>(a.width(1) * a.stage_layers(2)[0].expand_ratio));
}

TEST_CASE("bn recalibration: the override changes outputs, not the supernet; saves and loads",
          "[models][bn]") {
  const net_t net = net_t::random(6);
  const evit::arch a = ev::mini_space::max_arch();
  const int r = a.resolution();
  const auto images = random_images(2, r, 9);
  ev::forward_workspace ws;
  const std::vector<float> before = net.forward(a, images, 2, ws);
  const std::vector<float> weights_before(net.weights().data(),
                                          net.weights().data() + net.weights().size());
  const ev::bn_override o = net.recalibrate(a, {random_images(4, r, 3)}, ws);
  const std::vector<float> after = net.forward(a, images, 2, ws);
  CHECK(after == before);  // the shared supernet is untouched
  CHECK(std::equal(weights_before.begin(), weights_before.end(), net.weights().data()));
  const std::vector<float> with = net.forward(a, images, 2, ws, &o);
  CHECK(with != before);
  const std::string path = "bn_override_test.safetensors";
  o.save(path);
  const ev::bn_override loaded = net.load_override(path);
  std::remove(path.c_str());
  CHECK(loaded.subnet() == a);
  CHECK(net.forward(a, images, 2, ws, &loaded) == with);
  // An override belongs to its subnet.
  CHECK_THROWS_AS(net.forward(ev::mini_space::min_arch(), random_images(1, 96, 1), 1, ws, &o),
                  evit::invalid_argument);
}

TEST_CASE("export: a standalone subnet file loads and gives the same outputs", "[models][export]") {
  const net_t net = net_t::random(7);
  evit::rng g(3);
  ev::forward_workspace ws, ws2;
  for (int trial = 0; trial < 3; ++trial) {
    const evit::arch a = trial == 0 ? ev::mini_space::max_arch() : ev::mini_space::sample(g);
    const auto images = random_images(2, a.resolution(), 10 + trial);
    const std::string path = "export_test.safetensors";
    net.export_subnet(a, path);
    const net_t sub = net_t::load_standalone(path);
    std::remove(path.c_str());
    if (trial > 0) CHECK(sub.weights().size() < net.weights().size());
    const auto expect = net.forward(a, images, 2, ws);
    const auto got = sub.forward(a, images, 2, ws2);
    REQUIRE(got.size() == expect.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(std::abs(got[i] - expect[i]) < 1e-5);
    // The standalone file runs only its subnet.
    CHECK_THROWS_AS(sub.forward(ev::mini_space::min_arch() == a ? ev::mini_space::max_arch()
                                                                : ev::mini_space::min_arch(),
                                images, 2, ws2),
                    evit::error);
  }
}
