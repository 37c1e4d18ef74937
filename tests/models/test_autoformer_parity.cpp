// SPDX-License-Identifier: MIT
// AutoFormer against the official code (tests/data/autoformer-t, see its README): every reference
// case's logits within 1e-4, cases 0 and 1 at every stored intermediate, the official parameter
// and FLOPs counts exact; the same logits for any executor; and every quirk of the official forward
// (docs/autoformer.md) pinned by a test that fails if the quirk is "fixed".
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evit/core/executor.hpp"
#include "evit/models/autoformer/released.hpp"
#include "evit/models/autoformer/supernet.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace af = evit::autoformer;
using json = nlohmann::json;
using space10 = af::tiny_space_with_classes<10>;
using net10 = af::supernet<space10>;

namespace {
struct af_reference {
  json cases;
  std::unique_ptr<evit::io::safetensors_file> goldens, file;
  std::unique_ptr<net10> net;
};
af_reference* af_load_reference() {
  static std::unique_ptr<af_reference> ref;
  if (ref) return ref.get();
  auto r = std::make_unique<af_reference>();
  r->cases =
      json::parse(evit::test::read_file(evit::test::data_path("autoformer-t/cases.json")))["cases"];
  r->goldens = std::make_unique<evit::io::safetensors_file>(
      evit::io::safetensors_file::open(evit::test::data_path("autoformer-t/goldens.safetensors")));
  r->file = std::make_unique<evit::io::safetensors_file>(
      evit::io::safetensors_file::open(evit::test::data_path("autoformer-t/supernet.safetensors")));
  r->net = std::make_unique<net10>(net10::load(*r->file));
  ref = std::move(r);
  return ref.get();
}
af::official_config config_of(const json& c) {
  af::official_config k;
  k.layer_num = c["layer_num"];
  k.mlp_ratio = c["mlp_ratio"].get<std::vector<double>>();
  k.num_heads = c["num_heads"].get<std::vector<int>>();
  k.embed_dim = c["embed_dim"].get<std::vector<int>>();
  return k;
}
evit::arch af_arch(const json& c) {
  return af::from_official_config(space10::descriptor(), config_of(c["sample_config"]));
}
double af_max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}
/// Case k's input and batch.
std::pair<std::vector<float>, evit::Index> af_input(af_reference* ref, int k) {
  const auto& in = ref->goldens->at("case" + std::to_string(k) + ".input");
  return {ref->goldens->to_f32(in), static_cast<evit::Index>(in.shape[0])};
}
/// The reference supernet with its tensors changed by edit(name, shape, values).
using edit_fn =
    std::function<void(const std::string&, const std::vector<std::int64_t>&, std::vector<float>&)>;
net10 edited_net(const edit_fn& edit) {
  af_reference* ref = af_load_reference();
  evit::io::safetensors_writer w;
  for (const auto& t : ref->file->tensors()) {
    std::vector<float> v = ref->file->to_f32(t);
    edit(t.name, t.shape, v);
    w.add(t.name, t.shape, v.data());
  }
  return net10::load(evit::io::safetensors_file::from_bytes(w.to_bytes(), "edited"));
}
bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}
}  // namespace

namespace {
/// Reference cases [first, last] (of the 10): logits within 1e-4 of the official ones.
void check_reference_logits(int first, int last) {
  af_reference* ref = af_load_reference();
  af::forward_workspace ws;
  REQUIRE(ref->cases.size() == 10);
  double worst = 0;
  for (int k = first; k <= last; ++k) {
    const auto& c = ref->cases[static_cast<std::size_t>(k)];
    REQUIRE(c["index"] == k);
    CAPTURE(k);
    const evit::arch a = af_arch(c);
    const auto in = af_input(ref, k);
    const auto expect =
        ref->goldens->to_f32(ref->goldens->at("case" + std::to_string(k) + ".logits"));
    const auto got = ref->net->forward(a, in.first, in.second, ws);
    const double err = af_max_abs_diff(got, expect);
    CAPTURE(err);
    CHECK(err < 1e-4);
    worst = std::max(worst, err);
  }
  std::printf("autoformer parity: worst max-abs logits error over cases %d-%d: %.3g\n", first, last,
              worst);
}
}  // namespace

