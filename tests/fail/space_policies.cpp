// SPDX-License-Identifier: MIT
// Must-not-compile tests (docs/design.md#compile-only-and-must-not-compile-tests). Each case is
// built twice by ctest (tests/fail/CMakeLists.txt): with EVIT_SHOULD_FAIL it must stop at the
// static_assert whose message the test expects; without it, it must compile. The two branches
// differ by exactly one line.
#include <ratio>

#include "evit/cost/cost_model.hpp"
#include "evit/space/search_space.hpp"

using namespace evit;

#if EVIT_FAIL_CASE == 1  // empty choice set
#ifdef EVIT_SHOULD_FAIL
using set = width<>;
#else
using set = width<16>;
#endif
static_assert(set::values.size() < 100, "");

#elif EVIT_FAIL_CASE == 2  // unsorted choices
#ifdef EVIT_SHOULD_FAIL
using set = width<24, 16>;
#else
using set = width<16, 24>;
#endif
static_assert(set::values.size() < 100, "");

#elif EVIT_FAIL_CASE == 3  // duplicate choices
#ifdef EVIT_SHOULD_FAIL
using set = kernel<3, 3>;
#else
using set = kernel<3, 5>;
#endif
static_assert(set::values.size() < 100, "");

#elif EVIT_FAIL_CASE == 4  // min depth above max depth
#ifdef EVIT_SHOULD_FAIL
using set = depth_range<5, 2>;
#else
using set = depth_range<2, 5>;
#endif
static_assert(set::values.size() < 100, "");

#elif EVIT_FAIL_CASE == 5  // a range whose max is not reachable from its min
#ifdef EVIT_SHOULD_FAIL
using set = width_range<16, 30, 8>;
#else
using set = width_range<16, 32, 8>;
#endif
static_assert(set::values.size() < 100, "");

#elif EVIT_FAIL_CASE == 6  // transformer width not a multiple of the head dim
#ifdef EVIT_SHOULD_FAIL
using w = width<48, 72>;
#else
using w = width<48, 64>;
#endif
using t = transformer_stage<w, depth<1>, mlp_ratio<2>, head_dim<16> >;
static_assert(t::max_width > 0, "");

#elif EVIT_FAIL_CASE == 7  // a stage without a width
#ifdef EVIT_SHOULD_FAIL
using c = conv_stage<depth<1>, kernel<3> >;
#else
using c = conv_stage<width<16>, depth<1>, kernel<3> >;
#endif
static_assert(c::stride == 1, "");

#elif EVIT_FAIL_CASE == 8  // an option the stage kind does not have
#ifdef EVIT_SHOULD_FAIL
using c = conv_stage<width<16>, depth<1>, kernel<3>, mlp_ratio<2> >;
#else
using c = conv_stage<width<16>, depth<1>, kernel<3> >;
#endif
static_assert(c::stride == 1, "");

#elif EVIT_FAIL_CASE == 9  // two head semantics at once
#ifdef EVIT_SHOULD_FAIL
using t = transformer_stage<width<64>, depth<1>, mlp_ratio<2>, head_dim<16>, qkv_width<64> >;
#else
using t = transformer_stage<width<64>, depth<1>, mlp_ratio<2>, head_dim<16> >;
#endif
static_assert(t::max_width > 0, "");

#elif EVIT_FAIL_CASE == 10  // a fixed qkv width not divisible by a head count
#ifdef EVIT_SHOULD_FAIL
using h = num_heads<3, 4>;
#else
using h = num_heads<2, 4>;
#endif
using t = transformer_stage<width<512>, depth<1>, mlp_ratio<2>, h, qkv_width<512> >;
static_assert(t::max_width > 0, "");

#elif EVIT_FAIL_CASE == 11  // the supernet's max below the largest choice
#ifdef EVIT_SHOULD_FAIL
using m = max_width<200>;
#else
using m = max_width<256>;
#endif
using t = transformer_stage<width<192, 240>, depth<1>, mlp_ratio<4>, num_heads<3>, head_dim<64>, m>;
static_assert(t::max_width > 0, "");

