// SPDX-License-Identifier: MIT
// The MPI backend (include/evit/mpi/) under mpirun -np 1, 2, 3 (tests/mpi/CMakeLists.txt): real
// top-1 evaluations (a random fashion-space supernet on random labelled images) across ranks give
// values bit-identical to the one-process search of the same seed; an injected exception on one
// rank ends the evaluation with an error naming that rank and the subnet, and the ranks stay
// usable; a search saved at one number of ranks resumes at another with the one-process result.
//   mpi_search_test identical | fault | save <state.json> <iterations> | resume <state.json>
// Prints "mpi_search_test <mode>: ranks N, rank 0: all K checks passed" on rank 0 (any failure:
// "FAILED: ..." and exit status 1).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <evit/evit.hpp>
#include <evit/mpi/environment.hpp>
#include <evit/mpi/evaluator_pool.hpp>

namespace ev = evit::elasticvit;
using space = ev::fashion_space;
using top1 = ev::top1_evaluator<space>;

namespace {

int checks = 0, failures = 0;
void check(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::cerr << "FAILED: " << what << "\n";
  }
}
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
std::string bits(double v) {
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g (0x%016llx)", v, static_cast<unsigned long long>(u));
  return buf;
}

// Every rank builds the same evaluator: the same random supernet and images (100 images: 50
// recalibrate, 50 are scored in forward batches of 8, so 7 batches, the last of 2 images: shares
// of 2 and 3 ranks split them unevenly). The labels are the smallest subnet's answers after the
// evaluator's own recalibration, not random ones: it scores 100%, the others far from chance and
// differently, so that an image counted twice or not at all changes a value.
const ev::supernet<space>& network() {
  static const ev::supernet<space> net = ev::supernet<space>::random(21);
  return net;
}
const evit::io::labelled_images& images() {
  static const evit::io::labelled_images set = [] {
    evit::io::labelled_images s = evit::io::random_labelled_images(100, 28, 10, 5);
    const evit::arch& teacher = space::min_arch();
    const std::size_t per = 3 * 28 * 28;
    std::vector<std::vector<float>> calibration;
    for (std::size_t i = 0; i < 50; i += 8)
      calibration.emplace_back(
          s.images.begin() + static_cast<std::ptrdiff_t>(i * per),
          s.images.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(i + 8, 50) * per));
    ev::forward_workspace ws;
    evit::thread_pool pool(1);
    const ev::bn_override bn = network().recalibrate(teacher, calibration, ws, pool);
    const std::vector<float> logits =
        network().forward(teacher, s.images, static_cast<evit::Index>(s.size()), ws,
                          ev::forward_options().bn(bn).executor(pool));
    for (std::size_t i = 0; i < s.size(); ++i) s.labels[i] = ev::top_k(&logits[i * 10], 10, 1)[0];
    return s;
  }();
  return set;
}
top1 make_top1() { return top1(network(), images(), {0.5, 8, 1}); }

evit::evolution_options small_search() {
  return evit::evolution_options()
      .name("mpi-test")
      .population(8)
      .parents(4)
      .mutations(4)
      .crossovers(3)
      .iterations(3);
}
constexpr std::uint64_t seed = 17;

// The one-process search: records, parents.
template <class Got, class Want>
void compare(const Got& got, const Want& want, const std::string& what) {
  check(got.records().size() == want.records().size(),
        what + ": " + std::to_string(got.records().size()) + " records, one process " +
            std::to_string(want.records().size()));
  const std::size_t n = std::min(got.records().size(), want.records().size());
  for (std::size_t i = 0; i < n; ++i) {
    const evit::evaluated &g = got.records()[i], &w = want.records()[i];
    check(g.subnet == w.subnet, what + ": record " + std::to_string(i) + " is another subnet");
    check(g.values.size() == 1 && same_bits(g.values[0], w.values[0]),
          what + ": record " + std::to_string(i) + " value " + bits(g.values.at(0)) +
              ", one process " + bits(w.values.at(0)));
  }
  check(got.parents() == want.parents(), what + ": other winners than one process");
}