// Two halves, so that ctest runs them side by side: under the sanitizers and under qemu the 10
// cases took 3-5 minutes in one process, the longest test of those runs.
TEST_CASE("autoformer parity: logits of reference cases 0-3 within 1e-4", "[models][parity][af]") {
  check_reference_logits(0, 3);
}

TEST_CASE("autoformer parity: logits of reference cases 4-9 within 1e-4", "[models][parity][af]") {
  check_reference_logits(4, 9);
}

TEST_CASE("autoformer parity: every intermediate of cases 0 and 1", "[models][parity][af]") {
  af_reference* ref = af_load_reference();
  af::forward_workspace ws;
  for (int k = 0; k < 2; ++k) {
    const auto& c = ref->cases[static_cast<std::size_t>(k)];
    const auto in = af_input(ref, k);
    af::intermediates inter;
    ref->net->forward(af_arch(c), in.first, in.second, ws,
                      af::forward_options().keep_intermediates(inter));
    REQUIRE(inter.by_name.size() == c["intermediates"].size());
    double worst = 0;
    for (const auto& stage : c["intermediates"]) {
      const std::string s = stage;
      CAPTURE(k, s);
      const auto& golden = ref->goldens->at("case" + std::to_string(k) + "." + s);
      REQUIRE(inter.by_name.count(s) == 1);
      CHECK(inter.by_name[s].shape == golden.shape);
      const double err = af_max_abs_diff(inter.by_name[s].values, ref->goldens->to_f32(golden));
      CAPTURE(err);
      CHECK(err < 1e-4);
      worst = std::max(worst, err);
    }
    std::printf("autoformer parity: case %d, worst max-abs error over %zu intermediates: %.3g\n", k,
                inter.by_name.size(), worst);
  }
}

TEST_CASE("autoformer parity: the same logits bit for bit for any executor and batch split",
          "[models][parity][af]") {
  af_reference* ref = af_load_reference();
  const evit::arch a = af_arch(ref->cases[2]);
  const auto in = af_input(ref, 2);  // a batch of 2
  af::forward_workspace ws;
  const auto alone = ref->net->forward(a, in.first, in.second, ws);
  const std::vector<float> first(in.first.begin(), in.first.begin() + in.first.size() / 2);
  const auto one = ref->net->forward(a, first, 1, ws);
  CHECK(std::vector<float>(alone.begin(), alone.begin() + 10) == one);
  for (int threads : {2, 3, 5}) {
    CAPTURE(threads);
    evit::thread_pool pool(threads);
    af::forward_workspace wsp;
    CHECK(ref->net->forward(a, in.first, in.second, wsp, af::forward_options().executor(pool)) ==
          alone);
    CHECK(ref->net->forward(a, first, 1, wsp, af::forward_options().executor(pool)) == one);
  }
}

TEST_CASE("autoformer: run_step, step by step in order, is the forward bit for bit",
          "[models][parity][af]") {
  // The block table times these steps (cost/autoformer_latency.hpp): they must be the forward.
  af_reference* ref = af_load_reference();
  const evit::arch a = af_arch(ref->cases[2]);
  const auto in = af_input(ref, 2);
  af::forward_workspace ws;
  const auto whole = ref->net->forward(a, in.first, in.second, ws);
  const af::network& engine = ref->net->engine();
  for (int threads : {1, 3}) {
    CAPTURE(threads);
    evit::thread_pool pool(threads);
    af::forward_workspace wss;
    std::vector<float> logits(whole.size(), -1.0f);
    auto run = [&](af::step s, int layer) {
      engine.run_step(s, layer, a, in.first.data(), in.second, logits.data(), wss, pool);
    };
    run(af::step::embed, 0);
    for (int i = 0; i < a.depth(0); ++i) {
      run(af::step::attention, i);
      run(af::step::ffn, i);
    }
    run(af::step::head, 0);
    CHECK(logits == whole);
    CHECK_THROWS_WITH(
        run(af::step::ffn, a.depth(0)),
        Catch::Matchers::Contains("layer " + std::to_string(a.depth(0)) + " (allowed: 0 to " +
                                  std::to_string(a.depth(0) - 1)));
    CHECK_THROWS_AS(run(af::step::attention, -1), evit::invalid_argument);
  }
}

