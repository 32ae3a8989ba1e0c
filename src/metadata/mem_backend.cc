// The memory backend: a sorted map per store name, shared by every backend of that name in the
// process, so that several "clients" in one test see the same service.
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/mutex.h"
#include "metadata/kv_backend.h"

namespace quire::metadata {
namespace {

struct MemState {
  Mutex mu;
  std::map<std::string, KvRecord> records QUIRE_GUARDED_BY(mu);
  std::set<std::string> top_dirs QUIRE_GUARDED_BY(mu);
};

std::shared_ptr<MemState> StateFor(const std::string& name) {
  static Mutex mu;
  static auto* states QUIRE_PT_GUARDED_BY(mu) =
      new std::map<std::string, std::shared_ptr<MemState>>();  // never freed
  MutexLock lock(mu);
  auto& state = (*states)[name];
  if (!state) state = std::make_shared<MemState>();
  return state;
}

class MemBackend final : public KvBackend {
 public:
  MemBackend(std::string name, std::shared_ptr<MemState> state)
      : name_(std::move(name)), state_(std::move(state)) {}

  std::string Describe(std::string_view key) const override {
    return fmt::format("mem://{}/{}", name_, key);
  }

  Result<std::optional<KvRecord>> Get(const std::string& key) override {
    MutexLock lock(state_->mu);
    auto it = state_->records.find(key);
    if (it == state_->records.end()) return std::optional<KvRecord>();
    return std::optional<KvRecord>(it->second);
  }

  Result<Version> Put(const std::string& key, std::string_view value, Version expected,
                      Deadline) override {
    MutexLock lock(state_->mu);
    size_t slash = key.find('/');
    if (slash != std::string::npos && state_->top_dirs.count(key.substr(0, slash)) == 0) {
      return FailedPrecondition(fmt::format("{}: the store is not initialised (no {})",
                                            Describe(key), key.substr(0, slash)));
    }
    auto it = state_->records.find(key);
    if (expected == kNewRecord) {
      if (it != state_->records.end()) {
        return Status(StatusCode::kAlreadyExists, fmt::format("{} exists", Describe(key)));
      }
      state_->records.emplace(key, KvRecord{std::string(value), 0});
      return Version{0};
    }
    if (it == state_->records.end())
      return NotFound(fmt::format("{}: no such record", Describe(key)));
    if (it->second.version != expected) {
      return Status(StatusCode::kBadVersion, fmt::format("{}: version is {}, not {}", Describe(key),
                                                         it->second.version, expected));
    }
    it->second.value = std::string(value);
    return ++it->second.version;
  }

  Result<Version> Update(const std::string& key,
                         const std::function<Result<std::string>(const KvRecord&)>& mutate,
                         Deadline) override {
    MutexLock lock(state_->mu);
    auto it = state_->records.find(key);
    if (it == state_->records.end())
      return NotFound(fmt::format("{}: no such record", Describe(key)));
    QUIRE_ASSIGN_OR_RETURN(std::string value, mutate(it->second));
    it->second.value = std::move(value);
    return ++it->second.version;
  }

  Status Delete(const std::string& key, Version expected, Deadline) override {
    MutexLock lock(state_->mu);
    auto it = state_->records.find(key);
    if (it == state_->records.end())
      return NotFound(fmt::format("{}: no such record", Describe(key)));
    if (expected != kAnyVersion && it->second.version != expected) {
      return Status(StatusCode::kBadVersion, fmt::format("{}: version is {}, not {}", Describe(key),
                                                         it->second.version, expected));
    }
    state_->records.erase(it);
    return Status::Ok();
  }

  Result<std::vector<std::string>> List(const std::string& dir) override {
    MutexLock lock(state_->mu);
    if (dir.find('/') == std::string::npos && state_->top_dirs.count(dir) == 0) {
      return NotFound(fmt::format("{}: no such directory", Describe(dir)));
    }
    std::string prefix = dir + "/";
    std::set<std::string> names;
    for (auto it = state_->records.lower_bound(prefix);
         it != state_->records.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string_view rest = std::string_view(it->first).substr(prefix.size());
      names.emplace(rest.substr(0, rest.find('/')));
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  Status CreateTopDir(const std::string& name) override {
    MutexLock lock(state_->mu);
    state_->top_dirs.insert(name);
    return Status::Ok();
  }

  Status DeleteEverything(Deadline) override {
    MutexLock lock(state_->mu);
    state_->records.clear();
    state_->top_dirs.clear();
    return Status::Ok();
  }

 private:
  std::string name_;
  std::shared_ptr<MemState> state_;
};

}  // namespace

std::unique_ptr<KvBackend> OpenMemBackend(const std::string& name) {
  return std::make_unique<MemBackend>(name, StateFor(name));
}

void MemBackendWriteRawForTesting(const std::string& name, const std::string& key,
                                  std::string value) {
  auto state = StateFor(name);
  MutexLock lock(state->mu);
  state->records[key] = KvRecord{std::move(value), 0};
}

}  // namespace quire::metadata
