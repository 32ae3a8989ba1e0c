# Every dependency comes from Debian 12 packages (tools/install-deps.sh); nothing is downloaded.
find_package(Threads REQUIRED)
# 1.81 or newer (Debian 12: libboost1.81-dev; docs/deploy.md, "Other distributions").
find_package(Boost 1.81 REQUIRED CONFIG)
# Boost 1.87 removed Asio's deprecated interfaces. Hidden here too, a use of one fails on Debian 12
# already instead of on a newer distribution. (Beast hides its own unless asked for them.)
set_property(TARGET Boost::headers APPEND PROPERTY
             INTERFACE_COMPILE_DEFINITIONS BOOST_ASIO_NO_DEPRECATED)
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

# jemalloc for the three programs (quire-bookie, quire, quire-bench), never for libquire: an
# application chooses its own malloc. Quire allocates on one thread and frees on another all the
# time (an add's buffers are made by an I/O thread and freed by the flush or callback thread);
# glibc's malloc then refills the allocating thread from the shared arena under a lock and
# consolidates fast bins, which measured as half of a bookie I/O thread's CPU at full load.
# jemalloc: +55-60 % adds/s on the 3-bookie probe (docs/performance.md, "The allocator").
# Sanitizer builds keep the sanitizer's allocator, which they need.
option(QUIRE_JEMALLOC "Link quire-bookie, quire and quire-bench with jemalloc" ON)
if(QUIRE_JEMALLOC AND NOT QUIRE_SANITIZE)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
endif()
# Links `target` (a program) with jemalloc when the build uses it. --no-as-needed: nothing names
# a jemalloc symbol, yet the library must stay in DT_NEEDED ahead of libc so its malloc wins.
function(quire_link_malloc target)
  if(TARGET PkgConfig::JEMALLOC)
    target_link_libraries(${target} PRIVATE
      "-Wl,--push-state,--no-as-needed" PkgConfig::JEMALLOC "-Wl,--pop-state")
  endif()
endfunction()

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