TEST_CASE("autoformer: official parameter and FLOPs counts of every case, exact", "[models][af]") {
  af_reference* ref = af_load_reference();
  const auto& d10 = space10::descriptor();
  const auto& d1000 = af::tiny_space::descriptor();
  for (const auto& c : ref->cases) {
    CAPTURE(c["index"].get<int>());
    const evit::arch a = af_arch(c);
    CHECK(af::official_params(d10, a) == c["official_get_sampled_params_numel"].get<double>());
    CHECK(af::official_params(d1000, a) ==
          c["official_get_sampled_params_numel_num_classes_1000"].get<double>());
    CHECK(af::official_flops(d10, a) == c["official_get_complexity_196"].get<double>());
    CHECK(af::official_flops(d1000, a) ==
          c["official_get_complexity_196_num_classes_1000"].get<double>());
    // The corrected count: what the forward computes (197 tokens, the relative position on keys
    // and values 2 N² Q per block, the classifier once on the pooled vector).
    double rel = 0;
    for (int j = 0; j < a.depth(0); ++j) rel += 2.0 * 197 * 197 * a.layer(0, j).num_heads * 64;
    CHECK(af::macs_corrected(d1000, a) == af::macs(d1000, a) + rel);
  }
  // The released AutoFormer-T (MLP 3.0 in three layers: tiny_released_space).
  const auto& dr = af::tiny_released_space::descriptor();
  const evit::arch t = af::released(dr, "AutoFormer-T");
  CHECK(af::official_params(dr, t) == 5867944);
  CHECK(af::official_flops(dr, t) == 1344034362.0);
  CHECK_NOTHROW(evit::validate(dr, t));
  CHECK_THROWS_WITH(
      af::released(d1000, "AutoFormer-T"),
      Catch::Contains("mlp_ratio[2] = 3 is not a choice of space autoformer-t {3.5, 4}"));
  // The relative-position tables of one block: 4 x 30 x 64.
  const evit::arch m = space10::min_arch();
  CHECK(af::official_params(d10, m) - af::params(d10, m) == 12 * 4 * 30 * 64);
}

TEST_CASE("autoformer quirk: the position embedding is added to the class token too",
          "[models][af][quirk]") {
  af_reference* ref = af_load_reference();
  af::forward_workspace ws;
  const auto in = af_input(ref, 0);
  af::intermediates inter;
  ref->net->forward(af_arch(ref->cases[0]), in.first, in.second, ws,
                    af::forward_options().keep_intermediates(inter));
  const auto& embed = inter.by_name.at("embed").values;
  const float* cls = ref->net->weights().cls_token;
  const float* pos = ref->net->weights().pos_embed;
  double with_pos = 0, without = 0;
  for (int c = 0; c < 192; ++c) {
    with_pos = std::max(with_pos, double(std::abs(embed[c] - (cls[c] + pos[c]))));
    without = std::max(without, double(std::abs(embed[c] - cls[c])));
  }
  CHECK(with_pos == 0);
  CHECK(without > 0.1);
}

