// SPDX-License-Identifier: MIT
// search_subnet: one supernet, the right subnet for every device. For each device and latency
// budget it searches the official ElasticViT space (evit::evolutionary_search, the ElasticViT
// preset) for the best subnet under that budget. Phones: latency predicted from their measured
// block tables (data/mobile-lut). This machine: the search screens with this machine's block
// table (profiled with evit's kernels, calibrated on measured random subnets, cached in the
// output folder, keyed by CPU, ISA and threads), then measures a shortlist of the best subnets
// and answers the best one measured within the budget, or says none is (re-searching under a
// tightened budget first). Prints one table, writes JSON and CSV, and draws latency against the
// objective per device (tools/plot_search.py, with python3-matplotlib).
//
// By default (`--space fashion+official`) it first searches the trained Fashion-MNIST supernet
// shipped in data/fashion (examples/python/train_supernet.py, sampler ca+pa) on this machine with
// real top-1 accuracy as the objective (its smallest and largest subnets as the fixed-size
// baselines), then the official space, whose objective without --weights/--val is a labelled
// proxy (MMACs): nothing trained of that space ships. `--space fashion` or `official` runs one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <evit/evit.hpp>

#include "cli.hpp"
#include "search_report.hpp"

namespace ev = evit::elasticvit;
namespace fs = std::filesystem;

namespace {

struct options {
  std::vector<std::string> devices = {"this", "pixel1", "pixel4", "pixel6", "xiaomi11"};
  std::vector<double> budget_ms;
  int budgets = 3, iterations = -1, population = -1, shortlist = 5, threads = 1, calibrate = 32,
      research = 1;
  long long seed = 7;
  std::string out = "search_subnet_out", lut_dir, weights, val, preset = "elasticvit",
              rule = "median", space = "fashion+official", fashion_dir;
  bool quiet = false, devices_given = false;
};

// Before any work, so that a typo fails at once.
void check_options(const options& o, bool official) {
  if (!o.val.empty() && o.weights.empty())
    throw evit::invalid_argument("--val needs --weights (the supernet to score)");
  if (o.val.rfind("random:", 0) == 0) (void)example::count_after("random:", o.val);
  for (const std::string& d : o.devices)
    if (d != "this" && !official)
      throw evit::invalid_argument("--device " + d + ": the phone tables hold the official " +
                                   "space's blocks; --space " + o.space +
                                   " runs on this machine only (--device this)");
    else if (d != "this" && o.lut_dir.empty())
      (void)evit::cost::find_mobile_lut(d);  // names the folders searched and the known devices
    else if (d != "this" && !fs::is_regular_file(o.lut_dir + "/" + d + ".json"))
      throw evit::invalid_argument("--device " + d + ": no table " + o.lut_dir + "/" + d + ".json");
}

template <class Space>
int run_space(options& o, const char* argv0) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  evit::evolution_options opts = evit::presets::by_name(o.preset);
  if (o.population > 0) example::scale_population(opts, o.population);
  if (o.iterations >= 0) opts.iterations(o.iterations);
  const evit::space_descriptor& sd = Space::descriptor();
  const bool official = sd.name == ev::official_space::descriptor().name;
  if (!official && !o.devices_given) o.devices = {"this"};
  const bool wants_this = std::count(o.devices.begin(), o.devices.end(), "this") > 0;
  check_options(o, official);
  std::error_code ec;  // parents too, like mkdir -p; failure is reported just below
  fs::create_directories(o.out, ec);
  if (!fs::is_directory(o.out))
    throw evit::invalid_argument("--out: cannot create '" + o.out + "'");

