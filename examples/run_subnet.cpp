// SPDX-License-Identifier: MIT
// run_subnet: run one subnet of an ElasticViT supernet, straight from the supernet's weights, on
// an image file (--image, the official evaluation preprocessing) or on random images. Prints the
// ISA it runs, the subnet's MMACs, the top-5 classes of the first image (with names from
// --labels or the supernet's metadata) and the latency (median, p90). Also writes the subnet as a
// standalone file (--export-subnet: what tools/export_onnx.py turns into ONNX), and the input
// images and logits as raw float32 files (--save-input, --save-logits). --model
// autoformer-t/s/b runs an AutoFormer supernet instead (released subnets AutoFormer-T/S/B by name).
//   run_subnet --weights elasticvit.safetensors --arch elastic_T1 --image cat.jpg --labels in1k.txt
//   run_subnet --model autoformer-t --arch AutoFormer-T --weights supernet-T.safetensors
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <evit/evit.hpp>
#include <evit/io/image_file.hpp>

#include "cli.hpp"

namespace ev = evit::elasticvit;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string model = "elasticvit", weights, space = "official", arch, image, labels;
  std::string export_subnet, save_input, save_logits;
  int batch = 1, threads = 1, repeat = 20, warmup_ms = 0;
  long long seed = 1, random_arch = -1;
  bool all_logits = false, allow_extra = false, plan = false;
};

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

/// Writes `values` as raw float32 (this machine's byte order: little-endian on x86-64 and AArch64).
void write_floats(const std::string& path, const std::vector<float>& values) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw evit::format_error(path + ": cannot create the file");
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out.flush()) throw evit::format_error(path + ": write failed");
}

/// The supernet (Net: either family's) of --weights or random, and the class names of --labels
/// or of its metadata; checks that the names fit the classes.
template <class Net, class LoadOptions>
Net load_supernet(const options& o, std::vector<std::string>& names, double& load_ms) {
  const auto t0 = clock_type::now();
  Net net = [&] {
    if (o.weights.empty()) return Net::random(static_cast<std::uint64_t>(o.seed));
    const auto file = evit::io::safetensors_file::open(o.weights);
    names = evit::io::class_names(file);
    return Net::load(file, LoadOptions().allow_extra_tensors(o.allow_extra));
  }();
  load_ms = ms_since(t0);
  if (!o.labels.empty()) names = evit::io::read_class_names(o.labels);
  if (!names.empty() && static_cast<int>(names.size()) != net.num_classes())
    throw evit::format_error((o.labels.empty() ? o.weights + " metadata" : o.labels) + ": " +
                             std::to_string(names.size()) + " class names for " +
                             std::to_string(net.num_classes()) + " classes");
  return net;
}

/// The input: --image, preprocessed as the official evaluation does (AutoFormer's is the same),
/// in every sample of the batch; else random images.
std::vector<float> input_images(const options& o, int r, evit::io::image& picture) {
  const std::size_t per = 3u * r * r;
  std::vector<float> images(static_cast<std::size_t>(o.batch) * per);
  if (!o.image.empty()) {
    picture = evit::io::load_image(o.image);
    ev::preprocess(picture, r, images.data());
    for (int b = 1; b < o.batch; ++b) std::copy_n(images.begin(), per, images.begin() + b * per);
  } else {
    evit::rng g(static_cast<std::uint64_t>(o.seed) + 1);
    for (auto& x : images) x = static_cast<float>(2 * evit::uniform_real(g) - 1);
  }
  return images;
}

