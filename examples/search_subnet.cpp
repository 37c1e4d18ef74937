// SPDX-License-Identifier: MIT
// search_subnet: one supernet, the right subnet for every device. For each device and latency
// budget it searches the official ElasticViT space (evit::evolutionary_search, the ElasticViT
// preset) for the best subnet under that budget. Phones: latency predicted from their measured
// block tables (data/mobile-lut in this repository). This machine: the search screens with this
// machine's block table (profiled with evit's kernels on the way, cached in the output folder)
// and the winners are confirmed by measuring whole subnets. Prints one table, writes JSON and
// CSV, and draws latency against the objective per device (tools/plot_search.py, when
// python3-matplotlib is installed).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include <evit/cost/block_profiler.hpp>
#include <evit/cost/constraint.hpp>
#include <evit/cost/latency_table.hpp>
#include <evit/cost/measured_latency.hpp>
#include <evit/evit.hpp>
#include <evit/search/evolutionary.hpp>

namespace ev = evit::elasticvit;
using space = ev::official_space;

namespace {

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: search_subnet [--device LIST] [--budgets N | --budget-ms LIST] [--out DIR]\n"
      "                     [--lut-dir DIR] [--weights FILE --val FILE] [--preset NAME]\n"
      "                     [--iterations N] [--population N] [--confirm N] [--threads N]\n"
      "                     [--seed N] [--isa sse2|avx2|avx512|neon] [--quiet]\n"
      "  Searches the official ElasticViT space for the best subnet under each latency budget\n"
      "  of each device, from one supernet.\n"
      "  --device LIST    comma-separated: this, pixel1, pixel4, pixel6, xiaomi11 or any\n"
      "                   <name>.json table in --lut-dir (default: all five)\n"
      "  --budgets N      budgets per device, spread geometrically between the device's min\n"
      "                   and max subnet latency (default 3)\n"
      "  --budget-ms LIST explicit budgets in ms for every device (instead of --budgets)\n"
      "  --out DIR        results.json, results.csv, points.csv, latency.png and this\n"
      "                   machine's block table this_machine_lut-<isa>.json (reused next time)\n"
      "                   (default search_subnet_out)\n"
      "  --lut-dir DIR    the phone tables (default: those evit installs, or the source\n"
      "                   tree's data/mobile-lut; the variable EVIT_MOBILE_LUT_DIR comes first)\n"
      "  --weights FILE   supernet weights (official names), or 'random'; with --val the\n"
      "                   objective is top-1 after BatchNorm recalibration, else (default) a\n"
      "                   clearly labelled proxy: the official MACs count (the most capacity\n"
      "                   the budget buys)\n"
      "  --val FILE       safetensors with 'images' (N,3,H,W, F32) and 'labels' (N, I64/I32);\n"
      "                   the first half recalibrates BatchNorm, the rest is scored; or\n"
      "                   'random:N' (random images and labels: a smoke test, chance accuracy)\n"
      "  --preset NAME    elasticvit (default), autoformer, ofa, hat\n"
      "  --iterations N   override the preset's iterations\n"
      "  --population N   override the preset's population (parents, mutations and crossovers\n"
      "                   scale with it)\n"
      "  --confirm N      winners measured on this machine per budget (default 3)\n"
      "  --threads N      threads of this machine's forward (default 1)\n"
      "  --seed N         search seed (default 7)\n"
      "  --isa I          this machine's kernels: ISA I (default: the best this CPU has;\n"
      "                   also the environment variable EVIT_ISA)\n"
      "  --quiet          no progress lines\n");
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

long parse_long(const std::string& flag, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi)
    throw evit::invalid_argument(flag + " needs an integer in [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + "], got '" + v + "' (see --help)");
  return n;
}
double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x > 0) || !std::isfinite(x))
    throw evit::invalid_argument(flag + " needs positive numbers, got '" + v + "' (see --help)");
  return x;
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string find_plot_script(const char* argv0) {
  std::string exe_dir = argv0;
  exe_dir = exe_dir.find('/') == std::string::npos ? "." : exe_dir.substr(0, exe_dir.rfind('/'));
  std::vector<std::string> cands = {"tools/plot_search.py"};
  std::string up = "";
  for (int i = 0; i < 5; ++i) {
    up += "../";
    cands.push_back(up + "tools/plot_search.py");
    cands.push_back(exe_dir + "/" + up + "tools/plot_search.py");
  }
  for (const auto& c : cands)
    if (is_file(c)) return c;
  return "";
}

