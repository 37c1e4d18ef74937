# search_autoformer (examples/search_autoformer.cpp): short searches over the AutoFormer-T space
# on a random supernet: screened with this machine's block table (profiled, calibrated, cached in
# the build folder) and confirmed by measurement (a budget every subnet meets, so that a noisy
# machine cannot leave the shortlist without an answer), and with every candidate measured.
add_test(NAME "example: search_autoformer --help" COMMAND search_autoformer --help)
set_tests_properties("example: search_autoformer --help" PROPERTIES
  PASS_REGULAR_EXPRESSION "Usage: search_autoformer")
add_test(NAME "example: search_autoformer with this machine's block table, confirmed by measurement"
         COMMAND search_autoformer --population 4 --iterations 1 --calibrate 8 --budget-ms 2000
                 --table ${CMAKE_CURRENT_BINARY_DIR}/search_autoformer_lut.json)
set_tests_properties("example: search_autoformer with this machine's block table, confirmed by measurement"
  PROPERTIES PASS_REGULAR_EXPRESSION
  "table: +18 blocks.*calibrated on 6 subnets.*best: +r224 blocks=.*ms measured \\(table: [0-9.]+\\) within"
  TIMEOUT 600)
# Every candidate measured whole: the budget sits at 0.9 of the way from the smallest subnet to
# the largest, so that few candidates need repairs. At the middle, repairs measured each step
# (kept only when strictly closer, which the machine's noise often denies): 24 to 323 subnets
# measured for 8 evaluated, 27 s to 376 s, on one machine.
add_test(NAME "example: search_autoformer finds a subnet within the measured budget"
         COMMAND search_autoformer --population 4 --iterations 1 --latency measured
                 --budget-at 0.9)
set_tests_properties("example: search_autoformer finds a subnet within the measured budget"
  PROPERTIES PASS_REGULAR_EXPRESSION "best: +r224 blocks=.*ms measured within" TIMEOUT 600)
evit_add_failure_test(NAME "example: search_autoformer refuses a budget point outside [0, 1]"
  EXIT_CODE 2 EXPECT "--budget-at: '1.5' is not a number in \\[0, 1\\]"
  COMMAND search_autoformer --budget-at 1.5)
