#!/usr/bin/env bash
# A stand-in for a second disk on a machine that has one: an ext4 file system on a zram device (a
# compressed RAM block device that supports O_DIRECT). storage_bench puts ledger storage on it
# (--ledger-dir) to measure the journal alone on the real disk, as in a deployment that gives the
# journal its own disk. Benchmark payloads are repetitive, so zram stores them in little memory;
# its compression still costs some CPU, which a real second disk would not.
#
#   tools/bench-second-disk.sh up [size]   # default 64G (virtual); prints the mount point
#   tools/bench-second-disk.sh down
#
# Needs root and a kernel with zram (/sys/block/zram0 or the zram module).
set -euo pipefail

mnt=/mnt/quire-bench-ledgers
dev=/dev/zram0

case "${1:-}" in
  up)
    size="${2:-64G}"
    [[ -e /sys/block/zram0 ]] || modprobe zram num_devices=1
    if mountpoint -q "$mnt"; then echo "$mnt"; exit 0; fi
    if [[ "$(cat /sys/block/zram0/disksize)" != 0 ]]; then
      echo "bench-second-disk: $dev is already in use (disksize $(cat /sys/block/zram0/disksize))" >&2
      exit 1
    fi
    echo lz4 > /sys/block/zram0/comp_algorithm 2>/dev/null || true
    echo "$size" > /sys/block/zram0/disksize
    mkfs.ext4 -q -F "$dev"
    mkdir -p "$mnt"
    mount -o discard "$dev" "$mnt"
    echo "$mnt"
    ;;
  down)
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    rmdir "$mnt" 2>/dev/null || true
    echo 1 > /sys/block/zram0/reset
    ;;
  *)
    echo "usage: $0 up [size] | down" >&2
    exit 2
    ;;
esac
