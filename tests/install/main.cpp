// SPDX-License-Identifier: MIT
// A user's program: includes the umbrella header, prints one released subnet and its MACs.
#include <iostream>

#include <evit/evit.hpp>

int main() {
  namespace ev = evit::elasticvit;
  const evit::arch& a = ev::released("elastic_T1");
  const double macs = ev::macs(a);
  std::cout << "evit " << evit::version_string << ": " << evit::to_string<ev::official_space>(a)
            << " = " << macs / 1e6 << " MMACs\n";
  return macs == 62915120.0 ? 0 : 1;
}
