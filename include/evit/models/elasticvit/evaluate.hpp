// SPDX-License-Identifier: MIT
// Scoring subnets on images: the k best classes of a logits row, and top-1 accuracy after
// BatchNorm recalibration (docs/elasticvit.md#batchnorm-recalibration), the objective
// ElasticViT's search maximises.
//   auto val = evit::io::load_labelled_images("val.safetensors", net->num_classes());
//   evit::elasticvit::top1_evaluator<space> top1(net, std::move(val));
//   double acc = top1(a);                                         // %, for any subnet
//   auto r = evit::evolutionary_search<space>(top1, evit::cost::at_most(latency, 10.0));
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "evit/core/error.hpp"
#include "evit/core/executor.hpp"
#include "evit/io/dataset.hpp"
#include "evit/models/elasticvit/preprocess.hpp"
#include "evit/models/elasticvit/supernet.hpp"
#include "evit/simd/namespace.hpp"

namespace evit {
inline namespace EVIT_ISA_NAMESPACE {
namespace elasticvit {

/// The indices of the k largest of scores[0 .. n), largest first (ties: the lower index first).
inline std::vector<int> top_k(const float* scores, int n, int k) {
  std::vector<int> order(static_cast<std::size_t>(n > 0 ? n : 0));
  std::iota(order.begin(), order.end(), 0);
  const auto kk = static_cast<std::ptrdiff_t>(std::max(0, std::min(k, n)));
  std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](int a, int b) {
    const float x = scores[a], y = scores[b];
    return x > y || (x == y && a < b);
  });
  order.resize(static_cast<std::size_t>(kk));
  return order;
}

/// How top1_evaluator splits and runs the set.
struct top1_options {
  double calibration_share = 0.5;  ///< the first part of the set recalibrates BatchNorm
  int batch = 16;                  ///< images per forward
  int threads = 1;                 ///< forward threads
};

/// Top-1 accuracy (%) of subnets of one supernet on a labelled set: the first part of the set
/// recalibrates the subnet's BatchNorm statistics, the rest is scored. Images whose side is not
/// the subnet's resolution are resized to it bicubically, as the official forward does
/// (resize_bicubic_planes), once per resolution. A cost model: sequential (one workspace and
/// thread pool), so a search calls it on its own thread; copies share the state.
template <class Space>
class top1_evaluator {
 public:
  static constexpr bool sequential = true;

  /// Scores subnets of `net`, which must outlive the evaluator and its copies.
  top1_evaluator(const supernet<Space>& net, io::labelled_images data,
                 top1_options o = top1_options())
      : top1_evaluator(std::shared_ptr<const supernet<Space>>(&net, [](const void*) {}),
                       std::move(data), o) {}
  /// The same, sharing the supernet.
  /// @throws evit::invalid_argument for a set with fewer than 2 images or bad options.
  top1_evaluator(std::shared_ptr<const supernet<Space>> net, io::labelled_images data,
                 top1_options o = top1_options())
      : s_(std::make_shared<state>()) {
    if (!net) throw invalid_argument("top1_evaluator: no supernet");
    const std::size_t n = data.size();
    s_->calib = static_cast<std::size_t>(o.calibration_share * static_cast<double>(n));
    if (n < 2 || s_->calib < 1 || s_->calib >= n || o.batch < 1)
      throw invalid_argument("top1_evaluator: " + std::to_string(n) +
                             " images, calibration share " + std::to_string(o.calibration_share) +
                             ", batch " + std::to_string(o.batch) +
                             " (need at least one image to recalibrate and one to score)");
    s_->net = std::move(net);
    s_->data = std::move(data);
    s_->batch = static_cast<std::size_t>(o.batch);
    s_->pool = std::make_unique<thread_pool>(o.threads);
  }

  /// Top-1 accuracy in percent of subnet `a` on the scored part of the set.
  double operator()(const arch& a) const { return percent(count_correct(a, 0, scored())); }

  /// The number of scored images (the set after its calibration part).
  std::size_t scored() const { return s_->data.size() - s_->calib; }
  /// Images per forward: scored image i goes through the forward with the images of its batch,
  /// [i - i % batch(), ...), when counted from a `begin` that is a multiple of batch().
  std::size_t batch() const { return s_->batch; }
  /// The accuracy in percent of `correct` right answers on the scored images: operator()(a) is
  /// percent(count_correct(a, 0, scored())), and the counts of disjoint ranges add up to it.
  double percent(std::size_t correct) const {
    return 100.0 * static_cast<double>(correct) / static_cast<double>(scored());
  }

  /// How many of scored images [begin, end) subnet `a` classifies right, after recalibrating its
  /// BatchNorm on the whole calibration part (the same statistics whatever the range). With
  /// `begin` a multiple of batch(), every image sees the same forward as in operator(), so the
  /// counts of ranges split at multiples of batch() sum to exactly operator()'s count (how
  /// evit/mpi/ shares one subnet's images between processes).
  /// @throws evit::invalid_argument unless begin <= end <= scored().
  std::size_t count_correct(const arch& a, std::size_t begin, std::size_t end) const {
    state& s = *s_;
    if (begin > end || end > scored())
      throw invalid_argument("top1_evaluator::count_correct: range [" + std::to_string(begin) +
                             ", " + std::to_string(end) + ") of " + std::to_string(scored()) +
                             " scored images (need begin <= end <= " + std::to_string(scored()) +
                             ")");
    const std::vector<float>& x = s.at(a.resolution());
    const std::size_t per = 3u * a.resolution() * a.resolution();
    std::vector<std::vector<float>> batches;
    for (std::size_t i = 0; i < s.calib; i += s.batch) {
      const std::size_t m = std::min(s.batch, s.calib - i);
      batches.emplace_back(x.begin() + static_cast<std::ptrdiff_t>(i * per),
                           x.begin() + static_cast<std::ptrdiff_t>((i + m) * per));
    }
    const bn_override bn = s.net->recalibrate(a, batches, s.ws, *s.pool);
    const int classes = s.net->num_classes();
    std::vector<float> logits;
    std::size_t correct = 0;
    const std::size_t first = s.calib + begin, last = s.calib + end;
    for (std::size_t i = first; i < last; i += s.batch) {
      const std::size_t m = std::min(s.batch, last - i);
      logits.resize(m * static_cast<std::size_t>(classes));
      s.net->forward(a, x.data() + i * per, static_cast<Index>(m), logits.data(), s.ws,
                     forward_options().bn(bn).executor(*s.pool));
      for (std::size_t b = 0; b < m; ++b) {
        const float* l = logits.data() + b * static_cast<std::size_t>(classes);
        correct += top_k(l, classes, 1)[0] == s.data.labels[i + b] ? 1 : 0;
      }
    }
    return correct;
  }

 private:
  struct state {
    std::shared_ptr<const supernet<Space>> net;
    io::labelled_images data;
    std::size_t calib = 0, batch = 16;
    std::unique_ptr<thread_pool> pool;
    forward_workspace ws;
    std::map<int, std::vector<float>> resized;

    const std::vector<float>& at(int r) {
      if (r == data.side) return data.images;
      auto it = resized.find(r);
      if (it != resized.end()) return it->second;
      std::vector<float>& out = resized[r];
      out.resize(data.size() * 3 * static_cast<std::size_t>(r) * r);
      resize_bicubic_planes(data.images.data(), data.side, out.data(), r,
                            static_cast<int>(data.size() * 3));
      return out;
    }
  };
  std::shared_ptr<state> s_;
};

}  // namespace elasticvit
}  // namespace EVIT_ISA_NAMESPACE
}  // namespace evit
