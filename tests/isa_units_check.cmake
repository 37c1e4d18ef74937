# ctest "isa units: no static initialisers": cmake -P with -DNM=<nm> -DOBJECTS=<objects;...>.
# Code in an ISA unit may use instructions only CPUs of that ISA have, so nothing of it may run
# before the dispatcher has chosen it: no constructor of a namespace-scope object (GCC and clang
# name their initialisers _GLOBAL__sub_I_*), no .init_array entry.
foreach(obj ${OBJECTS})
  execute_process(COMMAND ${NM} ${obj} OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${obj} failed (${rc})")
  endif()
  if(symbols MATCHES "_GLOBAL__sub_I")
    message(FATAL_ERROR "${obj} has a static initialiser: it would run on every CPU")
  endif()
  message("${obj}: no static initialiser")
endforeach()
