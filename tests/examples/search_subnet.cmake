# Smoke runs of examples/search_subnet (included by tests/examples/CMakeLists.txt). Small searches
# only: the default run (the trained Fashion-MNIST supernet on this machine, then five devices of
# the official space, three budgets each) is timed by hand (README).
set(_ss_out ${CMAKE_CURRENT_BINARY_DIR}/search_subnet_out)
add_test(NAME "example: search_subnet --help" COMMAND search_subnet --help)
set_tests_properties("example: search_subnet --help" PROPERTIES
  PASS_REGULAR_EXPRESSION "Usage: search_subnet")
add_test(NAME "example: search_subnet on two phones, small search"
  COMMAND search_subnet --device pixel6,xiaomi11 --budgets 2 --iterations 2 --population 32
          --quiet --out ${_ss_out}/phones)
set_tests_properties("example: search_subnet on two phones, small search" PROPERTIES
  # --quiet: no progress lines; no `this` device: no Fashion-MNIST part
  FAIL_REGULAR_EXPRESSION "ETA|== 1/2"
  PASS_REGULAR_EXPRESSION "objective: PROXY.*pixel6 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +- +r[0-9]+ .*xiaomi11 +[0-9.]+ .*wrote .*results.json.*plot: .*done in")
# Progress lines with the time left, on stderr (one line per search into a pipe, its closing line).
add_test(NAME "example: search_subnet prints progress with an ETA"
  COMMAND search_subnet --device pixel6 --budget-ms 30 --iterations 2 --population 16
          --out ${_ss_out}/progress)
set_tests_properties("example: search_subnet prints progress with an ETA" PROPERTIES
  PASS_REGULAR_EXPRESSION
  "pixel6 <= 30.00 ms: 1/3 \\(33%\\), [0-9]+ m?s, ETA [0-9]+ m?s, [0-9]+ subnets, best [0-9.]+\n.*pixel6 <= 30.00 ms: done in [0-9]+ m?s \\([0-9]+ subnets\\)")
add_test(NAME "example: search_subnet with explicit budgets and the HAT preset"
  COMMAND search_subnet --device pixel1 --budget-ms 20,60 --preset hat --iterations 1
          --population 16 --quiet --out ${_ss_out}/budgets)
set_tests_properties("example: search_subnet with explicit budgets and the HAT preset" PROPERTIES
  PASS_REGULAR_EXPRESSION "preset hat.*pixel1 +20.00 .*pixel1 +60.00 ")
add_test(NAME "example: search_subnet reports an infeasible budget"
  COMMAND search_subnet --device pixel6 --budget-ms 0.5 --iterations 1 --population 8 --quiet
          --out ${_ss_out}/infeasible)
set_tests_properties("example: search_subnet reports an infeasible budget" PROPERTIES
  PASS_REGULAR_EXPRESSION "pixel6 +0.50  infeasible: no subnet of space elasticvit-official satisfying latency ms <= 0.5 was found")
# Each bad input: exit code 1 and one line on stderr that names the bad value.
foreach(case
    "--device;marsphone|mobile_latency: no latency table for device .marsphone.. searched [^\n]*/data/mobile-lut [^\n]*. known devices: pixel1, pixel4, pixel6, xiaomi11"
    "--device;marsphone;--lut-dir;/nonexistent|--device marsphone: no table /nonexistent/marsphone\\.json"
    "--budgets;0|--budgets: '0' is not an integer in \\[1, 20\\] \\(see --help\\)"
    "--val;x.safetensors|--val needs --weights \\(the supernet to score\\)"
    "--iterationz;3|unknown option '--iterationz' \\(see --help\\)"
    "--budget-ms;-3|--budget-ms: '-3' is not a positive number \\(see --help\\)"
    "--budget-ms;20,x|--budget-ms: 'x' is not a positive number \\(see --help\\)"
    "--weights;random;--val;random:1|'random:1': random:N needs an integer N >= 2"
    "--space;imagenet|--space: imagenet not in \\{fashion\\+official,official,fashion\\} \\(see --help\\)"
    "--fashion-dir;/nonexistent|--fashion-dir: no supernet.safetensors in '/nonexistent' \\(the trained supernet and its validation images, see data/fashion/README.md\\), or run --space official, which needs neither")
  string(REPLACE "|" ";" case "${case}")
  list(POP_BACK case message)
  string(REPLACE ";" " " label "${case}")
  evit_add_failure_test(NAME "example: search_subnet rejects ${label}" EXIT_CODE 1
    EXPECT "^search_subnet: ${message}\n$" COMMAND search_subnet ${case} --out ${_ss_out}/bad)
