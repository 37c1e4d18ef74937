// SPDX-License-Identifier: MIT
// The umbrella header: all of evit. Layers, bottom up (STYLE.md §3): core, simd, kernels, space,
// nn, io, models, cost, sample, search.
#pragma once

#include "evit/core/big_uint.hpp"
#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/core/hash.hpp"
#include "evit/core/index.hpp"
#include "evit/core/rational.hpp"
#include "evit/core/rng.hpp"
#include "evit/cost/cost_model.hpp"
#include "evit/io/arch_json.hpp"
#include "evit/io/arch_text.hpp"
#include "evit/io/safetensors.hpp"
#include "evit/models/autoformer/cost.hpp"
#include "evit/models/autoformer/space.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/models/elasticvit/official_list.hpp"
#include "evit/models/elasticvit/released.hpp"
#include "evit/models/elasticvit/space.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/models/elasticvit/weights.hpp"
#include "evit/space/arch.hpp"
#include "evit/space/descriptor.hpp"
#include "evit/space/search_space.hpp"
#include "evit/version.hpp"
