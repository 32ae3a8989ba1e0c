// A FileSystem for tests that hands everything to a base file system and wraps each file it
// opens with Wrap(): subclasses override what they watch or change (a slow or gated sync, the
// bytes written).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"

namespace quire::testing {

class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(FileSystem* base) : base_(base) {}
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenOptions& o) override {
    QUIRE_ASSIGN_OR_RETURN(auto f, base_->Open(path, o));
    return Wrap(std::move(f));
  }
  Status Rename(const std::string& a, const std::string& b) override { return base_->Rename(a, b); }
  Status Unlink(const std::string& p) override { return base_->Unlink(p); }
  Status CreateDirs(const std::string& p, uint32_t mode) override {
    return base_->CreateDirs(p, mode);
  }
  Status SyncDir(const std::string& p) override { return base_->SyncDir(p); }
  Result<std::vector<std::string>> List(const std::string& d) override { return base_->List(d); }
  Result<bool> Exists(const std::string& p) override { return base_->Exists(p); }
  Result<SpaceInfo> Space(const std::string& p) override { return base_->Space(p); }
  Result<std::unique_ptr<FileLock>> Lock(const std::string& p) override { return base_->Lock(p); }
  std::string Describe() const override { return "forwarding"; }

 protected:
  virtual std::unique_ptr<File> Wrap(std::unique_ptr<File> f) = 0;

  // A file that hands everything to `f`; Sync and Write are the ones wrappers change.
  class ForwardingFile : public File {
   public:
    explicit ForwardingFile(std::unique_ptr<File> f) : f_(std::move(f)) {}
    Status Write(uint64_t off, std::string_view data) override { return f_->Write(off, data); }
    Status Sync() override { return f_->Sync(); }
    Status WriteAndSync(uint64_t off, std::string_view data) override {
      QUIRE_RETURN_IF_ERROR(Write(off, data));
      return Sync();
    }
    Result<size_t> Read(uint64_t off, char* buf, size_t n) override {
      return f_->Read(off, buf, n);
    }
    Status Allocate(uint64_t off, uint64_t len) override { return f_->Allocate(off, len); }
    Status Truncate(uint64_t size) override { return f_->Truncate(size); }
    Result<uint64_t> Size() override { return f_->Size(); }
    bool direct() const override { return f_->direct(); }
    const std::string& path() const override { return f_->path(); }

   protected:
    std::unique_ptr<File> f_;
  };

 private:
  FileSystem* base_;
};

}  // namespace quire::testing
