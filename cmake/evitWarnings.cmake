# evit_set_warnings(target): the warnings our own targets build with (never imposed on users).
function(evit_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
  if(EVIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
