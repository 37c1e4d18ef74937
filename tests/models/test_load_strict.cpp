// SPDX-License-Identifier: MIT
// A checkpoint that does not fit the space is an error: every unused parameter tensor is named,
// with the space option that would use it; missing and renamed tensors are named; a bias table
// whose size says that a stride or the resolution differs says so.
// load_options().allow_extra_tensors(true) accepts unused tensors.
#include <string>
#include <vector>

#include "evit/models/elasticvit/supernet.hpp"

#include "catch.hpp"
#include "test_data.hpp"

namespace ev = evit::elasticvit;
using Catch::Matchers::Contains;

namespace load_strict_test {

struct copy_name {
  static constexpr const char* name = "mini-copy";
};
struct no_se_name {
  static constexpr const char* name = "mini-without-C1-se";
};
struct t3_stride_name {
  static constexpr const char* name = "mini-T3-stride-2";
};

/// The mini space of models/elasticvit/space.hpp, with C1's squeeze-excite and T3's stride as
/// parameters (the reference supernet has SE on C1 and stride 1 on T3).
template <class Name, bool C1SqueezeExcite, int T3Stride>
using mini_like = evit::search_space<
    evit::space_name<Name>, evit::resolution<96, 128, 160>,  //
    ev::first_conv<evit::width<16, 24>>,                     //
    ev::stem<evit::width<16, 24>, evit::depth<1, 2>, evit::kernel<3, 5>>,
    evit::conv_stage<evit::width_range<16, 24, 8>, evit::depth_range<2, 3>,
                     evit::expansion<3, 4, 5, 6>, evit::kernel<3, 5>, evit::stride<2>>,
    evit::conv_stage<evit::width_range<16, 32, 8>, evit::depth_range<2, 3>,
                     evit::expansion<3, 4, 5, 6>, evit::kernel<3, 5>, evit::stride<2>,
                     evit::squeeze_excite<C1SqueezeExcite>>,
    evit::transformer_stage<evit::width_range<32, 48, 16>, evit::depth_range<1, 2>,
                            evit::mlp_ratio<2, 3, 4, 5>, evit::v_scale<2, 3, 4>, evit::qk_scale<1>,
                            evit::head_dim<16>, evit::stride<2>>,
    evit::transformer_stage<evit::width_range<48, 64, 16>, evit::depth_range<1, 3>,
                            evit::mlp_ratio<2, 3, 4, 5>, evit::v_scale<2, 3, 4>, evit::qk_scale<1>,
                            evit::head_dim<16>, evit::stride<T3Stride>>,
    evit::transformer_stage<evit::width_range<64, 80, 16>, evit::depth_range<1, 2>,
                            evit::mlp_ratio<2, 3, 4, 5>, evit::v_scale<2, 3, 4>, evit::qk_scale<1>,
                            evit::head_dim<16>, evit::stride<2>>,
    evit::transformer_stage<evit::width_range<80, 96, 16>, evit::depth_range<1, 2>,
                            evit::mlp_ratio<2, 3, 4, 5>, evit::v_scale<2, 3, 4>, evit::qk_scale<1>,
                            evit::head_dim<16>, evit::stride<2>>,
    evit::rules<evit::same_width<0, 1>, evit::non_decreasing_width, evit::blockwise>,  //
    evit::num_classes<10>, evit::head_hidden<256>, evit::head_expand<6>>;

using mini_copy = mini_like<copy_name, true, 1>;
using no_c1_se = mini_like<no_se_name, false, 1>;
using t3_stride_2 = mini_like<t3_stride_name, true, 2>;

/// The message of the format_error that loading `f` into a supernet of `d` throws, or "(loaded)".
std::string load_error(const evit::space_descriptor& d, const evit::io::safetensors_file& f,
                       const ev::load_options& opts = ev::load_options()) {
  try {
    ev::supernet_weights::load(d, f, opts);
  } catch (const evit::format_error& e) {
    return e.what();
  }
  return "(loaded)";
}

/// The tensors of a random mini supernet as a file "sn.safetensors": without `skip`, with
/// `rename` renamed to `to`, plus `extra` tensors (each of 4 floats).
evit::io::safetensors_file random_file(const std::string& skip = "", const std::string& rename = "",
                                       const std::string& to = "",
                                       const std::vector<std::string>& extra = {}) {
  static const auto good = ev::supernet_weights::random(ev::mini_space::descriptor(), 3);
  evit::io::safetensors_writer wr;
  for (const auto& s : good.specs()) {
    if (s.name == skip) continue;
    wr.add(s.name == rename ? to : s.name, s.shape, good.tensor(s.name));
  }
  const float four[4] = {1, 2, 3, 4};
  for (const auto& name : extra) wr.add(name, {4}, four);
  return evit::io::safetensors_file::from_bytes(wr.to_bytes(), "sn.safetensors");
}

std::string mini_path() { return evit::test::data_path("elasticvit-mini/supernet.safetensors"); }

}  // namespace load_strict_test

