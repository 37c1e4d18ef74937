// SPDX-License-Identifier: MIT
// Loading without a second copy: safetensors files mapped (or read once), F32 tensors used in
// place by the reader and by the supernet's weights, the rest converted one by one; the bytes live
// as long as anything uses them; the errors are those of the bytes in memory.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evit/io/safetensors.hpp"
#include "evit/models/elasticvit/weights.hpp"

#include "catch.hpp"
#include "safetensors_bytes.hpp"
#include "test_data.hpp"

#if EVIT_IO_HAS_MMAP
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace ev = evit::elasticvit;
using evit::io::open_options;
using evit::io::safetensors_file;
using evit::io::safetensors_writer;
using evit::io::storage;

using evit::test::make_file;
using evit::test::raw_tensor;

namespace {

/// A file in the working folder, removed at the end of the test.
struct temp_file {
  std::string path;
  explicit temp_file(std::string p) : path(std::move(p)) { std::remove(path.c_str()); }
  ~temp_file() { std::remove(path.c_str()); }
  void write(const std::vector<std::uint8_t>& bytes) const {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
  }
};

std::vector<std::uint8_t> f32_bytes(const float* v, std::size_t n) {
  std::vector<std::uint8_t> b(4 * n);
  if (n) std::memcpy(b.data(), v, 4 * n);
  return b;
}

bool inside(const void* p, const safetensors_file& f) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return !std::less<const std::uint8_t*>()(b, f.bytes()) &&
         std::less<const std::uint8_t*>()(b, f.bytes() + f.size_bytes());
}

/// The modes a file can be opened in here: mapped (where the platform maps) and read.
std::vector<std::pair<open_options, storage>> modes() {
  std::vector<std::pair<open_options, storage>> m;
#if EVIT_IO_HAS_MMAP
  m.emplace_back(open_options(), storage::mapped);
#endif
  m.emplace_back(open_options().memory_map(false), storage::read);
  return m;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const evit::format_error& e) {
    return e.what();
  }
  return "";
}

const std::vector<float> kA{1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f};
const std::vector<float> kB{42.f, -0.5f, 1e-30f};

}  // namespace

TEST_CASE("safetensors open: maps the file, or reads it in one buffer, and uses F32 in place",
          "[io][safetensors][load]") {
  temp_file tmp("io_load_modes.safetensors");
  safetensors_writer w;
  w.add("a", {2, 3}, kA.data());
  w.add("b", {3}, kB.data());
  w.set_metadata("k", "v");
  const std::vector<std::uint8_t> bytes = w.to_bytes();
  w.write(tmp.path);
  for (const auto& m : modes()) {
    CAPTURE(evit::io::storage_name(m.second));
    const auto f = safetensors_file::open(tmp.path, m.first);
    CHECK(f.storage() == m.second);
    REQUIRE(f.size_bytes() == bytes.size());
    CHECK(std::equal(bytes.begin(), bytes.end(), f.bytes()));  // the whole file, as written
    CHECK(f.metadata().at("k") == "v");
    const float* a = f.f32_in_place(f.at("a"));
    const float* b = f.f32_in_place(f.at("b"));
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(inside(a, f));  // in place: a pointer into the file's bytes, no copy
    CHECK(inside(b + 2, f));
    CHECK(static_cast<const void*>(a) == f.data(f.at("a")));
    CHECK(std::vector<float>(a, a + 6) == kA);
    CHECK(std::vector<float>(b, b + 3) == kB);
    CHECK(f.to_f32(f.at("a")) == kA);
    if (m.second == storage::read)
      CHECK(reinterpret_cast<std::uintptr_t>(f.bytes()) % evit::io::detail::read_alignment == 0);
  }
  // Bytes handed over in memory are kept, not copied.
  std::vector<std::uint8_t> v = bytes;
  const std::uint8_t* where = v.data();
  const auto f = safetensors_file::from_bytes(std::move(v), "mem");
  CHECK(f.storage() == storage::memory);
  CHECK(f.bytes() == where);
  CHECK(inside(f.f32_in_place(f.at("a")), f));
}