template <class Evo>
void print_winners(const Evo& e, const char* what) {
  std::cout << what << " winners:";
  for (int i : e.parents()) std::cout << " " << e.records()[static_cast<std::size_t>(i)].values[0];
  std::cout << " (best "
            << evit::to_string<space>(e.records()[static_cast<std::size_t>(e.parents()[0])].subnet)
            << ")\n";
}

auto sequential_search() {
  auto evo =
      evit::make_evolution<space>(make_top1(), evit::cost::unconstrained(), small_search(), seed);
  evo.run();
  return evo;
}

// `n` random subnets of the space, the same on every rank.
std::vector<evit::arch> sample(std::size_t n, std::uint64_t s) {
  evit::rng g(s);
  std::vector<evit::arch> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(space::sample(g));
  return v;
}

// Mode identical: searches and direct batches of every size from 1 to ranks + 2.
void identical(evit::mpi::environment& env) {
  evit::mpi::evaluator_pool<space, top1> pool(make_top1());
  pool.run([&] {
    const top1 reference = make_top1();
    const std::vector<double> teacher = pool.evaluate({space::min_arch()});
    check(teacher.size() == 1 && same_bits(teacher[0], 100.0),
          "the smallest subnet (the labels' teacher): " + bits(teacher.at(0)) + ", want 100");
    // Batches of 1 .. size + 2 subnets: fewer than ranks go data-parallel.
    for (std::size_t n = 1; n <= static_cast<std::size_t>(env.size()) + 2; ++n) {
      std::vector<evit::arch> batch = sample(n, 100 + n);
      batch.back() = space::min_arch();
      const std::vector<double> got = pool.evaluate(batch);
      check(got.size() == n,
            "batch of " + std::to_string(n) + ": " + std::to_string(got.size()) + " values");
      for (std::size_t j = 0; j < n && j < got.size(); ++j) {
        const double want = reference(batch[j]);
        check(same_bits(got[j], want), "batch of " + std::to_string(n) + ", subnet " +
                                           std::to_string(j) + ": " + bits(got[j]) +
                                           ", one process " + bits(want));
      }
    }
    const bool sharding = env.size() > 1;
    check((pool.stats().sharded_subnets > 0) == sharding,
          "data-parallel subnets: " + std::to_string(pool.stats().sharded_subnets));
    // The whole search.
    auto want = sequential_search();
    auto got = evit::make_evolution<space>(pool.objective(), evit::cost::unconstrained(),
                                           small_search(), seed);
    const std::uint64_t calls = pool.stats().calls;
    got.run();
    compare(got, want, "search");
    check(pool.stats().calls - calls == 4,
          "the search made " + std::to_string(pool.stats().calls - calls) +
              " batch calls, want 4 (the initial population and 3 iterations)");
    print_winners(want, "one process");
    print_winners(got, "mpi");
    // Wrong use: rank 0 does not serve; a bad range is refused with the numbers.
    try {
      pool.serve();
      check(false, "serve() on rank 0 did not throw");
    } catch (const evit::invalid_argument& e) {
      check(std::string(e.what()).find("called on rank 0") != std::string::npos,
            std::string("serve() on rank 0: ") + e.what());
    }
    try {
      reference.count_correct(space::min_arch(), 5, 3);
      check(false, "count_correct(5, 3) did not throw");
    } catch (const evit::invalid_argument& e) {
      check(std::string(e.what()).find("[5, 3) of 50 scored images") != std::string::npos,
            std::string("count_correct(5, 3): ") + e.what());
    }
    std::cout << "bytes per subnet: "
              << static_cast<double>(pool.stats().bytes_broadcast) /
                     static_cast<double>(pool.stats().subnets)
              << " broadcast, "
              << static_cast<double>(pool.stats().bytes_gathered) /
                     static_cast<double>(pool.stats().subnets)
              << " gathered\n";
  });
  // Subnets given to ranks by predicted cost (MACs), longest first: the same values, every rank
  // busy.
  evit::mpi::pool_options by_macs;
  by_macs.cost = [](const evit::arch& a) { return ev::macs(space::descriptor(), a); };
  evit::mpi::evaluator_pool<space, top1> balanced(make_top1(), MPI_COMM_WORLD, by_macs);
  balanced.run([&] {
    auto got = evit::make_evolution<space>(balanced.objective(), evit::cost::unconstrained(),
                                           small_search(), seed);
    got.run();
    compare(got, sequential_search(), "search, subnets given to ranks by MACs");
    for (std::size_t r = 0; r < balanced.stats().rank_seconds.size(); ++r)
      check(balanced.stats().rank_seconds[r] > 0,
            "rank " + std::to_string(r) + " evaluated nothing with subnets given by MACs");
  });
  // A cost estimate that is not a cost is refused, with the value and the subnet.
  evit::mpi::pool_options negative;
  negative.cost = [](const evit::arch&) { return -1.0; };
  evit::mpi::evaluator_pool<space, top1> refused(make_top1(), MPI_COMM_WORLD, negative);
  refused.run([&] {
    try {
      // More subnets than ranks: candidate-parallel, where the estimate is used.
      std::vector<evit::arch> batch = sample(static_cast<std::size_t>(env.size()) + 1, 7);
      batch[0] = space::min_arch();
      refused.evaluate(batch);
      check(false, "a negative cost estimate was accepted");
    } catch (const evit::invalid_argument& e) {
      const std::string want = "mpi::pool_options::cost: -1.000000 for subnet " +
                               evit::to_string<space>(space::min_arch()) +
                               " (a cost must be finite and >= 0)";
      check(e.what() == want, std::string("negative cost: \"") + e.what() + "\"");
    }
  });
  if (env.rank() != 0) {
    try {
      pool.evaluate({space::min_arch()});
      check(false, "evaluate() on rank " + std::to_string(env.rank()) + " did not throw");
    } catch (const evit::invalid_argument& e) {
      check(std::string(e.what()).find("only rank 0 evaluates") != std::string::npos,
            std::string("evaluate() on a worker: ") + e.what());
    }
  }
}