#elif EVIT_FAIL_CASE == 12  // an empty space
#ifdef EVIT_SHOULD_FAIL
using s = search_space<>;
#else
using s = search_space<resolution<224>, input_conv<width<16> > >;
#endif
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 13  // no resolution
#ifdef EVIT_SHOULD_FAIL
using s = search_space<input_conv<width<16> > >;
#else
using s = search_space<resolution<224>, input_conv<width<16> > >;
#endif
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 14  // width rules that no combination satisfies
#ifdef EVIT_SHOULD_FAIL
using w = width<8>;
#else
using w = width<8, 16>;
#endif
using s = search_space<resolution<224>, input_conv<width<16> >, conv_stage<w, depth<1>, kernel<3> >,
                       rules<non_decreasing_width> >;
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 15  // same_width on stages that are not adjacent
#ifdef EVIT_SHOULD_FAIL
using r = rules<same_width<0, 2> >;
#else
using r = rules<same_width<0, 1> >;
#endif
using s = search_space<resolution<224>, input_conv<width<16> >,
                       conv_stage<width<16>, depth<1>, kernel<3> >,
                       conv_stage<width<16>, depth<1>, kernel<3> >, r>;
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 16  // both blockwise and layerwise
#ifdef EVIT_SHOULD_FAIL
using r = rules<blockwise, layerwise>;
#else
using r = rules<layerwise>;
#endif
using s = search_space<resolution<224>, input_conv<width<16> >, r>;
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 17  // a cost model returning void
#ifdef EVIT_SHOULD_FAIL
auto model = [](const arch&) {};
#else
auto model = [](const arch&) { return 1.0; };
#endif
static_assert((check_cost_model<decltype(model)>(), true), "");

#elif EVIT_FAIL_CASE == 18  // a cost model that does not take an arch
#ifdef EVIT_SHOULD_FAIL
auto model = [](int) { return 1.0; };
#else
auto model = [](const arch&) { return 1.0; };
#endif
static_assert((check_cost_model<decltype(model)>(), true), "");

#elif EVIT_FAIL_CASE == 19  // something that is not a space element
#ifdef EVIT_SHOULD_FAIL
using s = search_space<resolution<224>, input_conv<width<16> >, int>;
#else
using s = search_space<resolution<224>, input_conv<width<16> > >;
#endif
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 20  // a stride other than 1 or 2
#ifdef EVIT_SHOULD_FAIL
using st = stride<3>;
#else
using st = stride<2>;
#endif
using c = conv_stage<width<16>, depth<1>, kernel<3>, st>;
static_assert(c::stride > 0, "");

#elif EVIT_FAIL_CASE == 21  // more layers than evit::arch holds
#ifdef EVIT_SHOULD_FAIL
using d = depth_range<1, 70>;
#else
using d = depth_range<1, 7>;
#endif
using s = search_space<resolution<224>, conv_stage<width<16>, d, kernel<3> > >;
static_assert(s::num_stages >= 0, "");

#elif EVIT_FAIL_CASE == 22  // an even kernel size
#ifdef EVIT_SHOULD_FAIL
using k = kernel<3, 4>;
#else
using k = kernel<3, 5>;
#endif
using c = conv_stage<width<16>, depth<1>, k>;
static_assert(c::stride > 0, "");

#elif EVIT_FAIL_CASE == 23  // a cost model of another space than the search's
#include "evit/cost/constraint.hpp"
#include "evit/models/elasticvit/macs.hpp"
#include "evit/search/evolutionary.hpp"
namespace ev = evit::elasticvit;
#ifdef EVIT_SHOULD_FAIL
using macs = ev::macs_model<>;  // of the official space
#else
using macs = ev::macs_model<ev::mini_space>;
#endif
search_result run() {
  return evolutionary_search<ev::mini_space>(macs{}, cost::at_most(macs{}, 1e9));
}

#elif EVIT_FAIL_CASE == 24  // a cost model of another space than the sampler's
#include "evit/models/elasticvit/macs.hpp"
#include "evit/sample/complexity_aware.hpp"
namespace ev = evit::elasticvit;
#ifdef EVIT_SHOULD_FAIL
using macs = ev::macs_model<>;  // of the official space
#else
using macs = ev::macs_model<ev::mini_space>;
#endif
arch draw() {
  complexity_aware_sampler<ev::mini_space, macs> ca{macs{}};
  return ca.draw();
}

#elif EVIT_FAIL_CASE == 25  // a sum of cost models of different spaces
#include "evit/cost/adaptors.hpp"
#include "evit/models/elasticvit/macs.hpp"
namespace ev = evit::elasticvit;
#ifdef EVIT_SHOULD_FAIL
using params = ev::params_model<>;  // of the official space
#else
using params = ev::params_model<ev::mini_space>;
#endif
double total(const arch& a) { return cost::sum(ev::macs_model<ev::mini_space>{}, params{})(a); }

#endif
