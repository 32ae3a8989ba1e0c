#include "storage/storage_options.h"

#include <fmt/format.h>

namespace quire::storage {

const ConfigSchema& StorageConfigSchema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.Add({.name = "journalDirectories", .type = ConfigType::kList,
           .default_value = "/var/lib/quire/journal",
           .description = "Journal directories, comma-separated; one journal (and one journal "
                          "thread) each. Put each on its own disk. A ledger's records go to "
                          "journal (ledgerId mod count)."});
    s.Add({.name = "ledgerDirectories", .type = ConfigType::kList,
           .default_value = "/var/lib/quire/ledgers",
           .description = "Ledger directories (entry logs + RocksDB index), comma-separated. A "
                          "ledger lives in directory (ledgerId mod count)."});
    s.Add({.name = "journalPreAllocSizeMB", .type = ConfigType::kInt, .default_value = "16",
           .description = "Journal files grow by this much at a time (fallocate).",
           .min_int = 1, .max_int = 1024});
    s.Add({.name = "journalMaxSizeMB", .type = ConfigType::kInt, .default_value = "2048",
           .description = "A new journal file is started when the current one reaches this size.",
           .min_int = 1, .max_int = 1 << 20});
    s.Add({.name = "journalReusableFiles", .type = ConfigType::kInt, .default_value = "2",
           .description = "Checkpointed journal files kept to be written again instead of new "
                          "ones (0: delete them). Writing over blocks a file already holds is up "
                          "to twice as fast as filling a new file's preallocated space; each kept "
                          "file costs up to journalMaxSizeMB of disk.",
           .min_int = 0, .max_int = 64});
    s.Add({.name = "journalZeroAheadKB", .type = ConfigType::kInt, .default_value = "1024",
           .description = "While idle, the journal thread writes zeros up to this far past the "
                          "end of its data, so that the next groups overwrite written blocks: "
                          "their fdatasync then only flushes the disk, where a group in "
                          "fallocate'd space also commits the file system's own journal (on "
                          "ext4 1.5x the latency and twice the CPU). Costs at most this much "
                          "extra writing per idle moment. Not while its groups are large (64 "
                          "KiB on average): the next group would write over the zeros at "
                          "once. 0: off.",
           .min_int = 0, .max_int = 1 << 20});
    s.Add({.name = "journalWriteInline", .type = ConfigType::kBool, .default_value = "true",
           .description = "An idle journal (nothing being written or synced, a few records "
                          "queued, the last fdatasync under 5 ms) is written and synced by the I/O "
                          "thread that read the adds, which then answers them, instead of "
                          "handing them to the journal thread and its callbacks to a callback "
                          "thread: an evenly spaced add then wakes no other thread. While it "
                          "syncs, that I/O thread reads no other requests. false: always the "
                          "journal thread."});
    s.Add({.name = "journalMaxGroupWaitUs", .type = ConfigType::kInt, .default_value = "0",
           .description = "How long the journal thread may wait for a group to fill before it "
                          "writes, when the last group held more than one record (under load; a "
                          "lone writer never waits). Longer waits make fewer, larger groups: less "
                          "CPU per add for more latency per add (docs/performance.md, \"A group "
                          "wait under load\"). 0: never wait; what arrives during an fdatasync "
                          "forms the next group.",
           .min_int = 0, .max_int = 1000000});
    s.Add({.name = "journalBufferedWritesThresholdKB", .type = ConfigType::kInt,
           .default_value = "2048",
           .description = "Largest group, in KiB: what the journal thread writes with one "
                          "write (under load one fdatasync covers several groups); a single larger "
                          "record is written alone. Only heavy loads of large entries fill it; "
                          "there, larger groups mean fewer, larger writes. BookKeeper's default is "
                          "512 (docs/architecture.md says why Quire's is 2048).",
           .min_int = 4, .max_int = 1 << 20});
    s.Add({.name = "journalDirectIO", .type = ConfigType::kBool, .default_value = "true",
           .description = "Write journal files with O_DIRECT where the file system allows it."});
    s.Add({.name = "journalSkipCorruption", .type = ConfigType::kBool, .default_value = "false",
           .description = "Operator override: replay past corrupt journal data instead of refusing "
                          "to start. What the damaged region held is lost. Turn it off again "
                          "after the start."});
    s.Add({.name = "writeCacheMaxSizeMB", .type = ConfigType::kInt, .default_value = "256",
           .description = "Memory for journaled entries not yet in an entry log (all ledger "
                          "directories together). Half takes adds while the other half flushes.",
           .min_int = 2, .max_int = 1 << 20});
    s.Add({.name = "writeCacheMaxWaitMs", .type = ConfigType::kInt, .default_value = "10000",
           .description = "How long an add waits for write-cache room before it fails with "
                          "too-many-requests.",
           .min_int = 0, .max_int = 3600000});
    s.Add({.name = "flushIntervalMs", .type = ConfigType::kInt, .default_value = "1000",
           .description = "The write cache is flushed about this often (each wait drawn from "
                          "0.75-1.25 of it, so that bookies fed the same adds do not flush in "
                          "step), and when half full.",
           .min_int = 1, .max_int = 3600000});
    s.Add({.name = "flushThresholdKB", .type = ConfigType::kInt, .default_value = "0",
           .description = "If not 0, a ledger directory's write cache is also flushed as soon as "
                          "it holds this much, so that under load flushes come often and small "
                          "(each is a burst of writes that journal fdatasyncs on the same disk "
                          "wait behind). Off by default: measured both ways "
                          "(docs/performance.md, \"Smaller flushes\"). 0: only flushIntervalMs "
                          "and the half-full cache.",
           .min_int = 0, .max_int = 1 << 30});
    s.Add({.name = "flushPacing", .type = ConfigType::kBool, .default_value = "true",
           .description = "Spread a periodic flush's entry-log writes over half the time its "
                          "write cache took to fill (twice the rate it filled), instead of "
                          "writing them at once: a journal fdatasync on the same disk then waits "
                          "behind a slice of the flush, not all of it. A flush something waits "
                          "for (an add needing room, shutdown) writes at once "
                          "(docs/performance.md, \"A flush's writes spread out\")."});
    s.Add({.name = "entryLogSizeLimitMB", .type = ConfigType::kInt, .default_value = "1024",
           .description = "A new entry log is started when the current one reaches this size.",
           .min_int = 1, .max_int = 1 << 20});
    s.Add({.name = "entryLogDirectIO", .type = ConfigType::kBool, .default_value = "true",
           .description = "Write entry logs with O_DIRECT where the file system allows it, so that "
                          "flushes cause no page-cache write-back storms that would stall the "
                          "journal."});
    s.Add({.name = "readAheadCacheMaxSizeMB", .type = ConfigType::kInt, .default_value = "256",
           .description = "Memory for entries read ahead from entry logs (all ledger directories "
                          "together).",
           .min_int = 0, .max_int = 1 << 20});
    s.Add({.name = "readAheadBatchSizeKB", .type = ConfigType::kInt, .default_value = "128",
           .description = "On a read-cache miss, read this much of the entry log from the entry "
                          "on and keep the following entries of the same ledger.",
           .min_int = 0, .max_int = 65536});
    s.Add({.name = "numCallbackThreads", .type = ConfigType::kInt, .default_value = "1",
           .description = "Threads that run completion callbacks of journaled requests.",
           .min_int = 1, .max_int = 64});
    s.Add({.name = "ledgerDirReservedSpaceMB", .type = ConfigType::kInt, .default_value = "64",
           .description = "Free space on each ledger directory's disk that flushes never take: "
                          "kept for the index and for garbage collection, so that a bookie whose "
                          "disk filled up can still delete and compact. A flush that would eat "
                          "into it waits as if the disk were full (the bookie turns read-only).",
           .min_int = 0, .max_int = 1 << 20});
    s.Add({.name = "gcWaitTime", .type = ConfigType::kInt, .default_value = "600000",
           .description = "Milliseconds between garbage-collection passes (BookKeeper's key and "
                          "default). A pass deletes the ledgers the metadata store confirms are "
                          "gone, deletes entry logs nothing points into, and compacts when due. "
                          "`quire bookie gc` starts one at once.",
           .min_int = 1000, .max_int = INT64_C(1) << 40});
    s.Add({.name = "minorCompactionThreshold", .type = ConfigType::kDouble, .default_value = "0.2",
           .description = "Minor compaction rewrites entry logs whose live fraction is below this "
                          "(0 disables it).",
           .min_double = 0, .max_double = 1});
    s.Add({.name = "minorCompactionIntervalMs", .type = ConfigType::kInt,
           .default_value = "3600000",
           .description = "Milliseconds between minor compactions (0 disables them).",
           .min_int = 0, .max_int = INT64_C(1) << 40});
    s.Add({.name = "majorCompactionThreshold", .type = ConfigType::kDouble, .default_value = "0.8",
           .description = "Major compaction rewrites entry logs whose live fraction is below this "
                          "(0 disables it); at least minorCompactionThreshold.",
           .min_double = 0, .max_double = 1});
    s.Add({.name = "majorCompactionIntervalMs", .type = ConfigType::kInt,
           .default_value = "86400000",
           .description = "Milliseconds between major compactions (0 disables them).",
           .min_int = 0, .max_int = INT64_C(1) << 40});
    s.Add({.name = "compactionRateByBytes", .type = ConfigType::kInt, .default_value = "16777216",
           .description = "Bytes per second compaction copies at most, so that adds keep their "
                          "latency (0: unthrottled). BookKeeper's default is 1000000; "
                          "docs/performance.md shows what a compaction at this rate costs adds.",
           .min_int = 0, .max_int = INT64_C(1) << 40});
    s.Add({.name = "gcMetadataOpRateLimit", .type = ConfigType::kInt, .default_value = "1000",
           .description = "Metadata reads per second garbage collection makes to confirm that a "
                          "ledger is gone (0: no limit).",
           .min_int = 0, .max_int = 1000000});
    s.Add({.name = "ioBackend", .type = ConfigType::kString, .default_value = "syscalls",
           .description = "File I/O back end: syscalls (pwrite, pread, fdatasync), io_uring, or "
                          "auto (io_uring if the kernel allows it, else syscalls). syscalls is "
                          "the default because it measured faster: io_uring always hands an "
                          "fdatasync to a kernel worker thread, one more wake-up per journal sync "
                          "(docs/performance.md, \"System calls for file I/O\").",
           .choices = {"auto", "io_uring", "syscalls"}});
    return s;
  }();
  return schema;
}

