// SPDX-License-Identifier: MIT
// run_subnet: run one subnet of an ElasticViT supernet, straight from the supernet's weights.
// Prints the ISA it runs, the top-5 logits of the first image, the subnet's MMACs and the latency
// (median, p90).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <evit/evit.hpp>

namespace ev = evit::elasticvit;

namespace {

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: run_subnet [--weights FILE] [--space official|mini] [--arch A]\n"
      "                  [--batch N] [--threads N] [--repeat N] [--seed N]\n"
      "                  [--isa sse2|avx2|avx512|neon] [--logits] [--allow-extra-tensors]\n"
      "  Runs subnet A of an ElasticViT supernet on random images and prints the top-5\n"
      "  logits of the first image, the subnet's MMACs (official count) and its latency.\n"
      "  --weights FILE  supernet weights (safetensors, official names); default: a\n"
      "                  random-initialised supernet of the space\n"
      "  --space S       official (default) or mini (the reference supernet's space)\n"
      "  --arch A        a released name (elastic_T1 ... elastic_L3, or T1 ... L3), the\n"
      "                  compact text form, JSON, or an official 10-list; default\n"
      "                  elastic_T1 (official) / the max subnet (mini)\n"
      "  --batch N       images per forward (default 1)\n"
      "  --threads N     worker threads over the batch (default 1)\n"
      "  --repeat N      timed forwards after one warm-up (default 20)\n"
      "  --seed N        seed of the random images and weights (default 1)\n"
      "  --isa I         run the kernels of ISA I (default: the best this CPU has; also\n"
      "                  the environment variable EVIT_ISA)\n"
      "  --logits        print every logit of image 0 (9 significant digits)\n"
      "  --allow-extra-tensors  load a checkpoint with tensors the space does not use\n");
}

template <class Space>
evit::arch parse_any(const std::string& text) {
  if (text.empty()) throw evit::parse_error("--arch: empty");
  if (text[0] == '[') return ev::from_official_list<Space>(text);
  if (text[0] == '{') return evit::from_json_text(Space::descriptor(), text);
  if (text[0] == 'r' && text.size() > 1 && text[1] >= '0' && text[1] <= '9')
    return evit::parse<Space>(text);
  if constexpr (std::is_same_v<Space, ev::official_space>) {
    return ev::released(text);
  } else {
    throw evit::parse_error("--arch: \"" + text +
                            "\" is not a subnet of the mini space (give text, JSON or a 10-list)");
  }
}

template <class Space>
int run(const std::string& weights, std::string arch_text, long batch, int threads, int repeat,
        std::uint64_t seed, bool all_logits, bool allow_extra) {
  using net_t = ev::supernet<Space>;
  const auto t0 = std::chrono::steady_clock::now();
  const net_t net = weights.empty()
                        ? net_t::random(seed)
                        : net_t::load(weights, ev::load_options().allow_extra_tensors(allow_extra));
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const evit::arch a = arch_text.empty() ? Space::max_arch() : parse_any<Space>(arch_text);
  const int r = a.resolution();
  evit::rng g(seed + 1);
  std::vector<float> images(static_cast<std::size_t>(batch) * 3 * r * r);
  for (auto& x : images) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
  const int classes = net.num_classes();
  std::vector<float> logits(static_cast<std::size_t>(batch * classes));
  ev::forward_workspace ws;
  evit::thread_pool pool(threads);
  ws.reserve(Space::descriptor(), batch, threads);
  auto once = [&] {
    const auto s = std::chrono::steady_clock::now();
    net.forward(a, images.data(), batch, logits.data(), ws, ev::forward_options().executor(pool));
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
  };
  once();  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) ms.push_back(once());
  std::sort(ms.begin(), ms.end());
  const auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * (ms.size() - 1) + 0.5))];
  };
  std::printf("isa:      %s\n", evit::simd::isa_description(evit::simd::active_isa()).c_str());
  std::printf("supernet: %s (%s, loaded in %.0f ms)\n",
              weights.empty() ? "random weights" : weights.c_str(),
              Space::descriptor().name.c_str(), load_ms);
  std::printf("subnet:   %s\n", evit::to_string<Space>(a).c_str());
  std::printf("MMACs:    %.2f (official count), %.2f (corrected); params %.2f M\n",
              ev::macs<Space>(a) / 1e6, ev::macs_corrected<Space>(a) / 1e6,
              ev::params<Space>(a) / 1e6);
  std::vector<int> order(static_cast<std::size_t>(classes));
  for (int i = 0; i < classes; ++i) order[static_cast<std::size_t>(i)] = i;
  std::partial_sort(
      order.begin(), order.begin() + std::min(5, classes), order.end(), [&](int x, int y) {
        return logits[static_cast<std::size_t>(x)] > logits[static_cast<std::size_t>(y)];
      });
  std::printf("top-5 logits of image 0:");
  for (int i = 0; i < std::min(5, classes); ++i)
    std::printf(" [%d] %.4f", order[static_cast<std::size_t>(i)],
                logits[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
  if (all_logits) {
    std::printf("\nlogits of image 0:");
    for (int i = 0; i < classes; ++i) std::printf(" %.9g", logits[static_cast<std::size_t>(i)]);
  }
  std::printf("\nlatency:  median %.3f ms, p90 %.3f ms over %d runs (batch %ld, %d thread%s)\n",
              pct(0.5), pct(0.9), repeat, batch, threads, threads == 1 ? "" : "s");
  return 0;
}

long parse_count(const char* flag, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi)
    throw evit::invalid_argument(std::string(flag) + ": \"" + v + "\" is not an integer in [" +
                                 std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights, space = "official", arch;
  long batch = 1, threads = 1, repeat = 20, seed = 1;
  bool all_logits = false, allow_extra = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string f = argv[i];
      if (f == "--help" || f == "-h") {
        usage(stdout);
        return 0;
      }
      if (f == "--logits" || f == "--allow-extra-tensors") {
        (f == "--logits" ? all_logits : allow_extra) = true;
        continue;
      }
      if (i + 1 >= argc) throw evit::invalid_argument(f + ": missing value (see --help)");
      const std::string v = argv[++i];
      if (f == "--weights")
        weights = v;
      else if (f == "--space")
        space = v;
      else if (f == "--arch")
        arch = v;
      else if (f == "--batch")
        batch = parse_count("--batch", v, 1, 4096);
      else if (f == "--threads")
        threads = parse_count("--threads", v, 1, 256);
      else if (f == "--repeat")
        repeat = parse_count("--repeat", v, 1, 100000);
      else if (f == "--seed")
        seed = parse_count("--seed", v, 0, 1L << 40);
      else if (f == "--isa")
        evit::simd::set_isa(evit::simd::parse_isa(v));
      else
        throw evit::invalid_argument("unknown option " + f + " (see --help)");
    }
    if (space == "official")
      return run<ev::official_space>(weights, arch.empty() ? "elastic_T1" : arch, batch,
                                     static_cast<int>(threads), static_cast<int>(repeat),
                                     static_cast<std::uint64_t>(seed), all_logits, allow_extra);
    if (space == "mini")
      return run<ev::mini_space>(weights, arch, batch, static_cast<int>(threads),
                                 static_cast<int>(repeat), static_cast<std::uint64_t>(seed),
                                 all_logits, allow_extra);
    throw evit::invalid_argument("--space: \"" + space + "\" (allowed: official, mini)");
  } catch (const evit::error& e) {
    std::fprintf(stderr, "run_subnet: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "run_subnet: out of memory\n");
    return 1;
  }
}