TEST_CASE("safetensors open: unaligned and non-F32 tensors are converted, not used in place",
          "[io][safetensors][load]") {
  const float x[] = {0.25f, -3.f, 1e9f};
  const std::uint16_t half[] = {0x3c00, 0xc000};  // 1, -2
  const std::uint16_t bf[] = {0x3f80, 0xc0a0};    // 1, -5
  const double d[] = {0.5, -1.25};
  auto u16 = [](const std::uint16_t* p, std::size_t n) {
    std::vector<std::uint8_t> b(2 * n);
    std::memcpy(b.data(), p, 2 * n);
    return b;
  };
  std::vector<std::uint8_t> dbytes(16);
  std::memcpy(dbytes.data(), d, 16);
  const auto bytes = make_file({{"first", "F32", {3}, f32_bytes(x, 3)},
                                {"pad", "I16", {1}, {7, 0}},
                                {"odd", "F32", {3}, f32_bytes(x, 3)},  // at byte 14: misaligned
                                {"h", "F16", {2}, u16(half, 2)},
                                {"b", "BF16", {2}, u16(bf, 2)},
                                {"d", "F64", {2}, dbytes},
                                {"last", "F32", {3}, f32_bytes(x, 3)}});  // at byte 42: misaligned
  temp_file tmp("io_load_unaligned.safetensors");
  tmp.write(bytes);
  auto check = [&](const safetensors_file& f) {
    REQUIRE(f.f32_in_place(f.at("first")) != nullptr);
    CHECK(f.f32_in_place(f.at("odd")) == nullptr);
    CHECK(f.f32_in_place(f.at("last")) == nullptr);
    CHECK(f.f32_in_place(f.at("h")) == nullptr);
    CHECK(f.f32_in_place(f.at("b")) == nullptr);
    CHECK(f.f32_in_place(f.at("d")) == nullptr);
    CHECK(f.f32_in_place(f.at("pad")) == nullptr);
    const std::vector<float> xs(x, x + 3);
    CHECK(f.to_f32(f.at("first")) == xs);
    CHECK(f.to_f32(f.at("odd")) == xs);
    CHECK(f.to_f32(f.at("last")) == xs);
    CHECK(f.to_f32(f.at("h")) == std::vector<float>{1.f, -2.f});
    CHECK(f.to_f32(f.at("b")) == std::vector<float>{1.f, -5.f});
    CHECK(f.to_f32(f.at("d")) == std::vector<float>{0.5f, -1.25f});
  };
  for (const auto& m : modes()) {
    CAPTURE(evit::io::storage_name(m.second));
    check(safetensors_file::open(tmp.path, m.first));
  }
  check(safetensors_file::from_bytes(bytes, "mem"));
}

TEST_CASE("safetensors open: the bytes outlive the file object through keep_alive",
          "[io][safetensors][load]") {
  temp_file tmp("io_load_lifetime.safetensors");
  safetensors_writer w;
  w.add("a", {6}, kA.data());
  w.write(tmp.path);
  for (const auto& m : modes()) {
    std::shared_ptr<const void> hold;
    const float* a = nullptr;
    {
      const auto f = safetensors_file::open(tmp.path, m.first);
      const safetensors_file copy = f;  // copies share the bytes
      CHECK(copy.bytes() == f.bytes());
      hold = f.keep_alive();
      a = f.f32_in_place(f.at("a"));
      CHECK(hold.use_count() == 3);
    }
    CHECK(hold.use_count() == 1);
    CHECK(std::vector<float>(a, a + 6) == kA);  // still mapped (read) after the file object
  }
}

