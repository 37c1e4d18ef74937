// SPDX-License-Identifier: MIT
// A synthetic search problem over any block-wise space whose constrained optimum and Pareto front
// are known exactly (used by tests/search and benchmarks/bench_search.cpp).
//
//   value(a) = g(R) + sum_s v_s(w_s, d_s, layer settings_s) - sum_s P_s (wn_s - wn_{s-1})^2
//   cost(a)  = 8 r + sum_s (1 + depth index) (1 + width index + sum of setting indices)
// where wn is a width's normalised index, v_s has diminishing returns (square roots) plus a small
// deterministic per-choice perturbation (so the landscape is not smooth), and cost is an integer.
// Both are separable per stage except for the width chain (the rules and the P_s term couple
// adjacent stages only), so dynamic programming over (stage, width, cost so far) is exact: it
// gives the best value at every exact cost, hence the optimum in any cost window and the true
// Pareto front of (max value, min cost); the same recursion with the value negated gives the worst
// value at every exact cost, hence the range [v_min, v_opt] of the feasible subnets of a window
// (for normalised scores (v - v_min) / (v_opt - v_min)).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "evit/core/hash.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/enumerate.hpp"

namespace evit_test {

class synthetic_problem {
 public:
  explicit synthetic_problem(const evit::space_descriptor& d) : d_(&d) {}

  /// The cost is monotone (larger choices never cost less).
  struct cost_model {
    static constexpr bool monotone = true;
    const synthetic_problem* p;
    double operator()(const evit::arch& a) const { return static_cast<double>(p->cost(a)); }
  };
  struct value_model {
    const synthetic_problem* p;
    double operator()(const evit::arch& a) const { return p->value(a); }
  };
  cost_model cost_fn() const { return {this}; }
  value_model value_fn() const { return {this}; }

  int cost(const evit::arch& a) const {
    int c = 8 * index_of(d_->resolution, a.resolution());
    for (int s = 0; s < d_->num_stages(); ++s) c += stage_cost(s, a);
    return c;
  }
  double value(const evit::arch& a) const {
    const int r = index_of(d_->resolution, a.resolution());
    double v = resolution_value(r);
    double prev_wn = -1;
    for (int s = 0; s < d_->num_stages(); ++s) {
      const int wi = index_of(d_->stages[s].width, a.width(s));
      v += stage_value(s, a);
      if (s > 0) v -= pair_penalty(s, prev_wn, norm(wi, d_->stages[s].width.size()));
      prev_wn = norm(wi, d_->stages[s].width.size());
    }
    return v;
  }

  /// Exact DP: best_[c] = the best value of a subnet of cost exactly c (-inf: none), with one
  /// subnet reaching it; worst_[c] the worst value (+inf: none), with one subnet reaching it.
  void solve() {
    run_dp(1.0, best_, best_arch_);
    run_dp(-1.0, worst_, worst_arch_);
    for (double& v : worst_) v = -v;
  }

  /// The best value with lo <= cost <= hi (after solve()), and a subnet reaching it.
  double optimum(int lo, int hi, evit::arch* where = nullptr) const {
    double b = -std::numeric_limits<double>::infinity();
    for (int c = std::max(0, lo); c <= hi && c < static_cast<int>(best_.size()); ++c)
      if (best_[static_cast<std::size_t>(c)] > b) {
        b = best_[static_cast<std::size_t>(c)];
        if (where) *where = best_arch_[static_cast<std::size_t>(c)];
      }
    return b;
  }
  /// The worst value with lo <= cost <= hi (after solve()), and a subnet reaching it: the bottom
  /// of the window's feasible range.
  double pessimum(int lo, int hi, evit::arch* where = nullptr) const {
    double b = std::numeric_limits<double>::infinity();
    for (int c = std::max(0, lo); c <= hi && c < static_cast<int>(worst_.size()); ++c)
      if (worst_[static_cast<std::size_t>(c)] < b) {
        b = worst_[static_cast<std::size_t>(c)];
        if (where) *where = worst_arch_[static_cast<std::size_t>(c)];
      }
    return b;
  }
  /// Where v lies in the window's feasible range: (v - v_min) / (v_opt - v_min), 1 at the
  /// optimum, 0 at the worst feasible subnet.
  double normalised(double v, int lo, int hi) const {
    const double top = optimum(lo, hi), bottom = pessimum(lo, hi);
    return (v - bottom) / (top - bottom);
  }
  /// The true Pareto front of (minimise cost, maximise value): (cost, value) pairs.
  std::vector<std::pair<int, double>> front() const {
    std::vector<std::pair<int, double>> f;
    double run = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < best_.size(); ++c)
      if (best_[c] > run) {
        run = best_[c];
        f.emplace_back(static_cast<int>(c), best_[c]);
      }
    return f;
  }
  int max_cost() const { return static_cast<int>(best_.size()) - 1; }