// ---- the objective ------------------------------------------------------------------------

/// Top-1 (%) after BatchNorm recalibration, on real images: the expensive, real objective.
class top1_objective {
 public:
  static constexpr bool sequential = true;  // one supernet workspace, its own thread pool

  top1_objective(std::shared_ptr<const ev::supernet<space>> net, std::vector<float> images,
                 std::vector<int> labels, int side, int threads)
      : s_(std::make_shared<state>()) {
    s_->net = std::move(net);
    s_->images = std::move(images);
    s_->labels = std::move(labels);
    s_->side = side;
    s_->pool = std::make_unique<evit::thread_pool>(threads);
  }

  double operator()(const evit::arch& a) const {
    state& s = *s_;
    const int R = a.resolution();
    const std::vector<float>& x = s.at(R);
    const std::size_t n = s.labels.size(), calib = n / 2, per = 3u * R * R;
    const std::size_t batch = 16;
    std::vector<std::vector<float>> batches;
    for (std::size_t i = 0; i < calib; i += batch) {
      const std::size_t m = std::min(batch, calib - i);
      batches.emplace_back(x.begin() + static_cast<std::ptrdiff_t>(i * per),
                           x.begin() + static_cast<std::ptrdiff_t>((i + m) * per));
    }
    const ev::bn_override bn = s.net->recalibrate(a, batches, s.ws, *s.pool);
    const int classes = s.net->num_classes();
    std::vector<float> logits;
    std::size_t correct = 0, total = 0;
    for (std::size_t i = calib; i < n; i += batch) {
      const std::size_t m = std::min(batch, n - i);
      logits.resize(m * static_cast<std::size_t>(classes));
      s.net->forward(a, x.data() + i * per, static_cast<evit::Index>(m), logits.data(), s.ws, &bn,
                     nullptr, *s.pool);
      for (std::size_t b = 0; b < m; ++b) {
        const float* l = logits.data() + b * static_cast<std::size_t>(classes);
        const int pred = static_cast<int>(std::max_element(l, l + classes) - l);
        correct += pred == s.labels[i + b] ? 1 : 0;
        ++total;
      }
    }
    return total ? 100.0 * static_cast<double>(correct) / static_cast<double>(total) : 0.0;
  }

 private:
  struct state {
    std::shared_ptr<const ev::supernet<space>> net;
    std::vector<float> images;
    std::vector<int> labels;
    int side = 0;
    std::unique_ptr<evit::thread_pool> pool;
    ev::forward_workspace ws;
    std::map<int, std::vector<float>> resized;
    // The images at resolution R (bilinear, align_corners = false), computed once per R.
    const std::vector<float>& at(int R) {
      auto it = resized.find(R);
      if (it != resized.end()) return it->second;
      std::vector<float>& out = resized[R];
      const std::size_t n = labels.size();
      out.resize(n * 3 * R * R);
      const double scale = static_cast<double>(side) / R;
      for (std::size_t i = 0; i < n * 3; ++i) {
        const float* src = images.data() + i * side * side;
        float* dst = out.data() + i * R * R;
        for (int y = 0; y < R; ++y) {
          const double sy = std::max(0.0, (y + 0.5) * scale - 0.5);
          const int y0 = std::min(static_cast<int>(sy), side - 1), y1 = std::min(y0 + 1, side - 1);
          const double fy = sy - y0;
          for (int xx = 0; xx < R; ++xx) {
            const double sx = std::max(0.0, (xx + 0.5) * scale - 0.5);
            const int x0 = std::min(static_cast<int>(sx), side - 1),
                      x1 = std::min(x0 + 1, side - 1);
            const double fx = sx - x0;
            const double v =
                (1 - fy) * ((1 - fx) * src[y0 * side + x0] + fx * src[y0 * side + x1]) +
                fy * ((1 - fx) * src[y1 * side + x0] + fx * src[y1 * side + x1]);
            dst[y * R + xx] = static_cast<float>(v);
          }
        }
      }
      return out;
    }
  };
  std::shared_ptr<state> s_;
};

