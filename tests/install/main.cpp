// SPDX-License-Identifier: MIT
// A user's program: includes the umbrella header, prints one released subnet and its MACs, and
// runs the smallest subnet of a random mini supernet on the ISA evit picked.
#include <cmath>
#include <iostream>

#include <evit/evit.hpp>

int main() {
  namespace ev = evit::elasticvit;
  const evit::arch& a = ev::released("elastic_T1");
  const double macs = ev::macs(a);
  std::cout << "evit " << evit::version_string << ": " << evit::to_string<ev::official_space>(a)
            << " = " << macs / 1e6 << " MMACs\n";
  const auto net = ev::supernet<ev::mini_space>::random(1);
  const evit::arch& m = ev::mini_space::min_arch();
  const int r = m.resolution();
  std::vector<float> images(static_cast<std::size_t>(3 * r * r), 0.5f);
  ev::forward_workspace ws;
  const std::vector<float> logits = net.forward(m, images, 1, ws);
  std::cout << "isa: " << evit::simd::active_isa_name() << ", logit 0: " << logits[0] << "\n";
  return macs == 62915120.0 && logits.size() == 10 && std::isfinite(logits[0]) ? 0 : 1;
}