TEST_CASE("autoformer quirk: qkv weight rows interleaved (stride 3), its bias contiguous",
          "[models][af][quirk]") {
  // Block 0 with qkv weight 0 and value tables 0: the bias alone makes q, k, v. Only the first Q
  // bias entries are non-zero: read contiguously (the official code) they are q's and k = v = 0,
  // so every head outputs 0 and attn_out is proj's bias; read interleaved (the "fix"), v would
  // get every third of them.
  const evit::arch a = space10::min_arch();  // Q = 3 x 64 = 192
  {
    net10 net = edited_net([](const std::string& n, const auto&, std::vector<float>& v) {
      if (n == "blocks.0.attn.qkv.weight" || starts_with(n, "blocks.0.attn.rel_pos_embed_v"))
        std::fill(v.begin(), v.end(), 0.f);
      if (n == "blocks.0.attn.qkv.bias")
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = i < 192 ? 1.f : 0.f;
    });
    af::forward_workspace ws;
    af::intermediates inter;
    const auto in = af_input(af_load_reference(), 0);
    net.forward(a, in.first, in.second, ws, af::forward_options().keep_intermediates(inter));
    const auto& out = inter.by_name.at("block0.attn_out").values;
    const float* proj_b = net.weights().blocks[0].proj_b;
    double err = 0;
    for (std::size_t i = 0; i < out.size(); ++i)
      err = std::max(err, double(std::abs(out[i] - proj_b[i % 192])));
    CHECK(err == 0);
  }
  {
    // Weight rows 3j (q) and 3j + 1 (k) zero, bias zero, key tables zero: q = k = 0, every token
    // attends uniformly and gets the same output; read as blocks (q = rows 0..Q-1), q and k would
    // not vanish.
    net10 net = edited_net([](const std::string& n, const auto& shape, std::vector<float>& v) {
      if (n == "blocks.0.attn.qkv.weight")
        for (std::int64_t r = 0; r < shape[0]; ++r)
          if (r % 3 != 2) std::fill(v.begin() + r * shape[1], v.begin() + (r + 1) * shape[1], 0.f);
      if (n == "blocks.0.attn.qkv.bias" || starts_with(n, "blocks.0.attn.rel_pos_embed_"))
        std::fill(v.begin(), v.end(), 0.f);
    });
    af::forward_workspace ws;
    af::intermediates inter;
    const auto in = af_input(af_load_reference(), 0);
    net.forward(a, in.first, in.second, ws, af::forward_options().keep_intermediates(inter));
    const auto& out = inter.by_name.at("block0.attn_out").values;
    double spread = 0, size = 0;
    for (int t = 1; t < 197; ++t)
      for (int c = 0; c < 192; ++c)
        spread = std::max(spread, double(std::abs(out[t * 192 + c] - out[c])));
    for (int c = 0; c < 192; ++c)
      size = std::max(size, double(std::abs(out[c] - net.weights().blocks[0].proj_b[c])));
    CHECK(spread < 1e-6);
    CHECK(size > 1e-3);
  }
}

