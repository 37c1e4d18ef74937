// SPDX-License-Identifier: MIT
// space_info: what a search space contains. For a named space prints its stages and choices, its
// exact number of subnets, its min and max subnets with MACs and parameters, and for ElasticViT
// the 9 released subnets.
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <evit/evit.hpp>

#include "cli.hpp"

namespace ev = evit::elasticvit;
namespace af = evit::autoformer;

namespace {

struct space_entry {
  const char* key;
  const char* what;
  const evit::space_descriptor& (*descriptor)();
  evit::arch (*min_arch)();
  evit::arch (*max_arch)();
  evit::big_uint (*cardinality)();
  double (*macs)(const evit::space_descriptor&, const evit::arch&);
  double (*params)(const evit::space_descriptor&, const evit::arch&);
};

template <class S>
space_entry entry(const char* key, const char* what,
                  double (*macs)(const evit::space_descriptor&, const evit::arch&),
                  double (*params)(const evit::space_descriptor&, const evit::arch&)) {
  return {key, what, &S::descriptor, &S::min_arch, &S::max_arch, &S::cardinality, macs, params};
}

std::vector<space_entry> spaces() {
  return {
      entry<ev::official_space>("official", "ElasticViT's official space", ev::macs, ev::params),
      entry<ev::mini_space>("mini", "the mini space of the reference supernet", ev::macs,
                            ev::params),
      entry<af::tiny_space>("autoformer-t", "AutoFormer supernet-T", af::macs, af::params),
      entry<af::small_space>("autoformer-s", "AutoFormer supernet-S", af::macs, af::params),
      entry<af::base_space>("autoformer-b", "AutoFormer supernet-B", af::macs, af::params)};
}

template <class T>
std::string list(const std::vector<T>& v) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += ",";
    if constexpr (std::is_same_v<T, evit::rational>) {
      s += x.to_string();
    } else {
      s += std::to_string(x);
    }
  }
  return s;
}

void print_space(const space_entry& e) {
  const evit::space_descriptor& d = e.descriptor();
  std::printf("== %s: %s\n", d.name.c_str(), e.what);
  std::printf("  resolution {%s}, %s\n", list(d.resolution).c_str(),
              d.blockwise ? "block-wise (layers of a stage share choices)" : "layer-wise");
  for (const auto& st : d.stages) {
    std::printf("  %-10s %-17s width {%s} (supernet %d) depth {%s}", st.name.c_str(),
                evit::kind_name(st.kind), list(st.width).c_str(), st.max_width,
                list(st.depth).c_str());
    if (st.is_conv()) std::printf(" e {%s}", list(st.expand_ratio).c_str());
    if (!st.kernel_size.empty()) std::printf(" k {%s}", list(st.kernel_size).c_str());
    if (st.is_transformer()) {
      std::printf(" mlp {%s} v {%s}", list(st.mlp_ratio).c_str(), list(st.v_scale).c_str());
      if (st.heads == evit::head_semantics::width_over_dim)
        std::printf(" heads width/%d", st.head_dim);
      else
        std::printf(" heads {%s} x %d", list(st.num_heads).c_str(), st.head_dim);
    }
    std::printf(" stride %d%s\n", st.stride, st.squeeze_excite ? " SE" : "");
  }
  const evit::big_uint n = e.cardinality();
  std::printf("  subnets: %s (%.3g)\n", n.to_string().c_str(), n.to_double());
  for (int which = 0; which < 2; ++which) {
    const evit::arch a = which == 0 ? e.min_arch() : e.max_arch();
    std::printf("  %s: %-9.2f MMACs %6.2f M params  %s\n", which == 0 ? "min" : "max",
                e.macs(d, a) / 1e6, e.params(d, a) / 1e6, evit::to_string(d, a).c_str());
  }
}

void print_released() {
  const auto& d = ev::official_space::descriptor();
  std::printf("== the 9 released ElasticViT subnets\n");
  std::printf("  %-13s %4s %9s %11s %9s\n", "name", "R", "MMACs", "corrected", "params(M)");
  for (const auto& m : ev::released_models())
    std::printf("  %-13s %4d %9.1f %11.1f %9.2f\n", m.name.c_str(), m.arch_value.resolution(),
                ev::macs(d, m.arch_value) / 1e6, ev::macs_corrected(d, m.arch_value) / 1e6,
                ev::params(d, m.arch_value) / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names = {"official"};
  CLI::App app(
      "Prints a search space: its stages and choices, its exact number of subnets, its "
      "min and max subnets with MACs and parameters, and for ElasticViT the 9 released "
      "subnets. MACs are the official count for ElasticViT spaces (quirks included); "
      "'corrected' is what the subnet really computes.",
      "space_info");
  app.add_option("SPACE", names,
                 "official (default), mini, autoformer-t, autoformer-s, autoformer-b, all");
  return example::run(app, argc, argv, 2, [&] {
    const auto all = spaces();
    std::vector<const space_entry*> chosen;
    for (const auto& n : names) {
      const std::size_t before = chosen.size();
      for (const auto& e : all)
        if (n == "all" || n == e.key) chosen.push_back(&e);
      if (chosen.size() == before) {
        std::fprintf(stderr,
                     "space_info: unknown space '%s' (known: official, mini, autoformer-t, "
                     "autoformer-s, autoformer-b, all)\n",
                     n.c_str());
        return 2;
      }
    }
    for (const auto* e : chosen) {
      print_space(*e);
      if (std::strcmp(e->key, "official") == 0) print_released();
    }
    return 0;
  });
}
