// SPDX-License-Identifier: MIT
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "evit/io/safetensors.hpp"

#include "catch.hpp"
#include "test_data.hpp"

using evit::io::safetensors_file;
using evit::io::safetensors_writer;

namespace {
std::vector<std::uint8_t> file_with_header(const std::string& header, std::size_t data_bytes) {
  std::vector<std::uint8_t> b(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}
std::string load_error_of(std::vector<std::uint8_t> bytes) {
  try {
    safetensors_file::from_bytes(std::move(bytes), "t.safetensors");
  } catch (const evit::format_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("safetensors: write then read gives the same tensors and metadata", "[io][safetensors]") {
  safetensors_writer w;
  const std::vector<float> a{1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f};
  const std::vector<float> b{42.f};
  w.add("a", {2, 3}, a.data());
  w.add("b", {}, b.data());
  w.set_metadata("arch", "r224 ...");
  const auto f = safetensors_file::from_bytes(w.to_bytes(), "mem");
  REQUIRE(f.tensors().size() == 2);
  CHECK(f.at("a").shape == std::vector<std::int64_t>{2, 3});
  CHECK(f.to_f32(f.at("a")) == a);
  CHECK(f.to_f32(f.at("b")) == b);
  CHECK(f.metadata().at("arch") == "r224 ...");
  CHECK(f.find("c") == nullptr);
}

// Tensors with a zero in their shape hold no bytes: they read as empty, in every float dtype,
// and write back (the fuzzer found the F32 copy handing a null pointer to memcpy).
TEST_CASE("safetensors: tensors with no elements read and write as empty", "[io][safetensors]") {
  safetensors_writer w;
  const float one = 1.f;
  w.add("empty", {0}, nullptr);
  w.add("flat", {2, 0, 3}, nullptr);
  w.add("one", {1}, &one);
  const auto f = safetensors_file::from_bytes(w.to_bytes(), "mem");
  REQUIRE(f.tensors().size() == 3);
  CHECK(f.at("empty").numel() == 0);
  CHECK(f.to_f32(f.at("empty")).empty());
  CHECK(f.at("flat").shape == std::vector<std::int64_t>{2, 0, 3});
  CHECK(f.to_f32(f.at("flat")).empty());
  CHECK(f.to_f32(f.at("one")) == std::vector<float>{1.f});
  for (const char* type : {"F32", "F16", "BF16", "F64"}) {
    CAPTURE(type);
    const auto g = safetensors_file::from_bytes(
        file_with_header(std::string("{\"z\": {\"dtype\": \"") + type +
                             "\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
                         0),
        "mem");
    CHECK(g.to_f32(g.at("z")).empty());
  }
}

TEST_CASE("safetensors: F16 and BF16 convert exactly", "[io][safetensors]") {
  // 1.0, -2.0, 65504 (max half), 2^-24 (smallest subnormal), +inf, 0.333251953125.
  const std::uint16_t half[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555};
  const float expect[] = {1.f, -2.f, 65504.f, std::ldexp(1.f, -24), INFINITY, 0.333251953125f};
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}})";
  auto bytes = file_with_header(header, 16);
  std::memcpy(bytes.data() + 8 + header.size(), half, 12);
  const std::uint16_t bf[] = {0x3f80, 0xc0a0};  // 1.0, -5.0
  std::memcpy(bytes.data() + 8 + header.size() + 12, bf, 4);
  const auto f = safetensors_file::from_bytes(bytes, "mem");
  const auto h = f.to_f32(f.at("h"));
  for (int i = 0; i < 6; ++i) CHECK(h[static_cast<std::size_t>(i)] == expect[i]);
  CHECK(f.to_f32(f.at("b")) == std::vector<float>{1.f, -5.f});
}

TEST_CASE("safetensors: every malformed file is a format_error naming the problem",
          "[io][safetensors]") {
  CHECK(load_error_of({1, 2, 3}) ==
        "t.safetensors: truncated: 3 bytes, fewer than the 8-byte header length");
  auto beyond = file_with_header("{}", 0);
  beyond[0] = 200;
  CHECK(load_error_of(beyond) ==
        "t.safetensors: header length 200 runs beyond the end of the file (10 bytes)");
  auto huge = file_with_header("{}", 0);
  huge[7] = 0xff;
  CHECK(load_error_of(huge) ==
        "t.safetensors: header length 18374686479671623682 exceeds the limit of 100 MB");
  CHECK(load_error_of(file_with_header("{\"a\":", 0)) ==
        "t.safetensors: the header is not valid JSON");
  CHECK(load_error_of(file_with_header("[1]", 0)) ==
        "t.safetensors: the header is not a JSON object");
  CHECK(load_error_of(file_with_header(R"({"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}})",
                                       1)) == "t.safetensors: tensor \"a\": unknown dtype \"Q8\"");
  CHECK(load_error_of(
            file_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)) ==
        "t.safetensors: tensor \"a\": 4 bytes of data for shape of 2 F32 elements");
  CHECK(load_error_of(
            file_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)) ==
        "t.safetensors: tensor \"a\": data_offsets end 8 is beyond the data section (4 bytes)");
  CHECK(load_error_of(
            file_with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4)) ==
        "t.safetensors: tensor \"a\": data_offsets begin 4 > end 0");
  CHECK(load_error_of(
            file_with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)) ==
        "t.safetensors: tensor \"a\": shape entries must be non-negative integers");
  CHECK(
      load_error_of(file_with_header(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          12)) == "t.safetensors: tensors \"a\" and \"b\" overlap in the data section");
  CHECK(load_error_of(file_with_header(R"({"a":{"dtype":"F32","shape":[1]}})", 4)) ==
        "t.safetensors: tensor \"a\": data_offsets must be [begin, end]");
  CHECK(
      load_error_of(file_with_header(
          R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})",
          4)) == "t.safetensors: tensor \"a\": shape overflows");
  CHECK(load_error_of(file_with_header(R"({"__metadata__":{"k":1}})", 0)) ==
        "t.safetensors: __metadata__.k is not a string");
  const auto ok = safetensors_file::from_bytes(
      file_with_header(R"({"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", 8), "t");
  CHECK_THROWS_WITH(ok.at("b"), "t: tensor \"b\" is missing");
  CHECK_THROWS_WITH(ok.to_f32(ok.at("a")),
                    "t: tensor \"a\" has dtype I64; expected F32, F16, BF16 or F64");
  CHECK_THROWS_AS(safetensors_file::open("/nonexistent/x.safetensors"), evit::format_error);
}

TEST_CASE("safetensors: reads the reference supernet", "[io][safetensors][reference]") {
  const auto f =
      safetensors_file::open(evit::test::data_path("elasticvit-mini/supernet.safetensors"));
  CHECK(f.at("first_conv.weight").shape == std::vector<std::int64_t>{24, 3, 3, 3});
  CHECK(f.at("feature_exactor.2.layers.0.qkv.weight").shape == std::vector<std::int64_t>{288, 48});
  CHECK(f.at("first_conv_bn.num_batches_tracked").type == evit::io::dtype::i64);
}