TEST_CASE("autoformer quirk: only the sampled slices are read, rows 1 and 29 of the tables never",
          "[models][af][quirk]") {
  // Case 0 (E 192, 12 blocks, 3 heads, MLP 3.5): every entry outside its leading slices, every
  // block from 12 on (the identity) and the unused rows 1 and 29 of every relative-position table
  // are NaN; the logits stay exactly the same.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  net10 net = edited_net([&](const std::string& n, const auto& shape, std::vector<float>& v) {
    const std::int64_t E = 192, Q = 192, F = 672;
    auto cols = [&](std::int64_t keep_rows, std::int64_t keep_cols) {
      const std::int64_t rows = shape[0], ld = static_cast<std::int64_t>(v.size()) / rows;
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < ld; ++c)
          if (r >= keep_rows || c >= keep_cols) v[r * ld + c] = nan;
    };
    auto from = [&](std::int64_t k) { std::fill(v.begin() + k, v.end(), nan); };
    if (starts_with(n, "blocks.12.") || starts_with(n, "blocks.13.")) {
      std::fill(v.begin(), v.end(), nan);
    } else if (n == "pos_embed") {
      for (std::size_t i = 0; i < v.size(); ++i)
        if (i % 256 >= 192) v[i] = nan;
    } else if (n == "cls_token" || n == "patch_embed_super.proj.bias" || n == "norm.weight" ||
               n == "norm.bias" || ends_with(n, "layer_norm.weight") ||
               ends_with(n, "layer_norm.bias") || ends_with(n, "proj.bias") ||
               ends_with(n, "fc2.bias")) {
      from(E);
    } else if (n == "patch_embed_super.proj.weight") {
      from(E * 768);
    } else if (ends_with(n, "qkv.weight")) {
      cols(3 * Q, E);
    } else if (ends_with(n, "qkv.bias")) {
      from(3 * Q);
    } else if (ends_with(n, "attn.proj.weight")) {
      cols(E, Q);
    } else if (ends_with(n, "fc1.weight")) {
      cols(F, E);
    } else if (ends_with(n, "fc1.bias")) {
      from(F);
    } else if (ends_with(n, "fc2.weight")) {
      cols(E, F);
    } else if (n == "head.weight") {
      cols(10, E);
    } else if (n.find("embeddings_table") != std::string::npos) {
      std::fill(v.begin() + 64, v.begin() + 128, nan);
      std::fill(v.begin() + 29 * 64, v.begin() + 30 * 64, nan);
    }
  });
  af_reference* ref = af_load_reference();
  af::forward_workspace ws;
  const auto in = af_input(ref, 0);
  const evit::arch a = af_arch(ref->cases[0]);
  CHECK(net.forward(a, in.first, in.second, ws) == ref->net->forward(a, in.first, in.second, ws));
}

TEST_CASE("autoformer quirk: relative position on keys and values, the class token at row 0",
          "[models][af][quirk]") {
  af_reference* ref = af_load_reference();
  const evit::arch a = af_arch(ref->cases[5]);
  const auto in = af_input(ref, 5);
  af::forward_workspace ws;
  const auto base = ref->net->forward(a, in.first, in.second, ws);
  auto change_row = [&](const std::string& table, int row) {
    net10 net = edited_net([&](const std::string& n, const auto&, std::vector<float>& v) {
      if (n == "blocks.0.attn." + table)
        for (int c = 0; c < 64; ++c) v[static_cast<std::size_t>(row * 64 + c)] += 1.f;
    });
    return af_max_abs_diff(net.forward(a, in.first, in.second, ws), base);
  };
  // Row 0 is the class token's (in both tables), rows 2..28 the offsets -13..13 of a 14 x 14
  // grid (row 15: offset 0); rows 1 and 29 (offsets -14, 14) never occur at 224 / 16.
  CHECK(change_row("rel_pos_embed_k.embeddings_table_v", 0) > 1e-4);
  CHECK(change_row("rel_pos_embed_k.embeddings_table_h", 0) > 1e-4);
  CHECK(change_row("rel_pos_embed_v.embeddings_table_v", 0) > 1e-4);
  CHECK(change_row("rel_pos_embed_v.embeddings_table_h", 15) > 1e-4);
  CHECK(change_row("rel_pos_embed_k.embeddings_table_h", 2) > 1e-4);
  CHECK(change_row("rel_pos_embed_v.embeddings_table_v", 28) > 1e-4);
  CHECK(change_row("rel_pos_embed_k.embeddings_table_v", 1) == 0);
  CHECK(change_row("rel_pos_embed_v.embeddings_table_h", 29) == 0);
}

TEST_CASE("autoformer quirk: blocks at and after the sampled depth are the identity",
          "[models][af][quirk]") {
  af_reference* ref = af_load_reference();
  net10 net = edited_net([](const std::string& n, const auto&, std::vector<float>& v) {
    // (alternating signs: a constant added to every channel would vanish in the next LayerNorm)
    if (starts_with(n, "blocks.13.") && (ends_with(n, "fc2.bias") || ends_with(n, "proj.bias")))
      for (std::size_t i = 0; i < v.size(); ++i) v[i] += i % 2 ? 0.5f : -0.5f;
  });
  af::forward_workspace ws;
  for (int k : {2, 3}) {  // depth 13, then depth 14
    CAPTURE(k);
    const evit::arch a = af_arch(ref->cases[static_cast<std::size_t>(k)]);
    const auto in = af_input(ref, k);
    const double d = af_max_abs_diff(net.forward(a, in.first, in.second, ws),
                                     ref->net->forward(a, in.first, in.second, ws));
    if (a.depth(0) == 13)
      CHECK(d == 0);
    else
      CHECK(d > 1e-3);
  }
}

