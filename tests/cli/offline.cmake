# Tests of the offline tools (quire journal|entrylog|index) against files of a real quire-bookie,
# through the built `quire` binary. Included from CMakeLists.txt.
if(TARGET quire_cli)
  quire_add_test(cli_offline_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/offline_test.cc
    LIBS quire_bookie_test_util nlohmann_json::nlohmann_json)
  target_compile_definitions(cli_offline_test PRIVATE QUIRE_CLI_BINARY="$<TARGET_FILE:quire>")
  add_dependencies(cli_offline_test quire quire-bookie)
endif()
