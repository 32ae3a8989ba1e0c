#!/usr/bin/env bash
# Builds Quire's libFuzzer targets with clang (ASan + UBSan) in build/fuzz and fuzzes the bookie's
# request decoder for the given number of seconds (default 60), starting from the checked-in seed
# corpus. Exits non-zero on any crash, leak, sanitizer report or broken invariant; the input that
# caused it is kept (its path is printed). The repository is not modified: the corpus is copied to
# a scratch directory first.
#
#   tools/run-fuzz.sh [seconds]
#
# Needs clang and libclang-rt-14-dev (tools/install-deps.sh installs both). Warnings are not
# errors here: clang reports some that GCC, which CI's main build uses, does not.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [seconds]" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
build=build/fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" \
  -DQUIRE_FUZZ=ON -DQUIRE_BUILD_TESTS=OFF -DQUIRE_BUILD_BENCH=OFF \
  -DQUIRE_SANITIZE=address,undefined -DQUIRE_WERROR=OFF
cmake --build "$build" -j2 --target request_fuzzer

scratch="$(mktemp -d "${TMPDIR:-/tmp}/quire-fuzz.XXXXXX")"
mkdir -p "$scratch/corpus" "$scratch/artifacts"
cp tests/fuzz/corpus/request/* "$scratch/corpus/"

# -max_len: several frames of small requests; the validation rules need no more (a batch of 10001
# adds, ~450 KiB, is covered by bookie_protocol_unit_test). -timeout: one input never takes 10 s.
status=0
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$build/tests/fuzz/request_fuzzer" "$scratch/corpus" \
    -dict=tests/fuzz/request.dict -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$scratch/artifacts/" || status=$?

if [ "$status" -ne 0 ] || [ -n "$(ls -A "$scratch/artifacts")" ]; then
  echo "run-fuzz.sh: request_fuzzer failed (exit $status); inputs kept in $scratch/artifacts:" >&2
  ls -l "$scratch/artifacts" >&2
  echo "reproduce: $build/tests/fuzz/request_fuzzer <input>" >&2
  exit 1
fi
rm -rf "$scratch"
echo "run-fuzz.sh: request_fuzzer ran ${seconds} s without a failure"
