# Warnings live here and only here. quire_target_warnings() applies them to Quire's own targets;
# third-party headers are included as SYSTEM and never break the build. -Wnull-dereference is left
# out: GCC 12 reports false positives from inlined libstdc++ code (seen with CLI11).
set(QUIRE_WARNING_FLAGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2 -Wvla
  -Wno-missing-field-initializers)

function(quire_target_warnings target)
  target_compile_options(${target} PRIVATE ${QUIRE_WARNING_FLAGS})
  if(QUIRE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
