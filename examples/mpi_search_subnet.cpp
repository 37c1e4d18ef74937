// SPDX-License-Identifier: MIT
// mpi_search_subnet: the top-1 search of a Fashion-MNIST supernet spread over MPI processes
// (include/evit/mpi/, docs/mpi.md). Rank 0 runs the evolutionary search (the ElasticViT preset);
// every rank, rank 0 included, scores its share of each generation's new subnets (or, when a
// generation has fewer subnets than ranks, its share of each subnet's images). The winners are
// bit-identical to the one-process search of the same seed whatever the number of ranks
// (--check runs that search too and compares). Prints the winners and the wall time.
//   mpirun -np 2 build/release/examples/mpi_search_subnet --val random:2000
//   mpirun -np 4 ... --weights run/supernet.safetensors --val val.safetensors --state s.json
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <evit/evit.hpp>
#include <evit/mpi/environment.hpp>
#include <evit/mpi/evaluator_pool.hpp>

#include "cli.hpp"
#include "search_report.hpp"

namespace ev = evit::elasticvit;
using space = ev::fashion_space;
using top1 = ev::top1_evaluator<space>;

namespace {

struct options {
  std::string weights = "random", val = "random:2000", state, resume;
  int population = -1, iterations = -1, threads = 1, batch = 16;
  double max_mmacs = 0;
  long long seed = 7;
  bool check = false, no_shard = false, round_robin = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class Evo>
void print_winners(const Evo& evo, const char* title) {
  std::printf("%s\n  %-4s %9s %9s  %s\n", title, "#", "top-1 %", "MMACs", "subnet");
  int k = 0;
  for (int i : evo.parents()) {
    const evit::evaluated& r = evo.records()[static_cast<std::size_t>(i)];
    std::printf("  %-4d %9.4f %9.2f  %s\n", ++k, r.values[0],
                ev::macs(space::descriptor(), r.subnet) / 1e6,
                evit::to_string<space>(r.subnet).c_str());
  }
}

int run_search(const options& o, evit::mpi::environment& env) {
  const auto t_setup = std::chrono::steady_clock::now();
  const auto net = std::make_shared<const ev::supernet<space>>(
      o.weights == "random" ? ev::supernet<space>::random(1)
                            : ev::supernet<space>::load(o.weights));
  const int classes = net->num_classes();
  const int side = space::descriptor().resolution.back();
  evit::io::labelled_images set =
      o.val.rfind("random:", 0) == 0
          ? evit::io::random_labelled_images(example::count_after("random:", o.val), side, classes,
                                             99)
          : evit::io::load_labelled_images(o.val, classes);
  const std::size_t images = set.size();
  const top1 objective(net, std::move(set), {0.5, o.batch, o.threads});
  evit::mpi::pool_options po;
  po.shard = !o.no_shard;
  // Subnets of the fashion space differ about 20x in MACs: give them to ranks by MACs, longest
  // first, so that no rank waits on another's large subnets (the values do not depend on it).
  if (!o.round_robin)
    po.cost = [](const evit::arch& a) { return ev::macs(space::descriptor(), a); };
  evit::mpi::evaluator_pool<space, top1> pool(objective, MPI_COMM_WORLD, po);

  evit::evolution_options opts = evit::presets::elasticvit_search();
  if (o.population > 0) example::scale_population(opts, o.population);
  if (o.iterations >= 0) opts.iterations(o.iterations);
  const double max_macs = o.max_mmacs > 0 ? o.max_mmacs * 1e6 : 1e300;
  const auto constraint = evit::cost::at_most(ev::macs_model<space>{}, max_macs);
  const auto seed = static_cast<std::uint64_t>(o.seed);
  int status = 0;
  pool.run([&] {
    std::printf("mpi: %d ranks (%s)\n", env.size(), evit::mpi::environment::library().c_str());
    std::printf("isa: %s\n", evit::simd::isa_description(evit::simd::active_isa()).c_str());
    std::printf(
        "space: %s; objective: top-1 %% on %zu images (%zu recalibrate, %zu scored), "
        "supernet %s, set %s\n",
        space::descriptor().name.c_str(), images, images - objective.scored(), objective.scored(),
        o.weights.c_str(), o.val.c_str());
    std::printf(
        "search: preset %s (population %d, parents %d, %d mutations + %d crossovers, %d "
        "iterations), seed %lld; setup %.2f s\n",
        opts.name().c_str(), opts.population(), opts.parents(), opts.mutations(), opts.crossovers(),
        opts.iterations(), o.seed, seconds_since(t_setup));
    std::fflush(stdout);
    auto evo = evit::make_evolution<space>(pool.objective(), constraint, opts, seed);
    if (!o.resume.empty()) {
      evo.load(o.resume);
      std::printf("resumed %s at iteration %d (%zu subnets evaluated)\n", o.resume.c_str(),
                  evo.iteration(), evo.records().size());
    }
    const auto t0 = std::chrono::steady_clock::now();
    while (evo.step()) {
      if (!o.state.empty()) evo.save(o.state);
    }
    if (!o.state.empty()) evo.save(o.state);
    const double wall = seconds_since(t0);
    const evit::mpi::pool_stats& st = pool.stats();
    if (evo.parents().empty()) throw evit::infeasible(evo.result().message);
    print_winners(evo, "winners (best first):");
    std::printf(
        "wall time: %.2f s for %llu subnets in %llu generations on %d ranks (%.1f ms "
        "per subnet; %llu data-parallel)\n",
        wall, static_cast<unsigned long long>(st.subnets),
        static_cast<unsigned long long>(st.calls), env.size(),
        st.subnets ? 1e3 * wall / static_cast<double>(st.subnets) : 0.0,
        static_cast<unsigned long long>(st.sharded_subnets));
    std::printf(
        "messages: %.0f bytes broadcast and %.0f bytes gathered per subnet\n",
        st.subnets ? static_cast<double>(st.bytes_broadcast) / static_cast<double>(st.subnets)
                   : 0.0,
        st.subnets ? static_cast<double>(st.bytes_gathered) / static_cast<double>(st.subnets)
                   : 0.0);
    std::printf("per rank: evaluating (wall s / CPU s):");
    for (std::size_t r = 0; r < st.rank_seconds.size(); ++r)
      std::printf(" %zu: %.2f/%.2f", r, st.rank_seconds[r], st.rank_cpu_seconds[r]);
    std::printf("\n");
    if (o.check) {
      const auto t1 = std::chrono::steady_clock::now();
      // The same evaluator (copies share its state), called subnet by subnet on this rank.
      auto one = evit::make_evolution<space>(objective, constraint, opts, seed);
      one.run();
      bool same = one.records().size() == evo.records().size() && one.parents() == evo.parents();
      for (std::size_t i = 0; same && i < one.records().size(); ++i)
        same = one.records()[i].subnet == evo.records()[i].subnet &&
               std::memcmp(one.records()[i].values.data(), evo.records()[i].values.data(),
                           sizeof(double)) == 0;
      std::printf("check: the one-process search (%.2f s) gives %s\n", seconds_since(t1),
                  same ? "the same winners and every value bit for bit" : "OTHER RESULTS");
      if (!same) status = 1;
    }
  });
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  evit::mpi::environment env(argc, argv);
  // One voice: ranks > 0 print nothing on stdout (their errors reach rank 0, which reports them).
  if (env.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
  options o;
  CLI::App app(
      "Top-1 evolutionary search of a Fashion-MNIST supernet (fashion space) over MPI: run it "
      "under mpirun; rank 0 searches, every rank scores subnets. Same winners as one process.",
      "mpi_search_subnet");
  app.add_option("--weights", o.weights,
                 "the supernet (safetensors, examples/python/train_supernet.py), or random "
                 "(default: a random supernet)");
  app.add_option("--val", o.val,
                 "the labelled set (train_supernet.py --export-val), or random:N (default "
                 "random:2000); half recalibrates BatchNorm, half is scored");
  app.add_option("--population", o.population, "population (the preset's, scaled)")
      ->check(example::integer_in(2, 100000));
  app.add_option("--iterations", o.iterations, "iterations (default: the preset's)")
      ->check(example::integer_in(0, 100000));
  app.add_option("--max-mmacs", o.max_mmacs, "at most this many MMACs (default: no limit)")
      ->check(example::positive_number());
  app.add_option("--threads", o.threads, "forward threads per rank (default 1)")
      ->check(example::integer_in(1, 256));
  app.add_option("--batch", o.batch, "images per forward (default 16)")
      ->check(example::integer_in(1, 4096));
  app.add_option("--seed", o.seed, "search seed (default 7)");
  app.add_option("--state", o.state, "save the search state here after every generation");
  app.add_option("--resume", o.resume,
                 "resume a saved state (any number of ranks; same options and seed)");
  app.add_flag("--no-shard", o.no_shard,
               "never share one subnet's images between ranks (default: when a generation has "
               "fewer subnets than ranks)");
  app.add_flag("--round-robin", o.round_robin,
               "give subnet j of a generation to rank j % ranks (default: by MACs, longest "
               "first to the least loaded rank)");
  app.add_flag("--check", o.check,
               "also run the one-process search on rank 0 and compare (bit for bit)");
  example::add_isa_option(app);
  return example::run(app, argc, argv, 2, [&] { return run_search(o, env); });
}
