// SPDX-License-Identifier: MIT
// Compiles ElasticViT's forward pass once for all of evit's test, benchmark and example programs
// (they define EVIT_FORWARD_SEPARATE; see include/evit/models/elasticvit/forward.hpp).
#define EVIT_FORWARD_IMPLEMENTATION
#include "evit/models/elasticvit/forward.hpp"