 private:
  // The DP of solve() for the largest sign * value at every exact cost: out[c] (-inf: no subnet
  // of cost c) and a subnet reaching it.
  void run_dp(double sign, std::vector<double>& out, std::vector<evit::arch>& out_arch) const {
    const double ninf = -std::numeric_limits<double>::infinity();
    const int n = d_->num_stages();
    // Stage options: (width index, depth index, setting) -> (cost, value); the best per
    // (width, cost).
    struct option {
      int cost;
      double value;
      evit::arch layers;  // a one-stage carrier of the setting (stage 0 of a scratch arch)
      int depth;
    };
    std::vector<std::vector<std::vector<int>>> best_opt(n);  // [s][wi][cost] -> option index
    std::vector<std::vector<option>> opts(n);
    int max_total = 8 * static_cast<int>(d_->resolution.size() - 1);
    for (int s = 0; s < n; ++s) {
      const evit::stage_descriptor& st = d_->stages[s];
      std::vector<evit::layer_dims> settings = all_settings(st);
      best_opt[s].assign(st.width.size(), {});
      int stage_max = 0;
      for (std::size_t wi = 0; wi < st.width.size(); ++wi)
        for (int depth : st.depth)
          for (const auto& l0 : settings) {
            evit::arch one;
            one.set_resolution(d_->resolution[0]);
            // A scratch arch with stages 0..s so that stage_cost/stage_value read stage s.
            for (int t = 0; t < s; ++t) one.add_stage(d_->stages[t].width[0], 1);
            evit::layer_dims l = l0;
            if (st.heads == evit::head_semantics::width_over_dim)
              l.num_heads = st.width[wi] / st.head_dim;
            one.add_stage(st.width[wi], depth, l);
            const int c = stage_cost(s, one);
            const double v = sign * stage_value(s, one);
            auto& row = best_opt[s][wi];
            if (static_cast<int>(row.size()) <= c) row.resize(static_cast<std::size_t>(c) + 1, -1);
            const int cur = row[static_cast<std::size_t>(c)];
            if (cur < 0 || opts[s][static_cast<std::size_t>(cur)].value < v) {
              row[static_cast<std::size_t>(c)] = static_cast<int>(opts[s].size());
              opts[s].push_back({c, v, one, depth});
            }
            stage_max = std::max(stage_max, c);
          }
      max_total += stage_max;
    }
    const int C = max_total + 1;
    // dp[wi][c]: best value of stages 0..s with width index wi at s and cost c; back pointers.
    struct back {
      int prev_wi = -1, prev_c = -1, opt = -1;
    };
    std::vector<std::vector<std::vector<back>>> bp(n);
    std::vector<double> init(static_cast<std::size_t>(C), ninf);
    std::vector<int> init_r(static_cast<std::size_t>(C), -1);
    for (std::size_t r = 0; r < d_->resolution.size(); ++r) {
      const int c = 8 * static_cast<int>(r);
      if (sign * resolution_value(static_cast<int>(r)) > init[static_cast<std::size_t>(c)]) {
        init[static_cast<std::size_t>(c)] = sign * resolution_value(static_cast<int>(r));
        init_r[static_cast<std::size_t>(c)] = static_cast<int>(r);
      }
    }
    std::vector<std::vector<double>> dp;  // previous stage
    for (int s = 0; s < n; ++s) {
      const evit::stage_descriptor& st = d_->stages[s];
      std::vector<std::vector<double>> nd(st.width.size(),
                                          std::vector<double>(static_cast<std::size_t>(C), ninf));
      bp[s].assign(st.width.size(), std::vector<back>(static_cast<std::size_t>(C)));
      for (std::size_t wi = 0; wi < st.width.size(); ++wi) {
        const auto& row = best_opt[s][wi];
        const double wn = norm(static_cast<int>(wi), st.width.size());
        const std::size_t np = s == 0 ? 1 : d_->stages[s - 1].width.size();
        for (std::size_t pw = 0; pw < np; ++pw) {
          if (s > 0 &&
              !evit::width_chains::compatible(*d_, s, d_->stages[s - 1].width[pw], st.width[wi]))
            continue;
          const std::vector<double>& from = s == 0 ? init : dp[pw];
          const double pen =
              s == 0 ? 0.0 : sign * pair_penalty(s, norm(static_cast<int>(pw), np), wn);
          for (int pc = 0; pc < C; ++pc) {
            const double base = from[static_cast<std::size_t>(pc)];
            if (base == ninf) continue;
            for (std::size_t sc = 0; sc < row.size(); ++sc) {
              if (row[sc] < 0) continue;
              const int c = pc + static_cast<int>(sc);
              const double v = base + opts[s][static_cast<std::size_t>(row[sc])].value - pen;
              if (v > nd[wi][static_cast<std::size_t>(c)]) {
                nd[wi][static_cast<std::size_t>(c)] = v;
                bp[s][wi][static_cast<std::size_t>(c)] = {static_cast<int>(pw), pc, row[sc]};
              }
            }
          }
        }
      }
      dp = std::move(nd);
    }
    out.assign(static_cast<std::size_t>(C), ninf);
    out_arch.assign(static_cast<std::size_t>(C), evit::arch{});
    for (int c = 0; c < C; ++c) {
      int wi_best = -1;
      for (std::size_t wi = 0; wi < dp.size(); ++wi)
        if (dp[wi][static_cast<std::size_t>(c)] > out[static_cast<std::size_t>(c)]) {
          out[static_cast<std::size_t>(c)] = dp[wi][static_cast<std::size_t>(c)];
          wi_best = static_cast<int>(wi);
        }
      if (wi_best < 0) continue;
      // Rebuild the subnet from the back pointers.
      std::vector<int> opt_of(static_cast<std::size_t>(n));
      int wi = wi_best, cc = c;
      for (int s = n - 1; s >= 0; --s) {
        const back& b = bp[s][static_cast<std::size_t>(wi)][static_cast<std::size_t>(cc)];
        opt_of[static_cast<std::size_t>(s)] = b.opt;
        wi = b.prev_wi;
        cc = b.prev_c;
      }
      evit::arch a;
      a.set_resolution(
          d_->resolution[static_cast<std::size_t>(init_r[static_cast<std::size_t>(cc)])]);
      for (int s = 0; s < n; ++s) {
        const option& o = opts[s][static_cast<std::size_t>(opt_of[static_cast<std::size_t>(s)])];
        a.add_stage(o.layers.width(s), o.depth, o.layers.layer(s, 0));
      }
      out_arch[static_cast<std::size_t>(c)] = a;
    }
  }

