#!/usr/bin/env python3
"""The journal's disk pattern without the engine, as a second opinion on storage_bench's floors.

Writes a 2 GiB file with 1 MiB O_DIRECT writes: once into a new file, then over its blocks, with
and without a second thread that fdatasyncs in a loop (one sync in flight, as the journal's sync
thread does). If the engine's journal MB/s is close to the "fdatasync loop alongside" figure, the
disk is the limit; if it is far below, the engine is.

    python3 bench/storage/raw_journal_pattern.py /path/on/the/journal/disk/raw.dat [chunk KiB]
"""
import mmap
import os
import sys
import threading
import time

SIZE = 2 << 30


def run(fd, buf, label, sync_loop):
    done = False
    syncs = 0

    def syncer():
        nonlocal syncs
        while not done:
            os.fdatasync(fd)
            syncs += 1

    thread = threading.Thread(target=syncer) if sync_loop else None
    start = time.monotonic()
    if thread:
        thread.start()
    for offset in range(0, SIZE, len(buf)):
        os.pwrite(fd, buf, offset)
    done = True
    if thread:
        thread.join()
    os.fdatasync(fd)
    elapsed = time.monotonic() - start
    print(f"{label}: {SIZE / elapsed / 1e6:.0f} MB/s, {syncs / elapsed:.0f} fdatasyncs/s", flush=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    chunk = (int(sys.argv[2]) if len(sys.argv) > 2 else 1024) << 10
    buf = mmap.mmap(-1, chunk)  # page-aligned, as O_DIRECT needs
    buf.write(b"q" * chunk)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o644)
    try:
        run(fd, buf, "new file, one final fdatasync", False)
        for _ in range(2):
            run(fd, buf, "over its blocks, one final fdatasync", False)
            run(fd, buf, "over its blocks, fdatasync loop alongside", True)
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