void load_val(const std::string& spec, std::vector<float>& images, std::vector<int>& labels,
              int& side, int classes) {
  if (spec.rfind("random:", 0) == 0) {
    const long n = parse_long("--val random:N", spec.substr(7), 2, 100000);
    side = 128;
    evit::rng g(99);
    images.resize(static_cast<std::size_t>(n) * 3 * side * side);
    for (auto& v : images) v = static_cast<float>(2 * evit::uniform_real(g) - 1);
    for (long i = 0; i < n; ++i)
      labels.push_back(
          static_cast<int>(evit::uniform_below(g, static_cast<std::uint64_t>(classes))));
    return;
  }
  const auto f = evit::io::safetensors_file::open(spec);
  const auto& im = f.at("images");
  const auto& lb = f.at("labels");
  if (im.shape.size() != 4 || im.shape[1] != 3 || im.shape[2] != im.shape[3] || im.shape[0] < 2)
    throw evit::format_error(spec + ": 'images' must be (N, 3, H, H) with N >= 2");
  if (lb.shape.size() != 1 || lb.shape[0] != im.shape[0])
    throw evit::format_error(spec + ": 'labels' must be (N) for the N images");
  images = f.to_f32(im);
  side = static_cast<int>(im.shape[2]);
  const std::uint8_t* p = f.data(lb);
  for (std::int64_t i = 0; i < lb.shape[0]; ++i) {
    std::int64_t v = 0;
    if (lb.type == evit::io::dtype::i64) {
      std::memcpy(&v, p + 8 * i, 8);
    } else if (lb.type == evit::io::dtype::i32) {
      std::int32_t w = 0;
      std::memcpy(&w, p + 4 * i, 4);
      v = w;
    } else {
      throw evit::format_error(spec + ": 'labels' must be I64 or I32");
    }
    if (v < 0 || v >= classes)
      throw evit::format_error(spec + ": label " + std::to_string(v) + " outside [0, " +
                               std::to_string(classes) + ")");
    labels.push_back(static_cast<int>(v));
  }
}

// ---- results --------------------------------------------------------------------------------

struct row {
  std::string device;
  double budget = 0;
  evit::arch subnet;
  double objective = 0, mmacs = 0, predicted = 0;
  double measured = -1, measured_ci = 0;  // -1: not measured (phones)
  bool within = true;
  std::uint64_t evaluations = 0;
  double seconds = 0;
  std::string status = "ok";
};