  // The supernet (for this machine's latency and the top-1 objective), and the objective.
  std::shared_ptr<const ev::supernet<Space>> net;
  if (wants_this || !o.val.empty())
    net = std::make_shared<const ev::supernet<Space>>(o.weights.empty() || o.weights == "random"
                                                          ? ev::supernet<Space>::random(1)
                                                          : ev::supernet<Space>::load(o.weights));
  evit::cost::any_cost objective = [&sd](const evit::arch& a) { return ev::macs(sd, a) * 1e-6; };
  example::search_report report(o.out, o.val.empty() ? "" : o.val, sd);
  if (!o.val.empty()) {
    const int classes = net->num_classes();
    evit::io::labelled_images set =
        o.val.rfind("random:", 0) == 0
            ? evit::io::random_labelled_images(example::count_after("random:", o.val),
                                               sd.resolution.back(), classes, 99)
            : evit::io::load_labelled_images(o.val, classes);
    objective = ev::top1_evaluator<Space>(net, std::move(set), {0.5, 16, o.threads});
  }
  std::printf("space: %s\nobjective: %s\n", sd.name.c_str(), report.objective().c_str());
  std::printf("isa: %s (this machine's kernels)\n",
              evit::simd::isa_description(evit::simd::active_isa()).c_str());
  std::printf(
      "search: preset %s (population %d, parents %d, %d mutations + %d crossovers, %d "
      "iterations), seed %lld\n",
      opts.name().c_str(), opts.population(), opts.parents(), opts.mutations(), opts.crossovers(),
      opts.iterations(), o.seed);

  // This machine: its block table (cached per ISA), complete before the searches start.
  std::shared_ptr<evit::cost::block_profiler<Space>> profiler;
  std::unique_ptr<evit::cost::measured_latency<Space>> measured;
  const std::string table_path = o.out + "/this_machine_lut-" +
                                 evit::simd::isa_name(evit::simd::active_isa()) + "-" +
                                 std::to_string(o.threads) + "t.json";
  if (wants_this) {
    profiler = evit::cost::cached_profiler<Space>(
        *net, table_path,
        evit::cost::timing().threads(o.threads).warmup(1).repeats(3, 9).target(0.05).max_seconds(
            0.05),
        !o.quiet);
    measured = std::make_unique<evit::cost::measured_latency<Space>>(
        *net, evit::cost::timing().threads(o.threads).repeats(7, 40));
    evit::cost::ensure_calibrated(*profiler, *measured, o.calibrate, table_path, !o.quiet);
  }
  const evit::budget_rule rule =
      o.rule == "median" ? evit::budget_rule::median : evit::budget_rule::upper95;

  // The reference points: the released subnets (official space), else the space's smallest and
  // largest subnets (the fixed-size baselines).
  std::vector<std::pair<std::string, evit::arch>> references;
  if (official)
    for (const auto& m : ev::released_models()) references.emplace_back(m.name, m.arch_value);
  else
    references = {{"smallest", Space::min_arch()}, {"largest", Space::max_arch()}};
  std::vector<double> reference_value;
  for (const auto& r : references) reference_value.push_back(objective(r.second));
  for (const std::string& device : o.devices) {
    // This machine's table (sequential: it profiles blocks on demand, so a search calls it on
    // its own thread; any_cost keeps that trait) or a phone's (--lut-dir, else evit's tables).
    evit::cost::any_cost lat;
    if (device == "this")
      lat = evit::cost::local_latency<Space>(profiler);
    else if (o.lut_dir.empty())
      lat = evit::cost::mobile_latency<Space>(device);
    else
      lat = evit::cost::mobile_latency<Space>(o.lut_dir, device);
    std::vector<double> budgets = o.budget_ms;
    const double lo = lat(Space::min_arch()), hi = lat(Space::max_arch());
    if (!o.quiet)
      std::fprintf(stderr, "%s: subnets from %.2f to %.2f ms\n", device.c_str(), lo, hi);
    for (int k = 1; o.budget_ms.empty() && k <= o.budgets; ++k)
      budgets.push_back(lo * std::pow(hi / lo, static_cast<double>(k) / (o.budgets + 1)));
    for (std::size_t i = 0; i < references.size(); ++i)
      report.reference(device, references[i].first, lat(references[i].second), reference_value[i]);
    for (double budget : budgets) {
      std::vector<evit::evaluated> records;  // of the last search
      const auto search = [&](double b) {
        evit::progress_meter meter("  " + device + " <= " + example::fixed(b, 2) + " ms",
                                   static_cast<std::size_t>(opts.iterations()) + 1, !o.quiet);
        evit::evolution_options opt = opts;
        opt.on_progress([&meter](const evit::search_progress& p) {
          meter.update(
              static_cast<std::size_t>(p.iteration) + 1,
              std::to_string(p.evaluations) + " subnets, best " + example::fixed(p.best_score, 2));
        });
        auto evo = evit::make_evolution<Space>(objective, evit::cost::at_most(lat, b, "latency ms"),
                                               opt, static_cast<std::uint64_t>(o.seed));
        evit::search_result r = evo.run();
        records = evo.records();
        meter.finish(std::to_string(r.evaluations) + " subnets");
        return r;
      };
      if (device != "this") {
        const evit::search_result r = search(budget);
        report.add(device, budget, r, records);
        continue;
      }
      // This machine: the best measured subnet of a shortlist within budget, re-searching under
      // a budget tightened by the shortlist's worst underestimate while none fits.
      const evit::budget_search s = evit::search_within_budget(
          search, budget, o.shortlist, [&](const evit::arch& a) { return measured->measure(a); },
          rule, o.research,
          [&](const evit::confirmation& c) {
            if (!o.quiet) std::fprintf(stderr, "  %s: searching again\n", c.message.c_str());
          });
      report.add(device, budget, s.result, records, &s.confirmed, s.search_budget, s.extra_seconds);
    }
  }
  report.print(profiler.get(), table_path);
  report.write(opts.to_json(), o.seed, seconds());
  report.plot(example::find_repository_path("tools/plot_search.py", argv0));
  std::printf("done in %.1f s\n", seconds());
  return 0;
}

