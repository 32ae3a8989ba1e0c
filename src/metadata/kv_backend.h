// The storage under the file:// and mem:// metadata stores: versioned records named by slash-
// separated keys ("ledgers/000/0000/0000/0000/L0042"), with compare-and-set.
//
// KvMetadataStore (kv_store.h) builds the whole MetadataStore contract on these few calls;
// sessions, registrations and locks are ordinary records whose liveness is a lease
// (docs/metadata.md, "Sessions and leases").
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"
#include "quire/status.h"

namespace quire::metadata {

using Deadline = std::chrono::steady_clock::time_point;

struct KvRecord {
  std::string value;
  Version version = 0;
};

class KvBackend {
 public:
  virtual ~KvBackend() = default;

  // Where `key` lives, for error messages: "file /var/quire/md/ledgers/...", "mem://x/...".
  virtual std::string Describe(std::string_view key) const = 0;

  // nullopt if there is no record. kCorruption if its bytes are damaged.
  virtual Result<std::optional<KvRecord>> Get(const std::string& key) = 0;

  // Writes `value` and returns its new version:
  //   expected == kNewRecord: creates it (version 0); kAlreadyExists if present;
  //   expected >= 0: replaces it if its version is `expected` (kBadVersion otherwise, kNotFound
  //   if absent).
  // Parent directories are created as needed, except the top-level one (the first component of a
  // key with a '/'), which InitCluster creates: without it, kFailedPrecondition.
  // Durable when it returns OK. Waits for other writers no later than `deadline` (kTimeout).
  virtual Result<Version> Put(const std::string& key, std::string_view value, Version expected,
                              Deadline deadline) = 0;

  // Read-modify-write of an existing record in one step, with no other writer in between:
  // `mutate` gets the current value and returns the new one (or an error, returned as is).
  // Returns the new version; kNotFound if there is no record. For hot records (the id counter)
  // where a compare-and-set loop would keep losing.
  virtual Result<Version> Update(const std::string& key,
                                 const std::function<Result<std::string>(const KvRecord&)>& mutate,
                                 Deadline deadline) = 0;

  // kNotFound if absent; kBadVersion if expected is not kAnyVersion and differs.
  virtual Status Delete(const std::string& key, Version expected, Deadline deadline) = 0;

  // Names directly under `dir` (records and sub-directories); kNotFound if `dir` does not exist.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;

  // Creates top-level directory `name` (idempotent).
  virtual Status CreateTopDir(const std::string& name) = 0;

  // Deletes every record and directory.
  virtual Status DeleteEverything(Deadline deadline) = 0;
};

// The file backend, rooted at an absolute directory (created if missing).
Result<std::unique_ptr<KvBackend>> OpenFileBackend(const std::string& root, FileSystem* fs);

// The bytes of a file-store record file: the envelope (docs/metadata.md, "File store") around
// `payload`. For tests that plant records.
std::string EncodeFileRecordForTesting(Version version, std::string_view payload);

// The memory backend: backends opened with the same name in one process share their records for
// the life of the process.
std::unique_ptr<KvBackend> OpenMemBackend(const std::string& name);

// Test-only: stores raw bytes as record `key` of memory store `name`, bypassing every check.
void MemBackendWriteRawForTesting(const std::string& name, const std::string& key,
                                  std::string value);

}  // namespace quire::metadata
