// SPDX-License-Identifier: MIT
// ElasticViT's evaluation preprocessing (models/elasticvit/preprocess.hpp, io/image.hpp): hand
// computed cases, and the values Pillow, torchvision's transforms and PyTorch give
// (tests/data/preprocess/golden.json, written by make_golden.py beside it).
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/io/dataset.hpp"
#include "evit/io/image.hpp"
#include "evit/models/elasticvit/evaluate.hpp"
#include "evit/models/elasticvit/preprocess.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;
namespace io = evit::io;

namespace {

// The synthetic image of make_golden.py.
io::image pp_synthetic(int w, int h) {
  io::image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.at(x, y, c) = static_cast<std::uint8_t>(
            ((x * 73 + y * 151 + c * 23) * (x + 2 * y + 3 * c + 1)) % 256);
  return im;
}

std::int64_t pp_weighted_sum(const std::vector<std::uint8_t>& v) {
  std::int64_t s = 0;
  for (std::size_t i = 0; i < v.size(); ++i) s += v[i] * static_cast<std::int64_t>(i % 97 + 1);
  return s;
}

float pp_normalised(int v, int c) {
  const ev::preprocess_options o;
  return (static_cast<float>(v) / 255.0f - o.mean[static_cast<std::size_t>(c)]) /
         o.std[static_cast<std::size_t>(c)];
}

}  // namespace

TEST_CASE("preprocess: a constant image gives (v / 255 - mean) / std everywhere", "[preprocess]") {
  io::image im(300, 200);
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 300; ++x)
      for (int c = 0; c < 3; ++c) im.at(x, y, c) = static_cast<std::uint8_t>(40 + 70 * c);
  for (int r : {224, 128, 256}) {
    const std::vector<float> x = ev::preprocess(im, r);
    REQUIRE(x.size() == 3u * r * r);
    for (int c = 0; c < 3; ++c) {
      const float want = pp_normalised(40 + 70 * c, c);
      for (int p = 0; p < r * r; ++p) {
        const float got = x[static_cast<std::size_t>(c * r * r + p)];
        if (r == 224)
          REQUIRE(got == want);  // no interpolation to R: exactly torchvision's value
        else
          REQUIRE(std::abs(got - want) <= 1e-6f * std::abs(want) + 1e-7f);
      }
    }
  }
}

TEST_CASE("preprocess: 2x2 to 1x1 averages with Pillow's two roundings", "[preprocess]") {
  // Pillow's bicubic 2 -> 1 weighs both inputs 1/2 and rounds each pass to 8 bits:
  // rows (10 + 20) / 2 = 15 and (30 + 41) / 2 = 35.5 -> 36, then (15 + 36) / 2 = 25.5 -> 26.
  io::image im(2, 2);
  const int v[2][2] = {{10, 20}, {30, 41}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 2; ++x)
      for (int c = 0; c < 3; ++c) im.at(x, y, c) = static_cast<std::uint8_t>(v[y][x]);
  REQUIRE(io::resize(im, 1, 1).pixels == std::vector<std::uint8_t>{26, 26, 26});
  ev::preprocess_options o;
  o.resize = 1;
  o.crop = 1;
  const std::vector<float> x = ev::preprocess(im, 1, o);
  for (int c = 0; c < 3; ++c) CHECK(x[static_cast<std::size_t>(c)] == pp_normalised(26, c));
}

TEST_CASE("preprocess: centre crop offsets round half to even, as Python", "[preprocess]") {
  io::image im(7, 6);
  for (int x = 0; x < 7; ++x)
    for (int y = 0; y < 6; ++y) im.at(x, y, 0) = static_cast<std::uint8_t>(10 * x + y);
  CHECK(io::center_crop(im, 4, 3).at(0, 0, 0) == 20 + 2);  // (7-4)/2 = 1.5 -> 2; (6-3)/2 -> 2
  CHECK(io::center_crop(im, 2, 1).at(0, 0, 0) == 20 + 2);  // 2.5 -> 2; 2.5 -> 2
  CHECK(io::center_crop(im, 6, 5).at(0, 0, 0) == 0);       // 0.5 -> 0
  CHECK_THROWS_AS(io::center_crop(im, 8, 1), evit::invalid_argument);
  CHECK(io::shorter_side_size(300, 200, 256) == std::pair<int, int>(384, 256));
  CHECK(io::shorter_side_size(201, 333, 256) == std::pair<int, int>(256, 424));
}

TEST_CASE("preprocess: equals Pillow, torchvision and PyTorch (golden values)", "[preprocess]") {
  std::ifstream f(evit::test::data_path("preprocess/golden.json"));
  const nlohmann::json g = nlohmann::json::parse(f);
  for (const auto& c : g.at("cases")) {
    const int w = c.at("width"), h = c.at("height"), r = c.at("resolution");
    ev::preprocess_options o;
    o.resize = c.at("resize");
    o.crop = c.at("crop");
    o.filter = c.at("filter") == "bicubic" ? io::resample::bicubic : io::resample::bilinear;
    INFO(w << "x" << h << " resize " << o.resize << " crop " << o.crop << " R " << r);
    const io::image im = pp_synthetic(w, h);
    const auto size = io::shorter_side_size(w, h, o.resize);
    const io::image crop =
        io::center_crop(io::resize(im, size.first, size.second, o.filter), o.crop, o.crop);
    CHECK(pp_weighted_sum(crop.pixels) == c.at("cropped_checksum").get<std::int64_t>());  // exact
    const std::vector<float> x = ev::preprocess(im, r, o);
    double sum = 0;
    for (float v : x) sum += v;
    CHECK(sum == Approx(c.at("output_sum").get<double>()).margin(1e-3));
    const bool full = c.contains("output");
    const std::vector<float> want = c.at(full ? "output" : "output_every_997");
    const std::size_t step = full ? 1 : 997;
    REQUIRE(want.size() == (x.size() + step - 1) / step);
    double worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, static_cast<double>(std::abs(x[i * step] - want[i])));
    CHECK(worst < 2e-5);  // float rounding in PyTorch's bicubic and in the stored digits
  }
}

TEST_CASE("preprocess: bad arguments are named", "[preprocess]") {
  const io::image im(4, 4);
  ev::preprocess_options o;
  o.resize = 100;
  o.crop = 200;
  CHECK_THROWS_WITH(ev::preprocess(im, 8, o), Catch::Contains("resize 100 and crop 200"));
  CHECK_THROWS_AS(ev::preprocess(im, 0), evit::invalid_argument);
  CHECK_THROWS_AS(io::image(0, 3), evit::invalid_argument);
}

TEST_CASE("evaluate: top_k orders by score, ties by index", "[preprocess]") {
  const float s[] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
  CHECK(ev::top_k(s, 5, 3) == std::vector<int>{1, 3, 4});
  CHECK(ev::top_k(s, 5, 9) == std::vector<int>{1, 3, 4, 0, 2});
  CHECK(ev::top_k(s, 5, 0).empty());
}

TEST_CASE("dataset: class names, one per line", "[preprocess]") {
  CHECK(io::parse_class_names("cat\r\ndog\n\ntench, Tinca tinca\n") ==
        std::vector<std::string>{"cat", "dog", "", "tench, Tinca tinca"});
  CHECK(io::parse_class_names("").empty());
  CHECK_THROWS_WITH(io::read_class_names("/nonexistent/labels.txt"),
                    Catch::Contains("/nonexistent/labels.txt: cannot open the file"));
}