endforeach()
# This machine (profiles blocks, measures whole subnets) and the top-1 objective run real forwards:
# too slow under the sanitizers' Debug build, so only in optimised builds.
# Profiling the official space's 3073 blocks takes 20 s to minutes; the first of these tests does
# it once and the other two reuse its saved table (as a user's second run does), one at a time
# because they share the output folder: the default run's <out>/official is the others' <out>.
if(NOT CMAKE_CXX_FLAGS MATCHES "sanitize" AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(_ss_shared ${_ss_out}/shared)
  add_test(NAME "example: search_subnet on this machine: table screening, measured winners"
    COMMAND search_subnet --space official --device this --budget-ms 2000 --iterations 0
            --population 4 --shortlist 2 --calibrate 8 --quiet --out ${_ss_shared}/official)
  set_tests_properties("example: search_subnet on this machine: table screening, measured winners"
    PROPERTIES PASS_REGULAR_EXPRESSION
    "this +2000.00 +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ \\+-[0-9]+% .*shortlist \\(median <= budget\\), [0-9.]+ s extra: [0-9.]+->[0-9.]+ .*blocks profiled now")
  # The stricter rule (the 95% interval's upper end), no re-search, the plain sum (no calibration).
  add_test(NAME "example: search_subnet on this machine: --budget-rule upper95, --research 0"
    COMMAND search_subnet --space official --device this --budget-ms 2000 --iterations 0
            --population 4 --shortlist 1 --budget-rule upper95 --research 0 --calibrate 0 --quiet
            --out ${_ss_shared}/official)
  set_tests_properties("example: search_subnet on this machine: --budget-rule upper95, --research 0"
    PROPERTIES PASS_REGULAR_EXPRESSION "shortlist \\(upper95 <= budget\\)")
  add_test(NAME "example: search_subnet with the top-1 objective (random weights and images)"
    COMMAND search_subnet --weights random --val random:6 --device pixel6 --budget-ms 30
            --iterations 1 --population 4 --quiet --out ${_ss_out}/top1)
  set_tests_properties("example: search_subnet with the top-1 objective (random weights and images)"
    PROPERTIES
    PASS_REGULAR_EXPRESSION "objective: top-1 % after BN recalibration.*pixel6 +30.00 +[0-9.]+ ")
  # A Fashion-MNIST supernet on this machine: top-1, the smallest and largest subnets as references.
  # A budget every subnet meets (they run in 0.2-1.3 ms here), so that the row always has an
  # answer: with a budget between them, a table calibrated on 8 subnets may leave none that fits
  # (then the row says so; the search's own tests cover that case).
  add_test(NAME "example: search_subnet --space fashion, top-1 on this machine"
    COMMAND search_subnet --space fashion --weights random --val random:32 --budget-ms 20
            --iterations 1 --population 4 --calibrate 8 --shortlist 2 --quiet
            --out ${_ss_out}/fashion)
  set_tests_properties("example: search_subnet --space fashion, top-1 on this machine"
    PROPERTIES PASS_REGULAR_EXPRESSION
    "space: elasticvit-fashion\nobjective: top-1 % after BN recalibration.*this +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ \\+-[0-9]+% +r(28|32) ")
  # The default: the shipped trained Fashion-MNIST supernet on this machine with real top-1 (its
  # reference rows: the smallest and largest subnets), then the official space (a phone here, to
  # keep it short). Small searches; the default run is timed by hand (README). The default budget
  # lies between the smallest and largest subnets, so on a noisy machine (forwards measured up to
  # 2x slower than the table predicts) the row may honestly say that no subnet fits: either
  # answer passes, with real top-1 in the reference rows either way.
  add_test(NAME "example: search_subnet default: the trained Fashion-MNIST supernet, then the official space"
    COMMAND search_subnet --device this,pixel6 --budgets 1 --iterations 1 --population 4
            --calibrate 8 --shortlist 1 --quiet --out ${_ss_shared})
  set_tests_properties("example: search_subnet default: the trained Fashion-MNIST supernet, then the official space"
    PROPERTIES PASS_REGULAR_EXPRESSION
    "== 1/2 the trained Fashion-MNIST supernet \\([^\n]*data/fashion/supernet.safetensors\\), this machine, top-1\nspace: elasticvit-fashion\nobjective: top-1 % after BN recalibration.*this +[0-9.]+ +([0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ \\+-[0-9]+% +r(28|32) |no subnet within budget: [^\n]* the fastest measures [0-9.]+ ms \\(median\\) > budget [0-9.]+ ms).*this reference points \\(predicted ms, top-1 %\\): smallest [0-9.]+ ms [0-9.]+[.][0-9]+, largest [0-9.]+ ms [0-9.]+[.][0-9]+.*== 2/2 the official ElasticViT space\nspace: elasticvit-official\nobjective: PROXY.*pixel6 +[0-9.]+ ")
  set_tests_properties("example: search_subnet on this machine: table screening, measured winners"
    PROPERTIES FIXTURES_SETUP search_subnet_official_table RESOURCE_LOCK search_subnet_shared)
  set_tests_properties("example: search_subnet on this machine: --budget-rule upper95, --research 0"
    "example: search_subnet default: the trained Fashion-MNIST supernet, then the official space"
    PROPERTIES FIXTURES_REQUIRED search_subnet_official_table RESOURCE_LOCK search_subnet_shared)
endif()
evit_add_failure_test(NAME "example: search_subnet --space fashion refuses a phone" EXIT_CODE 1
  EXPECT "--device pixel6: the phone tables hold the official space's blocks; --space fashion runs on this machine only"
  COMMAND search_subnet --space fashion --device pixel6 --out ${_ss_out}/fashion-phone)
add_test(NAME "tools: plot_search.py --help" COMMAND python3 ${PROJECT_SOURCE_DIR}/tools/plot_search.py --help)
set_tests_properties("tools: plot_search.py --help" PROPERTIES PASS_REGULAR_EXPRESSION "usage: python3 tools/plot_search.py")
