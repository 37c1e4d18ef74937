// SPDX-License-Identifier: MIT
// A user's program: includes the umbrella header, prints one released subnet, its MACs and its
// latency predicted on a Pixel 6 from the phone tables the package carries (no path given), and
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
  const auto pixel6 = evit::cost::mobile_latency("pixel6");  // the installed tables
  const double ms = pixel6(a);
  std::cout << "pixel6: " << ms << " ms (tables: " << evit::cost::find_mobile_lut("pixel6")
            << ")\n";
  const auto net = ev::supernet<ev::mini_space>::random(1);
  const evit::arch& m = ev::mini_space::min_arch();
  const int r = m.resolution();
  std::vector<float> images(static_cast<std::size_t>(3 * r * r), 0.5f);
  ev::forward_workspace ws;
  const std::vector<float> logits = net.forward(m, images, 1, ws);
  std::cout << "isa: " << evit::simd::active_isa_name() << ", logit 0: " << logits[0] << "\n";
  // 4.44 ms: docs/elasticvit.md#phone-latency-tables.
  const bool ok = macs == 62915120.0 && std::abs(ms - 4.44) <= 0.005 && logits.size() == 10 &&
                  std::isfinite(logits[0]);
  return ok ? 0 : 1;
}
