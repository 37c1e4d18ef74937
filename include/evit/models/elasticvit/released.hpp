// SPDX-License-Identifier: MIT
// The 9 subnets of the official space that ElasticViT released (configs/final_3min_space_eval.yaml;
// docs/elasticvit.md#released-models), by name.
#pragma once

#include <string>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// A released subnet: its name and its arch in the official space.
struct released_model {
  std::string name;
  arch arch_value;
};

/// elastic_T1 ... elastic_L3, in order of size.
inline const std::vector<released_model>& released_models() {
  static const std::vector<released_model> models = [] {
    // The official 10-lists, as released.
    const char* table[][2] = {
        {"elastic_T1",
         "[128,[16,24,32,64,96,176,272],[1,2,3,1,1,1,1],[1,3,3,3,3,3],[3,3,3,3,3,3],[2,2,3,4],"
         "[4,6,11,17],[1,1,1,1],[1,1,1,1],[2,2,2,2]]"},
        {"elastic_T2",
         "[160,[16,24,40,48,96,176,256],[1,2,3,1,1,2,2],[1,3,3,3,3,3],[3,3,3,3,3,3],[3,4,3,3,2,"
         "2],[3,6,11,11,16,16],[1,1,1,1,1,1],[1,1,1,1,1,1],[2,2,2,2,2,2]]"},
        {"elastic_S1",
         "[192,[16,24,40,64,96,192,272],[1,3,3,2,2,2,2],[1,3,3,3,3,3,3],[3,3,3,3,3,3,3],[2,2,2,"
         "2,3,3,4,4],[4,4,6,6,12,12,17,17],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,2,2,2,2,2,"
         "2]]"},
        {"elastic_S2",
         "[224,[16,24,48,64,96,192,256],[1,3,3,2,2,2,2],[1,3,3,3,3,3,3],[3,3,3,3,3,3,3],[2,2,2,"
         "2,2,2,4,4],[4,4,6,6,12,12,16,16],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,2,2,2,2,2,"
         "2]]"},
        {"elastic_M",
         "[224,[16,32,48,64,96,192,288],[1,3,5,2,2,2,2],[1,3,3,3,3,3,3,3,3],[5,3,3,3,3,3,3,3,3],"
         "[2,2,4,4,4,4,5,5],[4,4,6,6,12,12,18,18],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,2,2,"
         "2,2,2,2]]"},
        {"elastic_L1",
         "[256,[16,24,40,64,96,192,320],[1,3,3,2,2,2,2],[1,3,3,3,6,6,6],[5,5,5,5,5,5,5],[4,4,3,"
         "3,4,4,4,4],[4,4,6,6,12,12,20,20],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,2,2,2,2,2,"
         "2]]"},
        {"elastic_L1.5",
         "[256,[16,24,48,64,96,256,320],[2,4,4,2,2,2,2],[1,1,3,3,3,3,4,4,4,4],[3,3,3,3,3,3,5,5,"
         "5,5],[4,4,5,5,3,3,5,5],[4,4,6,6,16,16,20,20],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,"
         "2,2,2,2,2,2]]"},
        {"elastic_L2",
         "[256,[16,24,40,80,128,256,304],[1,3,4,2,2,2,2],[1,6,6,6,6,6,6,6],[3,3,3,3,3,3,3,3],[3,"
         "3,2,2,3,3,5,5],[5,5,8,8,16,16,19,19],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,2,2,2,2,"
         "3,3]]"},
        {"elastic_L3",
         "[256,[16,32,48,80,128,256,320],[1,3,4,2,2,2,2],[1,5,5,5,5,5,5,5],[5,3,3,3,5,5,5,5],[4,"
         "4,4,4,3,3,5,5],[5,5,8,8,16,16,20,20],[1,1,1,1,1,1,1,1],[1,1,1,1,1,1,1,1],[2,2,2,2,2,2,"
         "2,2]]"},
    };
    std::vector<released_model> out;
    for (const auto& row : table)
      out.push_back(
          {row[0], from_official_list(official_space::descriptor(), std::string(row[1]))});
    return out;
  }();
  return models;
}

/// The released subnet called `name` ("elastic_T1" ... "elastic_L3"; the "elastic_" prefix may be
/// omitted). @throws evit::invalid_argument listing the names when there is none.
inline const arch& released(const std::string& name) {
  std::string names;
  for (const auto& m : released_models()) {
    if (m.name == name || m.name == "elastic_" + name) return m.arch_value;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  throw invalid_argument("no released ElasticViT model \"" + name + "\" (known: " + names + ")");
}

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
