// storage_bench --gc: garbage collection, beside the floors measured in the same run.
//
//  1. Reclaim throughput. Writes --gc-mb of --gc-entry-bytes entries (4 KiB) over 20 ledgers, interleaved, into
//     64 MiB entry logs (so every log holds every ledger), deletes all but --gc-live of the
//     ledgers from the catalog and runs one major pass, unthrottled. Reports how fast compaction
//     went through the old logs (MB of old log rewritten per second) and how fast it wrote the
//     copies, against the streaming-write floor (target: rewriting at >= 50% of it).
//  2. What compaction costs adds. On a second, identical data set, 16 writers keep one 1 KiB add
//     in flight each while a major compaction runs at compactionRateByBytes (its default, or
//     --set), suspended and resumed in alternating windows (a disk's latency drifts over seconds
//     on shared machines; alternating windows see the same drift). Each window is 1.2 s to take
//     effect and 0.5 s measured; it reports the add p99 of each kind of window over --seconds of
//     each (target: with <= 1.5 x without), apart from that the p99 while a resumed pass starts
//     up (the first 1.2 s), and whether the compaction was still running at the end.
#pragma once

#include "storage_bench.h"

namespace quire::bench {

// Prints the cases (one JSON object per line with --json) and the targets; 0 on success.
int RunGcBench(FileSystem* fs, const Settings& s, const Floors& floors);

}  // namespace quire::bench
