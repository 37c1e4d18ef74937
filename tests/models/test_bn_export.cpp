// SPDX-License-Identifier: MIT
// BatchNorm recalibration (docs/elasticvit.md#batchnorm-recalibration) against a direct
// computation (the first BatchNorm on random weights; every BatchNorm of subnets of the reference
// supernet), the override's isolation and persistence, and standalone export of one subnet.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "evit/core/rng.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/elasticvit/supernet.hpp"

#include "catch.hpp"
#include "test_data.hpp"

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
std::vector<double> first_conv_raw(const float* w, const std::vector<float>& img, int r, int cf,
                                   int b) {
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
        const auto raw = first_conv_raw(net.weights().first_conv, batches[k], r, cf, b);
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

// ---- Every BatchNorm of a subnet of the reference supernet -----------------------------------
//
// Recalibration normalises each BatchNorm's input with its batch statistics as the forward goes.
// The reference below recomputes, in double, the input of every BatchNorm of a subnet from the
// input of its stage, runs the same calibration there (batch mean, biased variance to normalise,
// unbiased variance recorded), and compares the statistics with evit's override. A stage's input
// comes from evit's forward (intermediates) in inference with the calibration's batch statistics
// (mean, biased variance): the same normalisation as the calibration pass. The first stage's input
// is the images, so by induction over the stages every BatchNorm is checked against a computation
// that does not use evit's kernels.

namespace {

using planes = std::vector<double>;  // one sample: C planes of side x side, NCHW

struct bn_ref_stats {
  std::vector<double> mean, var;  // var: unbiased, as recorded
};

double hswish(double x) { return x * std::min(std::max(x + 3, 0.0), 6.0) / 6; }
double hsigmoid(double x) { return std::min(std::max(x + 3, 0.0), 6.0) / 6; }

class bn_reference {
 public:
  explicit bn_reference(const net_t& net) : w_(net.weights()) {}

  std::map<std::string, bn_ref_stats> stats;  // every BatchNorm computed, by official name

  // Calibration BatchNorm over the batch (channel c of x[b]: `hw` values `el` apart, channels
  // `ch` apart), then `hs`: Hardswish or none.
  void batch_norm(const std::string& name, std::vector<planes>& x, int c_count, int hw, int ch,
                  int el, bool hs) {
    const float* gamma = w_.tensor(name + ".weight");
    const float* beta = w_.tensor(name + ".bias");
    bn_ref_stats st;
    const double n = double(x.size()) * hw;
    for (int c = 0; c < c_count; ++c) {
      double s1 = 0;
      for (const planes& p : x)
        for (int i = 0; i < hw; ++i) s1 += p[static_cast<std::size_t>(c * ch + i * el)];
      const double mean = s1 / n;
      double s2 = 0;  // two-pass variance
      for (const planes& p : x)
        for (int i = 0; i < hw; ++i) {
          const double d = p[static_cast<std::size_t>(c * ch + i * el)] - mean;
          s2 += d * d;
        }
      const double var = s2 / n;
      st.mean.push_back(mean);
      st.var.push_back(var * n / (n - 1));
      const double scale = gamma[c] / std::sqrt(var + 1e-5);
      for (planes& p : x)
        for (int i = 0; i < hw; ++i) {
          double& v = p[static_cast<std::size_t>(c * ch + i * el)];
          v = (v - mean) * scale + beta[c];
          if (hs) v = hswish(v);
        }
    }
    REQUIRE(stats.count(name) == 0);
    stats[name] = std::move(st);
  }

  // 1x1 convolution: out[o] = sum_i W[o, i] x[i] (W rows `ld` apart).
  static planes pointwise(const planes& x, int in, int out, int hw, const float* w, int ld) {
    planes y(static_cast<std::size_t>(out * hw), 0.0);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) {
        const double wv = w[o * ld + i];
        for (int p = 0; p < hw; ++p)
          y[static_cast<std::size_t>(o * hw + p)] += wv * x[static_cast<std::size_t>(i * hw + p)];
      }
    return y;
  }

  // One MBConv block of the supernet (tensors under `prefix`) on every sample:
  // x [cin, side^2] -> [c, side_out^2]; `side` becomes side_out.
  std::vector<planes> mbconv(const std::string& prefix, std::vector<planes> x, int cin, int c,
                             int e, int k, bool se, int stride, int& side) {
    const int side_in = side, hw_in = side_in * side_in;
    const int side_out = stride == 2 ? (side_in + 1) / 2 : side_in, hw = side_out * side_out;
    const int inner = cin * e;
    const auto batch = x.size();
    std::vector<planes> h(batch);
    // 1x1 expansion + BN + Hardswish (none in blocks of expansion 1).
    const bool has_pw = has_tensor(prefix + ".pw_conv.weight");
    if (has_pw) {
      const auto& sh = w_.spec(prefix + ".pw_conv.weight").shape;
      for (std::size_t b = 0; b < batch; ++b)
        h[b] = pointwise(x[b], cin, inner, hw_in, w_.tensor(prefix + ".pw_conv.weight"),
                         static_cast<int>(sh[1]));
      batch_norm(prefix + ".pw_bn", h, inner, hw_in, hw_in, 1, true);
    } else {
      REQUIRE(e == 1);
      h = x;
    }
    // k x k depthwise, the centre of the supernet kernel, padding k / 2.
    const float* dw = w_.tensor(prefix + ".dw_conv.weight");
    const int kmax = static_cast<int>(w_.spec(prefix + ".dw_conv.weight").shape[2]);
    const int off = (kmax - k) / 2, pad = k / 2;
    std::vector<planes> d(batch, planes(static_cast<std::size_t>(inner * hw), 0.0));
    for (std::size_t b = 0; b < batch; ++b)
      for (int ch = 0; ch < inner; ++ch)
        for (int oy = 0; oy < side_out; ++oy)
          for (int ox = 0; ox < side_out; ++ox) {
            double s = 0;
            for (int ky = 0; ky < k; ++ky)
              for (int kx = 0; kx < k; ++kx) {
                const int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                if (iy < 0 || ix < 0 || iy >= side_in || ix >= side_in) continue;
                s += double(dw[(ch * kmax + off + ky) * kmax + off + kx]) *
                     h[b][static_cast<std::size_t>((ch * side_in + iy) * side_in + ix)];
              }
            d[b][static_cast<std::size_t>((ch * side_out + oy) * side_out + ox)] = s;
          }
    batch_norm(prefix + ".dw_bn", d, inner, hw, hw, 1, true);
    // Squeeze-excite: mean, 1x1 + bias + ReLU to inner / 4, 1x1 + bias + Hardsigmoid, scale.
    if (se) {
      const int reduced = inner / 4;
      const float* w1 = w_.tensor(prefix + ".se_conv1.weight");
      const float* b1 = w_.tensor(prefix + ".se_conv1.bias");
      const float* w2 = w_.tensor(prefix + ".se_conv2.weight");
      const float* b2 = w_.tensor(prefix + ".se_conv2.bias");
      const int ld1 = static_cast<int>(w_.spec(prefix + ".se_conv1.weight").shape[1]);
      const int ld2 = static_cast<int>(w_.spec(prefix + ".se_conv2.weight").shape[1]);
      for (planes& p : d) {
        std::vector<double> pooled(static_cast<std::size_t>(inner), 0.0), sq(pooled);
        for (int ch = 0; ch < inner; ++ch) {
          for (int i = 0; i < hw; ++i) pooled[ch] += p[static_cast<std::size_t>(ch * hw + i)];
          pooled[ch] /= hw;
        }
        for (int r = 0; r < reduced; ++r) {
          double s = b1[r];
          for (int ch = 0; ch < inner; ++ch) s += double(w1[r * ld1 + ch]) * pooled[ch];
          sq[r] = std::max(s, 0.0);
        }
        for (int ch = 0; ch < inner; ++ch) {
          double s = b2[ch];
          for (int r = 0; r < reduced; ++r) s += double(w2[ch * ld2 + r]) * sq[r];
          const double gate = hsigmoid(s);
          for (int i = 0; i < hw; ++i) p[static_cast<std::size_t>(ch * hw + i)] *= gate;
        }
      }
    }
    // 1x1 projection + BN.
    const int ld_pwl = static_cast<int>(w_.spec(prefix + ".pwl_conv.weight").shape[1]);
    std::vector<planes> y(batch);
    for (std::size_t b = 0; b < batch; ++b)
      y[b] = pointwise(d[b], inner, c, hw, w_.tensor(prefix + ".pwl_conv.weight"), ld_pwl);
    batch_norm(prefix + ".pwl_bn", y, c, hw, hw, 1, false);
    // Residual: 2x2 average pool (stride 2; zero padding first on odd sides, divided by 4) and a
    // 1x1 conv without BN when the width changes.
    const int ld_sc = static_cast<int>(w_.spec(prefix + ".shortcut_conv.weight").shape[1]);
    const int pad_pool = side_in % 2;
    for (std::size_t b = 0; b < batch; ++b) {
      planes src = x[b];
      if (stride == 2) {
        planes pooled(static_cast<std::size_t>(cin * hw), 0.0);
        for (int ch = 0; ch < cin; ++ch)
          for (int oy = 0; oy < side_out; ++oy)
            for (int ox = 0; ox < side_out; ++ox) {
              double s = 0;
              for (int dy = 0; dy < 2; ++dy)
                for (int dx = 0; dx < 2; ++dx) {
                  const int iy = 2 * oy - pad_pool + dy, ix = 2 * ox - pad_pool + dx;
                  if (iy >= 0 && ix >= 0 && iy < side_in && ix < side_in)
                    s += x[b][static_cast<std::size_t>((ch * side_in + iy) * side_in + ix)];
                }
              pooled[static_cast<std::size_t>((ch * side_out + oy) * side_out + ox)] = s / 4;
            }
        src = std::move(pooled);
      }
      if (cin != c)
        src = pointwise(src, cin, c, hw, w_.tensor(prefix + ".shortcut_conv.weight"), ld_sc);
      for (std::size_t i = 0; i < y[b].size(); ++i) y[b][i] += src[i];
    }
    side = side_out;
    return y;
  }

  // The first conv (3x3, stride 2, padding 1, from RGB) + BN + Hardswish on every image.
  std::vector<planes> first_conv(const std::vector<float>& images, int batch, int r, int cf) {
    const float* w = w_.tensor("first_conv.weight");
    REQUIRE(w_.spec("first_conv.weight").shape[2] == 3);
    const int side = (r + 1) / 2;
    std::vector<planes> out;
    for (int b = 0; b < batch; ++b) out.push_back(first_conv_raw(w, images, r, cf, b));
    batch_norm("first_conv_bn", out, cf, side * side, side * side, 1, true);
    return out;
  }

  // The head's first Linear (C -> 6C, per token) + BatchNorm1d over every token of the batch.
  void head(const std::vector<planes>& tokens, int n, int c, int ec) {
    const float* w = w_.tensor("pre_head_0.weight");
    const float* bias = w_.tensor("pre_head_0.bias");
    const int ld = static_cast<int>(w_.spec("pre_head_0.weight").shape[1]);
    std::vector<planes> h(tokens.size(), planes(static_cast<std::size_t>(n * ec), 0.0));
    for (std::size_t b = 0; b < tokens.size(); ++b)
      for (int t = 0; t < n; ++t)
        for (int j = 0; j < ec; ++j) {
          double s = bias[j];
          for (int i = 0; i < c; ++i)
            s += double(w[j * ld + i]) * tokens[b][static_cast<std::size_t>(t * c + i)];
          h[b][static_cast<std::size_t>(t * ec + j)] = s;
        }
    batch_norm("pre_head_norm_0", h, ec, n, 1, ec, true);
  }

 private:
  bool has_tensor(const std::string& name) const {
    return std::any_of(w_.specs().begin(), w_.specs().end(),
                       [&](const ev::tensor_spec& t) { return t.name == name; });
  }
  const ev::supernet_weights& w_;
};

// An intermediate of evit's forward as one `planes` per sample (tokens [n, C] stay tokens).
std::vector<planes> samples_of(const ev::intermediates& inter, const std::string& name) {
  const auto& t = inter.by_name.at(name);
  const auto batch = static_cast<std::size_t>(t.shape[0]);
  const std::size_t per = t.values.size() / batch;
  std::vector<planes> out(batch);
  for (std::size_t b = 0; b < batch; ++b)
    out[b].assign(t.values.begin() + static_cast<std::ptrdiff_t>(b * per),
                  t.values.begin() + static_cast<std::ptrdiff_t>((b + 1) * per));
  return out;
}

// tokens [n, C] -> planes [C, n].
planes to_planes(const planes& tokens, int n, int c) {
  planes p(tokens.size());
  for (int t = 0; t < n; ++t)
    for (int i = 0; i < c; ++i)
      p[static_cast<std::size_t>(i * n + t)] = tokens[static_cast<std::size_t>(t * c + i)];
  return p;
}

// The override whose statistics are `o`'s with the biased variance (what the calibration pass
// normalised with), through the override file format.
ev::bn_override with_biased_variance(const net_t& net, const evit::arch& a,
                                     const ev::bn_override& o,
                                     const std::map<std::string, double>& count) {
  std::map<std::string, std::vector<float>> var;
  evit::io::safetensors_writer w;
  for (const auto& kv : o.all()) {
    const double n = count.at(kv.first);
    auto& v = var[kv.first];
    for (float x : kv.second.var) v.push_back(static_cast<float>(x * (n - 1) / n));
    const auto size = static_cast<std::int64_t>(v.size());
    w.add(kv.first + ".running_mean", {size}, kv.second.mean.data());
    w.add(kv.first + ".running_var", {size}, v.data());
  }
  w.set_metadata("arch", evit::to_string<ev::mini_space>(a));
  const std::string path = "bn_every_layer_test.safetensors";
  w.write(path);
  ev::bn_override biased = net.load_override(path);
  std::remove(path.c_str());
  return biased;
}

}  // namespace

