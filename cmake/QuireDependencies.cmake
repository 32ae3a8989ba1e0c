# Every dependency comes from Debian 12 packages (tools/install-deps.sh); nothing is downloaded.
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG)
find_package(Protobuf REQUIRED)
find_package(RocksDB REQUIRED CONFIG)
find_package(fmt REQUIRED CONFIG)
find_package(spdlog REQUIRED CONFIG)
find_package(CLI11 REQUIRED CONFIG)
find_package(nlohmann_json REQUIRED CONFIG)
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
# sd_notify for quire-bookie under systemd (Type=notify, watchdog): src/bookie/systemd_notify.h.
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h REQUIRED)
find_library(ZOOKEEPER_MT_LIBRARY zookeeper_mt REQUIRED)
add_library(Quire::zookeeper_mt UNKNOWN IMPORTED)
# THREADED: the multi-threaded client library; without it zookeeper.h hides the synchronous calls.
set_target_properties(Quire::zookeeper_mt PROPERTIES
  IMPORTED_LOCATION "${ZOOKEEPER_MT_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${ZOOKEEPER_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "THREADED")

if(QUIRE_BUILD_TESTS)
  find_package(GTest REQUIRED CONFIG)
endif()
if(QUIRE_BUILD_BENCH)
  find_package(benchmark REQUIRED CONFIG)
endif()