using namespace load_strict_test;

TEST_CASE("strict load: the reference supernet loads into the mini space and a copy of it",
          "[models][weights][reference]") {
  const auto f = evit::io::safetensors_file::open(mini_path());
  // The file has integer buffers (num_batches_tracked, relative_position_index) the space does not
  // use: they are not parameters, so the file fits.
  CHECK(f.find("feature_exactor.2.layers.0.relative_position_index"));
  CHECK(f.find("first_conv_bn.num_batches_tracked"));
  CHECK(load_error(ev::mini_space::descriptor(), f) == "(loaded)");
  CHECK_NOTHROW(ev::supernet<mini_copy>::load(mini_path()));
}

TEST_CASE("strict load: a space without SE on C1 fails, naming all 12 SE tensors and the option",
          "[models][weights][reference]") {
  const auto f = evit::io::safetensors_file::open(mini_path());
  const std::string msg = load_error(no_c1_se::descriptor(), f);
  CAPTURE(msg);
  CHECK_THAT(msg, Contains(mini_path() +
                           ": 12 parameter tensors of the file are not used by the supernet of "
                           "space mini-without-C1-se:"));
  for (int j = 0; j < 3; ++j)
    for (const char* conv : {"se_conv1", "se_conv2"})
      for (const char* param : {"weight", "bias"})
        CHECK_THAT(msg, Contains("\"feature_exactor.1.layers." + std::to_string(j) + ".0." + conv +
                                 "." + param + "\""));
  CHECK_THAT(msg, Contains("\"feature_exactor.1.layers.0.0.se_conv1.weight\" [48, 192, 1, 1]"));
  CHECK_THAT(msg, !Contains("more"));  // all 12 listed
  CHECK_THAT(msg, Contains("stage C1: the file has squeeze-excite weights (se_conv1, se_conv2) "
                           "there; does the space need squeeze_excite<true> on that stage?"));
  CHECK_THAT(msg, Contains("load_options().allow_extra_tensors(true) ignores them"));
  // The same through supernet<Space>::load.
  CHECK_THROWS_AS(ev::supernet<no_c1_se>::load(mini_path()), evit::format_error);
}

TEST_CASE("strict load: allow_extra_tensors(true) loads a space that uses part of the file",
          "[models][weights][reference]") {
  const auto net =
      ev::supernet<no_c1_se>::load(mini_path(), ev::load_options().allow_extra_tensors(true));
  CHECK(!net.weights().conv_layers[3][0].has_se);
  CHECK(net.weights().specs().size() == 342 - 12);
  CHECK(!ev::load_options().allow_extra_tensors());  // strict by default
}

TEST_CASE("strict load: a changed stride names the stage, both shapes and the stride",
          "[models][weights][reference]") {
  const auto f = evit::io::safetensors_file::open(mini_path());
  const std::string msg = load_error(t3_stride_2::descriptor(), f);
  CAPTURE(msg);
  CHECK_THAT(msg, Contains("stage T3: tensor \"feature_exactor.3.layers.0.attention_bias\" has "
                           "shape [361, 4]; the space expects [81, 4]."));
  CHECK_THAT(msg, Contains("largest token grid: 10x10 in the file, 5x5 in the space"));
  CHECK_THAT(msg, Contains("The stride (downsampling) of stage T3 likely differs from the "
                           "checkpoint's: stride<1> on stage T3 would give 10x10."));
  CHECK_THROWS_AS(ev::supernet<t3_stride_2>::load(mini_path()), evit::format_error);
}

TEST_CASE("strict load: an earlier stride or the resolution: the message names the candidates",
          "[models][weights]") {
  evit::space_descriptor d = ev::mini_space::descriptor();
  d.stages[2].stride = 1;  // C0
  CHECK(load_error(d, random_file()) ==
        "sn.safetensors: stage T2: tensor \"feature_exactor.2.layers.0.attention_bias\" has shape "
        "[361, 3]; the space expects [1521, 3].\n"
        "The relative-position bias table covers the stage's largest token grid: 10x10 in the "
        "file, 20x20 in the space (resolution 160 through the strides first_conv 2, stem 1, C0 1, "
        "C1 2, T2 2).\n"
        "The stride (downsampling) of stage T2 or of a stage before it, or the space's largest "
        "resolution (160), likely differs from the checkpoint's: stride<2> on stage stem or C0, or "
        "a largest resolution between 73 and 80, would give 10x10.");
  evit::space_descriptor r = ev::mini_space::descriptor();
  r.resolution = {96, 128, 224};
  const std::string msg = load_error(r, random_file());
  CAPTURE(msg);
  CHECK_THAT(msg, Contains("10x10 in the file, 14x14 in the space (resolution 224"));
  CHECK_THAT(msg, Contains("a largest resolution between 145 and 160 would give 10x10."));
  // A bias table with the right size but fewer heads is a width difference: the plain message.
  evit::space_descriptor w = ev::mini_space::descriptor();
  w.stages[4].max_heads = 2;
  CHECK_THAT(load_error(w, random_file()),
             Contains("tensor \"feature_exactor.2.layers.0.attention_bias\" has shape [361, 3]; "
                      "the supernet of space elasticvit-mini needs [361, 2]"));
}