TEST_CASE("safetensors open: errors are those of the same bytes in memory, naming the path",
          "[io][safetensors][load]") {
  auto with_header = [](const std::string& header, std::size_t data) {
    std::vector<std::uint8_t> b(8 + header.size() + data, 0);
    for (int i = 0; i < 8; ++i)
      b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(header.size() >> (8 * i));
    std::memcpy(b.data() + 8, header.data(), header.size());
    return b;
  };
  auto beyond = with_header("{}", 0);
  beyond[0] = 200;
  const std::vector<std::vector<std::uint8_t>> bad{
      {},
      {1, 2, 3},
      beyond,
      with_header("{\"a\":", 0),
      with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
      with_header(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          12),
      with_header(R"({"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}})", 1)};
  temp_file tmp("io_load_errors.safetensors");
  for (const auto& bytes : bad) {
    tmp.write(bytes);
    const std::string expect = error_of([&] { safetensors_file::from_bytes(bytes, tmp.path); });
    REQUIRE(!expect.empty());
    for (const auto& m : modes()) {
      CAPTURE(evit::io::storage_name(m.second));
      CHECK(error_of([&] { safetensors_file::open(tmp.path, m.first); }) == expect);
    }
  }
  CHECK(error_of([] { safetensors_file::from_bytes({}, "e"); }) ==
        "e: truncated: 0 bytes, fewer than the 8-byte header length");
  for (const auto& m : modes()) {
    CHECK(error_of([&] { safetensors_file::open("/nonexistent/x.safetensors", m.first); }) ==
          "/nonexistent/x.safetensors: cannot open the file");
#if EVIT_IO_HAS_MMAP
    CHECK(error_of([&] { safetensors_file::open(".", m.first); }) ==
          ".: cannot open the file: it is a directory");
    // Not a regular file: read to its end (here, nothing).
    CHECK(error_of([&] { safetensors_file::open("/dev/null", m.first); }) ==
          "/dev/null: truncated: 0 bytes, fewer than the 8-byte header length");
#endif
  }
}

TEST_CASE("safetensors open: a file changed after open", "[io][safetensors][load]") {
  temp_file tmp("io_load_changed.safetensors");
  safetensors_writer w;
  w.add("a", {6}, kA.data());
  w.add("b", {3}, kB.data());
  w.write(tmp.path);
  const std::vector<float> other{9.f, 9.f, 9.f, 9.f, 9.f, 9.f};
  for (const auto& m : modes()) {
    CAPTURE(evit::io::storage_name(m.second));
    w.write(tmp.path);
    const auto f = safetensors_file::open(tmp.path, m.first);
    const float* a = f.f32_in_place(f.at("a"));
    REQUIRE(a != nullptr);
    {
      // Another program writes into the file in place, header included, without truncating.
      std::fstream io(tmp.path, std::ios::binary | std::ios::in | std::ios::out);
      io.seekp(8);
      io.write("[1]", 3);
      io.seekp(static_cast<std::streamoff>(f.data(f.at("a")) - f.bytes()));
      io.write(reinterpret_cast<const char*>(other.data()), 24);
    }
    // The header was read at open: the tensors and their offsets are unchanged.
    CHECK(f.tensors().size() == 2);
    CHECK(f.to_f32(f.at("b")) == kB);
    const std::vector<float> now(a, a + 6);
    if (m.second == storage::read)
      CHECK(now == kA);  // read at open: a private copy
    else
      CHECK((now == kA || now == other));  // mapped: may show the change, never crashes
    // evit's writer replaces the file instead of truncating it: the old bytes stay readable.
    safetensors_writer w2;
    w2.add("c", {3}, kB.data());
    w2.write(tmp.path);
    CHECK(f.to_f32(f.at("b")) == kB);
    const std::vector<float> after(a, a + 6);
    CHECK(after == now);
    CHECK(safetensors_file::open(tmp.path, m.first).find("c") != nullptr);
  }
  // A file read at open does not care about truncation after.
  w.write(tmp.path);
  const auto f = safetensors_file::open(tmp.path, open_options().memory_map(false));
  std::ofstream(tmp.path, std::ios::binary | std::ios::trunc).close();
  CHECK(f.to_f32(f.at("a")) == kA);
}

