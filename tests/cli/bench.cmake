# quire-bench run as a process against a real three-bookie cluster (tests/client/test_cluster.h).
# Included from tests/cli/CMakeLists.txt.
quire_add_test(cli_bench_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bench_test.cc
  LIBS quire_client_test_util nlohmann_json::nlohmann_json)
target_compile_definitions(cli_bench_test PRIVATE
  QUIRE_BENCH_BINARY="$<TARGET_FILE:quire-bench>")
add_dependencies(cli_bench_test quire-bench quire-bookie)