Result<StorageOptions> StorageOptionsFromConfig(const Config& c) {
  StorageOptions o;
  o.journal_dirs = c.GetList("journalDirectories");
  o.ledger_dirs = c.GetList("ledgerDirectories");
  if (o.journal_dirs.empty()) return InvalidArgument("journalDirectories: no directory given");
  if (o.ledger_dirs.empty()) return InvalidArgument("ledgerDirectories: no directory given");
  auto mb = [&](const char* key) { return static_cast<uint64_t>(c.GetInt(key)) << 20; };
  o.journal_prealloc_bytes = mb("journalPreAllocSizeMB");
  o.journal_max_file_bytes = mb("journalMaxSizeMB");
  o.journal_reusable_files = static_cast<size_t>(c.GetInt("journalReusableFiles"));
  o.journal_write_inline = c.GetBool("journalWriteInline");
  o.journal_zero_ahead_bytes = static_cast<uint64_t>(c.GetInt("journalZeroAheadKB")) << 10;
  o.journal_max_group_wait_us = static_cast<uint64_t>(c.GetInt("journalMaxGroupWaitUs"));
  o.journal_group_bytes_threshold =
      static_cast<uint64_t>(c.GetInt("journalBufferedWritesThresholdKB")) << 10;
  o.journal_direct_io = c.GetBool("journalDirectIO");
  o.journal_skip_corruption = c.GetBool("journalSkipCorruption");
  o.write_cache_bytes = mb("writeCacheMaxSizeMB");
  o.write_cache_max_wait_ms = static_cast<uint64_t>(c.GetInt("writeCacheMaxWaitMs"));
  o.flush_interval_ms = static_cast<uint64_t>(c.GetInt("flushIntervalMs"));
  o.flush_threshold_bytes = static_cast<uint64_t>(c.GetInt("flushThresholdKB")) << 10;
  o.flush_pacing = c.GetBool("flushPacing");
  o.entry_log_size_limit = mb("entryLogSizeLimitMB");
  o.entry_log_direct_io = c.GetBool("entryLogDirectIO");
  o.read_ahead_cache_bytes = mb("readAheadCacheMaxSizeMB");
  o.read_ahead_bytes = static_cast<uint64_t>(c.GetInt("readAheadBatchSizeKB")) << 10;
  o.callback_threads = static_cast<size_t>(c.GetInt("numCallbackThreads"));
  o.ledger_dir_reserved_bytes = mb("ledgerDirReservedSpaceMB");
  o.gc.wait_time_ms = static_cast<uint64_t>(c.GetInt("gcWaitTime"));
  o.gc.minor_threshold = c.GetDouble("minorCompactionThreshold");
  o.gc.minor_interval_ms = static_cast<uint64_t>(c.GetInt("minorCompactionIntervalMs"));
  o.gc.major_threshold = c.GetDouble("majorCompactionThreshold");
  o.gc.major_interval_ms = static_cast<uint64_t>(c.GetInt("majorCompactionIntervalMs"));
  o.gc.compaction_rate_bytes = static_cast<uint64_t>(c.GetInt("compactionRateByBytes"));
  o.gc.metadata_op_rate = static_cast<uint64_t>(c.GetInt("gcMetadataOpRateLimit"));
  if (o.gc.major_threshold > 0 && o.gc.minor_threshold > o.gc.major_threshold) {
    return InvalidArgument(fmt::format(
        "minorCompactionThreshold ({}) is above majorCompactionThreshold ({}): a minor "
        "compaction would rewrite more than a major one",
        o.gc.minor_threshold, o.gc.major_threshold));
  }
  return o;
}

}  // namespace quire::storage
