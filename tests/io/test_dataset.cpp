// SPDX-License-Identifier: MIT
// Labelled sets: the pixel form (U8 images with their normalisation in the metadata) gives the
// network inputs a double-precision reference computes; every malformed file is named.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evit/io/dataset.hpp"

#include "catch.hpp"
#include "safetensors_bytes.hpp"

using evit::test::raw_tensor;

namespace {

std::vector<std::uint8_t> ds_pixels(std::size_t n) {
  std::vector<std::uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  return p;
}

evit::io::labelled_images ds_read(const std::vector<raw_tensor>& ts,
                                  const std::map<std::string, std::string>& meta,
                                  int classes = 10) {
  return evit::io::labelled_images_of(
      evit::io::safetensors_file::from_bytes(evit::test::make_file(ts, meta), "val.safetensors"),
      classes, "val.safetensors");
}

std::string ds_error_of(const std::vector<raw_tensor>& ts,
                        const std::map<std::string, std::string>& meta) {
  try {
    ds_read(ts, meta);
  } catch (const evit::format_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("dataset: U8 grey pixels become normalised three-channel inputs", "[io][dataset]") {
  const std::size_t n = 3, side = 5, plane = side * side;
  const auto px = ds_pixels(n * plane);
  const std::vector<std::uint8_t> labels{7, 0, 9};
  const auto s = ds_read({{"images", "U8", {3, 1, 5, 5}, px}, {"labels", "U8", {3}, labels}},
                         {{"mean", "0.2860"}, {"std", "0.3530"}});
  REQUIRE(s.size() == n);
  REQUIRE(s.side == 5);
  REQUIRE(s.images.size() == n * 3 * plane);
  CHECK(s.labels == std::vector<int>{7, 0, 9});
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t k = 0; k < plane; ++k) {
        const double want = (px[i * plane + k] / 255.0 - 0.2860) / 0.3530;
        worst = std::max(worst, std::abs(s.images[(i * 3 + c) * plane + k] - want));
      }
  CHECK(worst < 1e-5);
}

TEST_CASE("dataset: U8 colour pixels are normalised per channel", "[io][dataset]") {
  const std::size_t side = 4, plane = side * side;
  const auto px = ds_pixels(2 * 3 * plane);
  std::vector<std::uint8_t> labels(16, 0);  // I64 little-endian: 1 and 4
  labels[0] = 1;
  labels[8] = 4;
  const auto s = ds_read({{"images", "U8", {2, 3, 4, 4}, px}, {"labels", "I64", {2}, labels}},
                         {{"mean", "0.485,0.456,0.406"}, {"std", "0.229, 0.224, 0.225"}});
  CHECK(s.labels == std::vector<int>{1, 4});
  const double mean[] = {0.485, 0.456, 0.406}, stdev[] = {0.229, 0.224, 0.225};
  double worst = 0;
  for (std::size_t i = 0; i < 2 * 3 * plane; ++i) {
    const std::size_t c = (i / plane) % 3;
    worst = std::max(worst, std::abs(s.images[i] - (px[i] / 255.0 - mean[c]) / stdev[c]));
  }
  CHECK(worst < 1e-5);
}

TEST_CASE("dataset: a malformed labelled set is named, field and value", "[io][dataset]") {
  const auto px = ds_pixels(2 * 9);
  const raw_tensor images{"images", "U8", {2, 1, 3, 3}, px};
  const raw_tensor labels{"labels", "U8", {2}, {1, 2}};
  const std::map<std::string, std::string> norm{{"mean", "0.5"}, {"std", "0.25"}};
  CHECK_NOTHROW(ds_read({images, labels}, norm));
  CHECK_THAT(ds_error_of({images, labels}, {{"std", "0.25"}}),
             Catch::Contains("val.safetensors: U8 'images' need metadata 'mean'"));
  CHECK_THAT(ds_error_of({images, labels}, {{"mean", "0.5,x"}, {"std", "0.25"}}),
             Catch::Contains("metadata 'mean' is \"0.5,x\"; expected finite numbers"));
  CHECK_THAT(ds_error_of({images, labels}, {{"mean", "0.5,0.5"}, {"std", "0.25"}}),
             Catch::Contains("metadata 'mean' has 2 numbers for 1 channels"));
  CHECK_THAT(ds_error_of({images, labels}, {{"mean", "0.5"}, {"std", "0"}}),
             Catch::Contains("metadata 'std' holds 0.000000; every number must be > 0"));
  CHECK_THAT(ds_error_of({images, labels}, {{"mean", "0.5"}, {"std", ""}}),
             Catch::Contains("metadata 'std' is \"\""));
  CHECK_THAT(ds_error_of(
                 {{"images", "U8", {1, 2, 3, 3}, ds_pixels(18)}, {"labels", "U8", {1}, {0}}}, norm),
             Catch::Contains("'images' must be (N, 3, H, H) with N >= 1 (U8 pixels"));
  CHECK_THAT(
      ds_error_of({{"images", "U8", {2, 1, 3, 3}, px}, {"labels", "U8", {2}, {1, 10}}}, norm),
      Catch::Contains("val.safetensors: label 10 outside [0, 10)"));
  CHECK_THAT(ds_error_of({images, {"labels", "I16", {2}, {1, 0, 2, 0}}}, norm),
             Catch::Contains("'labels' is I16; expected I64, I32 or U8"));
  CHECK_THAT(ds_error_of(
                 {{"images", "F32", {1, 1, 1, 1}, {0, 0, 0, 0}}, {"labels", "U8", {1}, {0}}}, norm),
             Catch::Contains("'images' must be (N, 3, H, H) with N >= 1"));
}