  template <class T>
  static int index_of(const std::vector<T>& v, const T& x) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] == x) return static_cast<int>(i);
    return 0;
  }
  static double norm(int i, std::size_t n) {
    return n < 2 ? 0.0 : static_cast<double>(i) / static_cast<double>(n - 1);
  }
  double resolution_value(int r) const { return 3.0 * std::sqrt(norm(r, d_->resolution.size())); }
  double pair_penalty(int s, double prev_wn, double wn) const {
    (void)s;
    const double x = wn - prev_wn;
    return 1.5 * x * x;
  }

  // Indices of the per-layer settings of stage s in `a` (first layer: block-wise).
  std::vector<int> setting_indices(int s, const evit::arch& a) const {
    const evit::stage_descriptor& st = d_->stages[s];
    const evit::layer_dims& l = a.layer(s, 0);
    std::vector<int> x;
    if (st.expand_ratio.size() > 1) x.push_back(index_of(st.expand_ratio, l.expand_ratio));
    if (st.kernel_size.size() > 1) x.push_back(index_of(st.kernel_size, l.kernel_size));
    if (st.mlp_ratio.size() > 1) x.push_back(index_of(st.mlp_ratio, l.mlp_ratio));
    if (st.qk_scale.size() > 1) x.push_back(index_of(st.qk_scale, l.qk_scale));
    if (st.v_scale.size() > 1) x.push_back(index_of(st.v_scale, l.v_scale));
    return x;
  }

  int stage_cost(int s, const evit::arch& a) const {
    const evit::stage_descriptor& st = d_->stages[s];
    const int wi = index_of(st.width, a.width(s));
    const int di = index_of(st.depth, a.depth(s));
    int inner = 1 + wi;
    for (int x : setting_indices(s, a)) inner += x;
    return (1 + di) * inner;
  }

  double stage_value(int s, const evit::arch& a) const {
    const evit::stage_descriptor& st = d_->stages[s];
    const int wi = index_of(st.width, a.width(s));
    const int di = index_of(st.depth, a.depth(s));
    const std::vector<int> x = setting_indices(s, a);
    // Stage weights: later stages matter more, as in real networks.
    const double weight = 2.0 + 0.6 * s;
    double settings = 0;
    for (std::size_t k = 0; k < x.size(); ++k)
      settings += (0.6 + 0.2 * static_cast<double>(k)) * std::sqrt(static_cast<double>(x[k]));
    double v = weight * (std::sqrt(static_cast<double>(wi)) +
                         0.8 * std::sqrt(static_cast<double>(di)) + 0.5 * settings);
    // A deterministic perturbation of up to 6 % of the stage's weight per choice combination.
    evit::hasher h(0x5eed);
    h.add(s).add(wi).add(di);
    for (int i : x) h.add(i);
    v += weight * 0.06 * static_cast<double>(h.value() >> 11) * 0x1.0p-53;
    return v;
  }

  std::vector<evit::layer_dims> all_settings(const evit::stage_descriptor& st) const {
    std::vector<evit::layer_dims> out(1);
    auto expand = [&out](auto setter, std::size_t n) {
      if (n == 0) return;
      std::vector<evit::layer_dims> next;
      for (const auto& l : out)
        for (std::size_t i = 0; i < n; ++i) {
          evit::layer_dims m = l;
          setter(m, i);
          next.push_back(m);
        }
      out = std::move(next);
    };
    expand([&](evit::layer_dims& l, std::size_t i) { l.expand_ratio = st.expand_ratio[i]; },
           st.expand_ratio.size());
    expand([&](evit::layer_dims& l, std::size_t i) { l.kernel_size = st.kernel_size[i]; },
           st.kernel_size.size());
    expand([&](evit::layer_dims& l, std::size_t i) { l.mlp_ratio = st.mlp_ratio[i]; },
           st.mlp_ratio.size());
    expand([&](evit::layer_dims& l, std::size_t i) { l.qk_scale = st.qk_scale[i]; },
           st.qk_scale.size());
    expand([&](evit::layer_dims& l, std::size_t i) { l.v_scale = st.v_scale[i]; },
           st.v_scale.size());
    return out;
  }

  const evit::space_descriptor* d_;
  std::vector<double> best_, worst_;
  std::vector<evit::arch> best_arch_, worst_arch_;
};

}  // namespace evit_test