// Fails on one rank for one subnet; otherwise top1.
struct faulty {
  top1 inner;
  int fail_rank;
  int my_rank;
  std::string target;

  void trip(const evit::arch& a) const {
    if (my_rank == fail_rank && evit::to_string<space>(a) == target)
      throw std::runtime_error("injected fault");
  }
  double operator()(const evit::arch& a) const {
    trip(a);
    return inner(a);
  }
  std::size_t scored() const { return inner.scored(); }
  std::size_t batch() const { return inner.batch(); }
  double percent(std::size_t c) const { return inner.percent(c); }
  std::size_t count_correct(const evit::arch& a, std::size_t b, std::size_t e) const {
    trip(a);
    return inner.count_correct(a, b, e);
  }
};

// Mode fault: the last rank throws for one subnet, in a batch (candidate-parallel), alone
// (data-parallel with several ranks) and in a search; rank 0 reports the rank and the subnet.
void fault(evit::mpi::environment& env) {
  const int bad = env.size() - 1;
  // The search's initial population is the first random subnets of its engine (unconstrained,
  // no repair, distinct): subnet `bad` of it goes to rank `bad`.
  const std::vector<evit::arch> first = sample(small_search().population(), seed);
  const std::string target = evit::to_string<space>(first[static_cast<std::size_t>(bad)]);
  evit::mpi::evaluator_pool<space, faulty> pool(faulty{make_top1(), bad, env.rank(), target});
  auto expect_failure = [&](const std::vector<evit::arch>& batch, const std::string& what) {
    try {
      pool.evaluate(batch);
      check(false, what + ": no error");
    } catch (const evit::error& e) {
      const std::string m = e.what();
      const std::string want = "mpi: rank " + std::to_string(bad) + " of " +
                               std::to_string(env.size()) + " failed on subnet " + target +
                               ": injected fault";
      check(m == want, what + ": \"" + m + "\", want \"" + want + "\"");
    }
  };
  bool search_failed = false;
  try {
    pool.run([&] {
      expect_failure(first, "a batch");
      expect_failure({first[static_cast<std::size_t>(bad)]}, "the subnet alone");
      // The ranks are still there: a batch without the subnet.
      const top1 reference = make_top1();
      const std::vector<evit::arch> fine(first.begin(), first.begin() + bad);
      const std::vector<double> got = pool.evaluate(fine);
      for (std::size_t j = 0; j < fine.size(); ++j)
        check(same_bits(got[j], reference(fine[j])),
              "after a failure, subnet " + std::to_string(j) + ": " + bits(got[j]));
      // A search meets the subnet in its initial population.
      auto evo = evit::make_evolution<space>(pool.objective(), evit::cost::unconstrained(),
                                             small_search(), seed);
      evo.run();
    });
  } catch (const evit::error& e) {
    search_failed = true;
    const std::string m = e.what();
    check(m.find("rank " + std::to_string(bad)) != std::string::npos &&
              m.find(target) != std::string::npos,
          "the search's error \"" + m + "\" names neither the rank nor the subnet");
  }
  if (env.rank() == 0) check(search_failed, "the search ended without the injected error");
}