/// Untimed warm-up forwards (one, then more until --warmup-ms have passed), then --repeat timed
/// ones (ms, sorted).
template <class Net>
std::vector<double> time_forwards(const options& o, const Net& net, const evit::arch& a,
                                  const std::vector<float>& images, std::vector<float>& logits) {
  logits.assign(static_cast<std::size_t>(o.batch) * net.num_classes(), 0.f);
  typename Net::workspace_type ws;
  evit::thread_pool pool(o.threads);
  const auto forward = [&] {
    net.forward(a, images.data(), o.batch, logits.data(), ws,
                typename Net::options_type().executor(pool));
  };
  const auto warmup_start = clock_type::now();
  do forward();
  while (ms_since(warmup_start) < o.warmup_ms);
  std::vector<double> ms;
  for (int i = 0; i < o.repeat; ++i) {
    const auto s = clock_type::now();
    forward();
    ms.push_back(ms_since(s));
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

/// Top-5 of image 0 (named when there are names), every logit with --logits, the latency.
void print_outputs(const options& o, const std::vector<std::string>& names,
                   const std::vector<float>& logits, int classes, const std::vector<double>& ms) {
  const std::vector<int> top = ev::top_k(logits.data(), classes, 5);
  if (names.empty()) {
    std::printf("top-5 logits of image 0:");
    for (int c : top) std::printf(" [%d] %.4f", c, logits[static_cast<std::size_t>(c)]);
    std::printf("\n");
  } else {
    std::printf("top-5 classes of image 0:\n");
    for (int c : top)
      std::printf("  [%d] %-30s logit %.4f\n", c, names[static_cast<std::size_t>(c)].c_str(),
                  logits[static_cast<std::size_t>(c)]);
  }
  if (o.all_logits) {
    std::printf("logits of image 0:");
    for (int i = 0; i < classes; ++i) std::printf(" %.9g", logits[static_cast<std::size_t>(i)]);
    std::printf("\n");
  }
  const auto pct = [&](double p) { return ms[static_cast<std::size_t>(p * (ms.size() - 1) + .5)]; };
  std::printf("latency:  median %.3f ms, p90 %.3f ms over %d runs (batch %d, %d thread%s)\n",
              pct(0.5), pct(0.9), o.repeat, o.batch, o.threads, o.threads == 1 ? "" : "s");
}

template <class Space>
int run(const options& o) {
  std::vector<std::string> names;
  double load_ms = 0;
  const auto net = load_supernet<ev::supernet<Space>, ev::load_options>(o, names, load_ms);
  const int classes = net.num_classes();
  const evit::arch a = [&] {
    if (o.random_arch >= 0) {  // a uniform draw of the space, the same for a seed everywhere
      evit::rng g(static_cast<std::uint64_t>(o.random_arch));
      return Space::sample(g);
    }
    return o.arch.empty() ? Space::max_arch() : ev::parse_subnet<Space>(o.arch);
  }();
  if (!o.export_subnet.empty()) net.export_subnet(a, o.export_subnet);
  const int r = a.resolution();
  evit::io::image picture;
  const std::vector<float> images = input_images(o, r, picture);
  std::vector<float> logits;
  const std::vector<double> ms = time_forwards(o, net, a, images, logits);
  if (!o.save_input.empty()) write_floats(o.save_input, images);
  if (!o.save_logits.empty()) write_floats(o.save_logits, logits);

  std::printf("isa:      %s\n", evit::simd::isa_description(evit::simd::active_isa()).c_str());
  std::printf("supernet: %s (%s, loaded in %.0f ms)\n",
              o.weights.empty() ? "random weights" : o.weights.c_str(),
              Space::descriptor().name.c_str(), load_ms);
  std::printf("subnet:   %s\n", evit::to_string<Space>(a).c_str());
  if (!o.export_subnet.empty())
    std::printf("exported: %s (the subnet's weights alone, its arch and plan in the metadata)\n",
                o.export_subnet.c_str());
  std::printf("MMACs:    %.2f (official count), %.2f (corrected); params %.2f M\n",
              ev::macs<Space>(a) / 1e6, ev::macs_corrected<Space>(a) / 1e6,
              ev::params<Space>(a) / 1e6);
  if (o.plan)
    std::printf("plan:\n%s", ev::plan_table(ev::plan::of(Space::descriptor(), a)).c_str());
  if (!o.image.empty())
    std::printf(
        "image:    %s (%dx%d): shorter side 256 bicubic, centre crop 224, ImageNet "
        "mean/std, bicubic to %dx%d\n",
        o.image.c_str(), picture.width, picture.height, r, r);
  print_outputs(o, names, logits, classes, ms);
  return 0;
}

/// The same for an AutoFormer supernet of Space (models/autoformer): --arch is a released name
/// (AutoFormer-T, -S, -B) or the compact text of a subnet of Space.
template <class Space>
int run_autoformer(const options& o, const char* default_arch) {
  namespace af = evit::autoformer;
  std::vector<std::string> names;
  double load_ms = 0;
  const auto net = load_supernet<af::supernet<Space>, af::load_options>(o, names, load_ms);
  const int classes = net.num_classes();
  const std::string arch_text = o.arch.empty() ? default_arch : o.arch;
  const auto released = af::released_names();
  const evit::arch a = [&] {
    if (o.random_arch >= 0) {  // a uniform draw of the space, the same for a seed everywhere
      evit::rng g(static_cast<std::uint64_t>(o.random_arch));
      return Space::sample(g);
    }
    return std::find(released.begin(), released.end(), arch_text) != released.end()
               ? af::released(Space::descriptor(), arch_text)
               : evit::parse<Space>(arch_text);
  }();
  if (!o.export_subnet.empty()) net.export_subnet(a, o.export_subnet);
  evit::io::image picture;
  const std::vector<float> images = input_images(o, a.resolution(), picture);
  std::vector<float> logits;
  const std::vector<double> ms = time_forwards(o, net, a, images, logits);
  if (!o.save_input.empty()) write_floats(o.save_input, images);
  if (!o.save_logits.empty()) write_floats(o.save_logits, logits);
  const auto& d = Space::descriptor();
  std::printf("isa:      %s\n", evit::simd::isa_description(evit::simd::active_isa()).c_str());
  std::printf("supernet: %s (%s, loaded in %.0f ms)\n",
              o.weights.empty() ? "random weights" : o.weights.c_str(), d.name.c_str(), load_ms);
  std::printf("subnet:   %s: %s\n", o.random_arch >= 0 ? "random" : arch_text.c_str(),
              evit::to_string<Space>(a).c_str());
  if (!o.export_subnet.empty())
    std::printf("exported: %s (the subnet's weights alone, its arch and sizes in the metadata)\n",
                o.export_subnet.c_str());
  std::printf("params:   %.6f M (official get_sampled_params_numel: %.0f)\n",
              af::official_params(d, a) / 1e6, af::official_params(d, a));
  std::printf("MMACs:    %.2f (official get_complexity), %.2f (computed by the forward)\n",
              af::official_flops(d, a) / 1e6, af::macs_corrected(d, a) / 1e6);
  print_outputs(o, names, logits, classes, ms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app(
      "Runs subnet A of an ElasticViT supernet on an image (or random images) and prints "
      "the top-5 classes of the first image, the subnet's MMACs (official count) and "
      "its latency.",
      "run_subnet");
  app.option_defaults()->always_capture_default();  // --help shows the defaults
  app.add_option("--weights", o.weights,
                 "supernet weights (safetensors, official names); default: a random supernet");
  app.add_option("--model", o.model,
                 "elasticvit, or an AutoFormer supernet: autoformer-t (its space admits the "
                 "released AutoFormer-T's MLP ratio 3.0; with a 10-class head, as "
                 "tests/data/autoformer-t's, the T search space), autoformer-s, autoformer-b")
      ->check(CLI::IsMember({"elasticvit", "autoformer-t", "autoformer-s", "autoformer-b"}));
  app.add_option("--space", o.space, "official or mini (the reference supernet's space)")
      ->check(CLI::IsMember({"official", "mini"}));
  app.add_option("--arch", o.arch,
                 "a released name (elastic_T1 ... elastic_L3, or T1 ... L3), the compact text, "
                 "JSON or an official 10-list; default elastic_T1 (official), the max (mini); "
                 "AutoFormer: AutoFormer-T, -S, -B or the compact text (default: the model's)");
  app.add_option("--random-arch", o.random_arch,
                 "instead of --arch: a random subnet of the space (uniform draw) for this seed")
      ->check(example::integer_in(0, 1LL << 40))
      ->default_str("")
      ->excludes("--arch");
  app.add_option("--image", o.image,
                 "a PNG or JPEG, preprocessed as the official evaluation does (README)");
  app.add_option("--labels", o.labels,
                 "class names, one per line (default: the supernet metadata's, if any)");
  app.add_option("--batch", o.batch, "images per forward")->check(example::integer_in(1, 4096));
  app.add_option("--threads", o.threads, "worker threads")->check(example::integer_in(1, 256));
  app.add_option("--repeat", o.repeat, "timed forwards after the warm-up")
      ->check(example::integer_in(1, 100000));
  app.add_option("--warmup-ms", o.warmup_ms,
                 "untimed forwards before the timed ones: one, then more until this many ms have "
                 "passed (on a machine whose caches and clocks take a while to settle)")
      ->check(example::integer_in(0, 600000));
  app.add_option("--seed", o.seed, "seed of the random images and weights")
      ->check(example::integer_in(0, 1LL << 40));
  example::add_isa_option(app);
  app.add_flag("--logits", o.all_logits, "print every logit of image 0 (9 digits)");
  app.add_flag("--plan", o.plan,
               "print the subnet's blocks: shapes, dimensions, official MMACs and parameters");
  app.add_flag("--allow-extra-tensors", o.allow_extra, "load tensors the space does not use");
  app.add_option(
      "--export-subnet", o.export_subnet,
      "write the subnet alone to this safetensors file: its sliced weights under the "
      "official names, its arch and plan in the metadata (tools/export_onnx.py reads it)");
  app.add_option("--save-input", o.save_input,
                 "write the batch's input images to this file (raw float32, N x 3 x R x R)");
  app.add_option("--save-logits", o.save_logits,
                 "write the last forward's logits to this file (raw float32, N x classes)");
  return example::run(app, argc, argv, 1, [&] {
    namespace af = evit::autoformer;
    if (o.model == "autoformer-t") {
      // The reference supernet of tests/data/autoformer-t has a 10-class head: its space then.
      if (!o.weights.empty()) {
        const auto file = evit::io::safetensors_file::open(o.weights);
        const auto* head = file.find("head.weight");
        if (head != nullptr && !head->shape.empty() && head->shape[0] == 10)
          return run_autoformer<af::tiny_space_with_classes<10>>(o, "AutoFormer-T");
      }
      return run_autoformer<af::tiny_released_space>(o, "AutoFormer-T");
    }
    if (o.model == "autoformer-s") return run_autoformer<af::small_space>(o, "AutoFormer-S");
    if (o.model == "autoformer-b") return run_autoformer<af::base_space>(o, "AutoFormer-B");
    if (o.space == "mini") return run<ev::mini_space>(o);
    if (o.arch.empty() && o.random_arch < 0) o.arch = "elastic_T1";
    return run<ev::official_space>(o);
  });
}