// The default: the shipped Fashion-MNIST supernet on this machine (top-1), then the official
// space, each into its own folder of --out. The fashion part runs when the devices include this
// machine (the phone tables hold the official space's blocks only).
int run_both(options& o, const char* argv0) {
  const bool wants_this = std::count(o.devices.begin(), o.devices.end(), "this") > 0;
  check_options(o, true);
  options fashion = o, official = o;
  fashion.space = "fashion";
  official.space = "official";
  fashion.out = o.out + "/fashion";
  official.out = o.out + "/official";
  if (wants_this) {
    std::string dir = o.fashion_dir.empty() ? example::find_repository_path("data/fashion", argv0)
                                            : o.fashion_dir;
    for (const char* file : {"supernet.safetensors", "val.safetensors"})
      if (dir.empty() || !fs::is_regular_file(fs::path(dir) / file))
        throw evit::invalid_argument(
            "--fashion-dir: no " + std::string(file) + " in '" +
            (dir.empty() ? std::string("data/fashion (not found)") : dir) +
            "' (the trained supernet and its validation images, see data/fashion/README.md), "
            "or run --space official, which needs neither");
    fashion.weights = (fs::path(dir) / "supernet.safetensors").string();
    fashion.val = (fs::path(dir) / "val.safetensors").string();
    fashion.devices = {"this"};
    // Each top-1 evaluation runs 400 forwards: a smaller search than the preset's unless asked.
    if (o.population < 0) fashion.population = 16;
    if (o.iterations < 0) fashion.iterations = 6;
    std::printf("== 1/2 the trained Fashion-MNIST supernet (%s), this machine, top-1\n",
                fashion.weights.c_str());
    if (const int rc = run_space<ev::fashion_space>(fashion, argv0); rc != 0) return rc;
    std::printf("\n== 2/2 the official ElasticViT space\n");
  }
  return run_space<ev::official_space>(official, argv0);
}