TEST_CASE(
    "bn recalibration: every BatchNorm of subnets of the reference supernet, against a "
    "double-precision re-computation",
    "[models][bn][reference]") {
  const net_t net = net_t::load(evit::test::data_path("elasticvit-mini/supernet.safetensors"));
  const auto& d = ev::mini_space::descriptor();
  evit::rng g(11);
  std::vector<evit::arch> subnets = {ev::mini_space::max_arch(), ev::mini_space::min_arch()};
  for (int i = 0; i < 2; ++i) subnets.push_back(ev::mini_space::sample(g));
  ev::forward_workspace ws;
  for (std::size_t t = 0; t < subnets.size(); ++t) {
    const evit::arch& a = subnets[t];
    const std::string text = evit::to_string<ev::mini_space>(a);
    CAPTURE(text);
    const int r = a.resolution(), batch = 3;
    const auto images = random_images(batch, r, 20 + t);
    const ev::bn_override o = net.recalibrate(a, {images}, ws);

    // The reference, stage by stage from evit's stage inputs.
    bn_reference ref(net);
    std::map<std::string, double> count;  // values per channel of each BatchNorm (batch x plane)
    int side = (r + 1) / 2;
    auto first = ref.first_conv(images, batch, r, a.width(0));
    count["first_conv_bn"] = double(batch) * side * side;
    // Each stage's input side, and the number of values per channel of each BatchNorm (to turn
    // the recorded unbiased variance back into the biased one the calibration normalised with).
    std::vector<int> side_in(static_cast<std::size_t>(d.num_stages()));
    {
      int sd = side;
      for (int s = 1; s < d.num_stages(); ++s) {
        side_in[static_cast<std::size_t>(s)] = sd;
        const auto& st = d.stages[s];
        const std::string base = s == 1 ? "conv_stem" : "feature_exactor." + std::to_string(s - 2);
        if (st.is_conv()) {
          for (int j = 0; j < a.depth(s); ++j) {
            const int so = j == 0 && st.stride == 2 ? (sd + 1) / 2 : sd;
            const std::string p = base + ".layers." + std::to_string(j) + ".0";
            if (st.expand_ratio.back() > 1) count[p + ".pw_bn"] = double(batch) * sd * sd;
            count[p + ".dw_bn"] = count[p + ".pwl_bn"] = double(batch) * so * so;
            sd = so;
          }
        } else {
          const int so = st.stride == 2 ? (sd + 1) / 2 : sd;
          const std::string p = base + ".layers.0.reduction";
          count[p + ".pw_bn"] = double(batch) * sd * sd;
          count[p + ".dw_bn"] = count[p + ".pwl_bn"] = double(batch) * so * so;
          sd = so;
        }
      }
      count["pre_head_norm_0"] = double(batch) * sd * sd;
    }
    const ev::bn_override biased = with_biased_variance(net, a, o, count);
    ev::intermediates inter;
    net.forward(a, images, batch, ws, ev::forward_options().bn(biased).keep_intermediates(inter));

    // The reference's outputs of the first conv and of the conv stages agree with evit's (the
    // forward above normalises as the calibration pass did).
    double worst_out = 0;
    auto compare_out = [&](const std::vector<planes>& mine, const std::string& name) {
      const auto theirs = samples_of(inter, name);
      REQUIRE(theirs.size() == mine.size());
      for (std::size_t b = 0; b < mine.size(); ++b) {
        REQUIRE(theirs[b].size() == mine[b].size());
        for (std::size_t i = 0; i < mine[b].size(); ++i)
          worst_out = std::max(worst_out, std::abs(theirs[b][i] - mine[b][i]));
      }
    };
    compare_out(first, "first_conv");
    std::string prev = "first_conv";
    bool tokens = false;
    for (int s = 1; s < d.num_stages(); ++s) {
      const auto& st = d.stages[s];
      const std::string base = s == 1 ? "conv_stem" : "feature_exactor." + std::to_string(s - 2);
      const std::string here = s == 1 ? "stem" : "stage" + std::to_string(s - 2);
      int sd = side_in[static_cast<std::size_t>(s)];
      const int cin = a.width(s - 1), c = a.width(s);
      std::vector<planes> x = samples_of(inter, prev);
      if (tokens)
        for (auto& p : x) p = to_planes(p, sd * sd, cin);
      if (st.is_conv()) {
        int ci = cin;
        for (int j = 0; j < a.depth(s); ++j) {
          const auto& l = a.stage_layers(s)[j];
          x = ref.mbconv(base + ".layers." + std::to_string(j) + ".0", std::move(x), ci, c,
                         l.expand_ratio, l.kernel_size, st.squeeze_excite, j == 0 ? st.stride : 1,
                         sd);
          ci = c;
        }
        compare_out(x, here);  // whole conv stages: evit's output too
      } else {
        ref.mbconv(base + ".layers.0.reduction", std::move(x), cin, c, 6, 3, true, st.stride, sd);
        tokens = true;
      }
      prev = here;
    }
    const int last = d.num_stages() - 1;
    const auto& last_tokens = samples_of(inter, prev);
    const int n_tokens = static_cast<int>(inter.by_name.at(prev).shape[1]);
    ref.head(last_tokens, n_tokens, a.width(last), d.constants.head_expand * a.width(last));
    CAPTURE(worst_out);
    CHECK(worst_out < 2e-4);  // measured: at most 7.6e-6

    // Every BatchNorm of the subnet, each channel: evit's statistics against the reference's.
    REQUIRE(ref.stats.size() == o.all().size());
    double worst_mean = 0, worst_var = 0;
    for (const auto& kv : ref.stats) {
      CAPTURE(kv.first);
      const auto& mine = kv.second;
      const auto& theirs = o.at(kv.first);
      REQUIRE(theirs.mean.size() == mine.mean.size());
      for (std::size_t c = 0; c < mine.mean.size(); ++c) {
        // Scales: the channel's standard deviation for the mean, the variance for itself.
        const double sd_c = std::sqrt(mine.var[c]);
        const double err_mean = std::abs(theirs.mean[c] - mine.mean[c]) / (sd_c + 1e-3);
        const double err_var = std::abs(theirs.var[c] - mine.var[c]) / (mine.var[c] + 1e-6);
        worst_mean = std::max(worst_mean, err_mean);
        worst_var = std::max(worst_var, err_var);
        // Measured: at most 5e-6 and 1.2e-5 (AVX2+FMA); tolerances 20 times that.
        if (err_mean > 1e-4 || err_var > 2e-4) {
          CAPTURE(c, theirs.mean[c], mine.mean[c], theirs.var[c], mine.var[c]);
          CHECK(err_mean <= 1e-4);
          CHECK(err_var <= 2e-4);
        }
      }
    }
    std::printf(
        "bn recalibration, %s: %zu BatchNorms, worst mean error %.2g sd, worst var "
        "error %.2g (relative), worst stage output error %.2g\n",
        text.c_str(), ref.stats.size(), worst_mean, worst_var, worst_out);
  }
}