TEST_CASE("autoformer quirk: the pooled features are the mean of the patch tokens, class token out",
          "[models][af][quirk]") {
  af_reference* ref = af_load_reference();
  af::forward_workspace ws;
  const auto in = af_input(ref, 1);
  af::intermediates inter;
  ref->net->forward(af_arch(ref->cases[1]), in.first, in.second, ws,
                    af::forward_options().keep_intermediates(inter));
  const auto& norm = inter.by_name.at("norm").values;
  const auto& features = inter.by_name.at("features").values;
  const int E = 240;
  double patches = 0, all = 0, cls = 0;
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < E; ++c) {
      double s = 0;
      for (int t = 1; t < 197; ++t) s += norm[(b * 197 + t) * E + c];
      const double f = features[b * E + c], n0 = norm[b * 197 * E + c];
      patches = std::max(patches, std::abs(f - s / 196));
      all = std::max(all, std::abs(f - (s + n0) / 197));
      cls = std::max(cls, std::abs(f - n0));
    }
  CHECK(patches < 1e-5);
  CHECK(all > 1e-3);
  CHECK(cls > 1e-2);
}

TEST_CASE("autoformer quirk: qkv width heads x 64 and scale 1/8, whatever the embed width",
          "[models][af][quirk]") {
  // Case 9: embed 216 with 3 and 4 heads (q/k/v width 192 and 256, neither 216; head dim 64, not
  // 216 / heads): the official logits within 1e-4.
  af_reference* ref = af_load_reference();
  const evit::arch a = af_arch(ref->cases[9]);
  REQUIRE(a.width(0) == 216);
  af::forward_workspace ws;
  const auto in = af_input(ref, 9);
  CHECK(af_max_abs_diff(ref->net->forward(a, in.first, in.second, ws),
                        ref->goldens->to_f32(ref->goldens->at("case9.logits"))) < 1e-4);
}

TEST_CASE("autoformer: loading is strict, every missing, renamed or unused tensor named",
          "[models][af]") {
  af_reference* ref = af_load_reference();
  auto write = [&](const std::function<bool(const std::string&)>& keep,
                   const std::string& rename_from, const std::string& rename_to, bool extra) {
    evit::io::safetensors_writer w;
    for (const auto& t : ref->file->tensors()) {
      if (!keep(t.name)) continue;
      const auto v = ref->file->to_f32(t);
      w.add(t.name == rename_from ? rename_to : t.name, t.shape, v.data());
    }
    const float one = 1.f;
    if (extra) w.add("blocks.14.fc1.bias", {1}, &one);
    return evit::io::safetensors_file::from_bytes(w.to_bytes(), "edited.safetensors");
  };
  auto all = [](const std::string&) { return true; };
  CHECK_THROWS_WITH(
      net10::load(write([](const std::string& n) { return n != "norm.bias"; }, "", "", false)),
      Catch::Contains("\"norm.bias\" is missing") && Catch::Contains("[256]"));
  CHECK_THROWS_WITH(
      net10::load(write(all, "blocks.3.attn.qkv.bias", "blocks.3.attn.qkv_bias", false)),
      Catch::Contains("\"blocks.3.attn.qkv.bias\" is missing") &&
          Catch::Contains("\"blocks.3.attn.qkv_bias\": renamed?"));
  CHECK_THROWS_WITH(net10::load(write(all, "", "", true)),
                    Catch::Contains("\"blocks.14.fc1.bias\"") && Catch::Contains("not used"));
  CHECK_NOTHROW(
      net10::load(write(all, "", "", true), af::load_options().allow_extra_tensors(true)));
  // The 1000-class T space needs a head of 1000 rows.
  CHECK_THROWS_WITH(
      af::supernet<af::tiny_space>::load(*ref->file),
      Catch::Contains("\"head.weight\" has shape [10, 256]") && Catch::Contains("[1000, 256]"));
  // Zero-copy: the file's F32 tensors are used in place.
  CHECK(ref->net->weights().in_place("blocks.0.attn.qkv.weight"));
  CHECK(ref->net->weights().size() == 0);
}

