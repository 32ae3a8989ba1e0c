#!/usr/bin/env bash
# Builds Quire and runs its tests in a chroot of another Debian release, to check that the build
# works with that release's packages (docs/deploy.md, "Other distributions").
#
#   tools/build-in-chroot.sh [release] [chroot-dir]      (default: trixie /var/tmp/quire-<release>)
#
# A Debian release name (trixie, sid) or an Ubuntu one (noble, resolute).
#
# Root only. Creates the chroot with debootstrap on first use (about 300 MB, then the build
# dependencies), clones this repository's committed HEAD into it, runs tools/install-deps.sh there,
# then the CI preset's configure, build and tests. The chroot's /proc, /sys, /dev and /tmp are
# bind-mounted for the run and unmounted at the end, also on failure.
set -euo pipefail

release="${1:-trixie}"
root="${2:-/var/tmp/quire-$release}"
repo="$(cd "$(dirname "$0")/.." && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "build-in-chroot.sh: must run as root (debootstrap, chroot, mount)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "build-in-chroot.sh: apt-get install debootstrap" >&2; exit 1; }

# Ubuntu's releases come from its archive (universe holds RocksDB, spdlog, ZooKeeper, ...), with
# debootstrap's generic Ubuntu script: Debian 12's debootstrap predates the newest names.
case "$release" in
  jammy|noble|oracular|plucky|questing|resolute)
    bootstrap=(--components=main,universe "$release" "$root" http://archive.ubuntu.com/ubuntu
               /usr/share/debootstrap/scripts/gutsy) ;;
  *)
    bootstrap=("$release" "$root" http://deb.debian.org/debian) ;;
esac
if [ ! -x "$root/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase "${bootstrap[@]}"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" || true; done
}
trap cleanup EXIT
for d in proc sys dev dev/pts; do
  mountpoint -q "$root/$d" || { mount --bind "/$d" "$root/$d"; mounted+=("$root/$d"); }
done
mountpoint -q "$root/tmp" || { mount -t tmpfs tmpfs "$root/tmp"; mounted+=("$root/tmp"); }

rm -rf "$root/root/quire"
git clone -q "$repo" "$root/root/quire"
chroot "$root" bash -c 'cd /root/quire && bash tools/install-deps.sh'
chroot "$root" bash -c 'cd /root/quire && cmake --preset asan && cmake --build --preset asan &&
                        ctest --preset asan'
