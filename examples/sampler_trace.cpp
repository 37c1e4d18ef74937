// SPDX-License-Identifier: MIT
// sampler_trace: what complexity-aware sampling changes during supernet training. For N training
// steps it draws one subnet per step with the uniform sampler and with the complexity-aware
// sampler (official ElasticViT levels and walk), and prints for each the mean absolute MACs
// difference between consecutive steps and how the MACs range is covered; --csv writes the
// per-step trace.
//   sampler_trace --steps 1000 --seed 7 --csv trace.csv
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "evit/io/arch_text.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/sample/complexity_aware.hpp"
#include "evit/sample/levels.hpp"
#include "evit/sample/uniform.hpp"

namespace {

namespace ev = evit::elasticvit;
using space = ev::official_space;

const char* usage =
    "usage: sampler_trace [--steps N] [--seed S] [--walk W] [--csv FILE]\n"
    "\n"
    "Draws one subnet per training step from the official ElasticViT space with the uniform\n"
    "sampler and with the complexity-aware sampler (levels 100, 200, 300, 400, 500, 700, 900,\n"
    "1200 MMACs, window [L, L + 20]), and prints for each: the mean absolute MACs difference\n"
    "between consecutive steps, the MACs range seen, the levels whose window got a subnet, and\n"
    "the share of steps inside a level window.\n"
    "\n"
    "  --steps N    training steps, N >= 2 (default 1000)\n"
    "  --seed S     seed of both samplers, an unsigned integer (default 7)\n"
    "  --walk W     level walk: adjacent_step (official, default), random, adjacent, cyclic\n"
    "  --csv FILE   write the trace: step,sampler,level,mmacs,arch (level -1: in no window)\n"
    "  --help       this text\n";

struct options {
  long steps = 1000;
  std::uint64_t seed = 7;
  evit::level_walk walk = evit::level_walk::adjacent_step;
  std::string csv;
};

struct bad_usage {
  std::string what;
};

std::uint64_t parse_unsigned(const std::string& flag, const std::string& v, std::uint64_t max) {
  if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos)
    throw bad_usage{flag + " needs an unsigned integer, got '" + v + "'"};
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), nullptr, 10);
  if (errno != 0 || x > max) throw bad_usage{flag + " value '" + v + "' is out of range"};
  return x;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw bad_usage{arg + " needs a value"};
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (arg == "--steps") {
      o.steps = static_cast<long>(parse_unsigned(arg, value(), 100000000));
      if (o.steps < 2) throw bad_usage{"--steps must be at least 2"};
    } else if (arg == "--seed") {
      o.seed = parse_unsigned(arg, value(), ~std::uint64_t{0});
    } else if (arg == "--walk") {
      const std::string w = value();
      try {
        o.walk = evit::parse_walk(w);
      } catch (const evit::invalid_argument& e) {
        throw bad_usage{std::string("--walk: ") + e.what()};
      }
    } else if (arg == "--csv") {
      o.csv = value();
    } else {
      throw bad_usage{"unknown option '" + arg + "'"};
    }
  }
  return o;
}

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
  evit::complexity_aware_sampler<space, cost_t> ca(
      cost_t{}, evit::complexity_options().walk(o.walk).seed(o.seed));
  evit::uniform_sampler<space> uniform(o.seed);
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
  for (long step = 0; step < o.steps; ++step) {
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

  std::printf("official ElasticViT space: %.1f to %.1f MMACs; %ld steps, seed %llu, walk %s\n",
              range.first / 1e6, range.second / 1e6, o.steps,
              static_cast<unsigned long long>(o.seed), evit::walk_name(o.walk));
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
  try {
    return run(parse(argc, argv));
  } catch (const bad_usage& e) {
    std::fprintf(stderr, "sampler_trace: %s (see --help)\n", e.what.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sampler_trace: %s\n", e.what());
    return 1;
  }
}
