#!/usr/bin/env bash
# Restart-to-serving of a bookie after kill -9: starts quire-bookie on a fresh file:// store (the
# default 10 s lease), waits until it serves, kills it with SIGKILL, starts it again on the same
# directories and measures the time from that start to its "ready" line (printed once it is
# registered and serving). Repeats, then prints each figure and the median. With TERM as the
# third argument it stops the bookie cleanly (SIGTERM) instead, for comparison.
#
#   tools/bench-restart.sh [path/to/quire-bookie] [rounds] [KILL|TERM]
#   # defaults: build/release/src/bookie/quire-bookie, 5 rounds, KILL
#
# Uses loopback ports 31810 (protocol) and 31811 (admin HTTP) and a temporary directory.
set -euo pipefail

bookie="${1:-build/release/src/bookie/quire-bookie}"
rounds="${2:-5}"
signal="${3:-KILL}"
dir="$(mktemp -d /tmp/quire-bench-restart.XXXXXX)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat > "$dir/bookie.conf" <<CONF
bookiePort = 31810
bookieBindAddress = 127.0.0.1
advertisedAddress = 127.0.0.1
httpServerAddress = 127.0.0.1
httpServerPort = 31811
metadataServiceUri = file://$dir/metadata
journalDirectories = $dir/journal
ledgerDirectories = $dir/ledgers
logFile = $dir/bookie.log
CONF

# Starts the bookie (with extra arguments "$@") and waits (at most 120 s) for its ready line;
# sets `elapsed` to the seconds it took (and `pid`: not in a subshell, so that it can be killed).
start() {
  local t0 t1
  rm -f "$dir/out"
  t0=$(date +%s.%N)
  "$bookie" --conf "$dir/bookie.conf" "$@" > "$dir/out" 2>> "$dir/stderr" &
  pid=$!
  for _ in $(seq 1 12000); do
    if grep -q " ready: " "$dir/out" 2>/dev/null; then
      t1=$(date +%s.%N)
      elapsed=$(echo "$t1 - $t0" | bc)
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench-restart: quire-bookie exited; see $dir/stderr" >&2
      cat "$dir/stderr" >&2
      return 1
    fi
    sleep 0.01
  done
  echo "bench-restart: no ready line in 120 s" >&2
  return 1
}

start --init-cluster  # creates the cluster, the cookie and the directories
figures=()
for _ in $(seq 1 "$rounds"); do
  kill -s "$signal" "$pid"
  wait "$pid" 2>/dev/null || true
  start
  figures+=("$elapsed")
done
printf 'restart-to-serving after SIG%s (s): %s\n' "$signal" "${figures[*]}"
printf '%s\n' "${figures[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median: %.3f s\n", a[int((NR+1)/2)]}'
