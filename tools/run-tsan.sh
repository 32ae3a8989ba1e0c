#!/usr/bin/env bash
# The client and bookie tests under ThreadSanitizer (CI runs this after the asan suite).
#
# Builds the tsan preset's quire-bookie and the test programs below, then runs the tests the
# tsan test preset selects (CMakePresets.json): the client writing and reading 100,000 entries
# (E3/Qw3/Qa2 and E5/Qw3/Qa2, embedded metadata store) against real bookie processes, Close
# racing recovery, recovery and OpenLedgerForWriting deciding while a bookie is paused (the
# grace's timers and callbacks), the bookie protocol over loopback, and the storage engine's concurrency and
# crash tests. Every bookie the tests start is
# the TSan build too. A race stops the process that found it (halt_on_error) and fails its test.
# tools/tsan-suppressions.txt says what is suppressed and why (only the uninstrumented RocksDB).
# A subset, not every test, for CI's budget: all 59 of these tests with every quorum and both
# metadata stores took 7.5 minutes on 2 cores (clean); this subset takes about 3, plus about 4 for
# the build from scratch. `ctest --preset tsan -R WriteReadTest` after this runs the rest of
# the client's write/read tests under TSan. Usage: tools/run-tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset tsan
cmake --build --preset tsan --target quire-bookie client_write_read_test client_close_test \
  client_fault_test client_bookie_client_test bookie_protocol_test bookie_request_processor_test \
  storage_test common_test metadata_test client_tls_test tls_reload_test \
  client_rolling_restart_test autorecovery_test
ctest --preset tsan
