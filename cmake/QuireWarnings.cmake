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
    # GCC 15 (Ubuntu 26.04) reports the temporaries of a coroutine frame as maybe used
    # uninitialized after `auto [ec, x] = co_await op(asio::as_tuple(...))`, a false positive
    # that depends on inlining; GCC 12-14 do not. The warning stays visible there, not fatal.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 15)
      target_compile_options(${target} PRIVATE -Wno-error=maybe-uninitialized)
    endif()
  endif()
endfunction()
