// SPDX-License-Identifier: MIT
// Zero heap allocation and zero weight copy in the linear, attention and MLP paths (and the
// convolutions) given a workspace: this program replaces the global operator new and, on glibc
// without AddressSanitizer, malloc/calloc/realloc themselves, and counts every call made while
// a kernel runs. Zero copy: the kernels take the supernet buffer itself; test_linear.cpp shows a
// slice gives the same bits as a packed copy, and here the weights are checked untouched.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include "evit/kernels/attention.hpp"
#include "evit/kernels/conv.hpp"
#include "evit/kernels/linear.hpp"
#include "evit/kernels/mlp.hpp"
#include "evit/kernels/norm.hpp"

#include "kernel_test_util.hpp"

// The replacements below pair operator new with malloc and operator delete with free, which is
// exactly what the standard library's own defaults do; GCC 12's heuristic cannot see that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
bool g_counting = false;
long g_allocations = 0;
void note_allocation() {
  if (g_counting) ++g_allocations;
}
}  // namespace

void* operator new(std::size_t n) {
  note_allocation();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
// Catch2 allocates with the nothrow forms: they must come from the same malloc as the deletes.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  note_allocation();
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define EVIT_TEST_MALLOC_HOOK 1
// glibc exports its allocator under these names, so the program's own malloc can count and
// forward (the documented way to replace malloc in glibc).
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* malloc(std::size_t n) noexcept {
  note_allocation();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) noexcept {
  note_allocation();
  return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) noexcept {
  note_allocation();
  return __libc_realloc(p, n);
}
}
#else
#define EVIT_TEST_MALLOC_HOOK 0
#endif

namespace {
struct count_allocations {
  count_allocations() {
    g_allocations = 0;
    g_counting = true;
  }
  ~count_allocations() { g_counting = false; }
  long count() const { return g_allocations; }
};
}  // namespace

using evit::Index;
using evit::kernels::activation;
using evit::test::exact_buffer;

TEST_CASE("no_alloc: the hooks see allocations", "[kernels][alloc]") {
  long seen = 0;
  {
    count_allocations c;
    std::vector<float>* v = new std::vector<float>(100);
    delete v;
#if EVIT_TEST_MALLOC_HOOK
    void* p = std::malloc(64);
    std::free(p);
#endif
    seen = c.count();
  }
  CHECK(seen >= (EVIT_TEST_MALLOC_HOOK ? 3 : 2));
}

TEMPLATE_LIST_TEST_CASE("no_alloc: linear, attention, MLP, norms and convs allocate nothing",
                        "[kernels][alloc]", evit::test::archs) {
  using Arch = TestType;
  evit::rng g(71);
  const Index c_max = 64, dv_max = 64, N = 16, C = 48, hidden = 4 * C;
  const auto cfg = evit::kernels::attention_config::fixed_head_dim(4, C, 16, 1, 2)
                       .with_pre_proj(activation::hardswish);
  // One immutable supernet buffer holding every tensor; its checksum must not change.
  const Index n_qkv = (2 * c_max + 4 * dv_max) * c_max, n_proj = c_max * 4 * dv_max;
  const Index n_rel = 7 * 7 * 4, n_vc = 4 * dv_max * 9, n_fc1 = 5 * c_max * c_max;
  const Index n_fc2 = c_max * 5 * c_max;
  std::vector<float> supernet(n_qkv + n_proj + c_max + n_rel + n_vc + n_fc1 + 5 * c_max + n_fc2 +
                              c_max);
  evit::test::fill_uniform(g, supernet.data(), Index(supernet.size()), -0.1, 0.1);
  const std::vector<float> pristine = supernet;
  float* p = supernet.data();
  const float* qkv = p;
  const float* proj = qkv + n_qkv;
  const float* proj_b = proj + n_proj;
  const float* rel = proj_b + c_max;
  const float* vc = rel + n_rel;
  const float* fc1 = vc + n_vc;
  const float* fc1_b = fc1 + n_fc1;
  const float* fc2 = fc1_b + 5 * c_max;
  const float* fc2_b = fc2 + n_fc2;
  auto w = evit::kernels::attention_weights<float>::elasticvit(qkv, c_max, proj, 4 * dv_max, proj_b)
               .with_rel_bias(rel, 4, 4)
               .with_v_conv(vc);
  const evit::kernels::mlp_weights<float> mw{fc1, c_max, fc1_b, fc2, 5 * c_max, fc2_b};

  // Workspace: sized once, the largest of the calls below (what a model's workspace does).
  const Index wsn =
      std::max({evit::kernels::attention_workspace_size<Arch, float>(cfg),
                evit::kernels::mlp_workspace_size(N, hidden),
                evit::kernels::depthwise_conv2d_workspace_size<Arch, float>(8, 8, 5, 2),
                evit::kernels::pointwise_conv_workspace_size<Arch, float>(C)});
  std::vector<float> ws(wsn), x(N * C), y(N * C), img(C * 64), img2(C * 64);
  evit::test::fill_uniform(g, x.data(), Index(x.size()));
  evit::test::fill_uniform(g, img.data(), Index(img.size()));
  long allocations = -1;
  {
    count_allocations c;
    evit::kernels::linear<Arch>(N, C, C, x.data(), C, fc2, 5 * c_max, 0, fc2_b, y.data(), C);
    evit::kernels::attention<Arch>(1, cfg, w, x.data(), C, y.data(), C, true, ws.data(), wsn);
    evit::kernels::mlp<Arch>(N, C, hidden, C, x.data(), C, mw, activation::hardswish, y.data(), C,
                             true, ws.data(), wsn);
    evit::kernels::sample_norm<Arch>(N, C, y.data(), C, fc1_b, fc2_b, 1e-5f, x.data(), C);
    evit::kernels::depthwise_conv2d<Arch>(C, 8, 8, img.data(), 3, 2, vc, 5, img2.data(),
                                          evit::kernels::epilogue<float>{}, ws.data(), wsn);
    evit::kernels::pointwise_conv<Arch>(C, C, 64, fc1, c_max, img.data(), img2.data(),
                                        evit::kernels::epilogue<float>{}, ws.data(), wsn);
    allocations = c.count();
  }
  CHECK(allocations == 0);
  CHECK(supernet == pristine);
}