// Mode save: the search to `iterations`, its state saved at every step.
void save(evit::mpi::environment&, const std::string& path, int iterations) {
  evit::mpi::evaluator_pool<space, top1> pool(make_top1());
  pool.run([&] {
    auto evo = evit::make_evolution<space>(pool.objective(), evit::cost::unconstrained(),
                                           small_search(), seed);
    while (evo.iteration() < iterations && evo.step()) evo.save(path);
    check(evo.iteration() == iterations, "saved at iteration " + std::to_string(evo.iteration()));
  });
}

// Mode resume: the saved search to its end, compared with the one-process search.
void resume(evit::mpi::environment&, const std::string& path) {
  evit::mpi::evaluator_pool<space, top1> pool(make_top1());
  pool.run([&] {
    auto evo = evit::make_evolution<space>(pool.objective(), evit::cost::unconstrained(),
                                           small_search(), seed);
    evo.load(path);
    const int from = evo.iteration();
    check(from >= 0 && from < small_search().iterations(),
          "the state is at iteration " + std::to_string(from));
    evo.run();
    compare(evo, sequential_search(), "resumed from iteration " + std::to_string(from));
  });
}

}  // namespace

int main(int argc, char** argv) {
  evit::mpi::environment env(argc, argv);
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "identical") {
      identical(env);
    } else if (mode == "fault") {
      fault(env);
    } else if (mode == "save" && argc == 4) {
      save(env, argv[2], std::stoi(argv[3]));
    } else if (mode == "resume" && argc == 3) {
      resume(env, argv[2]);
    } else {
      if (env.rank() == 0)
        std::cerr << "usage: mpi_search_test identical | fault | save <state.json> <iterations> "
                     "| resume <state.json>\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "rank " << env.rank() << ": unexpected exception: " << e.what() << "\n";
    return 1;
  }
  if (env.rank() == 0 || failures > 0)
    std::cout << "mpi_search_test " << mode << ": ranks " << env.size() << ", rank " << env.rank()
              << ": "
              << (failures == 0
                      ? "all " + std::to_string(checks)
                      : std::to_string(checks - failures) + " of " + std::to_string(checks))
              << " checks passed\n";
  return failures == 0 ? 0 : 1;
}