TEST_CASE(
    "autoformer: random supernets of the T, S and B spaces run their min, max and released "
    "subnets",
    "[models][af]") {
  af::forward_workspace ws;
  auto run = [&](const auto& net, const evit::arch& a, evit::Index batch) {
    std::vector<float> images(static_cast<std::size_t>(batch * 3 * 224 * 224));
    evit::rng g(3);
    for (auto& x : images) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
    const auto logits = net.forward(a, images, batch, ws);
    bool finite = true;
    for (float x : logits) finite = finite && std::isfinite(x);
    return finite && logits.size() == static_cast<std::size_t>(batch * 1000);
  };
  const auto t = af::supernet<af::tiny_released_space>::random(1);
  CHECK(run(t, af::tiny_released_space::min_arch(), 3));
  CHECK(run(t, af::released(af::tiny_released_space::descriptor(), "AutoFormer-T"), 1));
  const auto s = af::supernet<af::small_space>::random(2);
  CHECK(run(s, af::released(af::small_space::descriptor(), "AutoFormer-S"), 1));
  const auto b = af::supernet<af::base_space>::random(3);
  CHECK(run(b, af::base_space::max_arch(), 1));
  CHECK_THROWS_AS(t.forward(af::small_space::max_arch(), std::vector<float>(3 * 224 * 224), 1, ws),
                  evit::invalid_arch);
}

TEST_CASE("autoformer: official configs convert exactly, bad ones name the field and value",
          "[models][af]") {
  const auto& d = space10::descriptor();
  af::official_config c{3, {3.5, 4, 3.5}, {3, 4, 3}, {216, 216, 216}};
  CHECK_THROWS_WITH(af::from_official_config(d, c),
                    Catch::Contains("depth") || Catch::Contains("12"));  // depth 3 not in space
  c = {12, std::vector<double>(12, 4.0), std::vector<int>(11, 3), std::vector<int>(12, 192)};
  CHECK_THROWS_WITH(af::from_official_config(d, c),
                    "official config: num_heads has 11 entries; layer_num is 12");
  c.num_heads.push_back(4);
  c.embed_dim[5] = 216;
  CHECK_THROWS_WITH(af::from_official_config(d, c),
                    "official config: embed_dim varies (192 and 216); space autoformer-t has one "
                    "width for all layers");
  c.embed_dim[5] = 192;
  const evit::arch a = af::from_official_config(d, c);
  CHECK(a.depth(0) == 12);
  CHECK(a.width(0) == 192);
  CHECK(a.layer(0, 11).num_heads == 4);
  CHECK(a.layer(0, 0).mlp_ratio == evit::rational(4));
  CHECK_THROWS_WITH(af::released_config("AutoFormer-X"),
                    Catch::Contains("AutoFormer-T, AutoFormer-S, AutoFormer-B"));
  // The released S and B subnets: the official count formula (checked on T above) gives the
  // paper's 22.9 M and 54 M.
  const evit::arch s = af::released(af::small_space::descriptor(), "AutoFormer-S");
  CHECK(af::official_params(af::small_space::descriptor(), s) == 22891432);
  const evit::arch b = af::released(af::base_space::descriptor(), "AutoFormer-B");
  CHECK(af::official_params(af::base_space::descriptor(), b) == 53691688);
}
