// Options of the storage engine, and the configuration keys they come from. Every key is listed
// once, with its default and meaning, in StorageConfigSchema(); conf/bookie.conf documents them
// and a test keeps the two in step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/file_system.h"
#include "quire/status.h"

namespace quire::storage {

// Garbage collection and compaction (storage/garbage_collector.h).
struct GcOptions {
  uint64_t wait_time_ms = 600'000;                // gcWaitTime
  double minor_threshold = 0.2;                   // minorCompactionThreshold
  uint64_t minor_interval_ms = 3'600'000;         // minorCompactionIntervalMs
  double major_threshold = 0.8;                   // majorCompactionThreshold
  uint64_t major_interval_ms = 86'400'000;        // majorCompactionIntervalMs
  uint64_t compaction_rate_bytes = 16ull << 20;   // compactionRateByBytes; 0: unthrottled
  uint64_t metadata_op_rate = 1000;               // gcMetadataOpRateLimit; 0: unlimited
};

struct StorageOptions {
  std::vector<std::string> journal_dirs;     // journalDirectories
  std::vector<std::string> ledger_dirs;      // ledgerDirectories
  std::string bookie_id = "standalone";      // written into the cookie
  std::string instance_id;                   // the cluster's instance id (cookie)
  FileSystem* fs = nullptr;                  // null: the real file system (ioBackend)

  uint64_t journal_prealloc_bytes = 16ull << 20;        // journalPreAllocSizeMB
  uint64_t journal_max_file_bytes = 2048ull << 20;      // journalMaxSizeMB
  size_t journal_reusable_files = 2;                    // journalReusableFiles
  uint64_t journal_zero_ahead_bytes = 1ull << 20;       // journalZeroAheadKB
  bool journal_write_inline = true;                     // journalWriteInline
  uint64_t journal_max_group_wait_us = 0;               // journalMaxGroupWaitUs
  uint64_t journal_group_bytes_threshold = 2048ull << 10;  // journalBufferedWritesThresholdKB
  bool journal_direct_io = true;                        // journalDirectIO
  bool journal_skip_corruption = false;                 // journalSkipCorruption

  uint64_t write_cache_bytes = 256ull << 20;            // writeCacheMaxSizeMB
  uint64_t write_cache_max_wait_ms = 10000;             // writeCacheMaxWaitMs
  uint64_t flush_interval_ms = 1000;                    // flushIntervalMs
  uint64_t flush_threshold_bytes = 0;                   // flushThresholdKB; 0: off
  bool flush_pacing = true;                             // flushPacing
  uint64_t entry_log_size_limit = 1024ull << 20;        // entryLogSizeLimitMB
  bool entry_log_direct_io = true;                      // entryLogDirectIO
  uint64_t read_ahead_cache_bytes = 256ull << 20;       // readAheadCacheMaxSizeMB
  uint64_t read_ahead_bytes = 128ull << 10;             // readAheadBatchSizeKB

  size_t callback_threads = 1;                          // numCallbackThreads
  uint64_t ledger_dir_reserved_bytes = 64ull << 20;     // ledgerDirReservedSpaceMB

  GcOptions gc;
};

// The storage keys of the bookie configuration.
const ConfigSchema& StorageConfigSchema();

// Reads the storage keys of `config`. The caller fills bookie_id, instance_id and fs.
Result<StorageOptions> StorageOptionsFromConfig(const Config& config);

}  // namespace quire::storage