#if EVIT_IO_HAS_MMAP
TEST_CASE("safetensors writer: replacing a file keeps its permissions and follows links",
          "[io][safetensors][load]") {
  temp_file tmp("io_load_replace.safetensors");
  temp_file link("io_load_replace_link.safetensors");
  safetensors_writer w;
  w.add("a", {6}, kA.data());
  w.write(tmp.path);
  REQUIRE(::chmod(tmp.path.c_str(), 0640) == 0);
  REQUIRE(::symlink(tmp.path.c_str(), link.path.c_str()) == 0);
  safetensors_writer w2;
  w2.add("b", {3}, kB.data());
  w2.write(link.path);
  struct stat st {};
  REQUIRE(::lstat(link.path.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));  // the link stays a link; its target was replaced
  REQUIRE(::stat(tmp.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(safetensors_file::open(tmp.path).to_f32(safetensors_file::open(tmp.path).at("b")) == kB);
  CHECK(!std::ifstream(tmp.path + ".partial").good());
  CHECK(error_of([&] { w2.write("/nonexistent/x.safetensors"); }) ==
        "/nonexistent/x.safetensors: cannot open for writing");
}
#endif

TEST_CASE("supernet weights: F32 tensors of the file are used in place, kept alive by the weights",
          "[io][safetensors][load]") {
  const auto& d = ev::mini_space::descriptor();
  const std::string path = evit::test::data_path("elasticvit-mini/supernet.safetensors");
  for (const auto& m : modes()) {
    CAPTURE(evit::io::storage_name(m.second));
    std::unique_ptr<ev::supernet_weights> w;
    std::vector<std::pair<const float*, std::vector<float>>> expect;
    std::weak_ptr<const void> bytes;
    {
      const auto f = safetensors_file::open(path, m.first);
      CHECK(f.storage() == m.second);
      w = std::make_unique<ev::supernet_weights>(ev::supernet_weights::load(d, f));
      bytes = f.keep_alive();
      CHECK(w->file_bytes().get() == static_cast<const void*>(f.bytes()));
      CHECK(w->size() == 0);  // nothing copied
      for (const auto& s : w->specs()) {
        CAPTURE(s.name);
        CHECK(w->in_place(s.name));
        CHECK(inside(w->tensor(s.name), f));
        CHECK(static_cast<const void*>(w->tensor(s.name)) == f.data(f.at(s.name)));
        expect.emplace_back(w->tensor(s.name), f.to_f32(f.at(s.name)));
      }
      CHECK(w->transformer_layers[5][1].qkv ==
            f.f32_in_place(f.at("feature_exactor.3.layers.2.qkv.weight")));
    }
    // The file object is gone; the weights hold the bytes. Moving the weights keeps them.
    CHECK(!bytes.expired());
    ev::supernet_weights moved = std::move(*w);
    w.reset();
    CHECK(!bytes.expired());
    for (const auto& e : expect) CHECK(std::equal(e.second.begin(), e.second.end(), e.first));
    std::size_t i = 0;
    for (const auto& s : moved.specs()) CHECK(moved.tensor(s.name) == expect[i++].first);
    ev::supernet_weights again = ev::supernet_weights::random(d, 1);
    again = std::move(moved);  // the last owner goes: the bytes go with it
    CHECK(!bytes.expired());
    { const ev::supernet_weights gone = std::move(again); }
    CHECK(bytes.expired());
  }
}

TEST_CASE("supernet weights: converted and misaligned tensors are copied, the rest in place",
          "[io][safetensors][load]") {
  const auto& d = ev::mini_space::descriptor();
  const auto good = ev::supernet_weights::random(d, 5);
  const auto& specs = good.specs();
  // Every tensor F32 and aligned, except: one BF16, and one F32 after a 2-byte integer buffer
  // (misaligned), followed by another 2-byte buffer that realigns the rest.
  const std::string bf16 = specs[3].name, odd = specs[10].name;
  std::vector<raw_tensor> tensors;
  for (const auto& s : specs) {
    const float* v = good.tensor(s.name);
    const auto n = static_cast<std::size_t>(s.numel());
    if (s.name == bf16) {
      std::vector<std::uint8_t> b(2 * n);
      for (std::size_t k = 0; k < n; ++k) {
        std::uint32_t bits;
        std::memcpy(&bits, v + k, 4);
        b[2 * k] = static_cast<std::uint8_t>(bits >> 16);
        b[2 * k + 1] = static_cast<std::uint8_t>(bits >> 24);
      }
      tensors.push_back({s.name, "BF16", s.shape, b});
      continue;
    }
    if (s.name == odd) tensors.push_back({"pad.num_batches_tracked", "I16", {1}, {0, 0}});
    tensors.push_back({s.name, "F32", s.shape, f32_bytes(v, n)});
    if (s.name == odd) tensors.push_back({"pad2.num_batches_tracked", "I16", {1}, {0, 0}});
  }
  temp_file tmp("io_load_mixed.safetensors");
  tmp.write(make_file(tensors));
  for (const auto& m : modes()) {
    CAPTURE(evit::io::storage_name(m.second));
    const auto f = safetensors_file::open(tmp.path, m.first);
    const auto w = ev::supernet_weights::load(d, f);
    CHECK(w.size() == (specs[3].numel() + 15) / 16 * 16 + (specs[10].numel() + 15) / 16 * 16);
    for (const auto& s : w.specs()) {
      CAPTURE(s.name);
      const bool copied = s.name == bf16 || s.name == odd;
      CHECK(w.in_place(s.name) == !copied);
      CHECK(inside(w.tensor(s.name), f) == !copied);
      if (copied) CHECK(reinterpret_cast<std::uintptr_t>(w.tensor(s.name)) % 64 == 0);
      const std::vector<float> expect = f.to_f32(f.at(s.name));
      CHECK(std::equal(expect.begin(), expect.end(), w.tensor(s.name)));
      if (s.name != bf16) CHECK(std::equal(expect.begin(), expect.end(), good.tensor(s.name)));
    }
  }
  // A file with nothing to use in place leaves the weights owning every tensor, holding no file.
  std::vector<raw_tensor> shifted{{"pad.num_batches_tracked", "I16", {1}, {0, 0}}};
  for (const auto& s : specs)
    shifted.push_back({s.name, "F32", s.shape,
                       f32_bytes(good.tensor(s.name), static_cast<std::size_t>(s.numel()))});
  const auto all =
      ev::supernet_weights::load(d, safetensors_file::from_bytes(make_file(shifted), "m"));
  CHECK(all.file_bytes() == nullptr);
  CHECK(all.size() == good.size());
  CHECK(std::equal(good.data(), good.data() + good.size(), all.data()));
}

TEST_CASE("supernet weights: in_place(false) copies every tensor, aligned, and lets the file go",
          "[io][safetensors][load]") {
  const auto& d = ev::mini_space::descriptor();
  const std::string path = evit::test::data_path("elasticvit-mini/supernet.safetensors");
  const auto in_place = ev::supernet_weights::load(d, safetensors_file::open(path));
  for (const auto& m : modes()) {
    CAPTURE(evit::io::storage_name(m.second));
    std::weak_ptr<const void> bytes;
    std::unique_ptr<ev::supernet_weights> w;
    {
      const auto f = safetensors_file::open(path, m.first);
      bytes = f.keep_alive();
      w = std::make_unique<ev::supernet_weights>(
          ev::supernet_weights::load(d, f, ev::load_options().in_place(false)));
      CHECK(w->file_bytes() == nullptr);
      // The file object still reads every tensor (released pages come back from the file).
      for (const auto& s : w->specs()) {
        CAPTURE(s.name);
        const auto expect = f.to_f32(f.at(s.name));
        CHECK(std::equal(expect.begin(), expect.end(), w->tensor(s.name)));
      }
    }
    CHECK(bytes.expired());  // unmapped (freed) with the file object
    for (const auto& s : w->specs()) {
      CAPTURE(s.name);
      CHECK(!w->in_place(s.name));
      CHECK(reinterpret_cast<std::uintptr_t>(w->tensor(s.name)) % 64 == 0);
      CHECK(std::equal(in_place.tensor(s.name), in_place.tensor(s.name) + s.numel(),
                       w->tensor(s.name)));
    }
  }
}