std::string fmt(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> devices = {"this", "pixel1", "pixel4", "pixel6", "xiaomi11"};
    std::vector<double> budget_ms;
    long budgets = 3, iterations = -1, population = -1, confirm = 3, threads = 1, seed = 7;
    std::string out = "search_subnet_out", lut_dir, weights, val, preset = "elasticvit";
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
      const std::string f = argv[i];
      if (f == "--help" || f == "-h") {
        usage(stdout);
        return 0;
      }
      if (f == "--quiet") {
        quiet = true;
        continue;
      }
      if (f.rfind("--", 0) != 0) throw evit::invalid_argument("unexpected argument '" + f + "'");
      if (i + 1 >= argc) throw evit::invalid_argument(f + " needs a value (see --help)");
      const std::string v = argv[++i];
      if (f == "--device") {
        devices = split(v);
        if (devices.empty()) throw evit::invalid_argument("--device needs a list (see --help)");
      } else if (f == "--budgets") {
        budgets = parse_long(f, v, 1, 20);
      } else if (f == "--budget-ms") {
        for (const auto& x : split(v)) budget_ms.push_back(parse_double(f, x));
      } else if (f == "--out") {
        out = v;
      } else if (f == "--lut-dir") {
        lut_dir = v;
      } else if (f == "--weights") {
        weights = v;
      } else if (f == "--val") {
        val = v;
      } else if (f == "--preset") {
        preset = v;
      } else if (f == "--iterations") {
        iterations = parse_long(f, v, 0, 100000);
      } else if (f == "--population") {
        population = parse_long(f, v, 4, 100000);
      } else if (f == "--confirm") {
        confirm = parse_long(f, v, 1, 100);
      } else if (f == "--threads") {
        threads = parse_long(f, v, 1, 256);
      } else if (f == "--seed") {
        seed = parse_long(f, v, 0, 1L << 40);
      } else if (f == "--isa") {
        evit::simd::set_isa(evit::simd::parse_isa(v));
      } else {
        throw evit::invalid_argument("unknown option " + f + " (see --help)");
      }
    }
    if (val.empty() != weights.empty() && !val.empty())
      throw evit::invalid_argument("--val needs --weights (the supernet to score)");
    evit::evolution_options opts = evit::presets::by_name(preset);
    if (population > 0) {
      const double k = static_cast<double>(population) / opts.population();
      opts.population(static_cast<int>(population))
          .parents(std::max(2, static_cast<int>(opts.parents() * k)))
          .mutations(std::max(1, static_cast<int>(opts.mutations() * k)))
          .crossovers(std::max(1, static_cast<int>(opts.crossovers() * k)));
    }
    if (iterations >= 0) opts.iterations(static_cast<int>(iterations));
    const bool wants_this = std::find(devices.begin(), devices.end(), "this") != devices.end();
    for (const std::string& device : devices)  // before any work: a typo fails at once
      if (device != "this" && lut_dir.empty())
        (void)evit::cost::find_mobile_lut(device);  // names the folders and the known devices
      else if (device != "this" && !is_file(lut_dir + "/" + device + ".json"))
        throw evit::invalid_argument("--device " + device + ": no table " + lut_dir + "/" + device +
                                     ".json");
    std::error_code mkdir_error;  // parents too, like mkdir -p; failure is reported just below
    std::filesystem::create_directories(out, mkdir_error);
    if (!is_dir(out)) throw evit::invalid_argument("--out: cannot create folder '" + out + "'");

    // The supernet (for this machine's latency, and for the top-1 objective).
    std::shared_ptr<const ev::supernet<space>> net;
    if (wants_this || !val.empty()) {
      const auto t0 = std::chrono::steady_clock::now();
      net = std::make_shared<const ev::supernet<space>>(weights.empty() || weights == "random"
                                                            ? ev::supernet<space>::random(1)
                                                            : ev::supernet<space>::load(weights));
      if (!quiet)
        std::fprintf(stderr, "supernet: %s (%.1f s)\n",
                     weights.empty() || weights == "random" ? "random weights" : weights.c_str(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // The objective.
    std::string objective_name;
    std::unique_ptr<top1_objective> top1;
    if (!val.empty()) {
      std::vector<float> images;
      std::vector<int> labels;
      int side = 0;
      load_val(val, images, labels, side, net->num_classes());
      top1 = std::make_unique<top1_objective>(net, std::move(images), std::move(labels), side,
                                              static_cast<int>(threads));
      objective_name = "top-1 % after BN recalibration (" + val + ")";
    } else {
      objective_name =
          "PROXY: official MMACs (the most capacity the budget buys; pass --weights "
          "and --val for top-1)";
    }
    std::printf("objective: %s\n", objective_name.c_str());
    std::printf("isa: %s (this machine's kernels)\n",
                evit::simd::isa_description(evit::simd::active_isa()).c_str());
    std::printf(
        "search: preset %s (population %d, parents %d, %d mutations + %d crossovers, %d "
        "iterations), seed %ld\n",
        opts.name().c_str(), opts.population(), opts.parents(), opts.mutations(), opts.crossovers(),
        opts.iterations(), seed);
    auto macs_objective = [](const evit::arch& a) { return ev::macs(a) * 1e-6; };

    // This machine: its block table, reused across runs.
    std::shared_ptr<evit::cost::block_profiler<space>> profiler;
    std::unique_ptr<evit::cost::measured_latency<space>> measured;
    // One table per ISA: the same blocks take other times with other kernels.
    const std::string table_path =
        out + "/this_machine_lut-" + evit::simd::isa_name(evit::simd::active_isa()) + ".json";
    if (wants_this) {
      profiler = std::make_shared<evit::cost::block_profiler<space>>(
          *net, evit::cost::timing().warmup(1).repeats(3, 9).target(0.05).max_seconds(0.05),
          "this machine");
      if (is_file(table_path)) {
        profiler->merge(evit::cost::latency_table::load(table_path, "this machine"));
        if (!quiet)
          std::fprintf(stderr, "this machine: %zu block latencies from %s\n",
                       profiler->table().size(), table_path.c_str());
      }
      measured = std::make_unique<evit::cost::measured_latency<space>>(
          *net, evit::cost::timing().threads(static_cast<int>(threads)).repeats(7, 40));
    }

    std::vector<row> rows;
    std::ofstream pcsv(out + "/points.csv");
    pcsv << "device,budget_ms,latency_ms,objective,chosen\n";
    const auto t_all = std::chrono::steady_clock::now();
    const bool tty = ::isatty(2) != 0;

    for (const std::string& device : devices) {
      // The device's latency model: this machine's table (sequential: it profiles blocks on
      // demand, so a search calls it on its own thread) or a phone's (--lut-dir, else the tables
      // evit ships: evit::cost::mobile_lut_dirs()).
      evit::cost::any_cost lat;
      if (device == "this")
        lat = evit::cost::local_latency<space>(profiler);
      else if (lut_dir.empty())
        lat = evit::cost::mobile_latency<space>(device);
      else
        lat = evit::cost::mobile_latency<space>(lut_dir, device);
      const double lo = lat(space::min_arch()), hi = lat(space::max_arch());
      std::vector<double> bs = budget_ms;
      if (bs.empty())
        for (long k = 1; k <= budgets; ++k)
          bs.push_back(lo * std::pow(hi / lo, static_cast<double>(k) / (budgets + 1)));
      if (!quiet)
        std::fprintf(stderr, "%s: subnets from %.2f ms (min) to %.2f ms (max)\n", device.c_str(),
                     lo, hi);
      for (double budget : bs) {
        const auto t0 = std::chrono::steady_clock::now();
        auto o = opts;
        if (!quiet)
          o.on_progress([&, tty](const evit::search_progress& p) {
            const bool last = p.iteration == p.iterations;
            if (!tty && !last && p.iteration % 10 != 0) return;
            std::fprintf(stderr,
                         "%s  %-9s <= %8.2f ms: iteration %3d/%d, %6llu subnets, best %.2f%s",
                         tty ? "\r" : "", device.c_str(), budget, p.iteration, p.iterations,
                         static_cast<unsigned long long>(p.evaluations), p.best_score,
                         tty && !last ? "" : "\n");
          });
        const auto con = evit::cost::at_most(lat, budget, "latency ms");
        evit::search_result r;
        if (top1) {
          r = evit::evolutionary_search<space>(*top1, con, o, static_cast<std::uint64_t>(seed));
        } else {
          r = evit::evolutionary_search<space>(macs_objective, con, o,
                                               static_cast<std::uint64_t>(seed));
        }
        row w;
        w.device = device;
        w.budget = budget;
        w.evaluations = r.evaluations;
        if (!r.ok()) {
          w.status = "infeasible: " + r.message;
          w.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          rows.push_back(w);
          if (!quiet) std::fprintf(stderr, "\n  %s\n", w.status.c_str());
          continue;
        }
        // This machine: confirm the best few by measurement; keep the best that fits.
        std::size_t pick = 0;
        double meas = -1, ci = 0;
        if (device == "this") {
          const std::size_t n =
              std::min<std::size_t>(static_cast<std::size_t>(confirm), r.ranked.size());
          bool found = false;
          for (std::size_t k = 0; k < n && !found; ++k) {
            const auto s = measured->measure(r.ranked[k].subnet);
            if (k == 0 || s.median_ms <= budget) {
              pick = k;
              meas = s.median_ms;
              ci = s.rel_ci();
            }
            found = s.median_ms <= budget;
          }
          w.within = found;
        }
        const evit::evaluated& e = r.ranked[pick];
        w.subnet = e.subnet;
        w.objective = e.values[0];
        w.mmacs = ev::macs(e.subnet) * 1e-6;
        w.predicted = e.costs[0];
        w.measured = meas;
        w.measured_ci = ci;
        w.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rows.push_back(w);
        for (std::size_t k = 0; k < r.ranked.size(); ++k)
          pcsv << device << "," << fmt(budget, 3) << "," << fmt(r.ranked[k].costs[0], 4) << ","
               << fmt(r.ranked[k].values[0], 4) << "," << (k == pick ? 1 : 0) << "\n";
      }
      if (device == "this") profiler->table().save(table_path);
    }
    pcsv.close();
    const double total_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();

    // The table.
    std::printf("\n%-9s %10s %9s %9s %12s %16s  %s\n", "device", "budget ms",
                top1 ? "top-1 %" : "MMACs*", "MMACs", "predicted ms", "measured ms", "subnet");
    for (const row& w : rows) {
      if (w.status != "ok") {
        std::printf("%-9s %10.2f  %s\n", w.device.c_str(), w.budget, w.status.c_str());
        continue;
      }
      std::string m = "-";
      if (w.measured >= 0)
        m = fmt(w.measured, 2) + " +-" + fmt(100 * w.measured_ci, 0) + "%" +
            (w.within ? "" : " (!)");
      std::printf("%-9s %10.2f %9s %9.1f %12.2f %16s  %s\n", w.device.c_str(), w.budget,
                  fmt(w.objective, top1 ? 2 : 1).c_str(), w.mmacs, w.predicted, m.c_str(),
                  evit::to_string<space>(w.subnet).c_str());
    }
    if (!top1) std::printf("* the objective: a proxy (official MMACs), not accuracy\n");
    if (wants_this)
      std::printf(
          "this machine: %zu blocks profiled now (%.1f s), %zu in %s; measured ms: median "
          "of whole forwards +- its 95%% interval; (!) = every confirmed winner over budget\n",
          profiler->profiled(), profiler->seconds(), profiler->table().size(), table_path.c_str());

    // JSON and CSV.
    nlohmann::json j;
    j["objective"] = objective_name;
    j["search"] = opts.to_json();
    j["seed"] = seed;
    j["seconds"] = total_s;
    j["results"] = nlohmann::json::array();
    std::ofstream csv(out + "/results.csv");
    csv << "device,budget_ms,objective,mmacs,predicted_ms,measured_ms,measured_rel_ci,status,"
           "subnet\n";
    for (const row& w : rows) {
      nlohmann::json x = {{"device", w.device},
                          {"budget_ms", w.budget},
                          {"status", w.status},
                          {"evaluations", w.evaluations},
                          {"seconds", w.seconds}};
      if (w.status == "ok") {
        x["subnet"] = evit::to_string<space>(w.subnet);
        x["official_list"] = ev::to_official_list(w.subnet);
        x["objective"] = w.objective;
        x["mmacs"] = w.mmacs;
        x["predicted_ms"] = w.predicted;
        if (w.measured >= 0) {
          x["measured_ms"] = w.measured;
          x["measured_rel_ci"] = w.measured_ci;
          x["measured_within_budget"] = w.within;
        }
      }
      j["results"].push_back(x);
      csv << w.device << "," << fmt(w.budget, 3) << "," << fmt(w.objective, 4) << ","
          << fmt(w.mmacs, 2) << "," << fmt(w.predicted, 3) << ","
          << (w.measured >= 0 ? fmt(w.measured, 3) : "") << ","
          << (w.measured >= 0 ? fmt(w.measured_ci, 4) : "") << ","
          << (w.status == "ok" ? "ok" : "infeasible") << ",\""
          << (w.status == "ok" ? evit::to_string<space>(w.subnet) : "") << "\"\n";
    }
    std::ofstream(out + "/results.json") << j.dump(2) << "\n";
    std::printf("wrote %s/results.json, %s/results.csv, %s/points.csv\n", out.c_str(), out.c_str(),
                out.c_str());

    // The plot (optional).
    const std::string script = find_plot_script(argv[0]);
    const std::string png = out + "/latency.png";
    // Debian's python3-matplotlib belongs to the system interpreter, which a PATH may shadow.
    const std::string python = is_file("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    if (script.empty()) {
      std::printf("plot: skipped (tools/plot_search.py not found from here)\n");
    } else if (std::system((python + " -c 'import matplotlib' > /dev/null 2>&1").c_str()) != 0) {
      std::printf(
          "plot: skipped (python3-matplotlib is not installed; run %s %s %s %s "
          "where it is)\n",
          python.c_str(), script.c_str(), out.c_str(), png.c_str());
    } else {
      const std::string cmd = python + " '" + script + "' '" + out + "' '" + png + "'";
      if (std::system(cmd.c_str()) == 0)
        std::printf("plot: %s\n", png.c_str());
      else
        std::printf("plot: the script failed (%s); results are in the CSV files\n", cmd.c_str());
    }
    std::printf("done in %.1f s\n", total_s);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "search_subnet: %s\n", e.what());
    return 1;
  }
}
