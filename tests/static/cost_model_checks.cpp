// SPDX-License-Identifier: MIT
// Compile-only checks of the cost-model requirement.
#include "evit/cost/cost_model.hpp"
#include "evit/models/elasticvit/macs.hpp"

namespace {
using evit::arch;
auto lambda = [](const arch&) { return 1.0; };
auto int_lambda = [](const arch&) { return 3; };
auto void_lambda = [](const arch&) {};
auto wrong_arg = [](int) { return 1.0; };
double function(const arch&) { return 0; }

static_assert(evit::is_cost_model_v<decltype(lambda)>, "a lambda is a cost model");
static_assert(evit::is_cost_model_v<decltype(int_lambda)>, "int converts to double");
static_assert(evit::is_cost_model_v<decltype(&function)>, "a function pointer is one");
static_assert(!evit::is_cost_model_v<decltype(void_lambda)>, "void is not a cost");
static_assert(!evit::is_cost_model_v<decltype(wrong_arg)>, "must take an arch");
static_assert(evit::is_cost_model_v<evit::elasticvit::macs_model<>>, "macs_model is one");
static_assert(evit::is_monotone_cost_model_v<evit::elasticvit::macs_model<>>, "and monotone");
static_assert(!evit::is_monotone_cost_model_v<decltype(lambda)>, "lambdas are not monotone");
static_assert(evit::is_monotone_cost_model_v<decltype(evit::make_cost_model<true>(lambda))>,
              "make_cost_model<true> declares monotone");
}  // namespace