int run(options& o, const char* argv0) {
  if (o.space == "fashion") return run_space<ev::fashion_space>(o, argv0);
  if (o.space == "official") return run_space<ev::official_space>(o, argv0);
  return run_both(o, argv0);
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app(
      "Searches one supernet for the best subnet under each latency budget of each device: by "
      "default the trained Fashion-MNIST supernet of data/fashion on this machine (top-1), then "
      "the official ElasticViT space on this machine and four phones.",
      "search_subnet");
  app.option_defaults()->always_capture_default();  // --help shows the defaults
  app.add_option("--device", o.devices,
                 "comma-separated: this, pixel1, pixel4, pixel6, xiaomi11 or any <name>.json in "
                 "--lut-dir (default: all five)")
      ->delimiter(',');
  app.add_option("--budgets", o.budgets,
                 "budgets per device, geometric between its min and max subnet latency")
      ->check(example::integer_in(1, 20));
  app.add_option("--budget-ms", o.budget_ms, "explicit budgets in ms for every device")
      ->delimiter(',')
      ->check(example::positive_number());
  app.add_option(
      "--out", o.out,
      "results.json, results.csv, points.csv, shortlist.csv, references.csv, latency.png "
      "and this machine's block table this_machine_lut-<isa>-<threads>t.json (reused "
      "next time on the same CPU, ISA and threads)");
  app.add_option("--lut-dir", o.lut_dir,
                 "the phone tables (default: $EVIT_MOBILE_LUT_DIR, then those evit installs or "
                 "the source tree's data/mobile-lut)");
  app.add_option("--weights", o.weights,
                 "supernet weights (official names) or 'random'; with --val the objective is "
                 "top-1 after BatchNorm recalibration, else a clearly labelled proxy: official "
                 "MMACs (the most capacity the budget buys)");
  app.add_option("--val", o.val,
                 "safetensors with 'images' (N,3,H,W) and 'labels' (N): the first half "
                 "recalibrates BatchNorm, the rest is scored; or 'random:N' (a smoke test)");
  app.add_option(
         "--space", o.space,
         "fashion+official: the supernet of --fashion-dir on this machine (top-1; when --device "
         "includes this), then the official space (--weights/--val apply to it), into "
         "<out>/fashion and <out>/official; official (ImageNet, 224-288 px); fashion "
         "(Fashion-MNIST, 28-32 px; this machine only; --weights a supernet trained with "
         "examples/python/train_supernet.py)")
      ->check(CLI::IsMember({"fashion+official", "official", "fashion"}));
  app.add_option("--fashion-dir", o.fashion_dir,
                 "fashion+official: the folder with supernet.safetensors and val.safetensors "
                 "(default: the repository's data/fashion)");
  app.add_option("--preset", o.preset, "elasticvit, autoformer, ofa or hat");
  app.add_option("--iterations", o.iterations, "override the preset's iterations")
      ->check(example::integer_in(0, 100000));
  app.add_option("--population", o.population,
                 "override the preset's population (parents, mutations, crossovers scale)")
      ->check(example::integer_in(4, 100000));
  app.add_option("--shortlist", o.shortlist,
                 "this machine: the best K subnets by prediction measured per budget; the answer "
                 "is the best measured within budget")
      ->check(example::integer_in(1, 100));
  app.add_option("--budget-rule", o.rule,
                 "this machine: 'median' (measured median <= budget) or 'upper95' (the upper end "
                 "of its 95% interval)")
      ->check(CLI::IsMember({"median", "upper95"}));
  app.add_option("--research", o.research,
                 "this machine: re-searches under a tightened budget when no shortlisted subnet "
                 "fits (0: none)")
      ->check(example::integer_in(0, 5));
  app.add_option("--calibrate", o.calibrate,
                 "this machine: random subnets measured to calibrate the block table (once, "
                 "saved with it; 0: plain sum)")
      ->check(example::integer_in(0, 1000));
  app.add_option("--threads", o.threads, "threads of this machine's forward")
      ->check(example::integer_in(1, 256));
  app.add_option("--seed", o.seed, "search seed")->check(example::integer_in(0, 1LL << 40));
  example::add_isa_option(app);
  app.add_flag("--quiet", o.quiet, "no progress lines");
  return example::run(app, argc, argv, 1, [&] {
    o.devices_given = app.count("--device") > 0;
    return run(o, argv[0]);
  });
}
