# search_autoformer (examples/search_autoformer.cpp): a short search over the AutoFormer-T space
# under a measured-latency budget, on a random supernet.
add_test(NAME "example: search_autoformer --help" COMMAND search_autoformer --help)
set_tests_properties("example: search_autoformer --help" PROPERTIES
  PASS_REGULAR_EXPRESSION "Usage: search_autoformer")
add_test(NAME "example: search_autoformer finds a subnet within the measured budget"
         COMMAND search_autoformer --population 4 --iterations 1)
set_tests_properties("example: search_autoformer finds a subnet within the measured budget"
  PROPERTIES PASS_REGULAR_EXPRESSION "best: +r224 blocks=.*ms measured \\(budget" TIMEOUT 600)