TEST_CASE("bn recalibration: two batches give the cumulative average of each batch's statistics",
          "[models][bn]") {
  const net_t net = net_t::random(8);
  const evit::arch a = ev::mini_space::max_arch();
  const int r = a.resolution();
  const auto b1 = random_images(2, r, 31), b2 = random_images(3, r, 32);
  ev::forward_workspace ws;
  const ev::bn_override o1 = net.recalibrate(a, {b1}, ws);
  const ev::bn_override o2 = net.recalibrate(a, {b2}, ws);
  const ev::bn_override both = net.recalibrate(a, {b1, b2}, ws);
  CHECK(both.batches() == 2);
  REQUIRE(both.all().size() == o1.all().size());
  for (const auto& kv : both.all()) {
    CAPTURE(kv.first);
    const auto& x = o1.at(kv.first);
    const auto& y = o2.at(kv.first);
    for (std::size_t c = 0; c < kv.second.mean.size(); ++c) {
      const double m = (double(x.mean[c]) + y.mean[c]) / 2, v = (double(x.var[c]) + y.var[c]) / 2;
      CHECK(std::abs(kv.second.mean[c] - m) <= 1e-5 * (std::abs(m) + std::sqrt(v)));
      CHECK(std::abs(kv.second.var[c] - v) <= 1e-5 * v);
    }
  }
}

TEST_CASE("bn recalibration: the override changes outputs, not the supernet, saves and loads",
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
  const std::vector<float> with = net.forward(a, images, 2, ws, ev::forward_options().bn(o));
  CHECK(with != before);
  const std::string path = "bn_override_test.safetensors";
  o.save(path);
  const ev::bn_override loaded = net.load_override(path);
  std::remove(path.c_str());
  CHECK(loaded.subnet() == a);
  CHECK(net.forward(a, images, 2, ws, ev::forward_options().bn(loaded)) == with);
  // An override belongs to its subnet.
  CHECK_THROWS_AS(net.forward(ev::mini_space::min_arch(), random_images(1, 96, 1), 1, ws,
                              ev::forward_options().bn(o)),
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
