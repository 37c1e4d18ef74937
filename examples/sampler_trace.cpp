// SPDX-License-Identifier: MIT
// sampler_trace: what complexity-aware sampling changes during supernet training. For N training
// steps it draws one subnet per step with the uniform sampler and with the complexity-aware
// sampler (official ElasticViT levels and walk), and prints for each the mean absolute MACs
// difference between consecutive steps and how the MACs range is covered; --csv writes the
// per-step trace.
//   sampler_trace --steps 1000 --seed 7 --csv trace.csv
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <evit/io/arch_text.hpp>
#include <evit/models/elasticvit/macs.hpp>
#include <evit/models/elasticvit/space.hpp>
#include <evit/sample/complexity_aware.hpp>
#include <evit/sample/levels.hpp>
#include <evit/sample/uniform.hpp>

#include "cli.hpp"

namespace {

namespace ev = evit::elasticvit;
using space = ev::official_space;

struct options {
  long long steps = 1000, seed = 7;
  std::string walk = "adjacent_step", csv;
};

struct summary {
  double mean_abs_delta = 0;
  double lo = 0, hi = 0;
  int levels_hit = 0;
  double in_window = 0;
};

template <class Sampler>
summary summarise(const std::vector<double>& macs, const Sampler& ca) {
  summary s;
  s.lo = *std::min_element(macs.begin(), macs.end());
  s.hi = *std::max_element(macs.begin(), macs.end());
  double sum = 0;
  for (std::size_t i = 1; i < macs.size(); ++i) sum += std::abs(macs[i] - macs[i - 1]);
  s.mean_abs_delta = sum / static_cast<double>(macs.size() - 1);
  std::vector<bool> hit(static_cast<std::size_t>(ca.num_levels()), false);
  long inside = 0;
  for (double m : macs) {
    bool any = false;
    for (int l = 0; l < ca.num_levels(); ++l)
      if (ca.in_window(l, m)) {
        hit[static_cast<std::size_t>(l)] = true;
        any = true;
      }
    inside += any;
  }
  s.levels_hit = static_cast<int>(std::count(hit.begin(), hit.end(), true));
  s.in_window = static_cast<double>(inside) / static_cast<double>(macs.size());
  return s;
}

int run(const options& o) {
  using cost_t = ev::macs_model<space>;
  const auto seed = static_cast<std::uint64_t>(o.seed);
  const evit::level_walk walk = evit::parse_walk(o.walk);
  evit::complexity_aware_sampler<space, cost_t> ca(
      cost_t{}, evit::complexity_options().walk(walk).seed(seed));
  evit::uniform_sampler<space> uniform(seed);
  const auto range = ca.cost_range();

  std::ofstream csv;
  if (!o.csv.empty()) {
    csv.open(o.csv);
    if (!csv) {
      std::fprintf(stderr, "sampler_trace: cannot write '%s'\n", o.csv.c_str());
      return 1;
    }
    csv << "step,sampler,level,mmacs,arch\n";
  }
  std::vector<double> mu, mc;
  mu.reserve(static_cast<std::size_t>(o.steps));
  mc.reserve(static_cast<std::size_t>(o.steps));
  for (long long step = 0; step < o.steps; ++step) {
    const evit::arch u = uniform.next();
    const double cu = ca.cost(u);
    const evit::arch c = ca.next();
    const double cc = ca.cost(c);
    mu.push_back(cu);
    mc.push_back(cc);
    if (csv) {
      csv << step << ",uniform," << ca.level_of(cu) << ',' << cu / 1e6 << ','
          << evit::to_string<space>(u) << '\n';
      csv << step << ",complexity_aware," << ca.level() << ',' << cc / 1e6 << ','
          << evit::to_string<space>(c) << '\n';
    }
  }

  std::printf("official ElasticViT space: %.1f to %.1f MMACs; %lld steps, seed %llu, walk %s\n",
              range.first / 1e6, range.second / 1e6, o.steps, static_cast<unsigned long long>(seed),
              evit::walk_name(walk));
  std::printf("%-17s %22s %22s %12s %16s\n", "sampler", "mean |dMACs| (MMACs)",
              "range seen (MMACs)", "levels hit", "steps in window");
  auto row = [&](const char* name, const summary& s) {
    char span[64];
    std::snprintf(span, sizeof span, "[%.1f, %.1f]", s.lo / 1e6, s.hi / 1e6);
    std::printf("%-17s %22.1f %22s %9d/%-2d %15.1f%%\n", name, s.mean_abs_delta / 1e6, span,
                s.levels_hit, ca.num_levels(), 100.0 * s.in_window);
  };
  row("uniform", summarise(mu, ca));
  row("complexity-aware", summarise(mc, ca));
  const evit::draw_stats& st = ca.stats();
  std::printf("complexity-aware draws: %llu by rejection, %llu constructed, %llu fallback\n",
              static_cast<unsigned long long>(st.by_rejection),
              static_cast<unsigned long long>(st.constructed),
              static_cast<unsigned long long>(st.fallback));
  if (csv) std::printf("trace written to %s\n", o.csv.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app(
      "Draws one subnet per training step from the official ElasticViT space with the "
      "uniform sampler and with the complexity-aware sampler (levels 100, 200, 300, "
      "400, 500, 700, 900, 1200 MMACs, window [L, L + 20]), and prints for each: the "
      "mean absolute MACs difference between consecutive steps, the MACs range seen, "
      "the levels whose window got a subnet, and the share of steps inside a level "
      "window.",
      "sampler_trace");
  app.option_defaults()->always_capture_default();  // --help shows the defaults
  app.add_option("--steps", o.steps, "training steps")->check(example::integer_in(2, 100000000));
  app.add_option("--seed", o.seed, "seed of both samplers")
      ->check(example::integer_in(0, std::numeric_limits<long long>::max()));
  app.add_option("--walk", o.walk, "level walk: adjacent_step (official), random, adjacent, cyclic")
      ->check(CLI::Validator(
          [](std::string& w) -> std::string {
            try {
              evit::parse_walk(w);
              return "";
            } catch (const evit::invalid_argument& e) {
              return e.what();
            }
          },
          "WALK"));
  app.add_option("--csv", o.csv,
                 "write the trace: step,sampler,level,mmacs,arch (level -1: in no window)");
  return example::run(app, argc, argv, 2, [&] { return run(o); });
}