TEST_CASE("strict load: missing and renamed tensors are named, allowed extras or not",
          "[models][weights]") {
  const auto& d = ev::mini_space::descriptor();
  CHECK(load_error(d, random_file()) == "(loaded)");
  CHECK(load_error(d, random_file("pre_head_1.bias")) ==
        "sn.safetensors: tensor \"pre_head_1.bias\" is missing (expected shape [256] for space "
        "elasticvit-mini)");
  CHECK(
      load_error(d, random_file("pre_head_1.bias"), ev::load_options().allow_extra_tensors(true)) ==
      "sn.safetensors: tensor \"pre_head_1.bias\" is missing (expected shape [256] for space "
      "elasticvit-mini)");
  // A converter that "fixes" the official (sic) name classifer.
  const std::string renamed =
      "sn.safetensors: tensor \"classifer.weight\" is missing (expected "
      "shape [10, 256] for space elasticvit-mini) (the file has "
      "\"classifier.weight\": renamed?)\n"
      "1 parameter tensor of the file is not used by the supernet of "
      "space elasticvit-mini:\n"
      "  \"classifier.weight\" [10, 256]";
  CHECK(load_error(d, random_file("", "classifer.weight", "classifier.weight")) == renamed);
  CHECK(load_error(d, random_file("", "classifer.weight", "classifier.weight"),
                   ev::load_options().allow_extra_tensors(true)) == renamed);
  // Several missing: all listed.
  evit::space_descriptor se = d;
  se.stages[2].squeeze_excite = true;  // C0: the file has no SE there
  const std::string msg = load_error(se, random_file());
  CAPTURE(msg);
  CHECK_THAT(msg, Contains("sn.safetensors: 12 tensors the supernet of space elasticvit-mini "
                           "needs are missing:\n  \"feature_exactor.0.layers.0.0.se_conv1.weight\" "
                           "[36, 144, 1, 1]"));
  CHECK_THAT(msg, Contains("\"feature_exactor.0.layers.2.0.se_conv2.bias\" [144]"));
  CHECK_THAT(msg, Contains("stage C0: the file has no squeeze-excite weights there; does the "
                           "space need squeeze_excite<false> (the default) on that stage?"));
}

TEST_CASE(
    "strict load: unused tensors of a deeper stage, of unknown modules (a capped list), buffers",
    "[models][weights]") {
  evit::space_descriptor shallow = ev::mini_space::descriptor();
  shallow.stages[3].max_depth = 2;  // C1: the file has 3 layers
  const std::string msg = load_error(shallow, random_file());
  CAPTURE(msg);
  CHECK_THAT(msg, Contains("14 parameter tensors of the file are not used"));
  CHECK_THAT(msg, Contains("\"feature_exactor.1.layers.2.0.shortcut_conv.weight\" [32, 32, 1, 1]"));
  CHECK_THAT(msg, Contains("stage C1: the file has 3 layers there, the space's supernet 2; does "
                           "the space need a max depth of 3 on that stage"));
  // 20 unknown tensors: 16 listed, the rest counted.
  std::vector<std::string> extra;
  for (int i = 0; i < 20; ++i) extra.push_back("aux_head." + std::to_string(i) + ".weight");
  const std::string many = load_error(ev::mini_space::descriptor(), random_file("", "", "", extra));
  CAPTURE(many);
  CHECK_THAT(many, Contains("20 parameter tensors of the file are not used"));
  CHECK_THAT(many, Contains("\"aux_head.0.weight\" [4]"));
  CHECK_THAT(many, Contains("\n  ... and 4 more\n"));
  CHECK(ev::supernet_weights::load(ev::mini_space::descriptor(), random_file("", "", "", extra),
                                   ev::load_options().allow_extra_tensors(true))
            .specs()
            .size() == 342);
  // Buffers are never reported, even as floats: BatchNorm counters and statistics, index tables.
  CHECK(load_error(ev::mini_space::descriptor(),
                   random_file("", "", "",
                               {"first_conv_bn.num_batches_tracked",
                                "feature_exactor.9.layers.0.relative_position_index",
                                "feature_exactor.1.layers.7.0.pw_bn.running_mean",
                                "feature_exactor.1.layers.7.0.pw_bn.running_var"})) == "(loaded)");
  // A stage the space lacks.
  CHECK_THAT(load_error(ev::mini_space::descriptor(),
                        random_file("", "", "", {"feature_exactor.6.layers.0.qkv.weight"})),
             Contains("the file has a stage feature_exactor.6 after the space's last stage (T5); "
                      "does the space lack a stage?"));
}
